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

// Three instances share a ClockWindow limit on the test's clock: A alone for two windows
// (two thirds of the limit), then B and C join and the three saturate it. Redis goes away
// in the middle of a window and stays away across two window boundaries — paused and
// resumed (its state kept), or stopped and restarted empty. No clock window holds more
// than Amount of what the three admitted in it, before, during or after the outage: A's
// share of the windows before, two thirds, is not its share of the one Redis went away
// in. During the outage each admits in the later windows, and after it the fleet takes
// the whole limit again.
func TestClockOutageKeepsFleetWithinEveryWindow(t *testing.T) {
	eachOutage(t, "", testClockOutage)
}

func testClockOutage(t *testing.T, stop, resume func(*redistest.Server)) {
	srv := redistest.Start(t)
	const life, timeout = 500 * time.Millisecond, 50 * time.Millisecond
	var fleet [3]*redisquota.Store
	for i := range fleet {
		fleet[i] = dialedStore(t, srv.URL(), redisquota.Options{Scope: "clockout", GrantLifetime: life, Timeout: timeout,
			Logger: slog.New(slog.DiscardHandler)})
	}
	const amount, per = 3000, 10 * time.Second
	limits := []quota.Limit{{Dimension: quota.Requests, Amount: amount, Per: per, Meter: quota.ClockWindow}}
	win := func(at time.Time) int64 { return at.Sub(quotatest.T0).Milliseconds() / per.Milliseconds() }
	guard := per / 200
	used := map[int64]int{}        // what the fleet admitted per clock window (the referee)
	byStore := map[int64]*[3]int{} // and per instance
	one := quota.Cost{Requests: 1}
	now := quotatest.T0.Add(3 * time.Second) // T0 is on a window's boundary
	// Each active instance asks for a call every 5ms (2000 a window); the calls end at
	// once, at what they reserved.
	step := func(active int) {
		now = now.Add(5 * time.Millisecond)
		for k, s := range fleet[:active] {
			adm := reserve(t, s, now, limits, one)
			if !adm.OK {
				continue
			}
			if ok, err := s.Settle(bg, now, limits, adm.Ticket, one); err != nil || !ok {
				t.Fatalf("settle: %v %v", ok, err)
			}
			if pos := now.Sub(quotatest.T0) % per; pos < guard || pos >= per-guard {
				t.Fatalf("instance %d admitted at +%v, in a window's guard", k, now.Sub(quotatest.T0))
			}
			w := win(now)
			if byStore[w] == nil {
				byStore[w] = &[3]int{}
			}
			byStore[w][k]++
			if used[w]++; used[w] > amount {
				t.Fatalf("window %d (from +%v) holds %d admissions after instance %d's at +%v, above the limit of %d (per instance so far %v)",
					w, time.Duration(w)*per, used[w], k, now.Sub(quotatest.T0), amount, *byStore[w])
			}
		}
	}
	for now.Before(quotatest.T0.Add(20 * time.Second)) {
		step(1)
	}
	for now.Before(quotatest.T0.Add(24 * time.Second)) {
		step(3)
	}
	stop(srv)
	for now.Before(quotatest.T0.Add(46 * time.Second)) { // windows 3 and 4 whole
		step(3)
	}
	for _, s := range fleet {
		if !s.Status().Degraded {
			t.Error("an instance is not degraded with Redis away")
		}
	}
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
		step(3)
	}
	if degraded() {
		t.Fatal("still degraded 10s after Redis returned")
	}
	rejoined := now
	for now.Before(rejoined.Add(25 * time.Second)) {
		step(3)
	}
	for w := int64(0); w <= win(now); w++ {
		if byStore[w] != nil {
			t.Logf("window %d: %d admitted %v", w, used[w], *byStore[w])
		}
	}
	// In the outage's whole windows each instance admits at its share of the window
	// Redis went away in, about a third of what Redis counted there.
	for _, w := range []int64{3, 4} {
		if b := byStore[w]; b == nil || b[0] == 0 || b[1] == 0 || b[2] == 0 || used[w] < amount/2 {
			t.Errorf("window %d (Redis away): admitted %d, per instance %v; want some each and at least %d together", w, used[w], b, amount/2)
		}
	}
	// The last whole window after Redis returned: the fleet takes the limit again.
	if last := win(now) - 1; used[last] < amount*9/10 {
		t.Errorf("window %d, after Redis returned, holds %d admissions, want at least %d", last, used[last], amount*9/10)
	}
}

// An instance last answered by Redis in an earlier window than the one it finds Redis
// gone in has no part of the windows that follow: its charges there are not the window
// Redis went away in, where the others' parts were counted. D takes half the limit in one
// window and is idle in the next, in which A is granted room and Redis stops: D admits
// nothing until Redis returns; A admits in that window what it held there, and in the
// next as much again, less a call still open from before, which counts there too.
func TestClockOutageNoShareFromAnEarlierWindow(t *testing.T) {
	srv := redistest.Start(t)
	mk := func() *redisquota.Store {
		return dialedStore(t, srv.URL(), redisquota.Options{Scope: "clockearlier", Timeout: 50 * time.Millisecond,
			Logger: slog.New(slog.DiscardHandler)})
	}
	a, d := mk(), mk()
	limits := []quota.Limit{{Dimension: quota.Requests, Amount: 100, Per: 10 * time.Second, Meter: quota.ClockWindow}}
	one := quota.Cost{Requests: 1}
	calls := func(s *redisquota.Store, from time.Time, n int) int {
		ok := 0
		for i := 0; i < n; i++ {
			at := from.Add(time.Duration(i) * time.Millisecond)
			if adm := reserve(t, s, at, limits, one); adm.OK {
				if done, err := s.Settle(bg, at, limits, adm.Ticket, one); err != nil || !done {
					t.Fatalf("settle: %v %v", done, err)
				}
				ok++
			}
		}
		return ok
	}
	if got := calls(d, quotatest.T0.Add(time.Second), 50); got != 50 {
		t.Fatalf("d admitted %d of 50 in window 0", got)
	}
	// One of a's calls stays open into the next window, where it counts again.
	open := reserve(t, a, quotatest.T0.Add(11*time.Second), limits, quota.Cost{Requests: 5})
	if !open.OK {
		t.Fatal("a's open call refused")
	}
	if got := calls(a, quotatest.T0.Add(12*time.Second), 25); got != 25 {
		t.Fatalf("a admitted %d of 25 in window 1", got)
	}
	srv.Stop()
	if got := calls(d, quotatest.T0.Add(13*time.Second), 20); got != 0 {
		t.Errorf("d admitted %d in the window Redis went away in, holding nothing there", got)
	}
	if !d.Status().Degraded {
		t.Fatal("d not degraded with Redis stopped")
	}
	held := 5 + 25 + calls(a, quotatest.T0.Add(13*time.Second), 100) // the rest of its grant
	if got := calls(d, quotatest.T0.Add(25*time.Second), 20); got != 0 {
		t.Errorf("d admitted %d in the next window, on its part of an earlier one", got)
	}
	if got := calls(a, quotatest.T0.Add(25*time.Second), 100); got != held-5 {
		t.Errorf("a admitted %d in the next window, want %d: the %d it held in the window Redis went away in, less its open call's 5", got, held-5, held)
	}
}
