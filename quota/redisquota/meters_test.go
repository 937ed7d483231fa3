package redisquota_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/costs"
	"github.com/tollgate-dev/tollgate/internal/redistest"
	"github.com/tollgate-dev/tollgate/quota"
	"github.com/tollgate-dev/tollgate/quota/quotatest"
	"github.com/tollgate-dev/tollgate/quota/redisquota"
)

// A set with a ClockWindow limit (beside a Sliding one) admits from grants too: at a
// steady load, fewer than one round trip to Redis per ten admitted calls, and what was
// settled is counted in the window.
func TestClockGrantsAdmitLocally(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv, redisquota.Options{})
	limits := []quota.Limit{
		{Dimension: quota.Tokens, Amount: 1_000_000, Per: time.Minute, Meter: quota.ClockWindow},
		{Dimension: quota.Requests, Amount: 100_000, Per: time.Minute},
	}
	admitsLocally(t, s, limits, quotatest.T0.Add(10*time.Second)) // 20 s of calls stay in one clock minute
}

// Three instances on one Redis saturate a ClockWindow limit, driven on one clock with
// random reservations and refunds, some of calls that end in a later window: no clock
// window holds more than Amount of what they admitted in it (each call counted at its
// reservation, less a refund settled in the same window), no call is admitted in a
// window's guards, and together they admit most of each window.
func TestClockFleetNeverOverAnyWindow(t *testing.T) {
	srv := redistest.Start(t)
	const n = 3
	fleet := storesOn(t, srv, n, redisquota.Options{Scope: "clockfleet", GrantLifetime: time.Second})
	rng := rand.New(rand.NewPCG(9, 10))
	limits := []quota.Limit{
		{Dimension: quota.Requests, Amount: 400, Per: 10 * time.Second, Meter: quota.ClockWindow},
		{Dimension: quota.Tokens, Amount: 40000, Per: 10 * time.Second, Meter: quota.ClockWindow},
	}
	per := int64(10 * time.Second)
	guard := per / 200
	win := func(at time.Time) int64 { return at.UnixNano() / per }
	used := map[int64]quota.Cost{} // the provider's count per window
	var live []*openCall
	admitted := 0
	now := quotatest.T0.Add(3 * time.Second)
	first := win(now)
	gap := 10
	for i := 0; i < 20000; i++ {
		if rng.IntN(300) == 0 {
			// The load changes: windows fill early, late or not at all, and grants
			// are left over when one ends.
			gap = []int{4, 20, 100}[rng.IntN(3)]
		}
		now = now.Add(time.Duration(rng.IntN(gap)) * time.Millisecond)
		k := rng.IntN(n)
		c := quota.Cost{Requests: 1, Tokens: int64(1 + rng.IntN(200))}
		if adm := reserve(t, fleet[k], now, limits, c); adm.OK {
			if pos := now.UnixNano() % per; pos < guard || pos >= per-guard {
				t.Fatalf("admitted at +%v, in a window's guard", now.Sub(quotatest.T0))
			}
			w := win(now)
			u := used[w]
			u.Requests += c.Requests
			u.Tokens += c.Tokens
			used[w] = u
			for j, l := range limits {
				if got := costs.Get(u, l.Dimension); got > l.Amount {
					t.Fatalf("limit %d: window %d holds %d after the admission at +%v", j, w-first, got, now.Sub(quotatest.T0))
				}
			}
			live = append(live, &openCall{at: now, cost: c, ticket: adm.Ticket, s: k})
			admitted++
		}
		// Calls end 0-3s after they start, some in the next window, for at most what
		// they reserved.
		live = endSome(t, rng, fleet, limits, now, live, func(o *openCall, actual quota.Cost) {
			if win(now) == win(o.at) {
				u := used[win(now)]
				u.Tokens -= o.cost.Tokens - actual.Tokens
				used[win(now)] = u
			}
		})
	}
	// Every full window but the last: the requests limit binds.
	var full, sum int64
	for w := first + 1; w < win(now); w++ {
		full++
		sum += used[w].Requests
	}
	share := float64(sum) / float64(full*limits[0].Amount)
	var trips uint64
	for _, s := range fleet {
		trips += s.Status().RoundTrips
	}
	t.Logf("%d admitted over %d full windows, %.3f of the requests limit; %d round trips (%.3f per admitted call)", admitted, full, share, trips, float64(trips)/float64(admitted))
	if full < 5 || share < 0.7 {
		t.Errorf("the fleet used %.2f of the requests limit over %d full windows; want at least 0.7 over 5 or more", share, full)
	}
}

