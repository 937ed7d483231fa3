package analyze

import (
	"math"
	"time"

	"github.com/tollgate-dev/tollgate/quota"
)

// LowerBound is the shortest time in which any client could have pushed usage through
// limits: over every limit, the usage of its dimension ÷ its rate,
//
//	bound = max over limits of  used(dimension) × Per ÷ Amount
//
// and the limit that sets it (the binding one). A window's worth of capacity is available
// at once when a run starts, so a short run can beat the bound; the bound is the measure
// of sustained throughput. It returns 0 and false when limits is empty or nothing was used.
func LowerBound(limits []quota.Limit, used quota.Cost) (time.Duration, quota.Limit, bool) {
	var (
		best  time.Duration
		bind  quota.Limit
		found bool
	)
	for _, l := range limits {
		if l.Amount <= 0 || l.Per <= 0 {
			continue
		}
		u := used.Get(l.Dimension)
		if u <= 0 {
			continue
		}
		d := time.Duration(float64(u) / float64(l.Amount) * float64(l.Per))
		// Limits with the same rate (a TPD of TPM × 1440) tie up to rounding: the one
		// with the shorter window is the one a run meets first.
		tie := found && math.Abs(float64(d-best)) <= 1e-6*float64(best)
		if !found || (d > best && !tie) || (tie && l.Per < bind.Per) {
			best, bind, found = d, l, true
		}
	}
	return best, bind, found
}

// Efficiency is the quota efficiency of a run: its lower bound ÷ its makespan.
// 1.0 is the physical limit of sustained throughput. It is 0 when makespan is not positive.
func Efficiency(bound, makespan time.Duration) float64 {
	if makespan <= 0 {
		return 0
	}
	return float64(bound) / float64(makespan)
}
