package redisquota

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate-dev/tollgate/internal/costs"
	"github.com/tollgate-dev/tollgate/internal/quotatext"
	"github.com/tollgate-dev/tollgate/quota"
)

// Options configure a Store.
type Options struct {
	// Client is the Redis connection (a *redis.Client, a *redis.ClusterClient or a ring).
	// It is required; the Store does not close it. Make it with Dial, or set
	// ContextTimeoutEnabled in its options: without it go-redis waits its own read
	// timeout (3s by default) on a Redis that stopped answering, not Timeout.
	Client redis.UniversalClient
	// Prefix starts every key; "tollgate" when empty.
	Prefix string
	// Account, Region, Model and Scope name the quota the instances share; they are part
	// of every key, so two accounts, regions, models or scopes never share by accident.
	Account, Region, Model, Scope string
	// GrantLifetime is how long a grant may be drawn on: how long an instance that dies
	// keeps drawing on room, and the part of each window the grants cost (see the
	// package documentation); 2s when zero, at least 10ms.
	GrantLifetime time.Duration
	// Timeout bounds each round trip to Redis, and so how long a call may wait on a
	// Redis that stopped answering; 200ms when zero.
	Timeout time.Duration
	// Backlog, when set, reports the calls this instance has waiting: those of High
	// priority or above, and the others. Another instance's High backlog holds back
	// grants to this one while it has only lower work waiting. It is called with the
	// Store's lock held and must not call the Store.
	Backlog func() (high, low int)
	// NoFallback makes an instance that cannot reach Redis admit nothing beyond its
	// current grant until Redis answers again, instead of its own part of each limit.
	// The fleet then stays within every limit also when only some instances lose Redis
	// (a network partition, which Redis cannot tell from their death: see the package
	// documentation), at the cost of admitting nothing while Redis is down for all.
	NoFallback bool
	// Logger receives one line when Redis becomes unreachable, one when it returns, and
	// one when Redis has lost the shared state; nil discards them.
	Logger *slog.Logger
}

// Store is a quota.Store whose usage lives in Redis and is shared by every Store with the
// same Prefix, Account, Region, Model and Scope. See the package documentation.
type Store struct {
	opts    Options
	tag     string
	id      string
	life    int64 // grant lifetime, µs
	timeout time.Duration
	log     *slog.Logger

	mu       sync.Mutex
	skew     int64         // µs to add to a client time to get the server's
	skewRTT  time.Duration // round trip of the sample skew was taken from; 0: none yet
	last     int64         // latest shared time seen, µs
	lastWall time.Time     // when last was set, by this process's clock
	sets     map[string]*set
	cacheKey *quota.Limit
	cacheSet *set
	tickets  map[uint64]*ticket
	byExpiry ticketHeap
	next     uint64

	// The breaker: while open, no call goes to Redis before retryAt.
	down      bool
	downSince time.Time
	downErr   string
	retryAt   time.Time
	backoff   time.Duration
	lastTrip  time.Time // when a round trip last succeeded

	trips atomic.Uint64

	stop chan struct{}
	done chan struct{}
}

var _ quota.Store = (*Store)(nil)

