package quota

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/internal/backlog"
	"github.com/tollgate-dev/tollgate/internal/callorder"
	"github.com/tollgate-dev/tollgate/internal/pace"
	"github.com/tollgate-dev/tollgate/internal/sched"
)

// Defaults for the zero fields of Config, and how often a waiter blocked only by the
// in-flight cap asks the Store again, for reservations other Limiters settle
// (settlements by its own Limiter wake it at once).
const (
	// An unsettled reservation stays open long: a model call can generate for many minutes.
	defaultReservationTTL = time.Hour
	defaultMinShare       = sched.DefaultMinShare
	pollInterval          = 250 * time.Millisecond
)

// Config configures a Limiter. The zero Config is a Limiter with no limits, which admits
// everything at once.
type Config struct {
	// Limits are the rate limits every call is admitted against, all at once. At most
	// one per (Dimension, Per, Meter); each needs a known Dimension and Meter, a positive
	// Amount and a Per of at least a millisecond. One amount given under two meters — a TokenBucket and a ClockWindow limit — admits only what both
	// admit: safe against a provider running either reading, though not one counting a
	// rolling window or clock windows not aligned on UTC (Sliding is safe under all).
	Limits []Limit

	// MaxInFlight caps the calls admitted and not yet settled or cancelled. Zero means
	// no cap.
	MaxInFlight int

	// Store holds the usage. Nil means a new memory store of the Limiter's own.
	Store Store

	// ReservationTTL is how long a reservation that is never settled or cancelled stays
	// open; it then lapses, charged in full, and frees its in-flight slot. Zero means an
	// hour.
	ReservationTTL time.Duration

	// MinShare is the share of service (see Limiter) guaranteed to each class that waits
	// below a busier, higher class: while class c has calls waiting, every admission of
	// service x to a higher class earns c a credit of x·MinShare/(1−MinShare), and c is
	// served out of turn whenever its credit covers its next call. Zero means 0.05; a
	// negative value means strict priority with no guarantee. It must be below 0.5.
	MinShare float64

	// Pacing, when positive, also admits calls no faster than each rate limit's rate
	// (Amount per Per), allowing bursts of up to Amount × Pacing/Per: a call is admitted
	// when every limit's paced horizon — the time by which everything admitted would have
	// been delivered at the limit's rate, less refunds — is at most Pacing ahead of now.
	// The sliding windows still bound every interval; pacing spreads admissions over it,
	// so capacity that frees in a lump (a burst a window ago) is not re-admitted as a
	// burst. A provider running a token bucket near empty, or one whose real limit is a
	// little below the configured one, sees a steady stream instead of bursts it must
	// refuse. Zero means no pacing. It must be below the shortest Per.
	Pacing time.Duration
}

// validate checks the configuration and returns it with defaults applied.
func (c Config) validate() (Config, error) {
	seen := make(map[[3]int64]bool)
	for _, l := range c.Limits {
		if err := l.validate(); err != nil {
			return c, err
		}
		k := [3]int64{int64(l.Dimension), int64(l.Per), int64(l.Meter)}
		if seen[k] {
			return c, fmt.Errorf("quota: two %s limits on %s per %v: keep one (the smaller)", l.Meter.name(), l.Dimension.name(), l.Per)
		}
		seen[k] = true
	}
	switch {
	case c.MaxInFlight < 0:
		return c, fmt.Errorf("quota: MaxInFlight is %d: use a positive cap, or zero for none", c.MaxInFlight)
	case c.ReservationTTL < 0:
		return c, fmt.Errorf("quota: ReservationTTL is %v: use a positive duration, or zero for %v", c.ReservationTTL, defaultReservationTTL)
	case c.MinShare >= 0.5:
		return c, fmt.Errorf("quota: MinShare is %v: a guaranteed share must be below 0.5 (negative disables it)", c.MinShare)
	case c.Pacing < 0:
		return c, fmt.Errorf("quota: Pacing is %v: use a positive duration, or zero for none", c.Pacing)
	}
	if c.Store == nil {
		c.Store = NewMemory()
	}
	if c.ReservationTTL == 0 {
		c.ReservationTTL = defaultReservationTTL
	}
	if c.MinShare == 0 {
		c.MinShare = defaultMinShare
	}
	if c.MinShare < 0 {
		c.MinShare = 0
	}
	for _, l := range c.Limits {
		if c.Pacing >= l.Per {
			return c, fmt.Errorf("quota: Pacing %v is not below the period of %q: pace with a shorter burst", c.Pacing, l.String())
		}
	}
	c.Limits = append([]Limit(nil), c.Limits...)
	return c, nil
}

