package tollgate

import "github.com/tollgate-dev/tollgate/internal/pipeline"

// ErrClosed is returned by a Client's methods after Close.
var ErrClosed = pipeline.ErrClosed

// ErrNoTarget is matched (errors.Is) when a call names a model no configured target serves.
var ErrNoTarget = pipeline.ErrNoTarget

// ThrottleError reports that Bedrock throttled a call (HTTP 429 ThrottlingException).
// Tollgate retries throttled calls itself; a caller sees one only inside the final
// "giving up after N attempts" error, or from a stream that was throttled mid-way.
type ThrottleError = pipeline.ThrottleError

// DeadlineError reports a call refused at once because its forecast wait exceeds what is
// left of its context's deadline (see Config.WaitPastForecast). It matches
// context.DeadlineExceeded.
type DeadlineError = pipeline.DeadlineError

// GiveUpError is the final error of a call that failed after retries: it reads
// "giving up after N attempts: …" and wraps the last attempt's error.
type GiveUpError = pipeline.GiveUpError
