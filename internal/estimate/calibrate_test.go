package estimate

import (
	"math"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func newCalibrator(tb testing.TB, cfg CalibratorConfig) *Calibrator {
	tb.Helper()
	c, err := NewCalibrator(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestCalibratorFirstObservationsAndDecay(t *testing.T) {
	c := newCalibrator(t, CalibratorConfig{HalfLife: time.Hour})
	if got := c.Factor("m"); got != 1 {
		t.Fatalf("Factor before any observation = %v, want 1", got)
	}
	c.Observe(t0, "m", 1000, 1200)
	if got := c.Factor("m"); !near(got, 1.2) {
		t.Fatalf("Factor after one observation = %v, want 1.2", got)
	}
	// A second observation at the same time weighs as much, per token: (1200+1100)/2000.
	c.Observe(t0, "m", 1000, 1100)
	if got := c.Factor("m"); !near(got, 1.15) {
		t.Fatalf("Factor after two observations = %v, want 1.15", got)
	}
	// One half-life later the old pair weighs 1000 tokens, the new one 1000: (1150+1300)/2000.
	c.Observe(t0.Add(time.Hour), "m", 1000, 1300)
	if got := c.Factor("m"); !near(got, 1.225) {
		t.Fatalf("Factor after a half-life = %v, want 1.225", got)
	}
	if got := c.Factor("other"); got != 1 {
		t.Errorf("Factor of an unobserved model = %v, want 1", got)
	}
}

func TestCalibratorTinyCountsAndOutliers(t *testing.T) {
	c := newCalibrator(t, CalibratorConfig{})
	if c.Observe(t0, "m", 10, 30) {
		t.Error("Observe used a 10-token observation; want it ignored (below MinTokens)")
	}
	// A wild first observation is clamped to MaxFactor.
	c.Observe(t0, "m", 100, 10_000)
	if got := c.Factor("m"); got != DefaultMaxFactor {
		t.Errorf("Factor after a 100× outlier = %v, want the clamp %v", got, DefaultMaxFactor)
	}
	c = newCalibrator(t, CalibratorConfig{})
	for range 3 {
		c.Observe(t0, "m", 1000, 1200)
	}
	// Once warmed up, one outlier moves the factor at most by MaxStep within its weight.
	c.Observe(t0, "m", 1000, 100_000)
	want := (3*1200 + 1200*DefaultMaxStep) / 4000
	if got := c.Factor("m"); !near(got, want) {
		t.Errorf("Factor after an outlier = %v, want %v", got, want)
	}
}

func TestCalibratorConfigErrors(t *testing.T) {
	for _, cfg := range []CalibratorConfig{
		{HalfLife: -time.Second},
		{MinFactor: 2, MaxFactor: 1},
		{Initial: 5},
		{MaxStep: 0.5},
		{MinTokens: -1},
	} {
		if _, err := NewCalibrator(cfg); err == nil {
			t.Errorf("NewCalibrator(%+v) succeeded, want an error", cfg)
		}
	}
}

func TestCalibratorConcurrent(t *testing.T) {
	c := newCalibrator(t, CalibratorConfig{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 100 {
				c.Observe(t0.Add(time.Duration(i*100+j)*time.Second), "m", 1000, 1250)
				_ = c.Factor("m")
			}
		})
	}
	wg.Wait()
	if got := c.Factor("m"); !near(got, 1.25) {
		t.Errorf("Factor = %v, want 1.25", got)
	}
}
