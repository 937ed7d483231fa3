package quota_test

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tollgate-dev/tollgate/internal/callorder"
	"github.com/tollgate-dev/tollgate/quota"
)

// TestHighJumpsLowQueue queues 1,000 Low calls on a full window, then one High call, and
// frees room for exactly one call: the High call must be the one admitted.
func TestHighJumpsLowQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, quota.Config{Limits: []quota.Limit{{Dimension: quota.Tokens, Amount: 100_000, Per: time.Minute}}})
		filler, err := l.Wait(context.Background(), tok(100_000), quota.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var order []quota.Priority
		run := func(p quota.Priority) {
			if _, err := l.Wait(context.Background(), tok(10), quota.Options{Priority: p}); err != nil {
				return // Close at the end of the test
			}
			mu.Lock()
			order = append(order, p)
			mu.Unlock()
		}
		for i := 0; i < 1000; i++ {
			go run(quota.Low)
		}
		synctest.Wait()
		go run(quota.High)
		synctest.Wait()
		if s := snapshot(t, l); s.Queued[1] != 1 || s.Queued[3] != 1000 {
			t.Fatalf("queued = %v; want 1 High behind 1000 Low", s.Queued)
		}
		filler.Settle(tok(99_990)) // room for exactly one call of 10
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if len(order) != 1 || order[0] != quota.High {
			t.Fatalf("admitted after freeing room for one call: %v; want [high]", order)
		}
		l.Close()
	})
}

// stream is an open-loop source of calls: one call of cost every interval, whatever
// happened to the earlier ones, so that a stream faster than its share stays backlogged.
type stream struct {
	opt      quota.Options
	cost     int64 // reserved tokens
	settled  int64 // tokens settled
	interval time.Duration
}

// openLoad runs the streams against l for d (simulated), settling each call as soon as it
// is admitted, and returns the tokens each stream settled after warmup.
func openLoad(t *testing.T, l *quota.Limiter, streams []stream, warmup, d time.Duration) []int64 {
	t.Helper()
	var mu sync.Mutex
	got := make([]int64, len(streams))
	start := time.Now()
	var wg sync.WaitGroup
	for i, s := range streams {
		wg.Go(func() {
			for time.Since(start) < d {
				wg.Go(func() {
					r, err := l.Wait(context.Background(), tok(s.cost), s.opt)
					if err != nil {
						return // the limiter closed at the end of the run
					}
					r.Settle(tok(s.settled))
					if time.Since(start) >= warmup && time.Since(start) < d {
						mu.Lock()
						got[i] += s.settled
						mu.Unlock()
					}
				})
				time.Sleep(s.interval)
			}
		})
	}
	time.Sleep(d)
	l.Close()
	wg.Wait()
	return got
}

// TestLowGetsGuaranteedShare keeps High backlogged at twice the limit and Low at half of
// it, and checks that Low receives its guaranteed share (and, with the guarantee off,
// starves).
func TestLowGetsGuaranteedShare(t *testing.T) {
	limits := []quota.Limit{{Dimension: quota.Tokens, Amount: 100_000, Per: time.Minute}}
	streams := []stream{
		{opt: quota.Options{Priority: quota.High}, cost: 2_000, settled: 2_000, interval: 600 * time.Millisecond}, // 200K/min
		{opt: quota.Options{Priority: quota.Low}, cost: 2_000, settled: 2_000, interval: 2400 * time.Millisecond}, // 50K/min
	}
	for _, tc := range []struct {
		share    float64
		min, max float64
	}{
		{share: 0, min: 0.05 * 0.95, max: 0.05 * 1.2}, // zero means the documented default, 0.05
		{share: 0.2, min: 0.2 * 0.95, max: 0.2 * 1.2},
		{share: -1, min: 0, max: 0.005},
	} {
		t.Run(fmt.Sprint("MinShare=", tc.share), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLimiter(t, quota.Config{Limits: limits, MinShare: tc.share})
				got := openLoad(t, l, streams, 2*time.Minute, 12*time.Minute)
				low := float64(got[1]) / float64(got[0]+got[1])
				t.Logf("High %d, Low %d tokens: Low share %.4f", got[0], got[1], low)
				if low < tc.min || low > tc.max {
					t.Errorf("Low's share under constant High load = %.4f, want in [%.3f, %.3f]", low, tc.min, tc.max)
				}
				if total := got[0] + got[1]; total < 10*limits[0].Amount*99/100 {
					t.Errorf("served %d tokens in 10 minutes of backlog; want about %d", total, 10*limits[0].Amount)
				}
			})
		})
	}
}

