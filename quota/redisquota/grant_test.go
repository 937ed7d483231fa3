package redisquota_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate-dev/tollgate/internal/costs"
	"github.com/tollgate-dev/tollgate/internal/redistest"
	"github.com/tollgate-dev/tollgate/quota"
	"github.com/tollgate-dev/tollgate/quota/quotatest"
	"github.com/tollgate-dev/tollgate/quota/redisquota"
)

var bg = context.Background()

// admission is a Store's Reserve answer, kept together.
type admission struct {
	OK      bool
	Ticket  uint64
	RetryAt time.Time
	Blocked int
}

func reserve(t *testing.T, s quota.Store, now time.Time, limits []quota.Limit, c quota.Cost) admission {
	t.Helper()
	tk, at, b, err := s.Reserve(bg, now, limits, 0, c, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return admission{OK: tk != 0, Ticket: tk, RetryAt: at, Blocked: b}
}

// storesOn returns n Stores on srv with options o, as n instances sharing one quota.
func storesOn(t *testing.T, srv *redistest.Server, n int, o redisquota.Options) []*redisquota.Store {
	t.Helper()
	fleet := make([]*redisquota.Store, n)
	for i := range fleet {
		fleet[i] = newStore(t, srv, o)
	}
	return fleet
}

// At a steady load one instance admits from grants: fewer than one round trip to Redis
// per ten admitted calls.
func TestGrantsAdmitLocally(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv, redisquota.Options{})
	limits := []quota.Limit{{Dimension: quota.Tokens, Amount: 1_000_000, Per: time.Minute}, {Dimension: quota.Requests, Amount: 100_000, Per: time.Minute}}
	admitsLocally(t, s, limits, quotatest.T0)
}

// admitsLocally makes 4,000 calls on s, 200 a second from start, each reserving 100
// tokens and settling at 60, and checks that they took at most 0.1 round trips to Redis
// per call and that the first limit (of tokens) then counts every call at 60: the
// settlements are flushed by Usage, and the unused grant is room held, not usage.
func admitsLocally(t *testing.T, s *redisquota.Store, limits []quota.Limit, start time.Time) {
	t.Helper()
	now := start
	const calls = 4000
	for i := 0; i < calls; i++ {
		now = now.Add(5 * time.Millisecond)
		adm := reserve(t, s, now, limits, quota.Cost{Requests: 1, Tokens: 100})
		if !adm.OK {
			t.Fatalf("call %d refused: %+v", i, adm)
		}
		if ok, err := s.Settle(bg, now, limits, adm.Ticket, quota.Cost{Requests: 1, Tokens: 60}); err != nil || !ok {
			t.Fatalf("settle: %v %v", ok, err)
		}
	}
	trips := s.Status().RoundTrips
	t.Logf("%d round trips for %d calls (%.4f per call)", trips, calls, float64(trips)/calls)
	if r := float64(trips) / calls; r > 0.1 {
		t.Errorf("%d round trips for %d calls (%.3f per call), want at most 0.1", trips, calls, r)
	}
	used, _, _, err := s.Usage(bg, now, limits, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(calls * 60); used[0] != want {
		t.Errorf("Used tokens = %d, want %d (every call settled at 60)", used[0], want)
	}
}

// Several instances on one Redis, driven on one clock with random reservations and
// refunds: no interval of length Per ever holds more than Amount of what they admitted
// together, and together they admit most of it.
func TestFleetNeverOverAnyWindow(t *testing.T) {
	srv := redistest.Start(t)
	const n = 3
	fleet := storesOn(t, srv, n, redisquota.Options{Scope: "fleet"})
	rng := rand.New(rand.NewPCG(7, 8))
	limits := []quota.Limit{
		{Dimension: quota.Tokens, Amount: 20000, Per: time.Minute},
		{Dimension: quota.Requests, Amount: 400, Per: 10 * time.Second},
	}
	type charge struct {
		at     time.Time
		cost   quota.Cost
		ticket uint64
		s      int
	}
	var log []*charge
	now := quotatest.T0
	for i := 0; i < 20000; i++ {
		now = now.Add(time.Duration(rng.IntN(20)) * time.Millisecond)
		k := rng.IntN(n)
		c := quota.Cost{Requests: 1, Tokens: int64(1 + rng.IntN(200))}
		if adm := reserve(t, fleet[k], now, limits, c); adm.OK {
			log = append(log, &charge{at: now, cost: c, ticket: adm.Ticket, s: k})
		}
		if len(log) > 0 && rng.IntN(3) == 0 {
			ch := log[len(log)-1-rng.IntN(min(len(log), 50))]
			actual := quota.Cost{Requests: 1, Tokens: rng.Int64N(ch.cost.Tokens + 1)}
			ok, err := fleet[ch.s].Settle(bg, now, limits, ch.ticket, actual)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				ch.cost = actual
			}
		}
	}
	for _, l := range limits {
		j := 0
		var sum, peak int64
		for i, c := range log {
			sum += costs.Get(c.cost, l.Dimension)
			for log[j].at.Before(c.at.Add(-l.Per)) {
				sum -= costs.Get(log[j].cost, l.Dimension)
				j++
			}
			if sum > l.Amount {
				t.Fatalf("limit %v: the interval of length Per ending at charge %d (+%v) holds %d", l, i, c.at.Sub(quotatest.T0), sum)
			}
			peak = max(peak, sum)
		}
		t.Logf("limit %v: peak %d in any window", l, peak)
	}
	// The requests limit binds: 400 per 10s over the run's span.
	span := log[len(log)-1].at.Sub(log[0].at)
	// The binding limit's usage over the run, against what it allows.
	best := 0.0
	for _, l := range limits {
		var total int64
		for _, c := range log {
			total += costs.Get(c.cost, l.Dimension)
		}
		allowed := float64(l.Amount) * (span.Seconds()/l.Per.Seconds() + 1)
		best = max(best, float64(total)/allowed)
	}
	if best < 0.8 {
		t.Errorf("the fleet used %.2f of the binding limit over %v; want at least 0.8", best, span)
	}
	t.Logf("efficiency %.3f of the binding limit", best)
	var trips uint64
	for _, s := range fleet {
		trips += s.Status().RoundTrips
	}
	t.Logf("%d admitted, %d round trips", len(log), trips)
}