// A grant's room in a clock window is drawn on only in that window: an instance that
// holds room left over when a window ends asks Redis again in the next, where another
// instance may have taken it all.
func TestClockGrantEndsWithItsWindow(t *testing.T) {
	srv := redistest.Start(t)
	a := newStore(t, srv, redisquota.Options{Scope: "clockend", GrantLifetime: 5 * time.Second})
	b := newStore(t, srv, redisquota.Options{Scope: "clockend", GrantLifetime: 5 * time.Second})
	limits := []quota.Limit{{Dimension: quota.Requests, Amount: 100, Per: 10 * time.Second, Meter: quota.ClockWindow}}
	start := quotatest.T0 // on a 10s boundary
	// A's demand, ten calls over the window's last second, earns it a grant beyond its
	// need.
	for i := 0; i < 10; i++ {
		at := start.Add(9*time.Second + time.Duration(i)*50*time.Millisecond)
		if adm := reserve(t, a, at, limits, quota.Cost{Requests: 1}); !adm.OK {
			t.Fatalf("A's call %d refused: %+v", i, adm)
		}
	}
	// The next window opens (past its guard): B takes all of it.
	next := start.Add(10*time.Second + 100*time.Millisecond)
	for i := 0; i < 100; i++ {
		if adm := reserve(t, b, next, limits, quota.Cost{Requests: 1}); !adm.OK {
			t.Fatalf("B's call %d in the new window refused: %+v", i, adm)
		}
	}
	// A's grant, made in the last window and still within its lifetime, holds no room
	// in this one.
	if adm := reserve(t, a, next.Add(time.Millisecond), limits, quota.Cost{Requests: 1}); adm.OK {
		t.Fatal("A admitted a call in a full window from room granted in the one before")
	}
}

// Two instances sharing a TokenBucket set (beside a Sliding limit) at a steady load admit
// from grants: fewer than one round trip to Redis per ten admitted calls. (An instance
// alone takes a round trip per call, keeping the bucket exact; see the package
// documentation.)
func TestBucketGrantsAdmitLocally(t *testing.T) {
	srv := redistest.Start(t)
	var fleet [2]*redisquota.Store
	for i := range fleet {
		fleet[i] = newStore(t, srv, redisquota.Options{Scope: "bucketsteady"})
	}
	limits := []quota.Limit{
		{Dimension: quota.Tokens, Amount: 1_000_000, Per: time.Minute, Meter: quota.TokenBucket},
		{Dimension: quota.Requests, Amount: 100_000, Per: time.Minute},
	}
	now := quotatest.T0
	const calls = 4000
	for i := 0; i < calls; i++ {
		now = now.Add(5 * time.Millisecond) // 200 calls a second, over both
		s := fleet[i%2]
		adm := reserve(t, s, now, limits, quota.Cost{Requests: 1, Tokens: 100})
		if !adm.OK {
			t.Fatalf("call %d refused: %+v", i, adm)
		}
		if ok, err := s.Settle(bg, now, limits, adm.Ticket, quota.Cost{Requests: 1, Tokens: 60}); err != nil || !ok {
			t.Fatalf("settle: %v %v", ok, err)
		}
	}
	trips := fleet[0].Status().RoundTrips + fleet[1].Status().RoundTrips
	t.Logf("%d round trips for %d calls (%.4f per call)", trips, calls, float64(trips)/calls)
	if r := float64(trips) / calls; r > 0.1 {
		t.Errorf("%d round trips for %d calls (%.3f per call), want at most 0.1", trips, calls, r)
	}
}