// TestTenantsShareEqually runs two tenants in one class, both backlogged with 10:1 demand
// and different call sizes, and checks that they receive equal token service within 5%.
func TestTenantsShareEqually(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, quota.Config{Limits: []quota.Limit{{Dimension: quota.Tokens, Amount: 100_000, Per: time.Minute}}})
		streams := []stream{
			// heavy: 2,000-token calls settling at 1,500, demanding 750K/min settled
			{opt: quota.Options{Tenant: "heavy"}, cost: 2_000, settled: 1_500, interval: 120 * time.Millisecond},
			// light: 700-token calls, demanding 75K/min — a tenth of heavy, above half the limit
			{opt: quota.Options{Tenant: "light"}, cost: 700, settled: 700, interval: 560 * time.Millisecond},
		}
		got := openLoad(t, l, streams, 2*time.Minute, 14*time.Minute)
		diff := math.Abs(float64(got[0]-got[1])) / float64(max(got[0], got[1]))
		t.Logf("tokens served: heavy %d, light %d (difference %.2f%%)", got[0], got[1], 100*diff)
		if diff > 0.05 {
			t.Errorf("tenants with 10:1 demand got %v tokens; want equal within 5%%", got)
		}
	})
}

// TestForecastMatchesWait builds a backlog and compares Forecast's prediction for a new
// call with the wait it then has, at several depths and priorities.
func TestForecastMatchesWait(t *testing.T) {
	for _, tc := range []struct {
		name    string
		queued  int
		prio    quota.Priority
		limits  []quota.Limit
		inspect time.Duration
	}{
		{"tpm deep queue", 120, quota.Normal, []quota.Limit{{Dimension: quota.Tokens, Amount: 60_000, Per: time.Minute}}, 0},
		{"tpm high priority", 120, quota.High, []quota.Limit{{Dimension: quota.Tokens, Amount: 60_000, Per: time.Minute}}, 0},
		{"tpm and rpm", 80, quota.Normal, []quota.Limit{{Dimension: quota.Tokens, Amount: 80_000, Per: time.Minute}, {Dimension: quota.Requests, Amount: 20, Per: time.Minute}}, 0},
		{"mid-window", 60, quota.Low, []quota.Limit{{Dimension: quota.Tokens, Amount: 50_000, Per: time.Minute}}, 95 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLimiter(t, quota.Config{Limits: tc.limits})
				for i := 0; i < tc.queued; i++ {
					c := tok(int64(1000 + (i*7919)%3000)) // sizes vary, deterministically
					p := quota.Normal
					if i%4 == 0 {
						p = quota.High
					}
					go func() {
						if r, err := l.Wait(context.Background(), c, quota.Options{Priority: p}); err == nil {
							r.Settle(c)
						}
					}()
					synctest.Wait() // queued (or admitted) before the next: the backlog is the same every run
				}
				time.Sleep(tc.inspect)
				synctest.Wait()
				cost := tok(2500)
				predWait, predLimit, err := l.Forecast(context.Background(), cost, quota.Options{Priority: tc.prio})
				if err != nil {
					t.Fatal(err)
				}
				r, err := l.Wait(context.Background(), cost, quota.Options{Priority: tc.prio})
				if err != nil {
					t.Fatal(err)
				}
				actual := r.Waited()
				errRel := math.Abs(predWait.Seconds()-actual.Seconds()) / actual.Seconds()
				t.Logf("predicted %v (binding %v), waited %v: error %.1f%%", predWait, predLimit, actual, 100*errRel)
				if actual < 10*time.Second {
					t.Fatalf("waited only %v: the scenario is not backlogged", actual)
				}
				if errRel > 0.10 {
					t.Errorf("forecast %v vs actual wait %v: off by %.1f%%, want within 10%%", predWait, actual, 100*errRel)
				}
				r.Settle(cost)
			})
		})
	}
}

