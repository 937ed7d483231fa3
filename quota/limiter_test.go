package quota_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tollgate-dev/tollgate/internal/callorder"
	"github.com/tollgate-dev/tollgate/quota"
)

var tpm1000 = quota.Limit{Dimension: quota.Tokens, Amount: 1000, Per: time.Minute}

func newLimiter(t testing.TB, cfg quota.Config) *quota.Limiter {
	t.Helper()
	l, err := quota.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func tok(n int64) quota.Cost { return quota.Cost{Requests: 1, Tokens: n} }

// state is a Limiter's Usage answer, kept together.
type state struct {
	Limits   []limitUsage
	InFlight int
	Queued   [5]int
}

type limitUsage struct {
	Limit quota.Limit
	Used  int64
}

func snapshot(t testing.TB, l *quota.Limiter) state {
	t.Helper()
	used, inFlight, queued, err := l.Usage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s := state{InFlight: inFlight, Queued: queued}
	for i, lim := range l.Limits() {
		s.Limits = append(s.Limits, limitUsage{lim, used[i]})
	}
	return s
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  quota.Config
	}{
		{"zero amount", quota.Config{Limits: []quota.Limit{{Dimension: quota.Tokens, Per: time.Minute}}}},
		{"short period", quota.Config{Limits: []quota.Limit{{Dimension: quota.Tokens, Amount: 1, Per: time.Microsecond}}}},
		{"unknown dimension", quota.Config{Limits: []quota.Limit{{Dimension: 9, Amount: 1, Per: time.Minute}}}},
		{"duplicate", quota.Config{Limits: []quota.Limit{tpm1000, tpm1000}}},
		{"negative in flight", quota.Config{MaxInFlight: -1}},
		{"share too large", quota.Config{MinShare: 0.5}},
		{"negative ttl", quota.Config{ReservationTTL: -time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := quota.New(tc.cfg); err == nil {
				t.Errorf("New(%+v) succeeded; want an error", tc.cfg)
			}
		})
	}
	if _, err := quota.New(quota.Config{Limits: []quota.Limit{tpm1000, {Dimension: quota.Tokens, Amount: 5000, Per: 24 * time.Hour}}}); err != nil {
		t.Errorf("TPM and TPD on one dimension: %v", err)
	}
}

func TestTooLarge(t *testing.T) {
	l := newLimiter(t, quota.Config{Limits: []quota.Limit{tpm1000}})
	_, err := l.Wait(context.Background(), tok(1001), quota.Options{})
	if !errors.Is(err, quota.ErrTooLarge) || !strings.Contains(err.Error(), strconv.Quote(tpm1000.String())) || !strings.Contains(err.Error(), "1001 tokens") {
		t.Fatalf("Reserve(1001 tokens) under 1000/min = %v; want ErrTooLarge naming the limit and the cost", err)
	}
	if _, _, err := l.Forecast(context.Background(), tok(1001), quota.Options{}); !errors.Is(err, quota.ErrTooLarge) {
		t.Errorf("Forecast(1001 tokens) = %v; want ErrTooLarge", err)
	}
	if _, err := l.Wait(context.Background(), quota.Cost{Tokens: -1}, quota.Options{}); err == nil {
		t.Error("a negative cost was admitted")
	}
}

func TestReserveWaitsForRoom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, quota.Config{Limits: []quota.Limit{tpm1000}})
		start := time.Now()
		if _, err := l.Wait(context.Background(), tok(800), quota.Options{}); err != nil {
			t.Fatal(err)
		}
		r, err := l.Wait(context.Background(), tok(400), quota.Options{})
		if err != nil {
			t.Fatal(err)
		}
		waited := time.Since(start)
		if waited < time.Minute || waited > time.Minute+time.Minute/200 /* one sub-window */ {
			t.Errorf("waited %v for room; want the 800 to leave the window, 1m to 1m+1 sub-window", waited)
		}
		if r.Waited() != waited {
			t.Errorf("Reservation.Waited() = %v, want %v", r.Waited(), waited)
		}
	})
}

// reserve calls Reserve and fails the test on an error.
func reserve(t testing.TB, l *quota.Limiter, c quota.Cost, opt quota.Options) quota.Reservation {
	t.Helper()
	r, err := l.Reserve(context.Background(), c, opt)
	if err != nil {
		t.Fatalf("Reserve(%+v) = %v", c, err)
	}
	return r
}