// A High call waiting on one instance is served before Low work on another: while B
// reports High backlog, A, with only Low work waiting, gets no grant, even with room.
func TestHighBacklogElsewhereHoldsLowBack(t *testing.T) {
	srv := redistest.Start(t)
	var aHigh, aLow, bHigh, bLow atomic.Int64
	a := newStore(t, srv, redisquota.Options{Scope: "prio", Backlog: func() (int, int) { return int(aHigh.Load()), int(aLow.Load()) }})
	b := newStore(t, srv, redisquota.Options{Scope: "prio", Backlog: func() (int, int) { return int(bHigh.Load()), int(bLow.Load()) }})
	limits := []quota.Limit{{Dimension: quota.Tokens, Amount: 100, Per: time.Minute}}
	t0 := quotatest.T0
	aLow.Store(1)
	if adm := reserve(t, a, t0, limits, quota.Cost{Tokens: 100}); !adm.OK {
		t.Fatalf("first call refused: %+v", adm)
	}
	// B's High call arrives while the window is full: refused, its backlog reported.
	bHigh.Store(1)
	adm := reserve(t, b, t0.Add(30*time.Second), limits, quota.Cost{Tokens: 10})
	if adm.OK {
		t.Fatal("B admitted while the window is full")
	}
	free := adm.RetryAt
	// Once room is back, A's Low work is held back while B's report lasts...
	if adm := reserve(t, a, free, limits, quota.Cost{Tokens: 10}); adm.OK {
		t.Fatal("A (Low only) admitted while B reports High backlog")
	} else if !adm.RetryAt.After(free) {
		t.Errorf("A's refusal says retry at %v, not after now (%v)", adm.RetryAt, free)
	}
	// ...and B's High call is admitted.
	if adm := reserve(t, b, free, limits, quota.Cost{Tokens: 10}); !adm.OK {
		t.Fatalf("B's High call refused with room free: %+v", adm)
	}
	bHigh.Store(0)
	// B reports its backlog gone with its next request; then A is served.
	if adm := reserve(t, b, free.Add(time.Millisecond), limits, quota.Cost{Tokens: 1}); !adm.OK {
		t.Fatalf("B's second call refused: %+v", adm)
	}
	if adm := reserve(t, a, free.Add(2*time.Millisecond), limits, quota.Cost{Tokens: 10}); !adm.OK {
		t.Fatalf("A refused after B's High backlog cleared: %+v", adm)
	}
}

