package tollgate

import "github.com/tollgate-dev/tollgate/internal/pipeline"

// ErrClosed is returned by a Client's methods after Close.
var ErrClosed = pipeline.ErrClosed

// ErrNoTarget is matched (errors.Is) when a call names a model no configured target serves.
var ErrNoTarget = pipeline.ErrNoTarget

// ErrThrottled is matched (errors.Is) by the error of a call that ran out of attempts
// (Config.MaxAttempts), its last one throttled by Bedrock; the message names the target
// and the quota the service's message points at ("tokens", "requests",
// "tokens_per_day"), and the SDK's *types.ThrottlingException is in the chain
// (errors.As). Tollgate retries throttles itself: a caller sees this only when attempts
// run out. A stream throttled after its start reports the SDK's error through the
// stream's Err, as the SDK does.
var ErrThrottled = pipeline.ErrThrottled

// ErrDeadline is matched (errors.Is) by the error of a call refused at once, before any
// attempt, because its forecast wait for admission exceeds what is left of its
// context's deadline; the message names the forecast wait, the binding limit and the
// target. The error matches context.DeadlineExceeded too, as the wait would have ended.
var ErrDeadline = pipeline.ErrDeadline