func TestReserve(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, quota.Config{Limits: []quota.Limit{tpm1000}})
		if r := reserve(t, l, tok(900), quota.Options{}); !r.OK() || r.Delay() != 0 {
			t.Fatalf("Reserve(900) on an empty limit: OK %v, Delay %v; want admitted at once", r.OK(), r.Delay())
		}
		start := time.Now()
		r := reserve(t, l, tok(200), quota.Options{})
		if time.Since(start) != 0 {
			t.Errorf("Reserve blocked for %v", time.Since(start))
		}
		if r.OK() || r.Delay() < time.Minute || r.Delay() > time.Minute+time.Second {
			t.Errorf("Reserve over the limit: OK %v, Delay %v; want not admitted, Delay about 1m", r.OK(), r.Delay())
		}
		r.Settle(tok(0)) // holds nothing: a no-op
		if wait, binding, err := l.Forecast(context.Background(), tok(200), quota.Options{}); err != nil || binding != tpm1000 || wait != r.Delay() {
			t.Errorf("Forecast = %v, %v, %v; want limit %v binding and the Delay %v", wait, binding, err, tpm1000, r.Delay())
		}
		time.Sleep(r.Delay())
		if r := reserve(t, l, tok(200), quota.Options{}); !r.OK() {
			t.Errorf("Reserve after Delay: not admitted, Delay %v", r.Delay())
		}
	})
}

func TestReserveDoesNotOvertakeWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, quota.Config{Limits: []quota.Limit{tpm1000}})
		first, _ := l.Wait(context.Background(), tok(1000), quota.Options{})
		go l.Wait(context.Background(), tok(500), quota.Options{Priority: quota.High})
		synctest.Wait()
		first.Settle(tok(0)) // room for everything, but a High call waits first
		synctest.Wait()
		if s := snapshot(t, l); s.Queued != [5]int{} {
			t.Fatalf("queue after a full refund = %v, want empty", s.Queued)
		}
		if r := reserve(t, l, tok(600), quota.Options{}); r.OK() {
			t.Fatalf("Reserve(600) with 500 used was admitted")
		}
		// Hold the window full and queue a High call: a Normal Reserve must not pass it.
		go l.Wait(context.Background(), tok(600), quota.Options{Priority: quota.High})
		synctest.Wait()
		if r := reserve(t, l, tok(1), quota.Options{}); r.OK() || r.Delay() <= 0 {
			t.Errorf("Reserve behind a waiting High call: OK %v, Delay %v; want not admitted", r.OK(), r.Delay())
		}
		if s := snapshot(t, l); s.Queued != [5]int{0, 1, 0, 0, 0} {
			t.Errorf("queued = %v; want the High call waiting", s.Queued)
		}
		if r := reserve(t, l, tok(1), quota.Options{Priority: quota.Critical}); !r.OK() {
			t.Errorf("a Critical Reserve may pass a waiting High call when it fits: Delay %v", r.Delay())
		}
	})
}

func TestGiveUpLeavesQueueHoldingNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, quota.Config{Limits: []quota.Limit{tpm1000}, MaxInFlight: 3})
		if _, err := l.Wait(context.Background(), tok(900), quota.Options{}); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, l)
		ctx, cancel := context.WithCancel(context.Background())
		dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer dcancel()
		errs := make(chan error, 2)
		go func() { _, err := l.Wait(ctx, tok(500), quota.Options{}); errs <- err }()
		go func() { _, err := l.Wait(dctx, tok(500), quota.Options{Priority: quota.Low}); errs <- err }()
		synctest.Wait()
		if s := snapshot(t, l); s.Queued[2] != 1 || s.Queued[3] != 1 {
			t.Fatalf("queued = %v, want one Normal and one Low", s.Queued)
		}
		cancel()
		if err := <-errs; !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled waiter got %v, want context.Canceled", err)
		}
		if err := <-errs; !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("waiter past its deadline got %v, want context.DeadlineExceeded", err)
		}
		after := snapshot(t, l)
		if after.Queued != [5]int{} || after.Limits[0].Used != before.Limits[0].Used || after.InFlight != before.InFlight {
			t.Errorf("after giving up: %+v; want an empty queue and usage unchanged from %+v", after, before)
		}
	})
}

