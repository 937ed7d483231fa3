package quota

import (
	"context"
	"time"
)

// Store holds the usage state of a Limiter's limits: what was charged in each window and
// which reservations are still open. The Limiter keeps its scheduler (queue, priorities,
// waiting) in process and asks the Store only to admit, settle and report. Several
// Limiters — in one process or, with a shared Store such as Redis, in many — may use one
// Store; they then share the quotas.
//
// The interface is shaped so that a networked implementation needs one atomic round trip
// per Reserve and one per Settle: each call carries everything the Store needs (the
// current limits, the time, the cost), and each is all-or-nothing. The limits are the
// Limiter's as they are now; a limit is identified by its Dimension, Per and Meter, so
// that a change of Amount keeps the usage counted.
//
// Implementations must be safe for concurrent use, must never charge part of a cost, and
// must pass the conformance suite in package quota/quotatest.
type Store interface {
	// Reserve charges cost to every limit in limits at now and opens a reservation, if
	// every limit admits it and fewer than maxInFlight reservations are open (no cap when
	// maxInFlight is zero); the ticket names the reservation and is never zero. A limit
	// admits a cost when the usage it counts in its window plus the cost is at most its
	// Amount. A reservation never settled lapses after ttl: it is closed, its charge kept
	// in full, its in-flight slot freed.
	//
	// Otherwise Reserve charges nothing and returns a zero ticket, the earliest time at
	// which the cost could be admitted given the usage held now (other callers may take
	// the room first), and the index in limits of the limit that refused last to clear —
	// or -1 when only the in-flight cap refused, retryAt then being the time the oldest
	// open reservation lapses.
	Reserve(ctx context.Context, now time.Time, limits []Limit, maxInFlight int, cost Cost, ttl time.Duration) (ticket uint64, retryAt time.Time, blocked int, err error)

	// Settle ends the reservation ticket: it replaces the reservation's charge by actual —
	// refunding the difference where the charge was made, or charging the excess at now —
	// and closes it. now may be the zero time when actual exceeds the reservation in no
	// dimension: a refund needs no clock. Settle reports false, and changes nothing, when
	// the ticket is unknown, already ended or expired. A zero actual refunds everything
	// (a cancellation).
	Settle(ctx context.Context, now time.Time, limits []Limit, ticket uint64, actual Cost) (bool, error)

	// Usage reports, for each limit in limits (in the same order), the usage counted in
	// its window at now — which may exceed its Amount after settlements that charged
	// more than was reserved — and the number of open reservations. When need is not
	// nil it holds one amount per limit, at most the limit's Amount, and fits[i] is the
	// earliest time, from now on, at which limits[i] would admit need[i] given the usage
	// held now if nothing more were charged (now when it would at once).
	Usage(ctx context.Context, now time.Time, limits []Limit, need []int64) (used []int64, fits []time.Time, inFlight int, err error)
}

// window is the usage a meter counts against one limit.
type window struct {
	used int64         // usage counted now; may exceed the Amount after excess settlements
	span time.Duration // how long usage counts: Per, plus one sub-window for a Sliding limit
	// expiring lists, oldest first, the amounts that make up used and when each leaves.
	expiring []expiry
}

// expiry is an amount of usage and the time it leaves its window.
type expiry struct {
	at     time.Time
	amount int64
}

// fitAt returns the earliest time from now at which need more fits under amount in w,
// if nothing more is charged: now when it fits at once, else when enough of the usage
// has left, else (usage that no listed expiry accounts for) one span from now.
func (w *window) fitAt(now time.Time, amount, need int64) time.Time {
	short := need - (amount - w.used)
	if short <= 0 {
		return now
	}
	for _, e := range w.expiring {
		if short -= e.amount; short <= 0 {
			if e.at.Before(now) {
				return now
			}
			return e.at
		}
	}
	return now.Add(w.span)
}

// span returns how long a limit's usage counts in the memory store's reckoning: Per, and
// for a Sliding limit one sub-window more (see subWindows).
func span(l Limit) time.Duration {
	if l.Meter != Sliding {
		return l.Per
	}
	return time.Duration((int64(l.Per) + subWindows - 1) / subWindows * (subWindows + 1))
}
