package quota

import (
	"errors"
	"fmt"
	"time"
)

// ErrTooLarge is matched (errors.Is) by a *TooLargeError: a cost that no limit state
// could ever admit.
var ErrTooLarge = errors.New("quota: cost exceeds a limit")

// ErrClosed is returned by a Limiter's methods after Close, and to calls still waiting
// when it closes.
var ErrClosed = errors.New("quota: limiter closed")

// ErrNotAdmitted is matched (errors.Is) by a *NotAdmittedError from TryReserve.
var ErrNotAdmitted = errors.New("quota: not admitted")

// TooLargeError reports a cost that exceeds a limit's Amount, or a limiter whose in-flight
// cap is zero: it can never be admitted, however long it waits. Split the call instead.
type TooLargeError struct {
	// Limit is the limit the cost exceeds.
	Limit Limit
	// Cost is the cost's amount in the limit's dimension.
	Cost int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("quota: a cost of %d %s can never be admitted under the limit %q: split the call or raise the limit",
		e.Cost, e.Limit.Dimension, e.Limit.String())
}

// Is reports whether target is ErrTooLarge.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// NotAdmittedError is TryReserve's answer when a call cannot be admitted now.
type NotAdmittedError struct {
	// RetryAfter is how long to wait before trying again: the predicted wait, from the
	// usage now and the calls queued ahead.
	RetryAfter time.Duration
	// Limit is the limit that binds. It is the zero Limit when the in-flight cap or the
	// calls queued ahead bind instead (see InFlight and Queued).
	Limit Limit
	// InFlight reports that the cap on calls in flight binds.
	InFlight bool
	// Queued reports that calls of the same or a higher priority are waiting ahead.
	Queued bool
}

func (e *NotAdmittedError) Error() string {
	why := "limit " + e.Limit.String()
	switch {
	case e.Queued:
		why = "calls of the same or a higher priority are queued"
	case e.InFlight:
		why = "the cap on calls in flight is reached"
	}
	return fmt.Sprintf("quota: not admitted (%s): retry after %v", why, e.RetryAfter)
}

// Is reports whether target is ErrNotAdmitted.
func (e *NotAdmittedError) Is(target error) bool { return target == ErrNotAdmitted }
