package adapt

import (
	"sync"
	"testing"
	"time"
)

// FuzzEvents drives a Controller with a random configuration through a random sequence of
// throttles and successes at random (sometimes decreasing) times and checks its invariants
// after every event.
func FuzzEvents(f *testing.F) {
	f.Add(int64(1000), false, uint8(0), uint8(0), []byte{0, 1, 2, 200, 3, 4, 255, 128})
	f.Add(int64(1), true, uint8(90), uint8(50), []byte{1, 1, 1, 0, 0, 0})
	f.Add(int64(400_000), true, uint8(30), uint8(255), []byte{7, 130, 9, 250, 250, 250, 2})
	f.Fuzz(func(t *testing.T, configured int64, guess bool, decrease, increase uint8, events []byte) {
		if configured <= 0 || configured > 1<<40 {
			t.Skip()
		}
		cfg := Config{
			Configured: configured,
			Per:        time.Minute,
			Guess:      guess,
			Decrease:   float64(decrease) / 100, // 0 = default; ≥ 1 is rejected
			Increase:   float64(increase) / 100,
		}
		c, err := New(cfg)
		if decrease >= 100 {
			if err == nil {
				t.Fatalf("New accepted Decrease %v", cfg.Decrease)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		s := c.State()
		growth := cmpOr(cfg.Increase, DefaultIncrease) * float64(configured) // per Per
		now := t0
		prev := c.Limit()
		for _, e := range events {
			// The low 7 bits move the clock: mostly forward by up to ~2 periods, sometimes back.
			step := time.Duration(e&0x3f) * 2 * time.Second
			if e&0x40 != 0 {
				step = -step / 4
			}
			now = now.Add(step)
			var limit int64
			var changed bool
			if e&0x80 != 0 {
				limit, changed = c.Throttled(now)
				if limit > prev {
					t.Fatalf("Throttled raised the limit from %d to %d", prev, limit)
				}
			} else {
				limit, changed = c.Succeeded(now)
				if limit < prev {
					t.Fatalf("Succeeded lowered the limit from %d to %d", prev, limit)
				}
				// Growth is at most one Per's worth per success (+1 for rounding).
				if float64(limit-prev) > growth+1 {
					t.Fatalf("Succeeded grew the limit from %d to %d, more than %.1f per event", prev, limit, growth)
				}
			}
			if changed != (limit != prev) {
				t.Fatalf("changed = %v, but the limit went from %d to %d", changed, prev, limit)
			}
			if limit < s.Floor || limit > s.Ceiling {
				t.Fatalf("limit %d outside [Floor %d, Ceiling %d]", limit, s.Floor, s.Ceiling)
			}
			prev = limit
		}
		st := c.State()
		if st.Decreases > st.Throttles {
			t.Fatalf("State() = %+v: more decreases than throttles", st)
		}
		if st.Limit != prev {
			t.Fatalf("State().Limit = %d, want %d", st.Limit, prev)
		}
	})
}

func cmpOr(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}

// TestConcurrent reports from many goroutines at once; with -race it checks the locking,
// and the invariants must hold whatever the interleaving.
func TestConcurrent(t *testing.T) {
	c := mustNew(t, Config{Configured: 10_000, Per: time.Second, Guess: true})
	s := c.State()
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 2000 {
				now := t0.Add(time.Duration(k) * 5 * time.Millisecond)
				var limit int64
				if (k+g)%97 == 0 {
					limit, _ = c.Throttled(now)
				} else {
					limit, _ = c.Succeeded(now)
				}
				if limit < s.Floor || limit > s.Ceiling {
					t.Errorf("limit %d outside [%d, %d]", limit, s.Floor, s.Ceiling)
					return
				}
				_ = c.State()
			}
		}()
	}
	wg.Wait()
	if st := c.State(); st.Throttles == 0 || st.Decreases == 0 || st.Decreases > 10 {
		// 10s of simulated time with a 1s Hold allows at most 10 decreases.
		t.Errorf("State() = %+v: want some throttles, and 1 to 10 decreases", st)
	}
}