// Three instances on one Redis saturate a TokenBucket limit, driven on one clock with a
// load that changes (so the bucket fills, and grants are held while it refills) and
// random refunds: what they admit never overdraws a bucket of the limit's size and rate
// (the provider's), checked from the admission and settlement times: in any interval,
// requests admitted ≤ Amount + rate·length; and together they admit most of the rate.
func TestBucketFleetNeverOverdraws(t *testing.T) {
	srv := redistest.Start(t)
	const n = 3
	fleet := storesOn(t, srv, n, redisquota.Options{Scope: "bucketfleet", GrantLifetime: time.Second})
	rng := rand.New(rand.NewPCG(11, 12))
	limits := []quota.Limit{
		{Dimension: quota.Requests, Amount: 100, Per: 10 * time.Second, Meter: quota.TokenBucket},
		{Dimension: quota.Tokens, Amount: 10000, Per: 10 * time.Second, Meter: quota.TokenBucket},
	}
	// The provider's buckets, level and when last refilled.
	type bucket struct {
		l     quota.Limit
		level float64
		last  time.Time
	}
	buckets := []*bucket{{l: limits[0], level: 100}, {l: limits[1], level: 10000}}
	refill := func(b *bucket, now time.Time) {
		if !b.last.IsZero() {
			b.level = min(b.level+float64(now.Sub(b.last))*float64(b.l.Amount)/float64(b.l.Per), float64(b.l.Amount))
		}
		b.last = now
	}
	var live []*openCall
	var admittedAt []time.Time
	now := quotatest.T0
	start := now
	gap := 10
	for i := 0; i < 20000; i++ {
		if rng.IntN(300) == 0 {
			gap = []int{4, 20, 100, 400}[rng.IntN(4)]
		}
		now = now.Add(time.Duration(rng.IntN(gap)) * time.Millisecond)
		k := rng.IntN(n)
		c := quota.Cost{Requests: 1, Tokens: int64(1 + rng.IntN(200))}
		if adm := reserve(t, fleet[k], now, limits, c); adm.OK {
			for _, b := range buckets {
				refill(b, now)
				if b.level -= float64(costs.Get(c, b.l.Dimension)); b.level < -1e-6 {
					t.Fatalf("limit %v: the admission at +%v overdraws the bucket: level %.3f", b.l, now.Sub(start), b.level)
				}
			}
			live = append(live, &openCall{at: now, cost: c, ticket: adm.Ticket, s: k})
			admittedAt = append(admittedAt, now)
		}
		live = endSome(t, rng, fleet, limits, now, live, func(o *openCall, actual quota.Cost) {
			b := buckets[1]
			refill(b, now)
			b.level = min(b.level+float64(o.cost.Tokens-actual.Tokens), float64(b.l.Amount))
		})
	}
	// Requests are never refunded: in any interval [s, e] between two admissions, at
	// most Amount + rate·(e−s) of them.
	rate := float64(limits[0].Amount) / float64(limits[0].Per)
	for i := range admittedAt {
		for j := i; j < len(admittedAt); j++ {
			if got, bound := float64(j-i+1), float64(limits[0].Amount)+rate*float64(admittedAt[j].Sub(admittedAt[i])); got > bound+1e-6 {
				t.Fatalf("%d requests admitted in [+%v, +%v], more than the bucket allows (%.2f)", j-i+1, admittedAt[i].Sub(start), admittedAt[j].Sub(start), bound)
			}
			if bound := float64(limits[0].Amount) + rate*float64(admittedAt[j].Sub(admittedAt[i])); bound >= float64(len(admittedAt)-i) {
				break // no longer interval from i can reach the bound
			}
		}
	}
	span := now.Sub(start)
	share := float64(len(admittedAt)) / (float64(limits[0].Amount) + rate*float64(span))
	var trips uint64
	for _, s := range fleet {
		trips += s.Status().RoundTrips
	}
	t.Logf("%d admitted over %v, %.3f of what the requests bucket allows; %d round trips", len(admittedAt), span, share, trips)
	if share < 0.5 {
		t.Errorf("the fleet used %.2f of the requests bucket over %v; want at least 0.5", share, span)
	}
}

