package quota

import (
	"context"
	"math"
	"time"
)

// A Reservation is a Limiter's answer to a call: admitted (OK), holding its cost against
// the limits until it is ended — exactly once — by Settle or Cancel; or, from Reserve,
// not admitted now, holding nothing, with the time to wait before trying again (Delay).
// Ending a reservation again is a no-op, and so is ending a copy: copies share one
// identity. A reservation never ended lapses after Config.ReservationTTL, charged in
// full.
//
// The zero Reservation is not OK and holds nothing.
type Reservation struct {
	l      *Limiter // nil when not admitted
	ticket uint64
	cost   Cost
	at     time.Time
	waited time.Duration
	delay  time.Duration // when not admitted: how long to wait
	opt    Options
}

// OK reports whether the call was admitted.
func (r Reservation) OK() bool { return r.l != nil }

// Delay returns how long to wait before trying again when the call was not admitted (the
// predicted wait), and zero when it was.
func (r Reservation) Delay() time.Duration { return r.delay }

// Waited returns how long the call waited in the queue before it was admitted.
func (r Reservation) Waited() time.Duration { return r.waited }

// Settle ends the reservation with the cost the call really used: where actual is below
// the reserved cost the difference is refunded into the sub-window where it was charged,
// so the room returns at once; where it is above, the excess is charged now. A negative
// amount counts as zero. Settling a reservation that was not admitted or has ended does
// nothing. When a shared Store cannot be reached, the reservation stays open and lapses
// after Config.ReservationTTL, charged in full: the safe side.
func (r Reservation) Settle(actual Cost) { r.end(positive(actual)) }

// Cancel ends the reservation and refunds all of it, as if the call had never been made.
// Cancelling a reservation that was not admitted or has ended does nothing.
func (r Reservation) Cancel() { r.end(Cost{}) }

func (r *Reservation) end(actual Cost) {
	l := r.l
	if l == nil {
		return
	}
	set := l.set.Load()
	// The clock is read only when something needs it: an excess charge lands now, the
	// hold time feeds the in-flight forecast, and waiters are dispatched at now.
	var now time.Time
	if exceeds(actual, r.cost) || set.maxInFlight > 0 || l.waiting.Load() > 0 {
		now = time.Now()
	}
	var ok bool
	if l.mem != nil {
		ok = l.mem.settle(now, set.limits, set, r.ticket, &actual)
	} else {
		ok, _ = l.store.Settle(context.Background(), now, set.limits, r.ticket, actual)
	}
	if !ok {
		return
	}
	if set.maxInFlight > 0 {
		l.observeHold(now.Sub(r.at))
	}
	if l.pacing > 0 {
		if now.IsZero() {
			now = time.Now()
		}
		l.mu.Lock()
		l.paceLocked(now, set, positive(r.cost.sub(actual)), -1) // refunds give their pace back
		l.paceLocked(now, set, positive(actual.sub(r.cost)), 1)  // excess charges take more
		l.mu.Unlock()
	}
	if l.waiting.Load() > 0 {
		if now.IsZero() {
			now = time.Now()
		}
		l.mu.Lock()
		l.sched.correct(r.opt, set.service(actual)-set.service(r.cost))
		if !l.closed.Load() {
			l.dispatchLocked(now)
		}
		l.mu.Unlock()
	}
}

// sub returns c − o, dimension by dimension.
func (c Cost) sub(o Cost) Cost {
	return Cost{c.Requests - o.Requests, c.Tokens - o.Tokens, c.InputTokens - o.InputTokens, c.OutputTokens - o.OutputTokens}
}

// positive returns c with negative amounts set to zero.
func positive(c Cost) Cost {
	return Cost{max(c.Requests, 0), max(c.Tokens, 0), max(c.InputTokens, 0), max(c.OutputTokens, 0)}
}

// exceeds reports whether a is above b in any dimension.
func exceeds(a, b Cost) bool {
	return a.Requests > b.Requests || a.Tokens > b.Tokens || a.InputTokens > b.InputTokens || a.OutputTokens > b.OutputTokens
}

// holdWeight weighs the moving average of hold times: each new sample counts 1/8.
const holdWeight = 0.125

// observeHold folds a reservation's hold time into the moving average Forecast uses for
// the in-flight cap.
func (l *Limiter) observeHold(d time.Duration) {
	for {
		old := l.hold.Load()
		avg := math.Float64frombits(old)
		next := d.Seconds()
		if old != 0 {
			next = avg + holdWeight*(next-avg)
		}
		if l.hold.CompareAndSwap(old, math.Float64bits(next)) {
			return
		}
	}
}
