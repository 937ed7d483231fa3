package quota

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for the zero fields of Config.
const (
	// DefaultReservationTTL is how long an unsettled reservation stays open. It is long
	// because a model call can generate for many minutes.
	DefaultReservationTTL = time.Hour
	// DefaultMinShare is the share of service each waiting lower class is guaranteed.
	DefaultMinShare = 0.05
	// DefaultPollInterval bounds how long a waiter blocked only by the in-flight cap waits
	// before asking the Store again, for reservations other Limiters settle.
	DefaultPollInterval = 250 * time.Millisecond
)

// Config configures a Limiter. The zero Config is a Limiter with no limits, which admits
// everything at once.
type Config struct {
	// Limits are the rate limits every call is admitted against, all at once. At most
	// one per (Dimension, Per, Meter); each must pass Limit.Validate. One amount given
	// under two meters — a TokenBucket and a ClockWindow limit — admits only what both
	// admit: safe against a provider running either reading, though not one counting a
	// rolling window or clock windows not aligned on UTC (Sliding is safe under all).
	Limits []Limit

	// MaxInFlight caps the calls admitted and not yet settled or cancelled. Zero means
	// no cap.
	MaxInFlight int

	// Store holds the usage. Nil means a new Memory store of the Limiter's own.
	Store Store

	// ReservationTTL is how long a reservation that is never settled or cancelled stays
	// open; it then lapses, charged in full, and frees its in-flight slot. Zero means
	// DefaultReservationTTL.
	ReservationTTL time.Duration

	// MinShare is the share of service (see Limiter) guaranteed to each class that waits
	// below a busier, higher class: while class c has calls waiting, every admission of
	// service x to a higher class earns c a credit of x·MinShare/(1−MinShare), and c is
	// served out of turn whenever its credit covers its next call. Zero means
	// DefaultMinShare; a negative value means strict priority with no guarantee. It must
	// be below 0.5.
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

	// PollInterval bounds how long a call blocked only by the in-flight cap waits before
	// the Limiter asks the Store again (settlements by this Limiter wake it at once).
	// Zero means DefaultPollInterval.
	PollInterval time.Duration
}

