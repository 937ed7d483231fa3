package bedrocktest

import (
	"context"
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
		day := time.Duration(float64(24*time.Hour) / scale)
		phase := time.Duration(now.UnixNano() % int64(day))
		start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(float64(phase) * scale))
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
	return time.Duration(float64(real) * c.scale)
}

// realDuration converts an emulated duration to real time.
func (c *clock) realDuration(emulated time.Duration) time.Duration {
	return time.Duration(float64(emulated) / c.scale)
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