// lossyReplies loses the reply of the next Lua script call after Redis ran it, as a
// network failure at that moment would.
type lossyReplies struct{ armed atomic.Bool }

func (h *lossyReplies) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *lossyReplies) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err == nil && strings.HasPrefix(cmd.Name(), "evalsha") && h.armed.CompareAndSwap(true, false) {
			return errors.New("reply lost")
		}
		return err
	}
}
func (h *lossyReplies) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// A settlement batch whose reply was lost is sent again under the same sequence number,
// and Redis applies it once.
func TestRetriedBatchCountsOnce(t *testing.T) {
	srv := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { c.Close() })
	hook := &lossyReplies{}
	c.AddHook(hook)
	s := newStore(t, srv, redisquota.Options{Client: c, Logger: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))})
	limits := []quota.Limit{{Dimension: quota.Tokens, Amount: 1000, Per: time.Minute}}
	now := quotatest.T0
	adm := reserve(t, s, now, limits, quota.Cost{Tokens: 100})
	// Past the grant's life, the excess of 50 goes to Redis as a settlement.
	now = now.Add(10 * time.Second)
	if ok, _ := s.Settle(bg, now, limits, adm.Ticket, quota.Cost{Tokens: 150}); !ok {
		t.Fatal("settle failed")
	}
	hook.armed.Store(true)
	if _, _, _, err := s.Usage(bg, now, limits, nil); err == nil {
		t.Fatal("Usage succeeded though its reply was lost")
	}
	// Past the breaker's backoff, the batch goes again.
	var used []int64
	var err error
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if used, _, _, err = s.Usage(bg, now, limits, nil); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if used[0] != 150 {
		t.Errorf("Used = %d after a batch was retried, want 150 (the excess of 50 counted once)", used[0])
	}
}

// syncBuffer is a log destination safe for the Store's goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}
func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.b.String() }

