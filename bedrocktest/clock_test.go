package bedrocktest

import (
	"context"
	"math"
	"testing"
	"testing/synctest"
	"time"
)

// clockScales are time scales at and far past every edge: New refuses most of them, but
// the clock itself must not panic or run backwards on any.
var clockScales = []float64{minTimeScale, 1, 60, maxTimeScale, 1e-308, 5e-324, 1e-6, 1e6, 8.64e13, 8.64e14, 1e308,
	math.MaxFloat64, math.Inf(1), math.NaN(), 0, -1}

// checkClock builds a clock at scale in a synctest bubble whose time moves by steps, and
// checks that nothing panics and, for a positive scale, that emulated time never goes
// backwards and conversions saturate rather than wrap to a negative duration.
func checkClock(t *testing.T, scale float64, step time.Duration) {
	t.Helper()
	positive := scale > 0
	synctest.Test(t, func(t *testing.T) {
		c := newClock(scale)
		prev := c.now()
		for range 5 {
			time.Sleep(step)
			if got := c.now(); positive && got.Before(prev) {
				t.Errorf("scale %v: emulated time went back from %v to %v", scale, prev, got)
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
	})
}

// TestClockExact checks, in a bubble, that the emulated clock runs at exactly the time
// scale from the moment it is made.
func TestClockExact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		c := newClock(60)
		time.Sleep(1500 * time.Millisecond)
		if got, want := c.now(), start.Add(90*time.Second); !got.Equal(want) {
			t.Errorf("emulated time = %v, want %v", got, want)
		}
		before := time.Now()
		if err := c.sleep(context.Background(), time.Minute); err != nil {
			t.Fatal(err)
		}
		if got, want := time.Since(before), time.Second; got != want {
			t.Errorf("an emulated minute at 60× took %v, want %v", got, want)
		}
	})
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

// TestClockAligned checks that the emulated UTC minute boundaries fall where real time is
// a multiple of a scaled minute since the Unix epoch, wherever the clock was made, and
// that at scale 1 the emulated time is the real time.
func TestClockAligned(t *testing.T) {
	const scale = 20
	scaledMinute := time.Minute / scale // 3 s of real time
	for _, into := range []time.Duration{0, 700 * time.Millisecond, scaledMinute - time.Millisecond} {
		synctest.Test(t, func(t *testing.T) {
			// The bubble starts at midnight UTC, a multiple of a scaled minute.
			time.Sleep(1_003*scaledMinute + into)
			c := newClock(scale)
			got := c.now()
			if want := time.Duration(into * scale); got.Sub(got.Truncate(time.Minute)) != want {
				t.Errorf("made %v into a scaled minute: emulated %v, %v into its minute; want %v", into, got, got.Sub(got.Truncate(time.Minute)), want)
			}
			// The next real multiple of a scaled minute is an emulated minute boundary.
			time.Sleep(scaledMinute - into)
			if got := c.now(); !got.Equal(got.Truncate(time.Minute)) {
				t.Errorf("at the next scaled minute, emulated %v is not on a minute", got)
			}
			if got, want := newClock(1).now(), time.Now(); !got.Equal(want) {
				t.Errorf("at scale 1 the emulated time is %v, want the real %v", got, want)
			}
		})
	}
}
