package analyze

import (
	"math"
	"time"

	"github.com/tollgate-dev/tollgate/internal/costs"
	"github.com/tollgate-dev/tollgate/quota"
)

// Reading is how a provider meters its limits, as far as a run's lower bound needs it:
// what the provider lets through at once when the run starts (its start-up allowance).
type Reading uint8

const (
	// AnyReading is a provider whose reading is not known: the bound takes, limit by
	// limit, the smaller of the token-bucket and the clock-window bounds, so that it holds
	// whichever the provider runs.
	AnyReading Reading = iota
	// BucketReading is a token bucket, full at the start (also right for sliding
	// windows): Amount at once, then Amount per Per.
	BucketReading
	// ClockReading is consecutive windows of Per aligned on the Unix epoch (UTC minutes):
	// Amount in the rest of the window holding the start, then Amount in each window.
	ClockReading
)

// String names the reading as the bench and the emulator do.
func (r Reading) String() string {
	switch r {
	case BucketReading:
		return "bucket"
	case ClockReading:
		return "clock"
	}
	return "any"
}

// LowerBound is the shortest time in which any client could have pushed usage through
// limits from start, against a provider metering them as r, and the limit that sets it
// (the binding one). For each limit of Amount per Per, with u its dimension's usage and
// A its Amount (what the provider lets through at once at the start):
//
//	bucket: (u − A) × Per ÷ A     — a full bucket at once, then the refill rate
//	clock:  rest + (⌈u ÷ A⌉ − 2) × Per, when u > A
//	        — A in the rest of the window holding start, A more as each window opens,
//	          so the window that brings the total to u opens that late
//
// and the bound is the largest over the limits (0 when usage fits in the allowance).
// Quota efficiency, the bound ÷ the makespan, can therefore never exceed 1, however
// the calls were timed: the provider lets no more through. It returns false when limits
// is empty or nothing was used.
func LowerBound(limits []quota.Limit, used quota.Cost, r Reading, start time.Time) (time.Duration, quota.Limit, bool) {
	return LowerBoundPeaks(limits, used, r, start, nil)
}

// LowerBoundPeaks is LowerBound for a provider that let more than a limit's Amount through
// at once: peaks[i], when larger than limits[i].Amount, replaces it as the allowance of
// limit i (a settlement that charges more than was reserved can leave a token bucket in
// debt or a clock window above its Amount, which a client that overshoots uses). The
// rate stays Amount per Per. peaks may be nil or shorter than limits.
func LowerBoundPeaks(limits []quota.Limit, used quota.Cost, r Reading, start time.Time, peaks []int64) (time.Duration, quota.Limit, bool) {
	return slowest(limits, used, func(i int, l quota.Limit, u int64) time.Duration {
		allow := l.Amount
		if i < len(peaks) && peaks[i] > allow {
			allow = peaks[i]
		}
		switch r {
		case BucketReading:
			return bucketBound(u, allow, l)
		case ClockReading:
			return clockBound(u, allow, l, start)
		}
		return min(bucketBound(u, allow, l), clockBound(u, allow, l, start))
	})
}

// slowest returns the largest of the times each limit's usage takes by limitTime, and
// the limit that sets it, over the limits with a positive rate and usage; false when
// there is none. Limits with the same rate (a TPD of TPM × 1440) tie up to rounding: the
// one with the shorter window is the one a run meets first.
func slowest(limits []quota.Limit, used quota.Cost, limitTime func(i int, l quota.Limit, u int64) time.Duration) (time.Duration, quota.Limit, bool) {
	var (
		best  time.Duration
		bind  quota.Limit
		found bool
	)
	for i, l := range limits {
		if l.Amount <= 0 || l.Per <= 0 {
			continue
		}
		u := costs.Get(used, l.Dimension)
		if u <= 0 {
			continue
		}
		d := limitTime(i, l, u)
		tie := found && math.Abs(float64(d-best)) <= 1e-6*float64(best)
		if !found || (d > best && !tie) || (tie && l.Per < bind.Per) {
			best, bind, found = d, l, true
		}
	}
	return best, bind, found
}

// bucketBound is the bound of one limit read as a token bucket holding allow at the start.
func bucketBound(u, allow int64, l quota.Limit) time.Duration {
	if u <= allow {
		return 0
	}
	return time.Duration(float64(u-allow) / float64(l.Amount) * float64(l.Per))
}

// clockBound is the bound of one limit read as clock windows, each letting allow through.
func clockBound(u, allow int64, l quota.Limit, start time.Time) time.Duration {
	if u <= allow {
		return 0
	}
	per := int64(l.Per)
	pos := start.UnixNano() % per
	if pos < 0 {
		pos += per
	}
	rest := time.Duration(per - pos)
	windows := math.Ceil(float64(u) / float64(allow)) // windows the usage needs, the current one included
	return rest + time.Duration((windows-2)*float64(l.Per))
}

// Efficiency is the quota efficiency of a run: its lower bound ÷ its makespan, at most 1
// (see LowerBound). It is 0 when makespan is not positive.
func Efficiency(bound, makespan time.Duration) float64 {
	if makespan <= 0 {
		return 0
	}
	return float64(bound) / float64(makespan)
}

// RateTime is how long usage takes to pass through limits at their rates alone, with
// nothing let through at once: over every limit, the usage of its dimension ÷ its rate,
// and the limit that sets it. It is a forecast's measure of work still to do (the
// allowance of a provider's window is spent once, at the start), not a lower bound: see
// LowerBound for that. It returns false when limits is empty or nothing was used.
func RateTime(limits []quota.Limit, used quota.Cost) (time.Duration, quota.Limit, bool) {
	return slowest(limits, used, func(_ int, l quota.Limit, u int64) time.Duration {
		return time.Duration(float64(u) / float64(l.Amount) * float64(l.Per))
	})
}