// With Redis stopped, an instance admits from its grant until it lapses, then at its last
// share of the limit — never the full limit — says so once, and rejoins when Redis is
// back.
func TestRedisDownFallsBackToShare(t *testing.T) {
	srv := redistest.Start(t)
	var logs syncBuffer
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, DialTimeout: 100 * time.Millisecond, ContextTimeoutEnabled: true})
	t.Cleanup(func() { c.Close() })
	const life = 100 * time.Millisecond
	s := newStore(t, srv, redisquota.Options{Client: c, GrantLifetime: life, Timeout: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	const amount, per = 100, 500 * time.Millisecond
	limits := []quota.Limit{{Dimension: quota.Requests, Amount: amount, Per: per}}
	// A steady call every 10ms for 1.5s: at most half of the limit, its share.
	warm, warmStart := 0, time.Now()
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if reserve(t, s, time.Now(), limits, quota.Cost{Requests: 1}).OK {
			warm++
		}
	}
	share := float64(warm) / (amount * float64(time.Since(warmStart)) / float64(per))
	srv.Stop()
	// Ask as fast as it answers for 2s: past the grant's life and several backoffs.
	const outage = 2 * time.Second
	down := 0
	var downAt []time.Time
	for end := time.Now().Add(outage); time.Now().Before(end); {
		if adm := reserve(t, s, time.Now(), limits, quota.Cost{Requests: 1}); adm.OK {
			down++
			downAt = append(downAt, time.Now())
		} else {
			time.Sleep(time.Millisecond)
		}
	}
	st := s.Status()
	if !st.Degraded || st.Reason == "" {
		t.Errorf("Status = %+v while Redis is down, want Degraded with a reason", st)
	}
	// At a share of about a half (at most 0.6 allowing for the measurement), the outage's
	// windows admit at most 0.6 of the limit each, plus what the grant held; the full
	// limit would have let through 100 per window.
	windows := float64(outage/per) + 1
	if bound := 0.6*amount*windows + amount*float64(life)/float64(per); down == 0 || float64(down) > bound {
		t.Errorf("admitted %d while Redis was down; want some and at most %.0f (the instance's share), the limit allows %.0f", down, bound, amount*windows)
	}
	// And it does admit at about its share once what it used before leaves the window.
	if low := 0.5 * share * amount * (windows - 2); float64(down) < low {
		t.Errorf("admitted %d while Redis was down at a share of %.2f; want at least %.0f", down, share, low)
	}
	t.Logf("share %.2f; admitted %d in %v while Redis was down", share, down, outage)
	if n := strings.Count(logs.String(), "Redis unreachable"); n != 1 {
		t.Errorf("logged the outage %d times, want once:\n%s", n, logs.String())
	}
	srv.Restart()
	deadline := time.Now().Add(5 * time.Second)
	for s.Status().Degraded && time.Now().Before(deadline) {
		if adm := reserve(t, s, time.Now(), limits, quota.Cost{Requests: 1}); adm.OK && s.Status().Degraded {
			downAt = append(downAt, time.Now()) // admitted by the fallback
		}
		time.Sleep(5 * time.Millisecond)
	}
	if s.Status().Degraded {
		t.Fatal("still degraded 5s after Redis returned")
	}
	rejoined := time.Now()
	if !strings.Contains(logs.String(), "Redis reachable again") {
		t.Errorf("no log line when Redis returned:\n%s", logs.String())
	}
	// The restarted Redis is empty: what the instance admitted in the last window while
	// it was away is charged on rejoining, so the fleet counts it.
	recent := 0
	for _, at := range downAt {
		if !at.Before(rejoined.Add(-per)) {
			recent++
		}
	}
	usage, _, _, err := s.Usage(bg, time.Now(), limits, nil)
	if err != nil {
		t.Fatal(err)
	}
	if usage[0] < int64(recent)+1 {
		t.Errorf("Used = %d after rejoining, want at least the %d admitted in the window before plus the call that rejoined", usage[0], recent)
	}
	t.Logf("%d admitted in the window before rejoining; Used %d after", recent, usage[0])
}

// No call waits on a Redis that stopped answering longer than the Store's timeout, and
// while the breaker is open none waits at all.
func TestHungRedisDoesNotHoldCalls(t *testing.T) {
	srv := redistest.Start(t)
	const timeout = 100 * time.Millisecond
	s := dialedStore(t, srv.URL(), redisquota.Options{Timeout: timeout, GrantLifetime: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))})
	limits := []quota.Limit{{Dimension: quota.Requests, Amount: 1000, Per: time.Minute}}
	if adm := reserve(t, s, time.Now(), limits, quota.Cost{Requests: 1}); !adm.OK {
		t.Fatal(adm)
	}
	srv.Pause()
	t.Cleanup(srv.Resume)
	time.Sleep(60 * time.Millisecond) // the grant lapses
	var slowest time.Duration
	for i := 0; i < 50; i++ {
		t0 := time.Now()
		reserve(t, s, t0, limits, quota.Cost{Requests: 1})
		slowest = max(slowest, time.Since(t0))
	}
	if slowest > 3*timeout {
		t.Errorf("a Reserve took %v with Redis hung; want at most about the timeout (%v)", slowest, timeout)
	}
	if !s.Status().Degraded {
		t.Error("not degraded with Redis hung")
	}
}

func TestDialRejectsBadURL(t *testing.T) {
	if _, err := redisquota.Dial("http://example.com"); err == nil || !strings.Contains(err.Error(), "redis://") {
		t.Errorf("Dial(http://...) = %v, want an error naming the accepted schemes", err)
	}
}

