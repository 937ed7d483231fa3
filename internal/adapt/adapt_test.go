package adapt

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func mustNew(t testing.TB, cfg Config) *Controller {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return c
}

func TestNewDefaults(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		cfg                  Config
		ceiling, floor, hold int64
	}{
		{"known", Config{Configured: 1000, Per: time.Minute}, 1000, 50, 0},
		{"cap ignored when not a guess", Config{Configured: 1000, Per: time.Minute, Cap: 5000}, 1000, 50, 0},
		{"guess doubles", Config{Configured: 1000, Per: time.Minute, Guess: true}, 2000, 50, 0},
		{"guess with cap", Config{Configured: 1000, Per: time.Minute, Guess: true, Cap: 1500}, 1500, 50, 0},
		{"tiny floor is at least 1", Config{Configured: 10, Per: time.Second}, 10, 1, 0},
		{"explicit floor", Config{Configured: 1000, Per: time.Minute, Floor: 300}, 1000, 300, 0},
		{"floor equal to configured", Config{Configured: 7, Per: time.Minute, Floor: 7}, 7, 7, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustNew(t, tc.cfg).State()
			want := State{Limit: tc.cfg.Configured, Configured: tc.cfg.Configured, Ceiling: tc.ceiling, Floor: tc.floor}
			if s != want {
				t.Errorf("State() = %+v, want %+v", s, want)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	ok := Config{Configured: 1000, Per: time.Minute}
	for _, tc := range []struct {
		name  string
		edit  func(*Config)
		field string // named in the message
	}{
		{"zero configured", func(c *Config) { c.Configured = 0 }, "Configured"},
		{"negative configured", func(c *Config) { c.Configured = -1 }, "Configured"},
		{"zero per", func(c *Config) { c.Per = 0 }, "Per"},
		{"negative per", func(c *Config) { c.Per = -time.Second }, "Per"},
		{"cap below configured", func(c *Config) { c.Guess, c.Cap = true, 999 }, "Cap"},
		{"decrease of 1", func(c *Config) { c.Decrease = 1 }, "Decrease"},
		{"decrease above 1", func(c *Config) { c.Decrease = 1.5 }, "Decrease"},
		{"negative decrease", func(c *Config) { c.Decrease = -0.5 }, "Decrease"},
		{"NaN decrease", func(c *Config) { c.Decrease = nan() }, "Decrease"},
		{"negative increase", func(c *Config) { c.Increase = -0.1 }, "Increase"},
		{"NaN increase", func(c *Config) { c.Increase = nan() }, "Increase"},
		{"infinite increase", func(c *Config) { c.Increase = inf() }, "Increase"},
		{"negative floor", func(c *Config) { c.Floor = -1 }, "Floor"},
		{"floor above configured", func(c *Config) { c.Floor = 1001 }, "Floor"},
		{"negative hold", func(c *Config) { c.Hold = -time.Second }, "Hold"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.edit(&cfg)
			c, err := New(cfg)
			if err == nil {
				t.Fatalf("New(%+v) = %+v, want an error", cfg, c.State())
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("New: %v, want it to match ErrInvalidConfig", err)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("New: %q does not name %s", err, tc.field)
			}
		})
	}
}

func nan() float64 { z := 0.0; return z / z }
func inf() float64 { z := 0.0; return 1 / z }

// event is one report to a Controller and what it should answer.
type event struct {
	at      time.Duration // since t0
	throttl bool
	limit   int64
	changed bool
}

func run(t *testing.T, c *Controller, events []event) {
	t.Helper()
	for _, e := range events {
		var limit int64
		var changed bool
		kind := "Succeeded"
		if e.throttl {
			kind = "Throttled"
			limit, changed = c.Throttled(t0.Add(e.at))
		} else {
			limit, changed = c.Succeeded(t0.Add(e.at))
		}
		if limit != e.limit || changed != e.changed {
			t.Fatalf("%s(t0+%v) = %d, %v; want %d, %v", kind, e.at, limit, changed, e.limit, e.changed)
		}
		if got := c.Limit(); got != limit {
			t.Fatalf("Limit() = %d after %s returned %d", got, kind, limit)
		}
	}
}

const (
	thr = true
	suc = false
)

func TestEvents(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		name   string
		cfg    Config
		events []event
	}{
		{"throttles decrease once per hold", Config{Configured: 1000, Per: time.Minute}, []event{
			{0, thr, 700, true},
			{1 * s, thr, 700, false},
			{59 * s, thr, 700, false},
			{60 * s, thr, 490, true}, // Hold (= Per) has passed
			{61 * s, thr, 490, false},
			{120 * s, thr, 343, true},
		}},
		{"custom decrease and hold", Config{Configured: 1000, Per: time.Minute, Decrease: 0.5, Hold: 10 * s}, []event{
			{0, thr, 500, true},
			{9 * s, thr, 500, false},
			{10 * s, thr, 250, true},
		}},
		{"growth is additive and time-proportional", Config{Configured: 1000, Per: time.Minute}, []event{
			{0, thr, 700, true},
			{30 * s, suc, 700, false}, // within Hold: no growth
			{60 * s, suc, 700, false}, // Hold just ended: growth starts from here
			{90 * s, suc, 750, true},  // 0.1 × 1000 × 30s/60s
			{120 * s, suc, 800, true},
			{126 * s, suc, 810, true}, // 6s: +10
			{186 * s, suc, 910, true}, // a whole Per: +100
			{246 * s, suc, 1000, true},
			{306 * s, suc, 1000, false}, // capped at Configured
		}},
		{"growth counts from the end of hold", Config{Configured: 1000, Per: time.Minute}, []event{
			{0, thr, 700, true},
			{10 * s, suc, 700, false},
			{90 * s, suc, 750, true}, // only the 30s after Hold count
		}},
		{"an idle gap grows at most one period", Config{Configured: 1000, Per: time.Minute}, []event{
			{0, thr, 700, true},
			{60 * s, suc, 700, false},
			{time.Hour, suc, 800, true},
		}},
		{"the first success only starts the clock", Config{Configured: 1000, Per: time.Minute, Guess: true}, []event{
			{0, suc, 1000, false},
			{30 * s, suc, 1050, true},
		}},
		{"a guess grows to twice the configured amount", Config{Configured: 1000, Per: time.Minute, Guess: true}, []event{
			{0, suc, 1000, false},
			{10 * time.Minute, suc, 1100, true},
			{11 * time.Minute, suc, 1200, true},
			{20 * time.Minute, suc, 1300, true},
			{21 * time.Minute, suc, 1400, true},
			{22 * time.Minute, suc, 1500, true},
			{23 * time.Minute, suc, 1600, true},
			{24 * time.Minute, suc, 1700, true},
			{25 * time.Minute, suc, 1800, true},
			{26 * time.Minute, suc, 1900, true},
			{27 * time.Minute, suc, 2000, true},
			{28 * time.Minute, suc, 2000, false},
		}},
		{"a guess grows to its cap", Config{Configured: 1000, Per: time.Minute, Guess: true, Cap: 1150}, []event{
			{0, suc, 1000, false},
			{60 * s, suc, 1100, true},
			{120 * s, suc, 1150, true},
			{180 * s, suc, 1150, false},
		}},
		{"floor holds", Config{Configured: 1000, Per: time.Minute, Floor: 400}, []event{
			{0, thr, 700, true},
			{60 * s, thr, 490, true},
			{120 * s, thr, 400, true}, // 343 clamped
			{180 * s, thr, 400, false},
			{240 * s, thr, 400, false},
		}},
		{"default floor is a twentieth", Config{Configured: 100, Per: time.Second, Decrease: 0.1}, []event{
			{0, thr, 10, true},
			{s, thr, 5, true},
			{2 * s, thr, 5, false},
		}},
		{"out of order reports change nothing", Config{Configured: 1000, Per: time.Minute}, []event{
			{60 * s, thr, 700, true},
			{30 * s, thr, 700, false},  // before the last decrease
			{120 * s, suc, 700, false}, // Hold ends here
			{150 * s, suc, 750, true},
			{140 * s, suc, 750, false}, // earlier than the last success
			{180 * s, suc, 800, true},  // growth from 150s, not 140s
		}},
		{"hold zero length is Per", Config{Configured: 1000, Per: 10 * s}, []event{
			{0, thr, 700, true},
			{9 * s, thr, 700, false},
			{10 * s, thr, 490, true},
		}},
		{"fractional growth accumulates", Config{Configured: 100, Per: time.Minute, Increase: 0.01}, []event{
			{0, thr, 70, true},
			{60 * s, suc, 70, false},
			{80 * s, suc, 70, false}, // +1/3
			{100 * s, suc, 70, false},
			{121 * s, suc, 71, true}, // +1.0166 in all
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { run(t, mustNew(t, tc.cfg), tc.events) })
	}
}

func TestStateCounts(t *testing.T) {
	c := mustNew(t, Config{Configured: 1000, Per: time.Minute})
	c.Throttled(t0)
	c.Throttled(t0.Add(time.Second))
	c.Throttled(t0.Add(time.Minute))
	got := c.State()
	want := State{Limit: 490, Configured: 1000, Ceiling: 1000, Floor: 50, LastDecrease: t0.Add(time.Minute), Decreases: 2, Throttles: 3}
	if got != want {
		t.Errorf("State() = %+v, want %+v", got, want)
	}
}

func TestThrottledAtClampsToUsage(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c, err := New(Config{Configured: 1000, Per: time.Minute, Decrease: 0.8, Floor: 100})
	if err != nil {
		t.Fatal(err)
	}
	// Outside Hold: the multiplicative step, then the clamp to the usage seen.
	if got, changed := c.ThrottledAt(t0, 600); got != 600 || !changed {
		t.Errorf("ThrottledAt(600) from 1000 = %d, %v; want 600 (below 0.8 × 1000)", got, changed)
	}
	// Within Hold: no further step, but a lower usage still clamps.
	if got, _ := c.ThrottledAt(t0.Add(time.Second), 550); got != 550 {
		t.Errorf("ThrottledAt(550) within Hold = %d; want 550", got)
	}
	if got, changed := c.ThrottledAt(t0.Add(2*time.Second), 900); got != 550 || changed {
		t.Errorf("ThrottledAt(900) within Hold = %d, %v; want 550 unchanged", got, changed)
	}
	// Never below the floor.
	if got, _ := c.ThrottledAt(t0.Add(3*time.Second), 10); got != 100 {
		t.Errorf("ThrottledAt(10) = %d; want the floor 100", got)
	}
	// A usage above the stepped limit leaves the step alone.
	d, _ := New(Config{Configured: 1000, Per: time.Minute, Decrease: 0.8})
	if got, _ := d.ThrottledAt(t0, 5000); got != 800 {
		t.Errorf("ThrottledAt(5000) from 1000 = %d; want 800", got)
	}
}

func TestHoldDecrease(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c, err := New(Config{Configured: 1000, Per: time.Minute, Decrease: 0.5, HoldDecrease: 0.9, Floor: 100})
	if err != nil {
		t.Fatal(err)
	}
	c.Throttled(t0)
	if got, _ := c.Throttled(t0.Add(time.Second)); got != 450 {
		t.Errorf("a throttle within Hold with HoldDecrease 0.9: %d; want 450 (500 × 0.9)", got)
	}
	if got, _ := c.ThrottledAt(t0.Add(2*time.Second), 1000); got != 405 {
		t.Errorf("another: %d; want 405", got)
	}
	if _, err := New(Config{Configured: 1000, Per: time.Minute, HoldDecrease: 1.5}); err == nil {
		t.Error("HoldDecrease 1.5 accepted")
	}
}

// TestRecoveryToTheKnee: after a throttle at a known usage the limit climbs back fast to
// 95% of it, then probes at the slow rate.
func TestRecoveryToTheKnee(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c, err := New(Config{Configured: 1000, Per: time.Minute, Decrease: 0.7, Increase: 0.02, Recovery: 0.5, Hold: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c.Succeeded(t0)
	if got, _ := c.ThrottledAt(t0, 900); got != 700 {
		t.Fatalf("after a throttle at 900 of 1000: limit %d, want 700 (×0.7)", got)
	}
	// Hold ends at 10s; from there 500 per minute up to the knee 855 (95% of 900):
	// 155 take 18.6s.
	steps := []struct {
		at   time.Duration
		want int64
	}{
		{10 * time.Second, 700},
		{16 * time.Second, 750},  // 6s × 500/min
		{28 * time.Second, 850},  // 12s more
		{40 * time.Second, 858},  // 855 at 28.6s, then 11.4s × 20/min ≈ 3.8
		{100 * time.Second, 878}, // a minute at 20/min
	}
	for _, s := range steps {
		if got, _ := c.Succeeded(t0.Add(s.at)); got != s.want {
			t.Errorf("at %v: limit %d, want %d", s.at, got, s.want)
		}
	}
	// Without Recovery the same throttle climbs at 20 per minute only.
	slow, _ := New(Config{Configured: 1000, Per: time.Minute, Decrease: 0.7, Increase: 0.02, Hold: 10 * time.Second})
	slow.Succeeded(t0)
	slow.ThrottledAt(t0, 900)
	slow.Succeeded(t0.Add(10 * time.Second))
	if got, _ := slow.Succeeded(t0.Add(40 * time.Second)); got != 710 {
		t.Errorf("without recovery: limit %d after 30s of growth, want 710", got)
	}
}
