package quota

import (
	"context"
	"fmt"
	"math"
	"time"
)

// A Reservation is a call admitted by a Limiter, holding its cost against the limits until
// it is ended — exactly once — by Settle or Cancel. Ending it again is a no-op that
// returns nil, and so is ending a copy: copies share one identity. A reservation never
// ended lapses after Config.ReservationTTL, charged in full.
//
// The zero Reservation was not admitted; ending it returns an error.
type Reservation struct {
	l      *Limiter
	ticket uint64
	cost   Cost
	base   *time.Time    // with since, when it was admitted (see Limiter.clock)
	since  time.Duration // since base
	waited time.Duration
	opt    Options
}

// Cost returns what the reservation holds.
func (r Reservation) Cost() Cost { return r.cost }

// Time returns when the call was admitted.
func (r Reservation) Time() time.Time {
	if r.base == nil {
		return time.Time{}
	}
	return r.base.Add(r.since)
}

// Waited returns how long the call waited in the queue before it was admitted.
func (r Reservation) Waited() time.Duration { return r.waited }

// Options returns the options the call was reserved with.
func (r Reservation) Options() Options { return r.opt }

// Settle ends the reservation with the cost the call really used: where actual is below
// the reserved cost the difference is refunded into the sub-window where it was charged,
// so the room returns at once; where it is above, the excess is charged now. Settling an
// ended reservation does nothing and returns nil. A negative amount is an error and
// leaves the reservation open.
func (r Reservation) Settle(actual Cost) error {
	if err := actual.validate(); err != nil {
		return err
	}
	return r.end(actual)
}

// Cancel ends the reservation and refunds all of it, as if the call had never been made.
// Cancelling an ended reservation does nothing and returns nil.
func (r Reservation) Cancel() error { return r.end(Cost{}) }

func (r *Reservation) end(actual Cost) error {
	l := r.l
	if l == nil {
		return errLimiterNil
	}
	set := l.set.Load()
	// The clock is read only when something needs it: an excess charge lands now, the
	// hold time feeds the in-flight forecast, and waiters are dispatched at now.
	var now time.Time
	if exceeds(actual, r.cost) || set.maxInFlight > 0 || l.waiting.Load() > 0 {
		now = l.now()
	}
	var ok bool
	if l.mem != nil {
		ok = l.mem.settle(now, set.limits, set, r.ticket, &actual)
	} else {
		var err error
		if ok, err = l.store.Settle(context.Background(), SettleRequest{Now: now, Limits: set.limits, Ticket: r.ticket, Actual: actual}); err != nil {
			return fmt.Errorf("quota: settle: %w", err)
		}
	}
	if !ok {
		return nil
	}
	if set.maxInFlight > 0 {
		l.observeHold(now.Sub(r.Time()))
	}
	if l.pacing > 0 {
		if now.IsZero() {
			now = l.now()
		}
		l.mu.Lock()
		l.pacer.Refund(set.limits, positive(r.cost.sub(actual)))      // refunds give their pace back
		l.pacer.Charge(now, set.limits, positive(actual.sub(r.cost))) // excess charges take more
		l.mu.Unlock()
	}
	if l.waiting.Load() > 0 {
		if now.IsZero() {
			now = l.now()
		}
		l.mu.Lock()
		l.sched.correct(r.opt, set.service(actual)-set.service(r.cost))
		if !l.closed.Load() {
			l.dispatchLocked(now)
		}
		l.mu.Unlock()
	}
	return nil
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