// set is the state of one limit set: the limits a Limiter passes, identified by their
// dimensions, periods and meters (so a change of Amount keeps the usage).
type set struct {
	keys    []string // meta, then one per limit
	limits  []quota.Limit
	bucket  bool // the set has a TokenBucket limit: it keeps local buckets for outages (bucket.go)
	g       *grant
	seq     uint64
	pend    []op   // settlements not yet sent
	batch   []op   // the batch sent under batchSeq and not acknowledged
	bseq    uint64 // 0: none in flight
	carried []int64
	// Demand: the cost asked for in the current and the previous period of one grant
	// lifetime, per limit.
	dem, prevDem []int64
	demAt        int64
	pendAt       map[[3]int64]int // pend's refunds and charges at a sub-window, by limit, kind and sub-window

	// Sliding and ClockWindow limits (see own.go): own holds, per limit, what this
	// instance has charged to the shared window, sent or not, by sub-window (Sliding) or
	// by window (ClockWindow) (nil for a TokenBucket limit); epoch names the shared state
	// it was charged to. While capped, the instance admits only within its own room: what
	// it held in each window when it was capped (capAmt), until capUntil. For a
	// ClockWindow limit capAmt is what it held in window capWin; in later windows it is
	// its share of them, capAmt of capAmount (the Amount then), if capShare, else nothing.
	own       []map[int64]int64
	epoch     string
	capped    bool
	capUntil  int64
	capAmt    []int64
	capWin    []int64
	capAmount []int64
	capShare  []bool
	// okAt is when (µs) Redis last answered for the set with its state as known.
	okAt int64
	// lastUsed is each window's sum at the last reply before the set was capped, at
	// lastAt (µs); capFrom is lastAt when the set was capped for an outage it lived
	// through, 0 otherwise (see bounded).
	lastUsed        []int64
	lastAt, capFrom int64

	// TokenBucket limits (see bucket.go): per limit, this instance's
	// grants in the period of index gk (gc) and the one before (gp), periods being of
	// the limit's Per on Redis's clock; what the whole fleet was granted in the period
	// before the one of index fleetK (fleetPrev), as Redis last said in reply to a
	// grant; the local buckets it admits from while Redis is away and until bUntil,
	// when the fleet's recovery ends (nil: none); and the recovery end Redis last
	// reported (rbKnown).
	gk, gc, gp        []int64
	fleetK, fleetPrev []int64
	lb                []*localBucket
	bUntil, rbKnown   int64
}

// grant is room granted to this instance: bal of each limit may be drawn on until exp;
// it was charged to sub-window idx in the shared window.
type grant struct {
	exp int64
	idx []int64
	bal []int64
	// extra is, for a TokenBucket limit, what was granted when it was more than the
	// need (0 otherwise): the most bal may hold, as refunds go back to the grant only up
	// to it. Redis lowers the bucket's capacity by it until lapse, a lifetime after the
	// grant (exp may be earlier, for a ClockWindow limit).
	extra []int64
	lapse int64
	drawn int64 // when a call was last admitted from the grant (µs)
}

// holdsExtra reports whether the grant holds unused room of a TokenBucket limit's grant
// beyond the need.
func (g *grant) holdsExtra() bool {
	for i, x := range g.extra {
		if x > 0 && g.bal[i] > 0 {
			return true
		}
	}
	return false
}

type op struct {
	limit, kind int
	a, b, c     int64
}

type ticket struct {
	id      uint64
	set     *set
	g       *grant
	win     []int64 // per limit, the sub-window, window or index it was charged in
	cost    quota.Cost
	expires int64     // on the server's clock, µs
	lapses  time.Time // expires on the caller's clock, as RetryAt reports it
	lb      bool      // admitted from the local buckets of its set's TokenBucket limits
	hi      int
}