func TestUnsettledReservationLapses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, quota.Config{Limits: []quota.Limit{tpm1000}, MaxInFlight: 1, ReservationTTL: 30 * time.Second})
		r, _ := l.Wait(context.Background(), tok(100), quota.Options{})
		start := time.Now()
		if _, err := l.Wait(context.Background(), tok(100), quota.Options{}); err != nil {
			t.Fatal(err)
		}
		if w := time.Since(start); w < 30*time.Second || w > 30*time.Second+250*time.Millisecond /* the poll interval */ {
			t.Errorf("second call waited %v; want the first to lapse after its 30s TTL", w)
		}
		r.Settle(tok(0)) // lapsed: a no-op
		if s := snapshot(t, l); s.Limits[0].Used != 200 {
			t.Errorf("Used = %d, want 200: a lapsed reservation stays charged in full", s.Limits[0].Used)
		}
	})
}

func TestEndOnce(t *testing.T) {
	l := newLimiter(t, quota.Config{Limits: []quota.Limit{tpm1000}})
	r, _ := l.Wait(context.Background(), tok(600), quota.Options{})
	copyOfR := r
	r.Settle(tok(100))
	for _, end := range []func(){r.Cancel, copyOfR.Cancel, func() { copyOfR.Settle(tok(900)) }} {
		end() // ended already: no-ops
	}
	if s := snapshot(t, l); s.Limits[0].Used != 100 || s.InFlight != 0 {
		t.Errorf("Used = %d, in flight %d; want 100, 0", s.Limits[0].Used, s.InFlight)
	}
	zero := quota.Reservation{}
	zero.Settle(tok(1)) // not admitted: holds nothing, changes nothing
	if zero.OK() {
		t.Error("the zero Reservation is OK")
	}
	if s := snapshot(t, l); s.Limits[0].Used != 100 {
		t.Errorf("settling the zero Reservation changed Used to %d", s.Limits[0].Used)
	}
	r2, _ := l.Wait(context.Background(), tok(10), quota.Options{})
	r2.Settle(quota.Cost{Requests: 1, Tokens: -5}) // a negative amount counts as zero
	if s := snapshot(t, l); s.Limits[0].Used != 100 || s.InFlight != 0 {
		t.Errorf("after a negative settlement: Used = %d, in flight %d; want 100 (all 10 refunded), 0", s.Limits[0].Used, s.InFlight)
	}
	r2.Cancel() // ended already
	if s := snapshot(t, l); s.Limits[0].Used != 100 {
		t.Errorf("cancel after the settlement changed Used to %d", s.Limits[0].Used)
	}
}

func TestSetLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, quota.Config{Limits: []quota.Limit{tpm1000}})
		l.Wait(context.Background(), tok(1000), quota.Options{})
		done := make(chan struct{})
		go func() {
			l.Wait(context.Background(), tok(500), quota.Options{})
			close(done)
		}()
		synctest.Wait()
		raised := tpm1000
		raised.Amount = 1500
		if err := l.SetLimit(raised); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Fatal("raising the limit did not admit the waiting call")
		}
		if err := l.SetLimit(quota.Limit{Dimension: quota.Requests, Amount: 5, Per: time.Minute}); err == nil {
			t.Error("SetLimit of a limit not given to New succeeded")
		}
		if got := l.Limits(); len(got) != 1 || got[0] != raised {
			t.Errorf("Limits() = %v, want [%v]", got, raised)
		}
	})
}

func TestCloseFailsWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, quota.Config{Limits: []quota.Limit{tpm1000}})
		l.Wait(context.Background(), tok(1000), quota.Options{})
		errs := make(chan error)
		go func() { _, err := l.Wait(context.Background(), tok(1), quota.Options{}); errs <- err }()
		synctest.Wait()
		l.Close()
		if err := <-errs; !errors.Is(err, quota.ErrClosed) {
			t.Errorf("waiter at Close got %v, want ErrClosed", err)
		}
		if _, err := l.Wait(context.Background(), tok(1), quota.Options{}); !errors.Is(err, quota.ErrClosed) {
			t.Errorf("Reserve after Close = %v, want ErrClosed", err)
		}
	})
}

// TestSharedStore shows two Limiters sharing one Memory store share its quota.
func TestSharedStore(t *testing.T) {
	store := quota.NewMemory()
	a := newLimiter(t, quota.Config{Limits: []quota.Limit{tpm1000}, Store: store})
	b := newLimiter(t, quota.Config{Limits: []quota.Limit{tpm1000}, Store: store})
	if r := reserve(t, a, tok(700), quota.Options{}); !r.OK() {
		t.Fatal("a: 700 of 1000 not admitted")
	}
	if r := reserve(t, b, tok(400), quota.Options{}); r.OK() {
		t.Errorf("b admitted 400 while a holds 700 of a shared 1000")
	}
}