// A Limiter admits calls against several limits at once — requests, tokens, input and
// output tokens, each over any period, plus a cap on calls in flight — in priority order,
// and settles each admitted call against what it really used.
//
// # Admission
//
// Wait blocks until every limit admits the call's Cost at once (usage in the limit's
// trailing window plus the cost is at most its Amount) and a slot is free under
// MaxInFlight; it then charges the cost and returns a Reservation. Reserve does the same
// without blocking: when the call cannot be admitted now it returns a Reservation whose
// OK is false and whose Delay says how long to wait. The caller ends an admitted
// reservation exactly once: Settle with the cost it really used (refunding the difference
// or charging the excess) or Cancel (refunding everything). Usage is counted in sliding
// windows (see Sliding), so that over any trailing interval of length Per, the usage
// admitted after settlements stays at most Amount — a guarantee that holds against
// providers counting clock minutes and against providers running token buckets alike.
// A settlement that charges more than was reserved cannot be refused: the excess is
// counted when it happens, and no call is admitted while the window holds more than
// Amount less its cost.
//
// # Order
//
// Calls that must wait queue by Priority. Admission is strict by class: the first call of
// the highest waiting class is admitted next and nothing overtakes it, except that a
// lower class with calls waiting is guaranteed a share of the service (Config.MinShare):
// while it waits it receives at least MinShare of the service admitted, less one call's
// service, and so is never starved. One more exception, backfilling: while the first
// call waits for room, a call behind it that fits now is admitted if the first call's
// earliest admission, as the Store reckons it, stays where it was (not under pacing):
// room that older usage frees beyond what the first call needs is not left empty. Within
// a class, callers (Options.Tenant) share by virtual token counters (Sheng et al.,
// "Fairness in Serving Large Language Models", OSDI 2024): the waiting tenant that has
// received the least service goes next, and a tenant that starts waiting is lifted to
// the least counter among those waiting, so no one banks credit while idle. Between two
// tenants that both wait throughout an interval, the service received differs by at
// most twice the largest single call's service.
//
// A call's service is its dominant share: the largest fraction of any rate limit's Amount
// that its cost uses (for a Limiter with tokens limits only, service is proportional to
// tokens). With no rate limits, each call's service is one request.
//
// # Concurrency
//
// A Limiter is safe for concurrent use. A call admitted at once (no one waiting) takes a
// fast path: one Store round trip and no allocation with the memory store, which it
// calls directly. The Limiter reads the clock with time.Now, so it runs on the fake
// clock of a testing/synctest bubble.
type Limiter struct {
	store    Store
	mem      *memory // store, when it is a Memory: the hot path calls it directly
	ttl      time.Duration
	minShare float64
	pacing   time.Duration

	set     atomic.Pointer[limitSet]
	paused  atomic.Int64 // UnixNano until which nothing is admitted; 0 when not paused
	waiting atomic.Int64 // calls queued
	closed  atomic.Bool
	hold    atomic.Uint64 // float64 bits: moving average of reservation hold time, seconds

	mu      sync.Mutex
	sched   scheduler
	timer   *time.Timer
	timerAt time.Time
	pacer   *pace.Pacer // the pacing (see Config.Pacing); guarded by mu
}

// limitSet is an immutable snapshot of a Limiter's limits; SetLimit replaces it.
type limitSet struct {
	limits      []Limit
	maxInFlight int
	inv         []float64            // 1/Amount of each limit, for service
	largest     [numDimensions]int64 // per dimension, the least Amount: the largest admissible cost
}

func newLimitSet(limits []Limit, maxInFlight int) *limitSet {
	s := &limitSet{limits: limits, maxInFlight: maxInFlight, inv: make([]float64, len(limits))}
	for d := range s.largest {
		s.largest[d] = math.MaxInt64
	}
	for i, l := range limits {
		s.inv[i] = 1 / float64(l.Amount)
		s.largest[l.Dimension] = min(s.largest[l.Dimension], l.Amount)
	}
	return s
}

// service returns a cost's dominant share of the limits (see Limiter).
func (s *limitSet) service(c Cost) float64 {
	if len(s.limits) == 0 {
		return float64(c.Requests) + 1e-9
	}
	var x float64
	for i, l := range s.limits {
		if v := float64(c.get(l.Dimension)) * s.inv[i]; v > x {
			x = v
		}
	}
	return x + 1e-12 // a call that costs nothing still takes a turn
}

