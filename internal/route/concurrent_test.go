package route

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestProbeTakenWhileWaiting has another caller take a half-open target's probe while
// Pick is computing waits without the lock: Pick must not hand out a second probe.
func TestProbeTakenWhileWaiting(t *testing.T) {
	r := mustNew(t, named(0, 1), Config{FailureThreshold: 1, OpenFor: time.Second})
	r.Failure(0, t0)
	now := t0.Add(time.Second)
	inner := -1
	wait := func(i int) time.Duration {
		if i == 0 && inner < 0 {
			inner = mustPick(t, r, now, waits(0, time.Hour)) // the other caller
		}
		return 0
	}
	if got := mustPick(t, r, now, wait); got != 1 {
		t.Errorf("outer Pick = %d, want 1: target 0's probe was taken meanwhile", got)
	}
	if inner != 0 {
		t.Errorf("inner Pick = %d, want the probe on 0", inner)
	}

	// With no other target, the outer Pick finds nothing and says when to retry.
	r = mustNew(t, named(0), Config{FailureThreshold: 1, OpenFor: time.Second, ProbeTimeout: time.Minute})
	r.Failure(0, t0)
	inner = -1
	wait = func(int) time.Duration {
		if inner < 0 {
			inner = mustPick(t, r, now, noWait)
		}
		return 0
	}
	if i, ok, retryAt := r.Pick(now, wait); ok || !retryAt.Equal(now.Add(time.Minute)) {
		t.Errorf("outer Pick = %d, %v, t0+%v; want none until the probe times out at t0+61s", i, ok, retryAt.Sub(t0))
	}
}

// TestConcurrent runs many goroutines against one Router on a shared simulated clock.
// Target 0 always fails, so its breaker opens and half-opens again and again; the healthy
// targets must carry the work, and target 0 must see no more calls than its breaker
// admits: those admitted while it was still closed, then one probe per opening. Run it
// with -race.
func TestConcurrent(t *testing.T) {
	const goroutines, calls, threshold = 32, 500, 3
	cfg := Config{FailureThreshold: threshold, OpenFor: 50 * time.Millisecond, MaxOpenFor: 200 * time.Millisecond}
	r := mustNew(t, named(0, 1, 1), cfg)
	var clock atomic.Int64 // simulated nanoseconds since t0, advanced by every call
	var picks [3]atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range calls {
				now := t0.Add(time.Duration(clock.Add(int64(time.Millisecond))))
				i, ok, retryAt := r.Pick(now, func(i int) time.Duration { return time.Duration(i) * time.Microsecond })
				if !ok {
					t.Errorf("no target at t0+%v (retry at t0+%v): the healthy ones never open", now.Sub(t0), retryAt.Sub(t0))
					return
				}
				picks[i].Add(1)
				switch {
				case i == 0:
					r.Failure(0, now)
				case (g+k)%10 == 0:
					r.Throttled(i, now)
				case (g+k)%10 == 1:
					r.Cancel(i, now)
				default:
					r.Success(i, now)
				}
			}
		}()
	}
	wg.Wait()
	st := r.Targets()
	if st[1].Breaker != BreakerClosed || st[2].Breaker != BreakerClosed {
		t.Errorf("healthy targets' breakers: %+v", st)
	}
	if st[0].Breaker == BreakerClosed {
		t.Errorf("the failing target's breaker is closed: %+v", st[0])
	}
	// Before the breaker first opens, at most threshold failures plus one call per other
	// goroutine get through; then one probe per opening, and openings last 50ms, 100ms,
	// then 200ms (the max). The clock is shared, so a goroutine can report a little late:
	// allow one opening's worth per goroutine.
	span := time.Duration(clock.Load())
	bound := int64(threshold+goroutines+2) + int64(span/cfg.MaxOpenFor) + goroutines
	if got := picks[0].Load(); got > bound {
		t.Errorf("%d calls went to the failing target in %v, want ≤ %d", got, span, bound)
	}
	t.Logf("picks %d %d %d in %v", picks[0].Load(), picks[1].Load(), picks[2].Load(), span)
}
