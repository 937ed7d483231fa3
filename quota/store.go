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
// current limits, the time, the cost), and each is all-or-nothing.
//
// Implementations must be safe for concurrent use, must never charge part of a cost, and
// must pass the conformance suite in package quota/quotatest.
type Store interface {
	// Reserve charges req.Cost to every limit in req.Limits at req.Now and opens a
	// reservation, if every limit admits it and fewer than req.MaxInFlight reservations
	// are open (no cap when MaxInFlight is zero). Otherwise it charges nothing and says
	// which limit refused and when, given the usage it holds, the cost could be admitted.
	// A limit admits a cost when the usage it counts in its window plus the cost is at
	// most its Amount.
	Reserve(ctx context.Context, req ReserveRequest) (Admission, error)

	// Settle ends the reservation req.Ticket: it replaces the reservation's charge by
	// req.Actual — refunding the difference where the charge was made, or charging the
	// excess at req.Now — and closes it. It reports false, and changes nothing, when the
	// ticket is unknown, already ended or expired.
	Settle(ctx context.Context, req SettleRequest) (bool, error)

	// Usage reports, for each limit in limits (in the same order), the usage the Store
	// counts against it at now and when that usage leaves the window, and the number of
	// open reservations.
	Usage(ctx context.Context, now time.Time, limits []Limit) (windows []Window, inFlight int, err error)
}

// ReserveRequest is what a Limiter asks its Store to admit.
type ReserveRequest struct {
	// Now is the time of the request; windows are reckoned from it.
	Now time.Time
	// Limits are the limits to admit against, all at once.
	Limits []Limit
	// MaxInFlight caps the open reservations; zero means no cap.
	MaxInFlight int
	// Cost is what the call reserves.
	Cost Cost
	// TTL is how long the reservation stays open if it is never settled. When it lapses
	// the reservation is closed, its charge is kept in full, and its in-flight slot freed.
	TTL time.Duration
}

// Admission is a Store's answer to a ReserveRequest.
type Admission struct {
	// OK reports whether the cost was charged and a reservation opened.
	OK bool
	// Ticket identifies the open reservation when OK; it is never zero then.
	Ticket uint64
	// RetryAt is, when not OK, the earliest time at which the cost could be admitted
	// given the usage the Store holds now (other callers may take the room first). When
	// only the in-flight cap refused, it is the time the oldest open reservation lapses.
	RetryAt time.Time
	// Blocked is, when not OK, the index in Limits of the limit that refused last to
	// clear, or -1 when the in-flight cap refused.
	Blocked int
}

// SettleRequest ends a reservation.
type SettleRequest struct {
	// Now is the time of the settlement; an excess charge lands at Now. It may be the
	// zero time when Actual exceeds the reservation in no dimension: a refund goes where
	// the charge was made and needs no clock (the Limiter saves reading it).
	Now time.Time
	// Limits are the limits the reservation was charged to, as the Limiter has them now.
	Limits []Limit
	// Ticket is the reservation's ticket from Admission.
	Ticket uint64
	// Actual is what the call really used. Cost{} refunds everything (a cancellation).
	Actual Cost
}

// Window is the usage a Store counts against one limit.
type Window struct {
	// Used is the usage counted in the limit's window now; a new cost is admitted when
	// Used + cost <= Amount. It may exceed Amount after settlements that charged more
	// than was reserved.
	Used int64
	// Span is the length of time the Store counts usage for: Per, plus the width of one
	// sub-window for stores that keep sub-window sums (the safe side of the approximation).
	Span time.Duration
	// Expiring lists, oldest first, the amounts that make up Used and when each leaves
	// the window.
	Expiring []Expiry
}

// Expiry is an amount of usage and the time it leaves its window.
type Expiry struct {
	// At is when Amount leaves the window.
	At time.Time
	// Amount is the usage that leaves.
	Amount int64
}
