package quota

import (
	"errors"
	"fmt"
)

// ErrTooLarge is matched (errors.Is) by a *TooLargeError: a cost that no limit state
// could ever admit.
var ErrTooLarge = errors.New("quota: cost exceeds a limit")

// ErrClosed is returned by a Limiter's methods after Close, and to calls still waiting
// when it closes.
var ErrClosed = errors.New("quota: limiter closed")

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
