package bedrocktest

import (
	"context"
	"math"
	"time"
)

// clock is the emulated clock: real time elapsed since the first reading, multiplied by
// the time scale, added to the emulated start. It is safe for concurrent use (its fields
// are read-only after newClock).
type clock struct {
	real      func() time.Time
	scale     float64
	realStart time.Time
	start     time.Time
}

func newClock(real func() time.Time, scale float64, start time.Time, align bool) *clock {
	now := real()
	switch {
	case align:
		// A scaled day shorter than a nanosecond (a scale past 8.64e13) has no phase.
		day := max(scaleDuration(24*time.Hour, 1/scale), 1)
		phase := time.Duration(now.UnixNano() % int64(day))
		start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(scaleDuration(phase, scale))
	case start.IsZero():
		start = now
	}
	return &clock{real: real, scale: scale, realStart: now, start: start.Round(0)}
}

// now returns the emulated time.
func (c *clock) now() time.Time {
	return c.start.Add(c.emulated(c.real().Sub(c.realStart)))
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
