package bedrocktest

import (
	"context"
	"math"
	"testing"
	"time"
)

// clockScales are time scales at and far past every edge: New refuses most of them, but
// the clock itself must not panic or run backwards on any.
var clockScales = []float64{MinTimeScale, 1, 60, MaxTimeScale, 1e-308, 5e-324, 1e-6, 1e6, 8.64e13, 8.64e14, 1e308,
	math.MaxFloat64, math.Inf(1), math.NaN(), 0, -1}

// checkClock builds a clock at scale (aligned and not) on a real clock that moves by
// steps, and checks that nothing panics and, for a positive scale, that emulated time
// never goes backwards and conversions saturate rather than wrap to a negative duration.
func checkClock(t *testing.T, scale float64, step time.Duration) {
	t.Helper()
	positive := scale > 0
	real := time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)
	now := func() time.Time { return real }
	for _, align := range []bool{false, true} {
		c := newClock(now, scale, time.Time{}, align)
		prev := c.now()
		for range 5 {
			real = real.Add(step)
			if got := c.now(); positive && got.Before(prev) {
				t.Errorf("scale %v (align %v): emulated time went back from %v to %v", scale, align, prev, got)
			} else {
				prev = got
			}
		}
		for _, d := range []time.Duration{0, 1, time.Second, time.Hour, math.MaxInt64} {
			if e := c.emulated(d); positive && e < 0 {
				t.Errorf("scale %v: emulated(%v) = %v", scale, d, e)
			}
			if r := c.realDuration(d); positive && r < 0 {
				t.Errorf("scale %v: realDuration(%v) = %v", scale, d, r)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = c.sleep(ctx, time.Hour) // must return, whatever the scale
	}
}

// TestClockAnyScale checks the clock at every edge scale; --time-scale 1e308 once
// divided by a zero-length scaled day.
func TestClockAnyScale(t *testing.T) {
	for _, s := range clockScales {
		checkClock(t, s, time.Second)
		checkClock(t, s, 1000*time.Hour)
	}
}

// FuzzClock checks the clock at any time scale and step.
func FuzzClock(f *testing.F) {
	for _, s := range clockScales {
		f.Add(s, int64(time.Second))
	}
	f.Fuzz(func(t *testing.T, scale float64, step int64) {
		checkClock(t, scale, time.Duration(step)&math.MaxInt64>>1) // steps forward only
	})
}
