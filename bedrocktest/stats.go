package bedrocktest

import (
	"time"

	"github.com/tollgate-dev/tollgate/internal/emustats"
	"github.com/tollgate-dev/tollgate/internal/quotatext"
)

// Stats are the totals of what the emulator metered since it started or was last reset,
// over every account, region, model and scope. GET /_tollgate/stats on the emulator's URL
// has them series by series, with each limit's amount and peak usage, as JSON.
type Stats struct {
	// Admitted counts the calls admitted by every limit.
	Admitted int64
	// Throttled counts the calls refused by a limit (HTTP 429 ThrottlingException).
	Throttled int64
	// Overshoot is the most quota tokens (or requests) by which any limit's usage ever
	// exceeded its amount: admission alone never exceeds a limit, only a settlement
	// charging more than was reserved can, so a non-zero Overshoot is an overshoot the
	// client caused. In clock mode usage is what one clock minute (day) held, in bucket
	// mode the bucket's draw.
	Overshoot int64
}

// snapshot is the stats endpoint's content at now.
func (h *Handler) snapshot() emustats.Snapshot {
	now := h.clock.now()
	st := emustats.Snapshot{Window: quotatext.MeterName(h.opts.Window), Now: now, Series: h.meter.snapshot(now), Faults: map[string]int64{}}
	for k := faultKind(1); k < numFaults; k++ {
		if n := h.faultCounts[k].Load(); n > 0 {
			st.Faults[faultNames[k]] = n
		}
	}
	return st
}

// snapshot copies the meter's state at now.
func (m *meter) snapshot(now time.Time) []emustats.Series {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]emustats.Series, 0, len(m.series))
	for key, s := range m.series {
		ss := emustats.Series{
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
			ss.Limits = append(ss.Limits, emustats.Limit{
				Name: limitNames[k], Amount: w.amount, Per: w.per,
				Usage: w.usage(m.mode), Peak: w.peak, PeakAt: w.peakAt,
			})
		}
		out = append(out, ss)
	}
	emustats.Sort(out)
	return out
}

// totals sums a snapshot into Stats.
func totals(st emustats.Snapshot) Stats {
	var out Stats
	for _, s := range st.Series {
		out.Admitted += s.Admitted
		for _, n := range s.Throttled {
			out.Throttled += n
		}
		for _, l := range s.Limits {
			out.Overshoot = max(out.Overshoot, l.Peak-l.Amount)
		}
	}
	return out
}