// validate checks the configuration and returns it with defaults applied.
func (c Config) validate() (Config, error) {
	seen := make(map[[3]int64]bool)
	for _, l := range c.Limits {
		if err := l.Validate(); err != nil {
			return c, err
		}
		k := [3]int64{int64(l.Dimension), int64(l.Per), int64(l.Meter)}
		if seen[k] {
			return c, fmt.Errorf("quota: two %s limits on %s per %v: keep one (the smaller)", l.Meter, l.Dimension, l.Per)
		}
		seen[k] = true
	}
	switch {
	case c.MaxInFlight < 0:
		return c, fmt.Errorf("quota: MaxInFlight is %d: use a positive cap, or zero for none", c.MaxInFlight)
	case c.ReservationTTL < 0:
		return c, fmt.Errorf("quota: ReservationTTL is %v: use a positive duration, or zero for %v", c.ReservationTTL, DefaultReservationTTL)
	case c.MinShare >= 0.5:
		return c, fmt.Errorf("quota: MinShare is %v: a guaranteed share must be below 0.5 (negative disables it)", c.MinShare)
	case c.Pacing < 0:
		return c, fmt.Errorf("quota: Pacing is %v: use a positive duration, or zero for none", c.Pacing)
	case c.PollInterval < 0:
		return c, fmt.Errorf("quota: PollInterval is %v: use a positive duration, or zero for %v", c.PollInterval, DefaultPollInterval)
	}
	if c.Store == nil {
		c.Store = NewMemory()
	}
	if c.ReservationTTL == 0 {
		c.ReservationTTL = DefaultReservationTTL
	}
	if c.MinShare == 0 {
		c.MinShare = DefaultMinShare
	}
	if c.MinShare < 0 {
		c.MinShare = 0
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
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
// Reserve blocks until every limit admits the call's Cost at once (usage in the limit's
// trailing window plus the cost is at most its Amount) and a slot is free under
// MaxInFlight; it then charges the cost and returns a Reservation. The caller ends the
// reservation exactly once: Settle with the cost it really used (refunding the difference
// or charging the excess) or Cancel (refunding everything). Usage is counted in sliding
// windows (see SubWindows), so that over any trailing interval of length Per, the usage
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
// room that older usage frees beyond what the first call needs is not left empty. Within a class, callers (Options.Tenant) share by
// virtual token counters (Sheng et al., "Fairness in Serving Large Language Models",
// OSDI 2024): the waiting tenant that has received the least service goes next, and a
// tenant that starts waiting is lifted to the least counter among those waiting, so no
// one banks credit while idle. Between two tenants that both wait throughout an interval,
// the service received differs by at most twice the largest single call's service.
//
// A call's service is its dominant share: the largest fraction of any rate limit's Amount
// that its cost uses (for a Limiter with tokens limits only, service is proportional to
// tokens). With no rate limits, each call's service is one request.
//
// # Concurrency
//
// A Limiter is safe for concurrent use. A call admitted at once (no one waiting) takes a
// fast path: one Store round trip and no allocation with the Memory store, which it
// calls directly. It reads the monotonic clock only (time.Since a wall-clock reading
// taken again every second), half the cost of time.Now on Linux; times it reports, such
// as Reservation.Time, carry a monotonic reading as time.Now's do.
type Limiter struct {
	store    Store
	mem      *Memory // store, when it is a Memory: the hot path calls it directly
	ttl      time.Duration
	poll     time.Duration
	minShare float64
	pacing   time.Duration

	set     atomic.Pointer[limitSet]
	paused  atomic.Int64 // UnixNano until which nothing is admitted; 0 when not paused
	waiting atomic.Int64 // calls queued
	closed  atomic.Bool
	hold    atomic.Uint64             // float64 bits: moving average of reservation hold time, seconds
	base    atomic.Pointer[time.Time] // the clock's base reading (see clock)

	mu      sync.Mutex
	sched   scheduler
	timer   *time.Timer
	timerAt time.Time
	pacer   *Pacer // the pacing (see Config.Pacing); guarded by mu
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
		if v := float64(c.Get(l.Dimension)) * s.inv[i]; v > x {
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
		if n := c.Get(l.Dimension); n > l.Amount {
			return &TooLargeError{Limit: l, Cost: n}
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
	l := &Limiter{store: cfg.Store, ttl: cfg.ReservationTTL, poll: cfg.PollInterval, minShare: cfg.MinShare, pacing: cfg.Pacing}
	l.pacer = NewPacer(cfg.Pacing, len(cfg.Limits))
	base := time.Now()
	l.base.Store(&base)
	l.mem, _ = cfg.Store.(*Memory)
	l.set.Store(newLimitSet(cfg.Limits, cfg.MaxInFlight))
	l.sched.init(cfg.MinShare)
	return l, nil
}

// Options are the per-call parameters of Reserve, TryReserve and Forecast. The zero
// Options is a Normal call with no tenant.
type Options struct {
	// Priority is the call's class.
	Priority Priority
	// Tenant names the caller for fairness within the class; calls with the same Tenant
	// share one fair share. Empty is a tenant like any other.
	Tenant string
	// Front queues the call ahead of its tenant's other waiting calls, for a call that
	// was admitted once and must be admitted again (a retry after the service throttled
	// it): it keeps its place instead of going to the back.
	Front bool
}

// Limits returns a copy of the limits in force.
func (l *Limiter) Limits() []Limit { return append([]Limit(nil), l.set.Load().limits...) }

// MaxInFlight returns the cap on calls in flight in force; zero means none.
func (l *Limiter) MaxInFlight() int { return l.set.Load().maxInFlight }

// Reserve blocks until cost is admitted against every limit at once, in priority order,
// and returns the reservation, which the caller must end with Settle or Cancel. It
// returns at once with a *TooLargeError when the cost exceeds a limit's Amount, and with
// an error wrapping ctx.Err() when ctx is done first; a call that gives up waiting leaves
// the queue and holds nothing.
func (l *Limiter) Reserve(ctx context.Context, cost Cost, opt Options) (Reservation, error) {
	return l.reserve(ctx, cost, opt, true, nil)
}

// ReserveNotify is Reserve that also calls queued once the call has taken its place —
// admitted at once, or waiting in its class's queue — and not when it fails before (a
// closed Limiter, a done context, a cost too large). A caller that hands calls over one
// by one waits for queued before starting the next, to keep their order: calls prepared
// in parallel would otherwise reach the Limiter in whatever order their preparation
// ends, and an idle Limiter admits them in that order. queued must not block.
func (l *Limiter) ReserveNotify(ctx context.Context, cost Cost, opt Options, queued func()) (Reservation, error) {
	return l.reserve(ctx, cost, opt, true, queued)
}

// TryReserve admits cost at once if it can, without waiting and without overtaking calls
// of the same or a higher priority that wait. Otherwise it returns a *NotAdmittedError
// (matching ErrNotAdmitted) saying how long to wait before trying again.
func (l *Limiter) TryReserve(ctx context.Context, cost Cost, opt Options) (Reservation, error) {
	return l.reserve(ctx, cost, opt, false, nil)
}

func (l *Limiter) reserve(ctx context.Context, cost Cost, opt Options, block bool, queued func()) (Reservation, error) {
	if l.closed.Load() {
		return Reservation{}, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return Reservation{}, fmt.Errorf("quota: reserve: %w", err)
	}
	set := l.set.Load()
	if err := set.check(cost); err != nil {
		return Reservation{}, err
	}
	base, since := l.clock()
	hot := l.waiting.Load() == 0 && l.paused.Load() == 0 && l.pacing == 0 && l.mem != nil
	if hot {
		// The hot path: a Memory store, nothing waiting, no pause, no pacing; it needs no
		// time.Time (see clock).
		if t, ok := l.mem.reserveAt(base, since, set, &cost, l.ttl); ok {
			if queued != nil {
				queued()
			}
			return Reservation{l: l, ticket: t, cost: cost, base: base, since: since, opt: opt}, nil
		}
	}
	now := base.Add(since)
	if hot || (l.waiting.Load() == 0 && !l.pausedAt(now)) {
		if !hot { // the hot path asked the store already
			adm, err := l.fastReserve(ctx, now, set, cost)
			if err != nil {
				return Reservation{}, fmt.Errorf("quota: reserve: %w", err)
			}
			if adm.OK {
				if queued != nil {
					queued()
				}
				return Reservation{l: l, ticket: adm.Ticket, cost: cost, base: base, since: since, opt: opt}, nil
			}
		}
		if !block {
			f := l.forecast(ctx, now, set, cost, opt.Priority)
			return Reservation{}, &NotAdmittedError{RetryAfter: f.Wait, Limit: f.Limit, InFlight: f.InFlight}
		}
	} else if !block {
		if l.pausedAt(now) {
			return Reservation{}, &NotAdmittedError{RetryAfter: time.Duration(l.paused.Load() - now.UnixNano())}
		}
		return l.tryQueued(ctx, now, set, cost, opt)
	}
	return l.wait(ctx, now, set, cost, opt, queued)
}

// rebaseEvery is how often now takes a fresh wall-clock reading.
const rebaseEvery = time.Second

// clock reads the clock as time.Now does, at half the cost on Linux: it reads only the
// monotonic clock, and returns a base reading and the time since it — base.Add(since)
// is time.Now, with its monotonic reading. The base is read again every rebaseEvery, so
// a step of the wall clock shows within a second.
func (l *Limiter) clock() (base *time.Time, since time.Duration) {
	b := l.base.Load()
	d := time.Since(*b)
	if d < 0 || d >= rebaseEvery {
		t := time.Now()
		l.base.Store(&t)
		return &t, 0
	}
	return b, d
}

// stamp expresses now as the clock does: the base reading and the time since it.
func (l *Limiter) stamp(now time.Time) (*time.Time, time.Duration) {
	b := l.base.Load()
	return b, now.Sub(*b)
}

// now is the clock's reading as a time.Time.
func (l *Limiter) now() time.Time {
	b, d := l.clock()
	return b.Add(d)
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
	if now := l.now(); l.waiting.Load() > 0 && !l.closed.Load() && t.After(now) {
		l.armTimerLocked(now, t)
	}
}

// fastReserve asks the Store to admit cost at once, within the pacing when it is on.
func (l *Limiter) fastReserve(ctx context.Context, now time.Time, set *limitSet, cost Cost) (Admission, error) {
	req := ReserveRequest{Now: now, Limits: set.limits, MaxInFlight: set.maxInFlight, Cost: cost, TTL: l.ttl}
	if l.pacing == 0 {
		return l.store.Reserve(ctx, req)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if at := l.pacedAt(set, cost); at.After(now) {
		return Admission{RetryAt: at}, nil
	}
	adm, err := l.store.Reserve(ctx, req)
	if err == nil && adm.OK {
		l.pacer.Charge(now, set.limits, cost)
	}
	return adm, err
}

// pacedAt returns the earliest time at which the pacing admits cost. l.mu must be held.
func (l *Limiter) pacedAt(set *limitSet, cost Cost) time.Time {
	at, _ := l.pacer.At(set.limits, cost)
	return at
}

// tryQueued is TryReserve when calls are waiting: it may admit only if none of them is of
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
		if adm.OK {
			b, d := l.stamp(now)
			return Reservation{l: l, ticket: adm.Ticket, cost: cost, base: b, since: d, opt: opt}, nil
		}
	}
	f := l.forecast(ctx, now, set, cost, opt.Priority)
	return Reservation{}, &NotAdmittedError{RetryAfter: f.Wait, Limit: f.Limit, InFlight: f.InFlight, Queued: ahead > 0}
}

// wait queues the call and blocks until the dispatcher admits it or ctx is done.
func (l *Limiter) wait(ctx context.Context, now time.Time, set *limitSet, cost Cost, opt Options, queued func()) (Reservation, error) {
	w := &waiter{ctx: ctx, cost: cost, opt: opt, service: set.service(cost), since: now, done: make(chan struct{})}
	l.mu.Lock()
	if l.closed.Load() {
		l.mu.Unlock()
		return Reservation{}, ErrClosed
	}
	l.sched.enqueue(w)
	l.waiting.Add(1)
	l.dispatchLocked(now)
	l.mu.Unlock()
	if queued != nil {
		queued()
	}

	select {
	case <-w.done:
		return w.res, w.err
	case <-ctx.Done():
	}
	l.mu.Lock()
	if w.decided {
		l.mu.Unlock()
		if w.err == nil {
			_ = w.res.Cancel() // admitted as the context ended: give it back
		}
	} else {
		l.sched.remove(w)
		l.waiting.Add(-1)
		l.dispatchLocked(l.now()) // the call behind may fit where this one did not
		l.mu.Unlock()
	}
	return Reservation{}, fmt.Errorf("quota: reserve: %w", ctx.Err())
}

// dispatchLocked admits waiting calls in scheduler order for as long as the Store admits
// the next one, then arms the timer for when the next one could fit. l.mu must be held.
func (l *Limiter) dispatchLocked(now time.Time) {
	if l.pausedAt(now) {
		if l.waiting.Load() > 0 {
			l.armTimerLocked(now, time.Unix(0, l.paused.Load()))
		}
		return
	}
	for {
		w := l.sched.next()
		if w == nil {
			return
		}
		set := l.set.Load()
		if l.pacing > 0 {
			if at := l.pacedAt(set, w.cost); at.After(now) {
				l.armTimerLocked(now, at)
				return
			}
		}
		adm, err := l.store.Reserve(w.ctx, ReserveRequest{Now: now, Limits: set.limits, MaxInFlight: set.maxInFlight, Cost: w.cost, TTL: l.ttl})
		if err == nil && adm.OK && l.pacing > 0 {
			l.pacer.Charge(now, set.limits, w.cost)
		}
		if err == nil && !adm.OK {
			at := adm.RetryAt
			if adm.Blocked < 0 {
				if p := now.Add(l.poll); at.After(p) {
					at = p
				}
			} else if l.backfillLocked(now, set, w, adm.RetryAt) {
				continue // the head itself fitted meanwhile (a settlement made room)
			}
			l.armTimerLocked(now, at)
			return
		}
		l.sched.admit(w)
		l.decideLocked(now, w, adm, err)
	}
}

// decideLocked hands w, taken out of the queue, its admission (or the Store's error).
func (l *Limiter) decideLocked(now time.Time, w *waiter, adm Admission, err error) {
	l.waiting.Add(-1)
	w.decided = true
	if err != nil {
		w.err = fmt.Errorf("quota: reserve: %w", err)
	} else {
		b, d := l.stamp(now)
		w.res = Reservation{l: l, ticket: adm.Ticket, cost: w.cost, base: b, since: d, opt: w.opt, waited: now.Sub(w.since)}
	}
	close(w.done)
}

// maxBackfillTries bounds the calls one backfill looks at and the Store requests it
// makes, so that a long queue costs a bounded amount of work and of round trips (with a
// networked Store) per dispatch.
const maxBackfillTries = 64

// backfillLocked admits, while head waits for the room it needs at headAt, queued calls
// that fit now and whose admission leaves head's earliest admission where it was: usage
// in a sliding window leaves in lumps, and the room a lump frees beyond what head needs
// would otherwise stay empty until the lump after (on average half a call's worth of
// every window, the throughput a window of whole calls loses). A call is tried by
// charging it and asking the Store again for head's time; if that moved later, the
// charge is taken back at once. Calls are tried in the scheduler's order, highest class
// first; one admitted so is not served out of turn (its class's credit is untouched),
// and its tenant is charged its service as for any admission. Nothing is backfilled
// under pacing, whose horizons every admission moves. It reports true when head itself
// was admitted meanwhile (a settlement between the Store's answers made room): the
// dispatcher then goes on. l.mu must be held.
func (l *Limiter) backfillLocked(now time.Time, set *limitSet, head *waiter, headAt time.Time) bool {
	if l.pacing > 0 {
		return false
	}
	tries := 0
	for _, b := range l.sched.candidates(head, maxBackfillTries) {
		if tries >= maxBackfillTries {
			break
		}
		tries++
		req := ReserveRequest{Now: now, Limits: set.limits, MaxInFlight: set.maxInFlight, Cost: b.cost, TTL: l.ttl}
		adm, err := l.store.Reserve(b.ctx, req)
		if err != nil || !adm.OK {
			continue
		}
		tries++
		req.Cost = head.cost
		again, err := l.store.Reserve(head.ctx, req)
		switch {
		case err == nil && again.OK: // head fits after all: admit both
			l.sched.backfill(b)
			l.decideLocked(now, b, adm, nil)
			l.sched.admit(head)
			l.decideLocked(now, head, again, nil)
			return true
		case err != nil || again.Blocked < 0 || again.RetryAt.After(headAt):
			_, _ = l.store.Settle(context.Background(), SettleRequest{Now: now, Limits: set.limits, Ticket: adm.Ticket})
			continue
		}
		l.sched.backfill(b)
		l.decideLocked(now, b, adm, nil)
	}
	return false
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
		l.dispatchLocked(l.now())
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
		l.dispatchLocked(l.now())
	}
}

// SetLimit changes the Amount of the limit with l's Dimension, Per and Meter, at run time (the
// adaptive controller uses it). Usage already counted is kept; a lower Amount holds new
// calls back until the window has drained below it. It returns an error when there is no
// such limit or the new one is invalid.
func (l *Limiter) SetLimit(lim Limit) error {
	if err := lim.Validate(); err != nil {
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
		return fmt.Errorf("quota: no %s limit on %s per %v to change: SetLimit changes only limits given to New", lim.Meter, lim.Dimension, lim.Per)
	}
	limits := append([]Limit(nil), old.limits...)
	limits[i] = lim
	l.set.Store(newLimitSet(limits, old.maxInFlight))
	l.mu.Unlock()
	l.kick()
	return nil
}

// SetMaxInFlight changes the cap on calls in flight; zero removes it.
func (l *Limiter) SetMaxInFlight(n int) error {
	if n < 0 {
		return fmt.Errorf("quota: SetMaxInFlight(%d): use a positive cap, or zero for none", n)
	}
	l.mu.Lock()
	old := l.set.Load()
	l.set.Store(newLimitSet(old.limits, n))
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

var errLimiterNil = errors.New("quota: zero Reservation: it was not admitted")
