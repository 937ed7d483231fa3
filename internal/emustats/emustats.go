// Package emustats is the shape of the emulator's stats endpoint (GET Path on a
// bedrocktest handler): what every series of calls was admitted, throttled, reserved and
// charged, and the peak usage of each limit. The endpoint's JSON is the referee of the
// repository's tests and of the bench; Read fetches and decodes it.
package emustats

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

// The emulator's own endpoints, beside the Bedrock Runtime and Service Quotas APIs.
const (
	// Path answers GET with the Snapshot as JSON.
	Path = "/_tollgate/stats"
	// ResetPath, on POST, forgets all metering state, stats and cached prompts.
	ResetPath = "/_tollgate/reset"
)

// The names of the limits (Limit.Name, the keys of Series.Throttled).
const (
	TokensPerDay      = "tokens-per-day"
	TokensPerMinute   = "tokens-per-minute"
	RequestsPerMinute = "requests-per-minute"
)

// Snapshot is what the emulator metered since it started or was last reset.
type Snapshot struct {
	// Window is the window mode, "bucket" or "clock".
	Window string `json:"window"`
	// Now is the emulated time of the snapshot.
	Now time.Time `json:"now"`
	// Series holds one entry per account, region, model and scope that was called,
	// sorted by model, scope, region and account.
	Series []Series `json:"series"`
	// Faults counts the injected faults by kind ("service-unavailable", …).
	Faults map[string]int64 `json:"faults"`
}

// Series is what one account's calls to one model in one scope and region did. Token
// amounts are quota tokens (input + cache writes + output × burndown).
type Series struct {
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
	// Throttled counts the calls refused, by the name of the limit that refused them.
	Throttled map[string]int64 `json:"throttled"`
	// ReservedTokens sums the reservations of admitted calls; SettledTokens what they
	// were finally charged.
	ReservedTokens int64 `json:"reserved_tokens"`
	SettledTokens  int64 `json:"settled_tokens"`
	// Limits are the enforced limits, in the order tokens per day, tokens per minute,
	// requests per minute.
	Limits []Limit `json:"limits"`
}

// Limit is one enforced limit of a series and the highest usage it ever saw.
type Limit struct {
	// Name is TokensPerMinute, TokensPerDay or RequestsPerMinute.
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

// Read fetches the snapshot from an emulator handler (in process, with no socket).
func Read(h http.Handler) (Snapshot, error) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, Path, nil))
	var s Snapshot
	if rec.Code != http.StatusOK {
		return s, fmt.Errorf("emustats: GET %s: status %d: %s", Path, rec.Code, rec.Body.String())
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil {
		return s, fmt.Errorf("emustats: GET %s: %w", Path, err)
	}
	return s, nil
}

// Get returns the stats of the series of model (base id) and scope ("on-demand",
// "cross-region", "global"), summed over accounts and regions, and whether there is any.
// The limits' usages and peaks are the highest of any account and region.
func (st Snapshot) Get(model, scope string) (Series, bool) {
	var out Series
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
			if out.Throttled == nil {
				out.Throttled = map[string]int64{}
			}
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
func (s Series) Limit(name string) (Limit, bool) {
	for _, l := range s.Limits {
		if l.Name == name {
			return l, true
		}
	}
	return Limit{}, false
}

// Sort sorts series by model, scope, region and account.
func Sort(series []Series) {
	slices.SortFunc(series, func(a, b Series) int {
		return cmp.Or(cmp.Compare(a.Model, b.Model), cmp.Compare(a.Scope, b.Scope),
			cmp.Compare(a.Region, b.Region), cmp.Compare(a.Account, b.Account))
	})
}

// Get is Read for tests: it fails t when the snapshot cannot be read.
func Get(t testing.TB, h http.Handler) Snapshot {
	t.Helper()
	s, err := Read(h)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
