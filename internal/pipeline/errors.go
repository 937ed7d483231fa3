package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tollgate-dev/tollgate/quota"
)

// ErrClosed is returned by a Client's methods after Close.
var ErrClosed = errors.New("tollgate: client closed")

// ErrNoTarget is matched (errors.Is) when a call names a model no configured target serves.
var ErrNoTarget = errors.New("tollgate: no target serves the model")

// ErrThrottled is matched (errors.Is) by the error of a call that failed because Bedrock
// throttled it: it ran out of attempts and its last one was throttled. The SDK's
// *types.ThrottlingException is in the chain too (errors.As). A stream throttled after
// its start reports the SDK's error through the stream's Err, as the SDK does.
var ErrThrottled = errors.New("tollgate: throttled")

// ErrDeadline is matched (errors.Is) by the error of a call refused at once because its
// forecast wait exceeds what is left of its context's deadline (Config.WaitPastForecast);
// the error matches context.DeadlineExceeded too.
var ErrDeadline = errors.New("tollgate: the forecast wait exceeds the deadline")

// ThrottleError reports that Bedrock throttled a call (HTTP 429 ThrottlingException).
// Tollgate retries throttled calls itself; a caller sees one only inside the final
// "giving up after N attempts" error, or from a stream that was throttled mid-way.
type ThrottleError struct {
	// Model is the modelId the call was sent with; Region and Target name where.
	Model, Region, Target string
	// Reason is what the message says bound: "tokens", "requests", "tokens_per_day" or
	// "unknown" (the message does not reliably say which quota it was).
	Reason string
	// Message is the service's message.
	Message string
	// Err is the SDK's error (a *types.ThrottlingException).
	Err error
}

func (e *ThrottleError) Error() string {
	return fmt.Sprintf("tollgate: %s throttled %s (%s): %s", e.Target, e.Model, e.Reason, e.Message)
}

// Unwrap returns the SDK's error, so errors.As finds *types.ThrottlingException too.
func (e *ThrottleError) Unwrap() error { return e.Err }

// Is makes a *ThrottleError match ErrThrottled.
func (e *ThrottleError) Is(target error) bool { return target == ErrThrottled }

// DeadlineError reports a call refused at once because its forecast wait exceeds what is
// left of its context's deadline (see Config.WaitPastForecast).
type DeadlineError struct {
	// Wait is the predicted wait; Left is what remained of the deadline.
	Wait, Left time.Duration
	// Limit is the limit that binds the wait (the zero Limit when the in-flight cap does).
	Limit quota.Limit
	// Target is the target the forecast was for.
	Target string
}

func (e *DeadlineError) Error() string {
	return fmt.Sprintf("tollgate: the forecast wait of %v on %s (bound by %v) exceeds the %v left before the deadline",
		e.Wait.Round(time.Millisecond), e.Target, e.Limit, e.Left.Round(time.Millisecond))
}

// Is makes a *DeadlineError match ErrDeadline, and context.DeadlineExceeded, as the wait
// would have ended.
func (e *DeadlineError) Is(target error) bool {
	return target == ErrDeadline || target == context.DeadlineExceeded
}

// GiveUpError is the final error of a call that failed after retries: it reads
// "giving up after N attempts: …" and wraps the last attempt's error.
type GiveUpError struct {
	Attempts int
	Err      error
}

func (e *GiveUpError) Error() string {
	return fmt.Sprintf("tollgate: giving up after %d attempts: %v", e.Attempts, e.Err)
}

// Unwrap returns the last attempt's error.
func (e *GiveUpError) Unwrap() error { return e.Err }
