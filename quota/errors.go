package quota

import "errors"

// ErrTooLarge is matched (errors.Is) by the error for a cost that exceeds a limit's
// Amount: it can never be admitted, however long it waits. Split the call instead. The
// error's message names the limit and the cost.
var ErrTooLarge = errors.New("quota: cost exceeds a limit")

// ErrClosed is returned by a Limiter's methods after Close, and to calls still waiting
// when it closes.
var ErrClosed = errors.New("quota: limiter closed")

// tooLargeError is the error for a cost that exceeds a limit: its message names both.
type tooLargeError string

func (e tooLargeError) Error() string { return string(e) }

// Is reports whether target is ErrTooLarge.
func (e tooLargeError) Is(target error) bool { return target == ErrTooLarge }