// check refuses costs that are negative or could never be admitted.
func (s *limitSet) check(c Cost) error {
	if c.Requests <= s.largest[Requests] && c.Tokens <= s.largest[Tokens] &&
		c.InputTokens <= s.largest[InputTokens] && c.OutputTokens <= s.largest[OutputTokens] &&
		c.Requests|c.Tokens|c.InputTokens|c.OutputTokens >= 0 {
		return nil // the common case, without a loop
	}
	if err := c.validate(); err != nil {
		return err
	}
	for _, l := range s.limits {
		if n := c.get(l.Dimension); n > l.Amount {
			return tooLargeError(fmt.Sprintf("quota: a cost of %d %s can never be admitted under the limit %q: split the call or raise the limit",
				n, l.Dimension.name(), l.String()))
		}
	}
	return nil
}

// New returns a Limiter for cfg, or an error naming what is wrong with it.
func New(cfg Config) (*Limiter, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	l := &Limiter{store: cfg.Store, ttl: cfg.ReservationTTL, minShare: cfg.MinShare, pacing: cfg.Pacing}
	l.pacer = pace.New(cfg.Pacing, len(cfg.Limits))
	l.mem, _ = cfg.Store.(*memory)
	l.set.Store(newLimitSet(cfg.Limits, cfg.MaxInFlight))
	l.sched.init(cfg.MinShare)
	return l, nil
}

// Options are the per-call parameters of Wait, Reserve and Forecast. The zero Options is
// a Normal call with no tenant.
type Options struct {
	// Priority is the call's class.
	Priority Priority
	// Tenant names the caller for fairness within the class; calls with the same Tenant
	// share one fair share. Empty is a tenant like any other.
	Tenant string
}

// Limits returns a copy of the limits in force.
func (l *Limiter) Limits() []Limit { return append([]Limit(nil), l.set.Load().limits...) }

// Wait blocks until cost is admitted against every limit at once, in priority order, and
// returns the reservation, which the caller must end with Settle or Cancel. It returns
// at once with an error matching ErrTooLarge when the cost exceeds a limit's Amount, and
// with an error wrapping ctx.Err() when ctx is done first; a call that gives up waiting
// leaves the queue and holds nothing.
func (l *Limiter) Wait(ctx context.Context, cost Cost, opt Options) (Reservation, error) {
	if err := ctx.Err(); err != nil {
		return Reservation{}, fmt.Errorf("quota: wait: %w", err)
	}
	return l.reserve(ctx, cost, opt, true)
}

// Reserve admits cost at once if it can, without waiting and without overtaking calls of
// the same or a higher priority that wait. When it cannot, the Reservation's OK is false
// and its Delay says how long to wait before trying again (the predicted wait, from the
// usage now and the calls queued ahead); such a Reservation holds nothing. The error
// matches ErrTooLarge when the cost exceeds a limit's Amount; it is ErrClosed after
// Close, or the Store's.
func (l *Limiter) Reserve(ctx context.Context, cost Cost, opt Options) (Reservation, error) {
	return l.reserve(ctx, cost, opt, false)
}

func (l *Limiter) reserve(ctx context.Context, cost Cost, opt Options, block bool) (Reservation, error) {
	if l.closed.Load() {
		return Reservation{}, ErrClosed
	}
	set := l.set.Load()
	if err := set.check(cost); err != nil {
		return Reservation{}, err
	}
	now := time.Now()
	hot := l.waiting.Load() == 0 && l.paused.Load() == 0 && l.pacing == 0 && l.mem != nil
	if hot { // the memory store, nothing waiting, no pause, no pacing
		if t, ok := l.mem.reserve(now, set, &cost, l.ttl); ok {
			if block {
				callorder.Queued(ctx)
			}
			return Reservation{l: l, ticket: t, cost: cost, at: now, opt: opt}, nil
		}
	}
	if hot || (l.waiting.Load() == 0 && !l.pausedAt(now)) {
		if !hot { // the hot path asked the store already
			adm, err := l.fastReserve(ctx, now, set, cost)
			if err != nil {
				return Reservation{}, fmt.Errorf("quota: reserve: %w", err)
			}
			if adm.ticket != 0 {
				if block {
					callorder.Queued(ctx)
				}
				return Reservation{l: l, ticket: adm.ticket, cost: cost, at: now, opt: opt}, nil
			}
		}
		if !block {
			return l.notNow(ctx, now, set, cost, opt), nil
		}
	} else if !block {
		if l.pausedAt(now) {
			return Reservation{delay: time.Duration(l.paused.Load() - now.UnixNano()), cost: cost, opt: opt}, nil
		}
		return l.tryQueued(ctx, now, set, cost, opt)
	}
	return l.wait(ctx, now, set, cost, opt)
}