// Room an instance of a fleet holds beyond its need in a token bucket goes back to the
// bucket when it gives its grant back, also when a ClockWindow limit of the same set
// ends the grant early.
func TestBucketGrantGoesBack(t *testing.T) {
	srv := redistest.Start(t)
	a := newStore(t, srv, redisquota.Options{Scope: "bucketback"})
	b := newStore(t, srv, redisquota.Options{Scope: "bucketback"})
	limits := []quota.Limit{
		{Dimension: quota.Requests, Amount: 1000, Per: time.Minute, Meter: quota.TokenBucket},
		{Dimension: quota.Tokens, Amount: 1_000_000, Per: time.Minute, Meter: quota.ClockWindow},
	}
	now := quotatest.T0.Add(59 * time.Second) // the clock minute ends 0.7s before the grant's lifetime
	if adm := reserve(t, b, now, limits, quota.Cost{Requests: 1, Tokens: 10}); !adm.OK {
		t.Fatalf("B's call refused: %+v", adm)
	}
	for i := 0; i < 20; i++ {
		now = now.Add(time.Millisecond)
		if adm := reserve(t, a, now, limits, quota.Cost{Requests: 1, Tokens: 10}); !adm.OK {
			t.Fatalf("A's call %d refused: %+v", i, adm)
		}
	}
	tripsBefore := a.Status().RoundTrips
	if tripsBefore >= 20 {
		t.Fatalf("A took %d round trips for 20 calls: it was granted nothing beyond its needs", tripsBefore)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	used, _, _, err := b.Usage(bg, now, limits, nil)
	if err != nil {
		t.Fatal(err)
	}
	if used[0] != 21 {
		t.Errorf("the bucket holds %d requests after A gave its grant back; want 21, the calls admitted", used[0])
	}
}

// An idle instance gives its bucket grant back before the grant lapses in Redis, while
// the other instances keep Redis's clock moving: its unused room returns to the bucket
// instead of being dropped with the lapse. (Real time: the giving back is the Store's
// background work.)
func TestIdleBucketGrantGoesBackBeforeLapse(t *testing.T) {
	srv := redistest.Start(t)
	opts := redisquota.Options{Scope: "bucketidle", GrantLifetime: 200 * time.Millisecond}
	a, b := newStore(t, srv, opts), newStore(t, srv, opts)
	limits := []quota.Limit{{Dimension: quota.Requests, Amount: 1000, Per: 24 * time.Hour, Meter: quota.TokenBucket}}
	if adm := reserve(t, b, time.Now(), limits, quota.Cost{Requests: 1}); !adm.OK {
		t.Fatalf("B's call refused: %+v", adm)
	}
	for i := 0; i < 20; i++ {
		if adm := reserve(t, a, time.Now(), limits, quota.Cost{Requests: 1}); !adm.OK {
			t.Fatalf("A's call %d refused: %+v", i, adm)
		}
	}
	if trips := a.Status().RoundTrips; trips >= 20 {
		t.Fatalf("A took %d round trips for 20 calls: it was granted nothing beyond its needs", trips)
	}
	// A is idle; B asks about the bucket every 10ms, for two lifetimes.
	for end := time.Now().Add(400 * time.Millisecond); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if _, _, _, err := b.Usage(bg, time.Now(), limits, nil); err != nil {
			t.Fatal(err)
		}
	}
	used, _, _, err := b.Usage(bg, time.Now(), limits, nil)
	if err != nil {
		t.Fatal(err)
	}
	if used[0] != 21 {
		t.Errorf("the bucket holds %d requests; want 21, the calls admitted (A's unused room given back)", used[0])
	}
}

// openCall is a call a test fleet has admitted and not yet ended: when, for what, its
// ticket and the index of the store that admitted it.
type openCall struct {
	at     time.Time
	cost   quota.Cost
	ticket uint64
	s      int
}

// endSome ends, at now, each call of live that has run for a random 0–3s, settling it at
// a random part of the tokens it reserved, tells ended of each, and returns the calls
// still open.
func endSome(t *testing.T, rng *rand.Rand, fleet []*redisquota.Store, limits []quota.Limit, now time.Time, live []*openCall, ended func(o *openCall, actual quota.Cost)) []*openCall {
	t.Helper()
	for j := 0; j < len(live); j++ {
		o := live[j]
		if now.Sub(o.at) < time.Duration(rng.IntN(3000))*time.Millisecond {
			continue
		}
		live = append(live[:j], live[j+1:]...)
		j--
		actual := quota.Cost{Requests: 1, Tokens: rng.Int64N(o.cost.Tokens + 1)}
		ok, err := fleet[o.s].Settle(bg, now, limits, o.ticket, actual)
		if err != nil || !ok {
			t.Fatalf("settle: %v %v", ok, err)
		}
		ended(o, actual)
	}
	return live
}
