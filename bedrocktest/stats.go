package bedrocktest

import (
	"cmp"
	"maps"
	"slices"
	"time"
)

// Stats is a snapshot of what the emulator metered since it started or was last reset.
type Stats struct {
	// Window is the window mode, "bucket" or "clock".
	Window string `json:"window"`
	// Now is the emulated time of the snapshot.
	Now time.Time `json:"now"`
	// Series holds one entry per account, region, model and scope that was called,
	// sorted by model, scope, region and account.
	Series []SeriesStats `json:"series"`
	// Faults counts the injected faults by kind ("service-unavailable", …).
	Faults map[string]int64 `json:"faults"`
}

// SeriesStats is what one account's calls to one model in one scope and region did.
// Token amounts are quota tokens (input + cache writes + output × burndown).
type SeriesStats struct {
	// Account is the access key id that signed the calls (empty if unsigned), Region
	// the region of the signature.
	Account string `json:"account"`
	Region  string `json:"region"`
	// Model is the base model id, Scope "on-demand", "cross-region" or "global".
	Model string `json:"model"`
	Scope string `json:"scope"`
	// Admitted counts the calls admitted by every limit; InFlight those not yet settled.
	Admitted int64 `json:"admitted"`
	InFlight int64 `json:"in_flight"`
	// Throttled counts the calls refused, by the limit that refused them
	// ("tokens-per-minute", "tokens-per-day", "requests-per-minute").
	Throttled map[string]int64 `json:"throttled"`
	// ReservedTokens sums the reservations of admitted calls; SettledTokens what they
	// were finally charged.
	ReservedTokens int64 `json:"reserved_tokens"`
	SettledTokens  int64 `json:"settled_tokens"`
	// Limits are the enforced limits, in the order tokens per day, tokens per minute,
	// requests per minute.
	Limits []LimitStats `json:"limits"`
}

// LimitStats is one enforced limit of a series and the highest usage it ever saw.
type LimitStats struct {
	// Name is "tokens-per-minute", "tokens-per-day" or "requests-per-minute".
	Name string `json:"name"`
	// Amount is the quota per Per (zero: a zero quota that admits nothing).
	Amount int64         `json:"amount"`
	Per    time.Duration `json:"per_ns"`
	// Usage is the current usage (see Peak for its meaning in each mode).
	Usage int64 `json:"usage"`
	// Peak is the highest usage ever seen, the referee for "no overshoot". In clock mode
	// usage is the sum charged in the current clock window (reservations, extra
	// settlement charges, minus same-window refunds), so Peak is the most any clock
	// minute (day) ever held. In bucket mode usage is the bucket's draw, Amount minus its
	// level, so Peak is the deepest draw. Either way Peak > Amount means the limit was
	// exceeded; with admission alone it cannot be, only a settlement charging more than
	// was reserved can push it over.
	Peak int64 `json:"peak"`
	// PeakAt is the emulated time Peak was reached (zero if never).
	PeakAt time.Time `json:"peak_at"`
}

// Get returns the stats of the series of model (base id) and scope ("on-demand",
// "cross-region", "global"), summed over accounts and regions, and whether there is any.
// The limits' usages and peaks are the highest of any account and region.
func (st Stats) Get(model, scope string) (SeriesStats, bool) {
	var out SeriesStats
	found := false
	for _, s := range st.Series {
		if s.Model != model || s.Scope != scope {
			continue
		}
		if !found {
			out = s
			out.Account, out.Region = "", ""
			out.Throttled = maps.Clone(s.Throttled)
			out.Limits = slices.Clone(s.Limits)
			found = true
			continue
		}
		out.Admitted += s.Admitted
		out.InFlight += s.InFlight
		out.ReservedTokens += s.ReservedTokens
		out.SettledTokens += s.SettledTokens
		for k, v := range s.Throttled {
			out.Throttled[k] += v
		}
		for i := range out.Limits {
			if i >= len(s.Limits) {
				break
			}
			if s.Limits[i].Peak > out.Limits[i].Peak {
				out.Limits[i].Peak, out.Limits[i].PeakAt = s.Limits[i].Peak, s.Limits[i].PeakAt
			}
			out.Limits[i].Usage = max(out.Limits[i].Usage, s.Limits[i].Usage)
		}
	}
	return out, found
}

// Limit returns the stats of the named limit, and whether it is enforced.
func (s SeriesStats) Limit(name string) (LimitStats, bool) {
	for _, l := range s.Limits {
		if l.Name == name {
			return l, true
		}
	}
	return LimitStats{}, false
}

// snapshot copies the meter's state at now.
func (m *meter) snapshot(now time.Time) []SeriesStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]SeriesStats, 0, len(m.series))
	for key, s := range m.series {
		ss := SeriesStats{
			Account: key.Account, Region: key.Region, Model: key.Model, Scope: key.Scope.String(),
			Admitted: s.admitted, InFlight: s.inFlight,
			ReservedTokens: s.reserved, SettledTokens: s.settled,
			Throttled: make(map[string]int64),
		}
		for k, n := range s.throttled {
			if n > 0 {
				ss.Throttled[limitNames[k]] = n
			}
		}
		for k, w := range s.limits {
			if w == nil {
				continue
			}
			w.advance(now, m.mode)
			ss.Limits = append(ss.Limits, LimitStats{
				Name: limitNames[k], Amount: w.amount, Per: w.per,
				Usage: w.usage(m.mode), Peak: w.peak, PeakAt: w.peakAt,
			})
		}
		out = append(out, ss)
	}
	slices.SortFunc(out, func(a, b SeriesStats) int {
		return cmp.Or(cmp.Compare(a.Model, b.Model), cmp.Compare(a.Scope, b.Scope),
			cmp.Compare(a.Region, b.Region), cmp.Compare(a.Account, b.Account))
	})
	return out
}