// New returns a Store on opts.Client. It starts a goroutine that sends settlements and
// returns unused grants; Close stops it.
func New(opts Options) (*Store, error) {
	if opts.Client == nil {
		return nil, errors.New("redisquota: Options.Client is nil: pass a go-redis client (redis.NewClient)")
	}
	switch c := opts.Client.(type) {
	case *redis.Client:
		if !c.Options().ContextTimeoutEnabled {
			return nil, errors.New("redisquota: the Redis client does not honour context deadlines, so a hung Redis would hold calls for its read timeout: make it with redisquota.Dial or set ContextTimeoutEnabled in its options")
		}
	case *redis.ClusterClient:
		if !c.Options().ContextTimeoutEnabled {
			return nil, errors.New("redisquota: the Redis cluster client does not honour context deadlines, so a hung Redis would hold calls for its read timeout: set ContextTimeoutEnabled in its options")
		}
	}
	if opts.Prefix == "" {
		opts.Prefix = "tollgate"
	}
	if opts.GrantLifetime == 0 {
		opts.GrantLifetime = 2 * time.Second
	}
	if opts.GrantLifetime < 10*time.Millisecond {
		return nil, fmt.Errorf("redisquota: GrantLifetime %v is too short: use at least 10ms (a few seconds is usual)", opts.GrantLifetime)
	}
	if opts.Timeout == 0 {
		opts.Timeout = 200 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	clean := func(s string) string { return strings.NewReplacer("{", "_", "}", "_", ":", "_").Replace(s) }
	id := strconv.FormatUint(randUint64(), 36)
	s := &Store{
		opts:    opts,
		tag:     "{" + clean(opts.Prefix) + ":" + clean(opts.Account) + ":" + clean(opts.Region) + ":" + clean(opts.Model) + ":" + clean(opts.Scope) + "}",
		id:      id,
		life:    opts.GrantLifetime.Microseconds(),
		timeout: opts.Timeout,
		log:     opts.Logger,
		sets:    map[string]*set{},
		tickets: map[uint64]*ticket{},
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go s.loop()
	return s, nil
}

// Dial returns a client for the Redis at url (redis://[user:password@]host:port/db,
// rediss:// for TLS, or unix:///path) with the tight timeouts a Store needs: it gives up
// on a round trip at the Store's Timeout and does not retry (the Store does, later).
func Dial(url string) (*redis.Client, error) {
	o, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redisquota: bad Redis URL: %w (want redis://host:port, rediss://host:port or unix:///path)", err)
	}
	o.ContextTimeoutEnabled = true
	o.MaxRetries = -1
	o.DialerRetries = 1 // a refused connection fails the round trip at once
	if o.DialTimeout == 0 || o.DialTimeout > 500*time.Millisecond {
		o.DialTimeout = 500 * time.Millisecond
	}
	return redis.NewClient(o), nil
}

// Close returns the unused grants, sends the pending settlements and stops the Store's
// goroutine. The Store must not be used after.
func (s *Store) Close() error {
	select {
	case <-s.stop:
		return nil
	default:
	}
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, st := range s.sets {
		s.returnGrantLocked(st)
		if err := s.flushLocked(context.Background(), st); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Status reports whether the Store reaches Redis.
type Status struct {
	// Degraded is true while Redis is unreachable: the Store admits from its last grant
	// until it expires, then only within its own part of each limit (see the package
	// documentation), never the whole limit.
	Degraded bool
	// Since is when Redis became unreachable; Reason is the last error.
	Since  time.Time
	Reason string
	// RoundTrips counts the calls made to Redis.
	RoundTrips uint64
}

// Status reports the Store's connection to Redis, for status pages and metrics.
func (s *Store) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Status{Degraded: s.down, Since: s.downSince, Reason: s.downErr, RoundTrips: s.trips.Load()}
}

func (s *Store) loop() {
	defer close(s.done)
	tick := time.NewTicker(s.opts.GrantLifetime / 4)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
			s.background()
		}
	}
}

// background returns grants that lapsed and sends pending settlements. It keeps time by
// the callers' clock: the latest time seen plus the time elapsed since.
func (s *Store) background() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == 0 {
		return
	}
	now := s.last + time.Since(s.lastWall).Microseconds()
	for _, st := range s.sets {
		if g := st.g; g != nil && (now >= g.exp || now >= g.lapse-s.life/2 && now-g.drawn >= s.life/4 && g.holdsExtra()) {
			// A bucket's room comes back only before the grant lapses in Redis: an
			// instance that has stopped drawing on it gives it back a few ticks early.
			s.returnGrantLocked(st)
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		if len(st.pend) == 0 && st.bseq == 0 && (s.down || time.Since(s.lastTrip) >= s.opts.GrantLifetime && st.holds(now)) {
			// What this instance holds still counts: find out within about a lifetime
			// whether Redis lost it (see own.go). While Redis is away, find out as the
			// breaker allows that it is back, busy or not: a call refused within the
			// instance's own room does not ask Redis, and an instance with local
			// buckets must record its hangover before the fleet's recovery ends (see
			// bucket.go).
			_, _ = s.callLocked(ctx, st, 1, nil, nil)
		}
		if len(st.pend) > 0 || st.bseq != 0 {
			_ = s.flushLocked(ctx, st) // a failure opens the breaker; the batch is retried
		}
		cancel()
	}
}

// nowLocked returns t on the shared timeline in µs, never before a time seen earlier.
// The zero t means the latest time seen.
func (s *Store) nowLocked(t time.Time) int64 {
	if t.IsZero() {
		return s.last
	}
	n := t.UnixMicro() + s.skew
	if n > s.last {
		s.last, s.lastWall = n, time.Now()
	}
	return s.last
}

func (s *Store) timeAt(us int64) time.Time { return time.UnixMicro(us - s.skew).UTC() }

func keyOf(l quota.Limit) string {
	return strconv.Itoa(int(l.Dimension)) + "." + strconv.FormatInt(int64(l.Per), 10) + "." + strconv.Itoa(int(l.Meter))
}

// setFor returns the state of the limit set limits, creating it on first use.
func (s *Store) setFor(limits []quota.Limit) (*set, error) {
	if len(limits) == 0 {
		return nil, errors.New("redisquota: no limits given: a Limiter passes at least one")
	}
	if &limits[0] == s.cacheKey && len(limits) == len(s.cacheSet.limits) {
		st := s.cacheSet
		same := true
		for i, l := range limits {
			if o := st.limits[i]; l.Dimension != o.Dimension || l.Per != o.Per || l.Meter != o.Meter {
				same = false
				break
			}
		}
		if same {
			copy(st.limits, limits)
			return st, nil
		}
	}
	parts := make([]string, len(limits))
	for i, l := range limits {
		if err := quotatext.Validate(l); err != nil {
			return nil, err
		}
		parts[i] = keyOf(l)
	}
	name := strings.Join(parts, ",")
	st := s.sets[name]
	if st == nil {
		n := len(limits)
		st = &set{carried: make([]int64, n), dem: make([]int64, n), prevDem: make([]int64, n),
			limits: make([]quota.Limit, n), own: make([]map[int64]int64, n)}
		st.keys = append(st.keys, s.tag+":set:"+name)
		for i, l := range limits {
			st.keys = append(st.keys, s.tag+":limit:"+parts[i])
			if l.Meter == quota.TokenBucket {
				st.bucket = true
			} else {
				st.own[i] = map[int64]int64{}
			}
			st.carried[i] = -1
		}
		if st.bucket {
			st.gk, st.gc, st.gp = make([]int64, n), make([]int64, n), make([]int64, n)
			st.fleetK, st.fleetPrev = make([]int64, n), make([]int64, n)
			for i := range st.gk {
				st.gk[i], st.fleetK[i] = -1, -1
			}
		}
		s.sets[name] = st
	}
	copy(st.limits, limits)
	s.cacheKey, s.cacheSet = &limits[0], st
	return st, nil
}

// subWindows is the number of sub-windows a Sliding limit's period is divided into, as
// in quota's own store, so that the shared window approximates the same way.
const subWindows = 200

// width is the width of a Sliding limit's sub-window in µs: Per/subWindows rounded up.
func width(l quota.Limit) int64 {
	per := perMicros(l)
	return (per + subWindows - 1) / subWindows
}

func perMicros(l quota.Limit) int64 { return (int64(l.Per) + 999) / 1000 }

// expireLocked closes the reservations that lapsed at or before now; their charges stay.
func (s *Store) expireLocked(now int64) {
	for len(s.byExpiry) > 0 && s.byExpiry[0].expires <= now {
		t := heap.Pop(&s.byExpiry).(*ticket)
		delete(s.tickets, t.id)
	}
}

func (s *Store) openLocked(st *set, g *grant, win []int64, req reserveRequest, now int64) uint64 {
	s.next++
	t := &ticket{id: s.next, set: st, g: g, win: win, cost: req.Cost, expires: now + req.TTL.Microseconds()}
	// The caller's own time plus the lifetime, not the server's converted back: the skew
	// may be re-measured in between, by a millisecond.
	t.lapses = req.Now.Add(req.TTL)
	if req.TTL <= 0 {
		t.expires = math.MaxInt64
	}
	if req.TTL <= 0 || req.Now.IsZero() {
		t.lapses = s.timeAt(t.expires)
	}
	s.tickets[t.id] = t
	heap.Push(&s.byExpiry, t)
	return t.id
}

// Reserve implements quota.Store. A reservation is admitted from this instance's grant
// when it covers the cost; otherwise it takes one round trip to Redis. (A TokenBucket
// limit grants beyond the need only to an instance of a fleet.)
func (s *Store) Reserve(ctx context.Context, now time.Time, limits []quota.Limit, maxInFlight int, cost quota.Cost, ttl time.Duration) (uint64, time.Time, int, error) {
	adm, err := s.reserve(ctx, reserveRequest{Now: now, Limits: limits, MaxInFlight: maxInFlight, Cost: cost, TTL: ttl})
	return adm.Ticket, adm.RetryAt, adm.Blocked, err
}

// reserveRequest is what Reserve is asked, kept together.
type reserveRequest struct {
	Now         time.Time
	Limits      []quota.Limit
	MaxInFlight int
	Cost        quota.Cost
	TTL         time.Duration
}

// admission is Reserve's answer: a Ticket (never zero) when admitted, else when to try
// again and which limit refused (-1: the in-flight cap).
type admission struct {
	Ticket  uint64
	RetryAt time.Time
	Blocked int
}

func (s *Store) reserve(ctx context.Context, req reserveRequest) (admission, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.setFor(req.Limits)
	if err != nil {
		return admission{}, err
	}
	now := s.nowLocked(req.Now)
	s.expireLocked(now)
	if req.MaxInFlight > 0 && len(s.tickets) >= req.MaxInFlight {
		return admission{Blocked: -1, RetryAt: s.byExpiry[0].lapses}, nil
	}
	s.noteDemand(st, now, &req.Cost)
	if st.capped && !s.down && now >= st.capUntil {
		st.capped = false
	}

	if g := st.g; g != nil && now < g.exp {
		fits := true
		for i, l := range st.limits {
			if g.bal[i] < costs.Get(req.Cost, l.Dimension) {
				fits = false
				break
			}
		}
		if fits {
			for i, l := range st.limits {
				g.bal[i] -= costs.Get(req.Cost, l.Dimension)
			}
			g.drawn = now
			return admission{Ticket: s.openLocked(st, g, g.idx, req, now)}, nil
		}
	}
	if s.down && time.Now().Before(s.retryAt) {
		return s.reserveFallback(st, now, req), nil // the breaker is open: no call waits on Redis
	}
	s.returnGrantLocked(st)
	n := len(st.limits)
	need, want := make([]int64, n), make([]int64, n)
	for i, l := range st.limits {
		need[i] = costs.Get(req.Cost, l.Dimension)
		want[i] = need[i]
		// A few seconds of demand: what was asked for over the last two grant lifetimes
		// covers the next one.
		want[i] = max(need[i], (st.dem[i]+st.prevDem[i])/2)
	}
	var res *result
	for range 3 {
		if st.bucket && now < st.bUntil && st.rbKnown >= st.bUntil {
			// Recovering from an outage: Redis holds the bucket empty until the
			// recovery ends; this instance admits from its local buckets meanwhile.
			return s.reserveFallback(st, now, req), nil
		}
		if st.capped {
			// Recovering from an outage: no more than this instance's own room.
			if ok, blocked, at := s.roomLocked(st, now, need, want); !ok {
				until := st.capUntil
				if s.down {
					until = now + time.Until(s.retryAt).Microseconds()
				}
				if at < 0 || at > until {
					at = until
				}
				return admission{Blocked: blocked, RetryAt: s.timeAt(max(at, now))}, nil
			}
		}
		res, err = s.callLocked(ctx, st, 0, need, want)
		if !errors.Is(err, errStateChanged) {
			break
		}
	}
	if err != nil || (st.bucket && now < st.bUntil) {
		return s.reserveFallback(st, now, req), nil
	}
	if !res.ok {
		// A refused call asks again, maybe many times, before it is admitted: counting
		// each attempt would size the next grants by the retries, taking room in lumps
		// that free in lumps a window later.
		for i, l := range st.limits {
			st.dem[i] = max(0, st.dem[i]-costs.Get(req.Cost, l.Dimension))
		}
		return admission{Blocked: res.blocked, RetryAt: s.timeAt(res.retry)}, nil
	}
	if st.bucket {
		s.noteBucketGrantLocked(st, res)
	}
	win := make([]int64, n)
	for i := range st.limits {
		win[i] = res.idx[i]
		st.addOwn(i, win[i], res.granted[i], now)
	}
	g := &grant{exp: res.now + s.life, lapse: res.now + s.life, drawn: res.now, idx: win, bal: make([]int64, n)}
	for i, l := range st.limits {
		g.bal[i] = res.granted[i] - costs.Get(req.Cost, l.Dimension)
		switch l.Meter {
		case quota.ClockWindow:
			// Room in a clock window is drawn on only in that window, and not in the
			// guard at its end.
			per := perMicros(l)
			g.exp = min(g.exp, (win[i]+1)*per-per/subWindows)
		case quota.TokenBucket:
			if g.extra == nil {
				g.extra = make([]int64, n)
			}
			if g.bal[i] > 0 {
				g.extra[i] = res.granted[i]
			}
		}
	}
	st.g = g
	return admission{Ticket: s.openLocked(st, g, win, req, now)}, nil
}

// noteDemand adds cost to the set's demand, rolling the demand periods.
func (s *Store) noteDemand(st *set, now int64, cost *quota.Cost) {
	if st.demAt == 0 {
		st.demAt = now
	}
	if now-st.demAt >= s.life {
		if now-st.demAt >= 2*s.life {
			clear(st.prevDem)
		} else {
			copy(st.prevDem, st.dem)
		}
		clear(st.dem)
		st.demAt = now
	}
	for i, l := range st.limits {
		st.dem[i] += costs.Get(*cost, l.Dimension)
	}
}

// returnGrantLocked gives the unused part of the set's grant back to the shared window,
// where it was charged.
func (s *Store) returnGrantLocked(st *set) {
	g := st.g
	if g == nil {
		return
	}
	st.g = nil
	for i, b := range g.bal {
		if b <= 0 {
			continue
		}
		switch st.limits[i].Meter {
		case quota.Sliding:
			st.pendOp(op{limit: i + 1, kind: 1, a: g.idx[i], b: b})
			st.addOwn(i, g.idx[i], -b, s.last)
		case quota.ClockWindow:
			// Back to the window it was counted in, if that window still runs.
			st.pendOp(op{limit: i + 1, kind: 7, a: g.idx[i], b: -b})
			st.addOwn(i, g.idx[i], -b, s.last)
		case quota.TokenBucket:
			// Back to the bucket, if the grant has not lapsed there.
			st.pendOp(op{limit: i + 1, kind: 8, a: g.lapse, b: b})
		}
	}
}

// Settle implements quota.Store. A refund goes back to the grant while it lasts (for a
// ClockWindow limit, while it is in the window the call ends in), and an excess is drawn
// from it while it has room; the rest is sent to Redis in the next batch, or, for a
// TokenBucket limit, at once.
func (s *Store) Settle(ctx context.Context, now time.Time, limits []quota.Limit, ticket uint64, actual quota.Cost) (bool, error) {
	return s.settle(ctx, settleRequest{Now: now, Limits: limits, Ticket: ticket, Actual: actual})
}

// settleRequest is what Settle is asked, kept together.
type settleRequest struct {
	Now    time.Time
	Limits []quota.Limit
	Ticket uint64
	Actual quota.Cost
}

func (s *Store) settle(ctx context.Context, req settleRequest) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.nowLocked(req.Now)
	if !req.Now.IsZero() {
		s.expireLocked(now)
	}
	t := s.tickets[req.Ticket]
	if t == nil {
		return false, nil
	}
	st := t.set
	if len(req.Limits) != len(st.limits) {
		return false, fmt.Errorf("redisquota: Settle got %d limits for a reservation made under %d: pass the limits it was reserved under", len(req.Limits), len(st.limits))
	}
	if t.lb && st.lb != nil {
		st.settleLocal(now, t.cost, req.Actual) // its TokenBucket limits, in the local buckets
	}
	live := t.g != nil && t.g == st.g && now < t.g.exp
	flush := false
	for i, l := range st.limits {
		reserved, actual := costs.Get(t.cost, l.Dimension), costs.Get(req.Actual, l.Dimension)
		d := actual - reserved
		switch l.Meter {
		case quota.Sliding:
			switch {
			case d < 0 && live:
				t.g.bal[i] -= d
			case d < 0:
				st.pendOp(op{limit: i + 1, kind: 1, a: t.win[i], b: -d})
				st.addOwn(i, t.win[i], d, now)
			case d > 0 && live && t.g.bal[i] >= d:
				t.g.bal[i] -= d
			case d > 0:
				idx := now / width(l)
				st.pendOp(op{limit: i + 1, kind: 6, a: idx, b: d})
				st.addOwn(i, idx, d, now)
			}
		case quota.TokenBucket:
			if t.lb {
				// Admitted from the local buckets: settled there while they last; once
				// they are gone, an excess is charged to the shared bucket (which
				// started from empty: a refund has nothing to go back to).
				if st.lb == nil && d > 0 {
					st.pend = append(st.pend, op{limit: i + 1, kind: 4, b: d})
					flush = true
				}
				continue
			}
			// A refund goes back to the grant up to what it held beyond its need, an
			// excess is drawn from it; the rest is sent at once, as a bucket's refund
			// must reach it when the provider's does (see the package documentation).
			if g := st.g; g != nil && now < g.exp && g.extra != nil {
				if d < 0 {
					take := min(-d, g.extra[i]-g.bal[i])
					g.bal[i] += take
					d += take
				} else if d > 0 {
					take := min(d, g.bal[i])
					g.bal[i] -= take
					d -= take
				}
			}
			if d < 0 {
				st.pend = append(st.pend, op{limit: i + 1, kind: 3, b: -d})
				flush = true
			} else if d > 0 {
				st.pend = append(st.pend, op{limit: i + 1, kind: 4, b: d})
				flush = true
			}
		case quota.ClockWindow:
			s.settleClockLocked(st, t, i, now, reserved, actual)
		}
	}
	if flush {
		// On failure the batch stays queued and is sent again later.
		_ = s.flushLocked(ctx, st)
	}
	heap.Remove(&s.byExpiry, t.hi)
	delete(s.tickets, t.id)
	return true, nil
}