// An instance that stops asking (it died) stops taking room: its demand report lapses
// with its grant, and the survivor, asking for more than the limit, admits the whole
// limit over the next window as the dead instance's charges leave it.
func TestDeadInstanceShareReturns(t *testing.T) {
	srv := redistest.Start(t)
	a := newStore(t, srv, redisquota.Options{Scope: "dead"})
	b := newStore(t, srv, redisquota.Options{Scope: "dead"})
	const amount = 1200
	limits := []quota.Limit{{Dimension: quota.Requests, Amount: amount, Per: time.Minute}}
	now := quotatest.T0
	one := quota.Cost{Requests: 1}
	count := func(s *redisquota.Store, now time.Time) int {
		if adm := reserve(t, s, now, limits, one); adm.OK {
			return 1
		}
		return 0
	}
	// Each asks for 25 calls a second, together more than the limit's 20, for 2m.
	var before int
	for i := 0; i < 3000; i++ {
		now = now.Add(40 * time.Millisecond)
		before += count(a, now)
		before += count(b, now)
	}
	// a stops. Over a window starting two grant lifetimes later, b gets the limit.
	start := now.Add(4 * time.Second)
	end := start.Add(time.Minute + 2*time.Second)
	var after int
	for now.Before(end) {
		now = now.Add(40 * time.Millisecond)
		if n := count(b, now); !now.Before(start) {
			after += n
		}
	}
	t.Logf("a and b admitted %d in 2m; b alone %d in the window after a stopped", before, after)
	if want := 0.9 * amount; float64(after) < want {
		t.Errorf("b admitted %d in a window after a stopped; want at least %.0f (90%% of the limit)", after, want)
	}
}

// An instance that has never reached Redis has no share to fall back to: it admits
// nothing rather than guess.
func TestNoShareAdmitsNothing(t *testing.T) {
	srv := redistest.Start(t)
	s := dialedStore(t, srv.URL(), redisquota.Options{Timeout: 50 * time.Millisecond})
	srv.Stop()
	limits := []quota.Limit{{Dimension: quota.Requests, Amount: 1000, Per: time.Minute}}
	now := time.Now()
	for i := 0; i < 20; i++ {
		if adm := reserve(t, s, now.Add(time.Duration(i)*time.Second), limits, quota.Cost{Requests: 1}); adm.OK {
			t.Fatalf("call %d admitted with Redis never reached", i)
		}
	}
	if !s.Status().Degraded {
		t.Error("not degraded with Redis stopped")
	}
}

// A refused call asks again and again before it is admitted; its retries are not demand.
// Counted as demand they would size the next grant by the retries: room taken in one
// lump, which frees in one lump a window later and leaves gaps that other instances'
// calls — High ones too — wait through.
func TestRefusedRetriesDoNotInflateGrants(t *testing.T) {
	srv := redistest.Start(t)
	a := newStore(t, srv, redisquota.Options{Scope: "retries"})
	b := newStore(t, srv, redisquota.Options{Scope: "retries"})
	limits := []quota.Limit{{Dimension: quota.Tokens, Amount: 100, Per: time.Minute}}
	t0 := quotatest.T0
	if adm := reserve(t, a, t0, limits, quota.Cost{Tokens: 100}); !adm.OK {
		t.Fatalf("first call refused: %+v", adm)
	}
	// The window is full until about t0+62s: forty retries of one call are refused.
	for k := range 40 {
		if adm := reserve(t, a, t0.Add(61*time.Second+time.Duration(k)*10*time.Millisecond), limits, quota.Cost{Tokens: 1}); adm.OK {
			t.Fatalf("retry %d admitted while the window is full", k)
		}
	}
	now := t0.Add(63 * time.Second)
	if adm := reserve(t, a, now, limits, quota.Cost{Tokens: 1}); !adm.OK {
		t.Fatalf("the call refused once the window freed: %+v", adm)
	}
	// B sees what A was granted: the call's cost, and a little of its real demand.
	used, _, _, err := b.Usage(bg, now, limits, nil)
	if err != nil {
		t.Fatal(err)
	}
	if used[0] > 2 {
		t.Errorf("A was granted %d tokens for one call of 1 after 40 refused retries; want at most 2 (retries are not demand)", used[0])
	}
}
