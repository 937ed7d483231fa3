package redisquota_test

import (
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/redistest"
	"github.com/tollgate-dev/tollgate/quota"
	"github.com/tollgate-dev/tollgate/quota/quotatest"
	"github.com/tollgate-dev/tollgate/quota/redisquota"
)

// Three instances saturate a TokenBucket limit of requests (100 per 10s), beside one of
// tokens whose calls give part back when they end; Redis goes away
// mid-period for 20s of the test's clock (paused, its state kept, or stopped and
// restarted empty). No interval [a, b] between two admissions holds more than
// B + r·(b−a) of them, before, during or after the outage, and the provider's tokens
// bucket, given back the refunds, never goes below zero; each instance, granted part of
// the bucket in the period before, admits something while Redis is away; and after it
// the fleet takes the whole rate again.
func TestBucketOutageKeepsFleetWithinTheBucket(t *testing.T) {
	eachOutage(t, "", func(t *testing.T, stop, resume func(*redistest.Server)) {
		testBucketOutage(t, stop, resume, quota.TokenBucket)
	})
}

// The same with the requests limited by a Sliding window, or by clock windows, beside the
// tokens bucket: a set with both keeps its own room of the window and a local bucket of
// the bucket, and no window holds more than the requests' Amount.
func TestMixedOutageKeepsFleetWithinEveryLimit(t *testing.T) {
	eachOutage(t, "sliding ", func(t *testing.T, stop, resume func(*redistest.Server)) {
		testBucketOutage(t, stop, resume, quota.Sliding)
	})
	t.Run("clock restarted empty", func(t *testing.T) {
		testBucketOutage(t, (*redistest.Server).Stop, (*redistest.Server).Restart, quota.ClockWindow)
	})
}

// testBucketOutage runs the outage with the requests limit metered by reqMeter.
// overBucket returns how many admissions (sorted times) the interval between two of them
// that holds the most beyond factor·(B + r·len) holds beyond it, for a bucket of amount
// per per; 0 if none does.
func overBucket(at []time.Time, amount int, per time.Duration, factor float64) float64 {
	rate := float64(amount) / float64(per)
	worst := 0.0
	for i := range at {
		for j := i; j < len(at); j++ {
			bound := factor * (float64(amount) + rate*float64(at[j].Sub(at[i])))
			if over := float64(j-i+1) - bound; over > worst {
				worst = over
			}
			if bound >= float64(len(at)-i) {
				break
			}
		}
	}
	return worst
}

func testBucketOutage(t *testing.T, stop, resume func(*redistest.Server), reqMeter quota.Meter) {
	srv := redistest.Start(t)
	fleet := storesOn(t, srv, 3, redisquota.Options{Scope: "bucketout", GrantLifetime: 500 * time.Millisecond,
		Timeout: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	now := quotatest.T0
	const amount, per = 100, 10 * time.Second
	limits := []quota.Limit{{Dimension: quota.Requests, Amount: amount, Per: per, Meter: reqMeter},
		{Dimension: quota.Tokens, Amount: 6000, Per: per, Meter: quota.TokenBucket}}
	rng := rand.New(rand.NewPCG(5, 6))
	// The provider's tokens bucket (the referee for a dimension with refunds): level and
	// when last refilled.
	level, last := float64(limits[1].Amount), quotatest.T0
	refill := func() {
		level = min(level+float64(now.Sub(last))*float64(limits[1].Amount)/float64(per), float64(limits[1].Amount))
		last = now
	}
	var at []time.Time
	var outage [3]int
	down := false
	step := func() {
		now = now.Add(5 * time.Millisecond)
		for j := range fleet {
			// Each in turn first, so that the three share the bucket.
			k := (j + int(now.Sub(quotatest.T0)/(5*time.Millisecond))) % len(fleet)
			s := fleet[k]
			c := quota.Cost{Requests: 1, Tokens: 1 + rng.Int64N(300)}
			adm := reserve(t, s, now, limits, c)
			if !adm.OK {
				continue
			}
			refill()
			if level -= float64(c.Tokens); level < -1e-6 {
				t.Fatalf("the admission at +%v overdraws the provider's tokens bucket: level %.3f", now.Sub(quotatest.T0), level)
			}
			// The call ends at once, using part of what it reserved: the rest goes back
			// to the provider's bucket.
			actual := quota.Cost{Requests: 1, Tokens: rng.Int64N(c.Tokens + 1)}
			if ok, err := s.Settle(bg, now, limits, adm.Ticket, actual); err != nil || !ok {
				t.Fatalf("settle: %v %v", ok, err)
			}
			level = min(level+float64(c.Tokens-actual.Tokens), float64(limits[1].Amount))
			at = append(at, now)
			if down {
				outage[k]++
			}
		}
	}
	for now.Before(quotatest.T0.Add(35 * time.Second)) {
		step()
	}
	stop(srv)
	down = true
	for now.Before(quotatest.T0.Add(55 * time.Second)) {
		step()
	}
	down = false
	resume(srv)
	degraded := func() bool {
		for _, s := range fleet {
			if s.Status().Degraded {
				return true
			}
		}
		return false
	}
	for end := time.Now().Add(10 * time.Second); degraded() && time.Now().Before(end); time.Sleep(time.Millisecond) {
		step()
	}
	if degraded() {
		t.Fatal("still degraded 10s after Redis returned")
	}
	rejoined := now
	for now.Before(rejoined.Add(30 * time.Second)) {
		step()
	}
	t.Logf("admitted %d, during the outage per instance %v", len(at), outage)
	// The last 10s: the fleet takes the whole rate again.
	late := 0
	for _, a := range at {
		if !a.Before(now.Add(-10 * time.Second)) {
			late++
		}
	}
	if late < 90 {
		t.Errorf("%d admitted in the last 10s, after Redis returned; want at least 90 (the rate is 10/s)", late)
	}
	switch reqMeter {
	case quota.Sliding:
		if most, end := mostInAnyWindow(at, per, quotatest.T0); most > amount {
			t.Errorf("%d admissions in the window of %v ending at +%v; the limit is %d", most, per, end.Sub(quotatest.T0), amount)
		}
	case quota.ClockWindow:
		byWin := map[int64]int{} // T0 is on a window's boundary
		for _, a := range at {
			byWin[int64(a.Sub(quotatest.T0)/per)]++
		}
		for w, n := range byWin {
			if n > amount {
				t.Errorf("clock window %d (from +%v) holds %d admissions; the limit is %d", w, time.Duration(w)*per, n, amount)
			}
		}
	}
	worst := 0.0
	if reqMeter == quota.TokenBucket {
		worst = overBucket(at, amount, per, 1)
	}
	if worst > 1e-6 {
		t.Errorf("an interval holds %.1f admissions more than the bucket allows", worst)
	}
	for k, n := range outage {
		if n == 0 {
			t.Errorf("instance %d admitted nothing while Redis was away", k)
		}
	}
}
