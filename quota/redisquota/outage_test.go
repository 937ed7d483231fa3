package redisquota_test

import (
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/redistest"
	"github.com/tollgate-dev/tollgate/quota"
	"github.com/tollgate-dev/tollgate/quota/quotatest"
	"github.com/tollgate-dev/tollgate/quota/redisquota"
)

// eachOutage runs run twice: with Redis paused and resumed (its state kept), and stopped
// and restarted empty; the subtests' names start with prefix.
func eachOutage(t *testing.T, prefix string, run func(t *testing.T, stop, resume func(*redistest.Server))) {
	t.Run(prefix+"paused", func(t *testing.T) { run(t, (*redistest.Server).Pause, (*redistest.Server).Resume) })
	t.Run(prefix+"restarted empty", func(t *testing.T) { run(t, (*redistest.Server).Stop, (*redistest.Server).Restart) })
}

// mostInAnyWindow returns the most admissions (sorted times) in any interval of length
// per that ends at or after from, and when that interval ends.
func mostInAnyWindow(at []time.Time, per time.Duration, from time.Time) (int, time.Time) {
	most, end, j := 0, time.Time{}, 0
	for i, x := range at {
		for at[j].Before(x.Add(-per)) {
			j++
		}
		if n := i - j + 1; n > most && !x.Before(from) {
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
	most, at := mostInAnyWindow(admitted, per, time.Time{})
	across, _ := mostInAnyWindow(admitted, per, restart)
	t.Logf("%d admitted before the restart, %d after (a %d, b %d); most in any %v: %d, ending %v after the restart (%d in one ending after it)",
		before, len(admitted)-before, perStore[a], perStore[b], per, most, at.Sub(restart), across)
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

// Two instances saturate a limit on the wall clock; Redis becomes unreachable for a window
// and a half — stopped and restarted empty, or paused (a hung host: its state kept) and
// resumed. Each admits from its grant, then within its own room while Redis is away (what
// it held in the window, reused as its own charges leave it); when Redis returns it sends
// what it admitted, or charges again all it holds if Redis lost it, and keeps to its own
// room until the other has rejoined. No interval of length Per holds more than Amount,
// before, during or after; both admit during the outage and take the whole limit again
// after it.
//
// With a long limit beside — most of a 1000s window free — the instances admit at the same
// rate: the short limit alone keeps the fleet within the long one's Amount for far longer
// than the outage, so the long limit's own room (which frees only as its charges leave
// its window) does not stop them.
func TestOutageKeepsFleetWithinLimit(t *testing.T) {
	eachOutage(t, "", func(t *testing.T, stop, resume func(*redistest.Server)) { testOutage(t, stop, resume, nil) })
	long := &quota.Limit{Dimension: quota.Requests, Amount: 1_000_000, Per: 1000 * time.Second}
	t.Run("restarted empty with a long limit", func(t *testing.T) {
		testOutage(t, (*redistest.Server).Stop, (*redistest.Server).Restart, long)
	})
}

func testOutage(t *testing.T, stop, resume func(*redistest.Server), long *quota.Limit) {
	srv := redistest.Start(t)
	const life, timeout = 50 * time.Millisecond, 50 * time.Millisecond
	mk := func() *redisquota.Store {
		return dialedStore(t, srv.URL(), redisquota.Options{Scope: "outage", GrantLifetime: life, Timeout: timeout,
			Logger: slog.New(slog.DiscardHandler)})
	}
	a, b := mk(), mk()
	const amount, per = 100, time.Second
	limits := []quota.Limit{{Dimension: quota.Requests, Amount: amount, Per: per}}
	if long != nil {
		limits = append(limits, *long)
	}
	var mu sync.Mutex
	var admitted []time.Time
	var during [2]int
	run := func(d time.Duration, count *[2]int) {
		var wg sync.WaitGroup
		end := time.Now().Add(d)
		for k, s := range []*redisquota.Store{a, b} {
			wg.Add(1)
			go func() { // each asks about 250 a second, the limit allows 100
				defer wg.Done()
				for ; time.Now().Before(end); time.Sleep(4 * time.Millisecond) {
					now := time.Now()
					tk, _, _, err := s.Reserve(bg, now, limits, 0, quota.Cost{Requests: 1}, time.Hour)
					if err != nil {
						t.Error(err)
						return
					}
					if tk != 0 {
						mu.Lock()
						admitted = append(admitted, now)
						if count != nil {
							count[k]++
						}
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
	}
	run(3*time.Second, nil)
	stopped := time.Now()
	stop(srv)
	run(1500*time.Millisecond, &during)
	if !a.Status().Degraded || !b.Status().Degraded {
		t.Errorf("degraded: a %v, b %v, want both with Redis stopped", a.Status().Degraded, b.Status().Degraded)
	}
	resume(srv)
	restarted := time.Now()
	run(3*time.Second, nil)
	slices.SortFunc(admitted, time.Time.Compare)
	most, at := mostInAnyWindow(admitted, per, time.Time{})
	across, _ := mostInAnyWindow(admitted, per, stopped)
	t.Logf("%d admitted; a %d and b %d while Redis was down; most in any %v: %d, ending %v after Redis stopped (%d in one ending after it stopped)",
		len(admitted), during[0], during[1], per, most, at.Sub(stopped).Round(time.Millisecond), across)
	if most > amount {
		t.Errorf("the interval of %v ending %v after Redis stopped holds %d admissions, above the limit of %d",
			per, at.Sub(stopped).Round(time.Millisecond), most, amount)
	}
	// Their own rooms: about the limit per window between them, after what they held.
	if during[0]+during[1] < amount || during[0] == 0 || during[1] == 0 {
		t.Errorf("admitted a %d and b %d while Redis was down, want some each and at least %d together (their own rooms)", during[0], during[1], amount)
	}
	// After it, the two take the whole limit again in a window (a saturated fleet admits
	// in lumps, as the room a window's oldest charges free is taken at once).
	var after []time.Time
	for _, x := range admitted {
		if x.After(restarted) {
			after = append(after, x)
		}
	}
	if most, _ := mostInAnyWindow(after, per, time.Time{}); most < 0.9*amount {
		t.Errorf("the fleet admitted at most %d in a window after Redis returned, want at least %d", most, int(0.9*amount))
	}
	if a.Status().Degraded || b.Status().Degraded {
		t.Error("still degraded after Redis returned")
	}
}

// An instance that noticed no outage — it had nothing counting in the window — hears
// from Redis that another is recovering from one, and until that recovery ends it is held
// to its own room like the others (here: none, so it waits), lest it be granted room the
// other used while Redis was away and has not yet charged.
func TestRecoveryHoldsBackInstanceThatNoticedNothing(t *testing.T) {
	srv := redistest.Start(t)
	const life, timeout = 50 * time.Millisecond, 50 * time.Millisecond
	a := dialedStore(t, srv.URL(), redisquota.Options{Scope: "noticed", GrantLifetime: life, Timeout: timeout,
		Logger: slog.New(slog.DiscardHandler)})
	b := newStore(t, srv, redisquota.Options{Scope: "noticed", GrantLifetime: life, Timeout: timeout})
	limits := []quota.Limit{{Dimension: quota.Requests, Amount: 100, Per: time.Second}}
	one := quota.Cost{Requests: 1}
	if !reserve(t, a, time.Now(), limits, one).OK {
		t.Fatal("a's first call refused")
	}
	srv.Pause()
	time.Sleep(2 * life) // a's grant lapses
	for end := time.Now().Add(time.Second); !a.Status().Degraded && time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		reserve(t, a, time.Now(), limits, one)
	}
	if !a.Status().Degraded {
		t.Fatal("a not degraded with Redis paused")
	}
	srv.Resume()
	for end := time.Now().Add(2 * time.Second); a.Status().Degraded && time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		reserve(t, a, time.Now(), limits, one)
	}
	if a.Status().Degraded {
		t.Fatal("a still degraded after Redis resumed")
	}
	// b has no room of its own: refused while a's recovery lasts, told to come back when
	// it ends (two lifetimes and two timeouts after a rejoined, 200ms), admitted after.
	now := time.Now()
	adm := reserve(t, b, now, limits, one)
	if adm.OK {
		t.Fatal("b granted room while a was recovering from the outage")
	}
	if wait := adm.RetryAt.Sub(now); wait <= 0 || wait > 300*time.Millisecond {
		t.Errorf("b told to retry in %v, want within the recovery (at most 2×%v+2×%v)", wait, life, timeout)
	}
	if adm := reserve(t, b, adm.RetryAt.Add(time.Millisecond), limits, one); !adm.OK {
		t.Errorf("b refused once a's recovery ended: %+v", adm)
	}
}
