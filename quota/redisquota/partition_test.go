package redisquota_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/redistest"
	"github.com/tollgate-dev/tollgate/quota"
	"github.com/tollgate-dev/tollgate/quota/quotatest"
	"github.com/tollgate-dev/tollgate/quota/redisquota"
)

// Three instances saturate a limit; a network partition cuts the first off from Redis
// for 25s of the test's clock, from the middle of a window, while the other two keep it. Redis cannot tell the
// cut-off instance from a dead one and gives its room to the others as its charges
// leave the window, so what it admits on its own room comes on top: no window holds more
// than Amount plus its own room C, which is at most what it admitted in the Per and a
// lifetime before the cut plus its grant's unused room (itself at most what it admitted
// in the two lifetimes before: a grant is sized by them). With NoFallback it admits
// nothing beyond its grant, and no window holds more than Amount. The same for a token
// bucket of B refilling at r: no interval of length T holds more than (1 + s)·(B + r·T),
// s ≤ 1 the cut-off instance's share, or B + r·T with NoFallback.
func TestPartitionOfOneInstance(t *testing.T) {
	for _, c := range []struct {
		name       string
		meter      quota.Meter
		noFallback bool
	}{
		{"sliding", quota.Sliding, false},
		{"sliding NoFallback", quota.Sliding, true},
		{"clock", quota.ClockWindow, false},
		{"clock NoFallback", quota.ClockWindow, true},
		{"bucket", quota.TokenBucket, false},
		{"bucket NoFallback", quota.TokenBucket, true},
	} {
		t.Run(c.name, func(t *testing.T) { testPartition(t, c.meter, c.noFallback) })
	}
}

func testPartition(t *testing.T, meter quota.Meter, noFallback bool) {
	srv := redistest.Start(t)
	proxy := redistest.NewProxy(t, srv)
	const life = 500 * time.Millisecond
	o := redisquota.Options{Scope: "partition", GrantLifetime: life, Timeout: 50 * time.Millisecond,
		NoFallback: noFallback, Logger: slog.New(slog.DiscardHandler)}
	fleet := make([]*redisquota.Store, 3)
	for i := range fleet {
		url := srv.URL()
		if i == 0 {
			url = proxy.URL()
		}
		fleet[i] = dialedStore(t, url, o)
	}
	const amount, per = 100, 10 * time.Second
	limits := []quota.Limit{{Dimension: quota.Requests, Amount: amount, Per: per, Meter: meter}}
	one := quota.Cost{Requests: 1}
	now := quotatest.T0 // on a clock window's boundary
	var all, first []time.Time
	cut := false
	var during int
	step := func() {
		now = now.Add(5 * time.Millisecond) // each asks 200 a second; the limit allows 10
		for k, s := range fleet {
			if adm := reserve(t, s, now, limits, one); adm.OK {
				if ok, err := s.Settle(bg, now, limits, adm.Ticket, one); err != nil || !ok {
					t.Fatalf("settle: %v %v", ok, err)
				}
				all = append(all, now)
				if k == 0 {
					first = append(first, now)
					if cut {
						during++
					}
				}
			}
		}
	}
	for now.Before(quotatest.T0.Add(25 * time.Second)) {
		step()
	}
	f := now
	proxy.Cut()
	cut = true
	for now.Before(f.Add(25 * time.Second)) {
		step()
	}
	if !fleet[0].Status().Degraded || fleet[1].Status().Degraded || fleet[2].Status().Degraded {
		t.Errorf("degraded: %v %v %v; want only the first, which is cut off", fleet[0].Status().Degraded, fleet[1].Status().Degraded, fleet[2].Status().Degraded)
	}
	proxy.Mend()
	cut = false
	for end := time.Now().Add(10 * time.Second); fleet[0].Status().Degraded && time.Now().Before(end); time.Sleep(time.Millisecond) {
		step()
	}
	if fleet[0].Status().Degraded {
		t.Fatal("the first instance is still degraded 10s after the partition ended")
	}
	rejoined := now
	for now.Before(rejoined.Add(20 * time.Second)) {
		step()
	}
	// After the partition the fleet takes the whole limit again.
	if late := len(all) - countBefore(all, now.Add(-per)); late < amount*9/10 {
		t.Errorf("%d admitted in the last %v, want at least %d", late, per, amount*9/10)
	}
	// What the first admitted in [from, to].
	count := func(from, to time.Time) int {
		n := 0
		for _, x := range first {
			if !x.Before(from) && !x.After(to) {
				n++
			}
		}
		return n
	}
	grant := count(f.Add(-2*life), f)
	switch {
	case noFallback && during > grant:
		t.Errorf("with NoFallback the cut-off instance admitted %d during the partition, more than its grant (at most %d)", during, grant)
	case !noFallback && during == 0:
		t.Error("the cut-off instance admitted nothing on its own during the partition")
	}
	if meter == quota.TokenBucket {
		share := 1.0
		if noFallback {
			share = 0
		}
		worst := overBucket(all, amount, per, 1+share)
		t.Logf("admitted %d; the cut-off instance %d during the partition", len(all), during)
		if worst > 1e-6 {
			t.Errorf("an interval holds %.1f admissions more than (1 + %v)·(B + r·T)", worst, share)
		}
		return
	}
	room := grant
	if meter == quota.Sliding {
		room += count(f.Add(-per-life-per/200), f) // a grant counts a lifetime and a sub-window longer
	} else {
		room += count(quotatest.T0.Add(f.Sub(quotatest.T0)/per*per), f) // T0 is on a window's boundary
	}
	bound := amount + room
	if noFallback {
		bound = amount
	}
	most, end := 0, time.Time{}
	if meter == quota.Sliding {
		most, end = mostInAnyWindow(all, per, quotatest.T0)
	} else {
		byWin := map[time.Time]int{}
		for _, x := range all {
			w := quotatest.T0.Add(x.Sub(quotatest.T0) / per * per)
			if byWin[w]++; byWin[w] > most {
				most, end = byWin[w], w
			}
		}
	}
	t.Logf("admitted %d; the cut-off instance %d during the partition; most in a window %d (ending or starting at +%v); bound %d (own room at most %d)",
		len(all), during, most, end.Sub(quotatest.T0), bound, room)
	if most > bound {
		t.Errorf("a window (ending or starting at +%v) holds %d admissions, above the bound of %d", end.Sub(quotatest.T0), most, bound)
	}
}

// countBefore returns how many of the sorted times at are before x.
func countBefore(at []time.Time, x time.Time) int {
	n := 0
	for n < len(at) && at[n].Before(x) {
		n++
	}
	return n
}