// TestRetryKeepsItsPlace queues calls behind a full window, then a retry (a context from
// callorder.WithRetry): it is admitted before the calls that were already waiting in its
// class.
func TestRetryKeepsItsPlace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, quota.Config{Limits: []quota.Limit{tpm1000}})
		filler, _ := l.Wait(context.Background(), tok(1000), quota.Options{})
		admitted := make(chan string, 4)
		for i := 0; i < 3; i++ {
			go func() {
				if _, err := l.Wait(context.Background(), tok(100), quota.Options{}); err == nil {
					admitted <- "queued"
				}
			}()
		}
		synctest.Wait()
		go func() {
			if _, err := l.Wait(callorder.WithRetry(context.Background()), tok(100), quota.Options{}); err == nil {
				admitted <- "retry"
			}
		}()
		synctest.Wait()
		filler.Settle(tok(900)) // room for exactly one
		synctest.Wait()
		if got := <-admitted; got != "retry" {
			t.Errorf("first admitted: %s; want the retry queued at the front", got)
		}
		l.Close()
	})
}

// TestBackfillDoesNotDelayTheHead: while the first waiting call needs room that frees
// only when older usage leaves the window, a call behind it that fits now is admitted at
// once if the head is still admitted as early (the room the head leaves over), and waits
// its turn if it would push the head later.
func TestBackfillDoesNotDelayTheHead(t *testing.T) {
	for _, tc := range []struct {
		head        int64
		smallAt     time.Duration // when the 100-token call behind the head is admitted
		headAt      time.Duration
		description string
	}{
		{500, 0, time.Minute, "room left over at the head's time: backfilled"},
		{650, time.Minute, time.Minute, "it would push the head to 1m10s: waits"},
	} {
		t.Run(tc.description, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLimiter(t, quota.Config{Limits: []quota.Limit{tpm1000}})
				ctx := context.Background()
				start := time.Now()
				if _, err := l.Wait(ctx, tok(600), quota.Options{}); err != nil { // leaves at 1m
					t.Fatal(err)
				}
				time.Sleep(10 * time.Second)
				if _, err := l.Wait(ctx, tok(300), quota.Options{}); err != nil { // leaves at 1m10s
					t.Fatal(err)
				}
				var headAt, smallAt time.Duration
				var wg sync.WaitGroup
				wg.Go(func() {
					if _, err := l.Wait(ctx, tok(tc.head), quota.Options{}); err != nil {
						t.Error(err)
					}
					headAt = time.Since(start)
				})
				synctest.Wait() // the head queues first
				wg.Go(func() {
					if _, err := l.Wait(ctx, tok(100), quota.Options{}); err != nil {
						t.Error(err)
					}
					smallAt = time.Since(start)
				})
				wg.Wait()
				// Sub-windows of 300 ms: usage leaves up to one sub-window late.
				if headAt < tc.headAt || headAt > tc.headAt+time.Second {
					t.Errorf("head admitted at %v; want %v", headAt, tc.headAt)
				}
				if smallAt < tc.smallAt+10*time.Second || smallAt > tc.smallAt+11*time.Second {
					t.Errorf("the call behind admitted at %v; want %v", smallAt, tc.smallAt+10*time.Second)
				}
			})
		})
	}
}
