package adapt

import (
	"cmp"
	"testing"
	"time"
)

// provider is a fake rate-limited service whose true amount is below (or above) what the
// controller is configured with. It admits a call when the cost admitted in the trailing
// per, plus the call's cost, is at most amount, and throttles it otherwise — so a client
// sending at L per per above amount sees about (L − amount)/L of its calls throttled, and
// throttles keep coming for up to a period after it slows down, while the window drains.
type provider struct {
	amount   int64
	per      time.Duration
	admitted []admission // in time order
	sum      int64       // cost of admitted
}

type admission struct {
	at   time.Time
	cost int64
}

// call reports whether a call of cost at now is admitted, and records it if so.
func (p *provider) call(now time.Time, cost int64) bool {
	for len(p.admitted) > 0 && !p.admitted[0].at.After(now.Add(-p.per)) {
		p.sum -= p.admitted[0].cost
		p.admitted = p.admitted[1:]
	}
	if p.sum+cost > p.amount {
		return false
	}
	p.admitted = append(p.admitted, admission{now, cost})
	p.sum += cost
	return true
}

// sample is the controller's limit from one time on.
type sample struct {
	at    time.Time
	limit int64
}

// simulation is the outcome of driving a Controller against a provider.
type simulation struct {
	samples   []sample // the limit after each call
	admitted  []admission
	calls     int
	throttled int
}

// simulate drives c for d of simulated time with calls of the given cost, paced at the
// controller's limit: the next call starts Per × cost / Limit after the previous one.
func simulate(t testing.TB, c *Controller, p *provider, start time.Time, d time.Duration, cost int64) simulation {
	t.Helper()
	var sim simulation
	for now := start; now.Before(start.Add(d)); {
		sim.calls++
		if p.call(now, cost) {
			sim.admitted = append(sim.admitted, admission{now, cost})
			c.Succeeded(now)
		} else {
			sim.throttled++
			c.Throttled(now)
		}
		limit := c.Limit()
		sim.samples = append(sim.samples, sample{now, limit})
		now = now.Add(time.Duration(int64(p.per) * cost / limit))
	}
	return sim
}

func TestConvergesToTrueLimit(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		cfg  Config
		true int64 // the provider's real amount
		// The most time above T and the most calls throttled, as fractions. Growth is a
		// fraction of Configured per Per, so the further T is below Configured, the larger
		// each step is against T and the more of the time the limit spends probing above it.
		maxAbove, maxThrottled float64
	}{
		{"configured above truth", Config{Configured: 1000, Per: time.Minute}, 600, 0.2, 0.03},
		{"configured 2x truth", Config{Configured: 1000, Per: time.Minute}, 500, 0.2, 0.02},
		{"configured 5x truth", Config{Configured: 100_000, Per: time.Minute}, 20_000, 0.35, 0.10},
		{"guess below truth", Config{Configured: 1000, Per: time.Minute, Guess: true}, 1500, 0.2, 0.03},
		{"requests per second", Config{Configured: 50, Per: time.Second}, 30, 0.2, 0.03},
		{"slow increase", Config{Configured: 1000, Per: time.Minute, Increase: 0.02}, 700, 0.2, 0.03},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			cost := max(1, tc.cfg.Configured/100) // about 100 calls per Per
			p := &provider{amount: tc.true, per: tc.cfg.Per}
			settle := 15 * tc.cfg.Per
			sim := simulate(t, c, p, start, 120*tc.cfg.Per, cost)
			t.Logf("%d calls, %d throttled, %d decreases", sim.calls, sim.throttled, c.State().Decreases)

			T := float64(tc.true)
			// Overshoot: the limit must pass T before the provider can throttle, and the
			// provider's window lags the sending rate by up to a period; the throttle stops
			// the growth within about half a period plus a call.
			over := T + cmp.Or(tc.cfg.Increase, DefaultIncrease)*float64(tc.cfg.Configured)*0.75 + float64(cost)
			var above time.Duration
			var peaks int
			for k, s := range sim.samples {
				if s.at.Before(start.Add(settle)) {
					continue
				}
				l := float64(s.limit)
				if l < 0.7*T || l > over {
					t.Fatalf("at %v the limit is %d, outside [0.7T, T+overshoot] = [%.0f, %.0f]",
						s.at.Sub(start), s.limit, 0.7*T, over)
				}
				if k+1 < len(sim.samples) && l > T {
					above += sim.samples[k+1].at.Sub(s.at)
				}
				if k > 0 && s.limit < sim.samples[k-1].limit {
					peaks++
					if got := sim.samples[k].limit; float64(got) > T {
						t.Errorf("after the decrease at %v the limit is %d, above T = %d", s.at.Sub(start), got, tc.true)
					}
				}
			}
			if peaks < 3 {
				t.Errorf("%d decreases after settling: the controller stopped probing for the limit", peaks)
			}
			span := sim.samples[len(sim.samples)-1].at.Sub(start.Add(settle))
			lo, hi := sim.samples[len(sim.samples)-1].limit, int64(0)
			for _, s := range sim.samples {
				if !s.at.Before(start.Add(settle)) {
					lo, hi = min(lo, s.limit), max(hi, s.limit)
				}
			}
			t.Logf("after settling the limit ranged over [%.2fT, %.2fT], above T %.0f%% of the time",
				float64(lo)/T, float64(hi)/T, 100*float64(above)/float64(span))
			if frac := float64(above) / float64(span); frac > tc.maxAbove {
				t.Errorf("the limit was above T for %.0f%% of the time after settling, want ≤ %.0f%%", 100*frac, 100*tc.maxAbove)
			}
			// Goodput: what the provider admitted in each period after settling.
			for from := start.Add(settle); from.Add(tc.cfg.Per).Before(start.Add(120 * tc.cfg.Per)); from = from.Add(tc.cfg.Per) {
				var got int64
				for _, a := range sim.admitted {
					if !a.at.Before(from) && a.at.Before(from.Add(tc.cfg.Per)) {
						got += a.cost
					}
				}
				if float64(got) < 0.7*T-float64(cost) {
					t.Errorf("admitted %d in the period from %v, want ≥ 0.7 × %d", got, from.Sub(start), tc.true)
				}
			}
			if frac := float64(sim.throttled) / float64(sim.calls); frac > tc.maxThrottled {
				t.Errorf("%.1f%% of calls throttled, want ≤ %.0f%%", 100*frac, 100*tc.maxThrottled)
			}
		})
	}
}