// settleClockLocked settles limit i, a ClockWindow, of ticket t: the change to the count
// of the window the call ends in, e. A call that ends in the window it was charged in
// replaces its reservation by its actual cost there; one charged earlier adds its excess
// to e, and, if this instance carried the reservation into e, takes it out. A refund
// goes back to the grant while it is in e; an excess is drawn from the grant while it
// has room; the rest is queued for e, and is dropped if e has ended when Redis gets it.
func (s *Store) settleClockLocked(st *set, t *ticket, i int, now, reserved, actual int64) {
	e := now / perMicros(st.limits[i])
	d := actual - reserved
	switch {
	case t.win[i] == e:
	case st.carried[i] >= e:
		d = max(d, 0) - reserved
	default:
		d = max(d, 0)
	}
	if g := st.g; g != nil && now < g.exp && g.idx[i] == e {
		switch {
		case d < 0:
			g.bal[i] -= d
			d = 0
		case d > 0:
			take := min(d, g.bal[i])
			g.bal[i] -= take
			d -= take
		}
	}
	if d != 0 {
		st.pendOp(op{limit: i + 1, kind: 7, a: e, b: d})
		st.addOwn(i, e, d, now)
	}
}

// flushLocked sends the set's pending settlements.
func (s *Store) flushLocked(ctx context.Context, st *set) error {
	for changed := 0; st.bseq != 0 || len(st.pend) > 0; {
		if _, err := s.callLocked(ctx, st, 1, nil, nil); errors.Is(err, errStateChanged) && changed < 2 {
			changed++ // the batch now holds what this instance charges again
		} else if err != nil {
			return err
		}
	}
	return nil
}