func TestManyGoroutines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, quota.Config{Limits: []quota.Limit{tpm1000, {Dimension: quota.Requests, Amount: 30, Per: time.Minute}}, MaxInFlight: 8})
		var wg sync.WaitGroup
		for g := 0; g < 64; g++ {
			wg.Go(func() {
				for i := 0; i < 10; i++ {
					r, err := l.Wait(context.Background(), tok(int64(10+g)), quota.Options{Priority: priorities[g%5], Tenant: string(rune('a' + g%3))})
					if err != nil {
						t.Error(err)
						return
					}
					time.Sleep(time.Second)
					r.Settle(tok(int64(g)))
				}
			})
		}
		wg.Wait()
		if s := snapshot(t, l); s.InFlight != 0 || s.Queued != [5]int{} {
			t.Errorf("after all calls: %+v", s)
		}
	})
}

func TestPauseUntil(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, quota.Config{Limits: []quota.Limit{tpm1000}})
		start := time.Now()
		l.PauseUntil(start.Add(5 * time.Second))
		l.PauseUntil(start.Add(time.Second)) // shorter: no effect
		if r := reserve(t, l, tok(1), quota.Options{}); r.OK() || r.Delay() != 5*time.Second {
			t.Errorf("Reserve while paused: OK %v, Delay %v; want not admitted, Delay 5s", r.OK(), r.Delay())
		}
		r, err := l.Wait(context.Background(), tok(1), quota.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if w := r.Waited(); w != 5*time.Second {
			t.Errorf("waited %v while paused; want 5s", w)
		}
		if r := reserve(t, l, tok(1), quota.Options{}); !r.OK() {
			t.Errorf("Reserve after the pause: not admitted, Delay %v", r.Delay())
		}
	})
}

// TestPacing checks that with pacing a backlog is admitted at the limit's rate after a
// burst of Pacing's worth, not in one lump when the window frees, and that refunds give
// their pace back.
func TestPacing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, quota.Config{Limits: []quota.Limit{{Dimension: quota.Tokens, Amount: 600, Per: time.Minute}}, Pacing: 5 * time.Second})
		start := time.Now()
		var at []time.Duration
		for i := 0; i < 10; i++ {
			r, err := l.Wait(context.Background(), tok(10), quota.Options{}) // 10 tokens = 1s at 600/min
			if err != nil {
				t.Fatal(err)
			}
			at = append(at, time.Since(start))
			if i == 7 {
				r.Settle(tok(0)) // refunded: its second of pace comes back
			}
		}
		want := []time.Duration{0, 0, 0, 0, 0, 0, time.Second, 2 * time.Second, 2 * time.Second, 3 * time.Second}
		if fmt.Sprint(at) != fmt.Sprint(want) {
			t.Errorf("admitted at %v; want %v (a burst of 5s worth, then one per second)", at, want)
		}
	})
	if _, err := quota.New(quota.Config{Limits: []quota.Limit{tpm1000}, Pacing: time.Minute}); err == nil {
		t.Error("Pacing as long as the period was accepted")
	}
}

// TestWaitQueuedHook: the hook of callorder.WithQueued runs once when a call takes its
// place — admitted at once, or waiting in the queue (before it is admitted) — and not
// when Wait fails before.
func TestWaitQueuedHook(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, quota.Config{Limits: []quota.Limit{tpm1000}})
		ctx := context.Background()
		n := 0
		count := func() { n++ }
		r, err := l.Wait(callorder.WithQueued(ctx, count), quota.Cost{Tokens: 900}, quota.Options{})
		if err != nil || n != 1 {
			t.Fatalf("admitted at once: err %v, the hook ran %d times; want nil, 1", err, n)
		}
		if _, err := l.Wait(callorder.WithQueued(ctx, count), quota.Cost{Tokens: 5000}, quota.Options{}); err == nil || n != 1 {
			t.Fatalf("too large: err %v, the hook ran %d times in all; want an error, still 1", err, n)
		}
		queued := make(chan struct{})
		admitted := make(chan error)
		go func() {
			r, err := l.Wait(callorder.WithQueued(ctx, func() { close(queued) }), quota.Cost{Tokens: 500}, quota.Options{})
			if err == nil {
				r.Cancel()
			}
			admitted <- err
		}()
		synctest.Wait()
		select {
		case <-queued:
		default:
			t.Fatal("a waiting call has not run the hook")
		}
		select {
		case err := <-admitted:
			t.Fatalf("the call was admitted (%v) while the window was full", err)
		default:
		}
		r.Cancel()
		if err := <-admitted; err != nil {
			t.Fatal(err)
		}
	})
}

