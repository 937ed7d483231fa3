package bedrocktest

import (
	"context"
	"math"
	"time"
)

// clock is the emulated clock: real time elapsed since the clock was made, multiplied by
// the time scale, added to an emulated start. At scale 1 the emulated time is the real
// time. At another scale the start is chosen so that the emulated UTC minutes and days
// begin when real time is a multiple of a scaled minute or day (a minute ÷ scale) since
// the Unix epoch: where a client counting quota.ClockWindow limits of the scaled periods
// sees them begin, as a real provider's UTC minutes and an NTP-synchronised client's
// agree. It reads time.Now, so inside a testing/synctest bubble it runs on the bubble's
// clock. It is safe for concurrent use (its fields are read-only after newClock).
type clock struct {
	scale     float64
	realStart time.Time // with its monotonic reading, to measure elapsed time
	start     time.Time // the emulated time at realStart
}

func newClock(scale float64) *clock {
	now := time.Now()
	start := now.Round(0)
	if scale != 1 {
		// The emulated day starts at the real day's start plus the scaled phase of now in
		// its scaled day. A scaled day shorter than a nanosecond (a scale past 8.64e13)
		// has no phase.
		day := max(scaleDuration(24*time.Hour, 1/scale), 1)
		phase := time.Duration(now.UnixNano() % int64(day))
		start = start.Truncate(24 * time.Hour).Add(scaleDuration(phase, scale))
	}
	return &clock{scale: scale, realStart: now, start: start}
}

// now returns the emulated time.
func (c *clock) now() time.Time {
	return c.start.Add(c.emulated(time.Since(c.realStart)))
}

// emulated converts a real duration to emulated time.
func (c *clock) emulated(real time.Duration) time.Duration {
	return scaleDuration(real, c.scale)
}

// realDuration converts an emulated duration to real time.
func (c *clock) realDuration(emulated time.Duration) time.Duration {
	return scaleDuration(emulated, 1/c.scale)
}

// scaleDuration returns d × f, saturated at the longest durations either way (a
// float64-to-integer conversion out of range gives an arbitrary value, often the most
// negative one); NaN gives 0.
func scaleDuration(d time.Duration, f float64) time.Duration {
	v := float64(d) * f
	switch {
	case math.IsNaN(v):
		return 0
	case v >= math.MaxInt64: // float64(math.MaxInt64) is 2^63, one past the largest
		return math.MaxInt64
	case v <= math.MinInt64:
		return math.MinInt64
	}
	return time.Duration(v)
}

// sleep waits for an emulated duration, or until ctx is done (then it returns ctx.Err()).
func (c *clock) sleep(ctx context.Context, emulated time.Duration) error {
	d := c.realDuration(emulated)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