// Usage implements quota.Store: the usage of the shared windows, less this instance's
// unused grant (room it holds, not usage), and this instance's open reservations.
func (s *Store) Usage(ctx context.Context, now time.Time, limits []quota.Limit, need []int64) ([]int64, []time.Time, int, error) {
	if need != nil && len(need) != len(limits) {
		return nil, nil, 0, fmt.Errorf("redisquota: Usage got %d needs for %d limits: pass one per limit, or nil", len(need), len(limits))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.setFor(limits)
	if err != nil {
		return nil, nil, 0, err
	}
	n := s.nowLocked(now)
	s.expireLocked(n)
	if st.bseq != 0 {
		if err := s.flushLocked(ctx, st); err != nil {
			return nil, nil, 0, err
		}
	}
	res, err := s.callLocked(ctx, st, 1, nil, nil)
	for k := 0; k < 2 && errors.Is(err, errStateChanged); k++ {
		res, err = s.callLocked(ctx, st, 1, nil, nil)
	}
	if err != nil {
		return nil, nil, 0, err
	}
	used, inFlight := make([]int64, len(limits)), len(s.tickets)
	var fits []time.Time
	if need != nil {
		fits = make([]time.Time, len(limits))
	}
	at := s.timeAt(n)
	for i, w := range res.windows {
		held := int64(0)
		if g := st.g; g != nil && (limits[i].Meter != quota.ClockWindow || g.idx[i] == n/perMicros(limits[i])) {
			held = g.bal[i]
		}
		used[i] = w.used - held
		// short is what must leave the window before need[i] fits.
		short := int64(math.MinInt64)
		if need != nil {
			short = need[i] - (limits[i].Amount - used[i])
			fits[i] = at
			if short > 0 {
				fits[i] = at.Add(time.Duration(w.span) * time.Microsecond) // unless listed below
			}
		}
		for _, e := range w.exp {
			if g := st.g; g != nil && held > 0 && e.idx == g.idx[i] {
				take := min(held, e.amount)
				e.amount -= take
				held -= take
			}
			if short > 0 && e.amount > 0 {
				if short -= e.amount; short <= 0 {
					fits[i] = s.timeAt(e.at)
					if fits[i].Before(at) {
						fits[i] = at
					}
				}
			}
		}
	}
	return used, fits, inFlight, nil
}

type ticketHeap []*ticket

func (h ticketHeap) Len() int           { return len(h) }
func (h ticketHeap) Less(i, j int) bool { return h[i].expires < h[j].expires }
func (h ticketHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i]; h[i].hi = i; h[j].hi = j }
func (h *ticketHeap) Push(x any)        { t := x.(*ticket); t.hi = len(*h); *h = append(*h, t) }
func (h *ticketHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}