// TestTokenBucketMeter: a TokenBucket limit admits its whole Amount at once, then at its
// rate (where a Sliding one admits nothing more until the window frees), and a refund
// goes back into the bucket at once.
func TestTokenBucketMeter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, quota.Config{Limits: []quota.Limit{{Dimension: quota.Tokens, Amount: 600, Per: time.Minute, Meter: quota.TokenBucket}}})
		start := time.Now()
		at := map[time.Duration]int{}
		var first quota.Reservation
		for i := 0; i < 66; i++ {
			r, err := l.Wait(context.Background(), tok(10), quota.Options{}) // 10 tokens = 1s of refill
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first = r
			}
			at[time.Since(start).Round(time.Second)]++
		}
		if at[0] != 60 || at[time.Second] != 1 || at[6*time.Second] != 1 || len(at) != 7 {
			t.Errorf("admissions by time: %v; want 60 at once, then one a second", at)
		}
		first.Settle(tok(0)) // its 10 tokens go back
		if _, err := l.Reserve(context.Background(), tok(10), quota.Options{}); err != nil {
			t.Errorf("after a refund of 10: %v", err)
		}
	})
}

// TestReservationWaited: Waited is zero for a call admitted at once, after any pause
// between calls, and exactly the time spent queued for one that waited.
func TestReservationWaited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, quota.Config{Limits: []quota.Limit{tpm1000}})
		for _, pause := range []time.Duration{0, 300 * time.Millisecond, 2 * time.Second, 59 * time.Minute} {
			time.Sleep(pause)
			r, err := l.Wait(context.Background(), tok(1), quota.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Waited() != 0 {
				t.Errorf("after %v: admitted at once, Waited() = %v", pause, r.Waited())
			}
			r.Cancel()
		}
		if _, err := l.Wait(context.Background(), tok(1000), quota.Options{}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		r, err := l.Wait(context.Background(), tok(10), quota.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if w := time.Since(start); r.Waited() != w || w < time.Minute {
			t.Errorf("admitted after waiting %v; Waited() = %v", w, r.Waited())
		}
	})
}

// TestBucketAndClockTogether: one amount given under both a TokenBucket and a ClockWindow
// meter admits only what both readings admit, and SetLimit changes the one of its meter.
func TestBucketAndClockTogether(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bucket := quota.Limit{Dimension: quota.Tokens, Amount: 1000, Per: time.Minute, Meter: quota.TokenBucket}
		clock := bucket
		clock.Meter = quota.ClockWindow
		if _, err := quota.New(quota.Config{Limits: []quota.Limit{bucket, bucket}}); err == nil || !strings.Contains(err.Error(), "keep one") {
			t.Errorf("two bucket limits on tokens per minute: %v; want an error", err)
		}
		l := newLimiter(t, quota.Config{Limits: []quota.Limit{bucket, clock}})
		time.Sleep(30 * time.Second) // the bubble's clock starts on a minute
		r := reserve(t, l, tok(1000), quota.Options{})
		if !r.OK() {
			t.Fatal("1000 on an empty bucket and clock minute not admitted")
		}
		time.Sleep(15 * time.Second) // the bucket holds 250 again; the clock minute is full
		if r := reserve(t, l, tok(200), quota.Options{}); r.OK() {
			t.Error("admitted 200 in a full clock minute")
		}
		r.Settle(tok(1000))          // used in full, within its minute
		time.Sleep(16 * time.Second) // a new minute, past its guard; the bucket holds 516
		if r := reserve(t, l, tok(600), quota.Options{}); r.OK() {
			t.Error("admitted 600 from a bucket holding 516")
		}
		if r := reserve(t, l, tok(500), quota.Options{}); !r.OK() {
			t.Errorf("500 fits both: not admitted, Delay %v", r.Delay())
		}
		lower := clock
		lower.Amount = 400
		if err := l.SetLimit(lower); err != nil {
			t.Fatal(err)
		}
		got := l.Limits()
		if got[0] != bucket || got[1] != lower {
			t.Errorf("after SetLimit of the clock limit: %v; want the bucket unchanged", got)
		}
	})
}