// notNow is Reserve's answer for a call it cannot admit now: the forecast wait as Delay.
func (l *Limiter) notNow(ctx context.Context, now time.Time, set *limitSet, cost Cost, opt Options) Reservation {
	wait, _, err := l.forecast(ctx, now, set, cost, opt.Priority)
	if err != nil {
		wait = pollInterval // the Store failed: the poll interval is the best guess
	}
	return Reservation{delay: max(wait, time.Nanosecond), cost: cost, opt: opt}
}

// pausedAt reports whether a pause (PauseUntil) is in force at now.
func (l *Limiter) pausedAt(now time.Time) bool {
	p := l.paused.Load()
	return p != 0 && now.UnixNano() < p
}

// PauseUntil admits nothing before t: calls queue (in order) and are admitted from t on.
// A provider's throttle is the use: it says the provider's window is full now, whatever
// this Limiter counted, so calls sent before it refills would be throttled too. A pause
// ending earlier than one in force does not shorten it.
func (l *Limiter) PauseUntil(t time.Time) {
	for {
		old := l.paused.Load()
		if t.UnixNano() <= old || l.paused.CompareAndSwap(old, t.UnixNano()) {
			break
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now := time.Now(); l.waiting.Load() > 0 && !l.closed.Load() && t.After(now) {
		l.armTimerLocked(now, t)
	}
}

// fastReserve asks the Store to admit cost at once, within the pacing when it is on.
func (l *Limiter) fastReserve(ctx context.Context, now time.Time, set *limitSet, cost Cost) (admission, error) {
	if l.pacing == 0 {
		return l.storeReserve(ctx, now, set, cost)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if at, _ := l.pacedAt(set, cost); at.After(now) {
		return admission{retryAt: at}, nil
	}
	adm, err := l.storeReserve(ctx, now, set, cost)
	if err == nil && adm.ticket != 0 {
		l.paceLocked(now, set, cost, 1)
	}
	return adm, err
}

// storeReserve asks the Store to admit cost against set at now.
func (l *Limiter) storeReserve(ctx context.Context, now time.Time, set *limitSet, cost Cost) (admission, error) {
	var a admission
	var err error
	a.ticket, a.retryAt, a.blocked, err = l.store.Reserve(ctx, now, set.limits, set.maxInFlight, cost, l.ttl)
	return a, err
}

// pacedAt returns the earliest time at which the pacing admits cost — the latest Ready
// of the limits it uses — and the index of that limit (-1 when it uses none). l.mu must
// be held.
func (l *Limiter) pacedAt(set *limitSet, cost Cost) (time.Time, int) {
	var buf [8]pace.Use
	return l.pacer.ReadyFor(set.uses(cost, buf[:0]))
}

// paceLocked moves the pacing horizons by cost at each limit's rate: forward from now
// (sign > 0) for a charge, back for a refund. l.mu must be held.
func (l *Limiter) paceLocked(now time.Time, set *limitSet, cost Cost, sign int) {
	var buf [8]pace.Use
	if uses := set.uses(cost, buf[:0]); sign > 0 {
		l.pacer.ChargeFor(now, uses)
	} else {
		l.pacer.RefundFor(uses)
	}
}

// uses appends cost's use of each limit to buf, for the pacing.
func (s *limitSet) uses(cost Cost, buf []pace.Use) []pace.Use {
	for _, lim := range s.limits {
		buf = append(buf, pace.Use{Per: lim.Per, Amount: lim.Amount, N: cost.get(lim.Dimension)})
	}
	return buf
}

// tryQueued is Reserve when calls are waiting: it may admit only if none of them is of
// the same or a higher class.
func (l *Limiter) tryQueued(ctx context.Context, now time.Time, set *limitSet, cost Cost, opt Options) (Reservation, error) {
	l.mu.Lock()
	ahead := l.sched.queuedAtOrAbove(opt.Priority.class())
	l.mu.Unlock()
	if ahead == 0 {
		adm, err := l.fastReserve(ctx, now, set, cost)
		if err != nil {
			return Reservation{}, fmt.Errorf("quota: reserve: %w", err)
		}
		if adm.ticket != 0 {
			return Reservation{l: l, ticket: adm.ticket, cost: cost, at: now, opt: opt}, nil
		}
	}
	return l.notNow(ctx, now, set, cost, opt), nil
}

// wait queues the call and blocks until the dispatcher admits it or ctx is done.
func (l *Limiter) wait(ctx context.Context, now time.Time, set *limitSet, cost Cost, opt Options) (Reservation, error) {
	w := &waiter{ctx: ctx, cost: cost, opt: opt, since: now, done: make(chan struct{})}
	w.call = sched.Call[*waiter]{Class: opt.Priority.class(), Tenant: opt.Tenant, Service: set.service(cost), Front: callorder.IsRetry(ctx)}
	l.mu.Lock()
	if l.closed.Load() {
		l.mu.Unlock()
		return Reservation{}, ErrClosed
	}
	l.sched.enqueue(w)
	l.waiting.Add(1)
	l.dispatchLocked(now)
	l.mu.Unlock()
	callorder.Queued(ctx)

	select {
	case <-w.done:
		return w.res, w.err
	case <-ctx.Done():
	}
	l.mu.Lock()
	if w.decided {
		l.mu.Unlock()
		if w.err == nil {
			w.res.Cancel() // admitted as the context ended: give it back
		}
	} else {
		l.sched.remove(w)
		l.waiting.Add(-1)
		l.dispatchLocked(time.Now()) // the call behind may fit where this one did not
		l.mu.Unlock()
	}
	return Reservation{}, fmt.Errorf("quota: wait: %w", ctx.Err())
}

// dispatchLocked admits waiting calls in scheduler order for as long as the Store (and
// the pacing) admits the next one, backfilling behind a head the Store refuses (not under
// pacing, whose horizons every admission moves), then arms the timer for when the next
// one could fit. l.mu must be held.
func (l *Limiter) dispatchLocked(now time.Time) {
	if l.pausedAt(now) {
		if l.waiting.Load() > 0 {
			l.armTimerLocked(now, time.Unix(0, l.paused.Load()))
		}
		return
	}
	a, waiting := l.sched.q.Dispatch(now, (*gate)(l), l.pacing == 0)
	if !waiting {
		return
	}
	at := a.RetryAt
	if a.Blocked < 0 && !a.Paced {
		if p := now.Add(pollInterval); at.After(p) {
			at = p
		}
	}
	l.armTimerLocked(now, at)
}

// armTimerLocked makes sure the dispatcher runs again at at (or soon after).
func (l *Limiter) armTimerLocked(now, at time.Time) {
	if l.timer != nil && !l.timerAt.IsZero() && !l.timerAt.After(at) && l.timerAt.After(now) {
		return // already due no later than at
	}
	d := at.Sub(now)
	if d < 0 {
		d = 0
	}
	l.timerAt = at
	if l.timer == nil {
		l.timer = time.AfterFunc(d, l.onTimer)
	} else {
		l.timer.Reset(d)
	}
}

func (l *Limiter) onTimer() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.timerAt = time.Time{}
	if !l.closed.Load() {
		l.dispatchLocked(time.Now())
	}
}

// kick runs the dispatcher when calls wait, after a settlement or a limit change.
func (l *Limiter) kick() {
	if l.waiting.Load() == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed.Load() {
		l.dispatchLocked(time.Now())
	}
}

// SetLimit changes the Amount of the limit with lim's Dimension, Per and Meter at run
// time (an adaptive controller uses it). Usage already counted is kept; a lower Amount
// holds new calls back until the window has drained below it. It returns an error when
// there is no such limit or the new one is invalid.
func (l *Limiter) SetLimit(lim Limit) error {
	if err := lim.validate(); err != nil {
		return err
	}
	l.mu.Lock()
	old := l.set.Load()
	i := -1
	for j, o := range old.limits {
		if o.Dimension == lim.Dimension && o.Per == lim.Per && o.Meter == lim.Meter {
			i = j
		}
	}
	if i < 0 {
		l.mu.Unlock()
		return fmt.Errorf("quota: no %s limit on %s per %v to change: SetLimit changes only limits given to New", lim.Meter.name(), lim.Dimension.name(), lim.Per)
	}
	limits := append([]Limit(nil), old.limits...)
	limits[i] = lim
	l.set.Store(newLimitSet(limits, old.maxInFlight))
	l.mu.Unlock()
	l.kick()
	return nil
}

// Close fails every waiting call with ErrClosed and refuses new ones. Reservations
// already admitted can still be settled or cancelled. Close returns nil; calling it
// again does nothing.
func (l *Limiter) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Swap(true) {
		return nil
	}
	if l.timer != nil {
		l.timer.Stop()
	}
	for _, w := range l.sched.drain() {
		w.decided, w.err = true, ErrClosed
		close(w.done)
	}
	l.waiting.Store(0)
	return nil
}

func init() {
	backlog.Of = func(x any) (high, low int) {
		l := x.(*Limiter)
		return int(l.sched.high.Load()), int(l.sched.low.Load())
	}
}
