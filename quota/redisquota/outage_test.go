package redisquota_test

import (
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/redistest"
	"github.com/tollgate-dev/tollgate/quota"
	"github.com/tollgate-dev/tollgate/quota/quotatest"
	"github.com/tollgate-dev/tollgate/quota/redisquota"
)

// mostInAnyWindow returns the most admissions (sorted times) in any interval of length per.
func mostInAnyWindow(at []time.Time, per time.Duration) (int, time.Time) {
	most, end, j := 0, time.Time{}, 0
	for i, x := range at {
		for at[j].Before(x.Add(-per)) {
			j++
		}
		if n := i - j + 1; n > most {
			most, end = n, x
		}
	}
	return most, end
}

// Two instances saturate a limit; Redis stops and comes back empty (nothing persisted)
// between two of their calls, so neither sees it fail. The restarted Redis has forgotten
// all they were granted: taken at its word, it would let the window across the restart
// hold up to twice the limit. Each instance finds the set's state new, charges again what
// it holds in the window, and admits only within that until every instance has had time
// to do the same: no interval of length Per holds more than Amount, and once the
// pre-restart charges have left the window the two take the whole limit again.
func TestRestartedEmptyRedisKeepsFleetWithinLimit(t *testing.T) {
	srv := redistest.Start(t)
	const life = 200 * time.Millisecond
	a := newStore(t, srv, redisquota.Options{Scope: "restart", GrantLifetime: life})
	b := newStore(t, srv, redisquota.Options{Scope: "restart", GrantLifetime: life})
	const amount, per = 100, 10 * time.Second
	limits := []quota.Limit{{Dimension: quota.Requests, Amount: amount, Per: per}}
	now := quotatest.T0
	var admitted []time.Time
	perStore := map[*redisquota.Store]int{}
	run := func(until time.Duration) {
		for now.Before(quotatest.T0.Add(until)) {
			now = now.Add(20 * time.Millisecond) // each asks 50 a second, the limit allows 10
			for _, s := range []*redisquota.Store{a, b} {
				if reserve(t, s, now, limits, quota.Cost{Requests: 1}).OK {
					admitted = append(admitted, now)
					perStore[s]++
				}
			}
		}
	}
	run(30 * time.Second)
	before := len(admitted)
	restart := now
	srv.Stop()
	srv.Restart()
	run(60 * time.Second)
	most, at := mostInAnyWindow(admitted, per)
	t.Logf("%d admitted before the restart, %d after (a %d, b %d); most in any %v: %d, ending %v after the restart",
		before, len(admitted)-before, perStore[a], perStore[b], per, most, at.Sub(restart))
	if most > amount {
		t.Errorf("the interval of %v ending %v after the restart holds %d admissions, above the limit of %d", per, at.Sub(restart), most, amount)
	}
	// Over the last window the two take about the whole limit again.
	last := 0
	for _, x := range admitted {
		if x.After(now.Add(-per)) {
			last++
		}
	}
	if last < 0.8*amount {
		t.Errorf("the fleet admitted %d in the last %v, want at least %d: it did not rejoin the shared window", last, per, int(0.8*amount))
	}
}
