// Package tollgate is a quota-aware client for Amazon Bedrock: a drop-in for the AWS SDK's
// *bedrockruntime.Client that turns throttling and lost work into queueing in priority
// order, at the highest rate the quotas allow.
//
// # Per-call options and results
//
// A call's priority, tenant and task come from the Client it is made on; With returns a
// Client whose calls carry other ones, sharing the same targets and queues (as
// slog.Logger.With shares its handler):
//
//	hi := client.With(tollgate.Call{Priority: tollgate.High, Task: "review"})
//	out, err := hi.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(id), ...})
//	res, _ := tollgate.ResultOf(out.ResultMetadata) // attempts, throttles, wait, target
//
// A call that fails matches, with errors.Is, ErrThrottled (out of attempts, the last
// one throttled), ErrDeadline (its forecast wait exceeds its context's deadline; it
// matches context.DeadlineExceeded too), ErrNoTarget or ErrClosed; its message names the
// target, the reason and the figures.
//
// # The pipeline
//
// Each call goes through one pipeline, written once in package internal/pipeline:
//
//	estimate ─▶ route ─▶ admit (quota) ─▶ one attempt ─▶ settle ─▶ learn
//
// The Client here forwards each method to pipeline.Client, whose four SDK methods
// (internal/pipeline/methods.go) are adapters over it: each describes its call (model,
// priority, tenant, task, the request to estimate) and supplies how to send one attempt
// to a chosen target and read its usage. Following one Converse call:
//
//  1. Client.Converse calls pipeline.Client.Converse, which describes the call
//     (pipeline.Client.converseCall: the input's system prompt, messages, tools and
//     inference configuration read into the estimator's representation by
//     converse.Parts, as ConverseStream's are, plus the per-call options of With) and
//     hands it, with its send function, to pipeline.Client.do, which calls
//     pipeline.Engine.Do.
//  2. Engine.Do calls Engine.plan: Engine.groupFor finds the targets serving the model's
//     base model; Engine.rightSize sets max_tokens from the task's learned output length
//     when Config.RightSizeMaxTokens is on (or holds the call while the task's first
//     replies are learned); the exact count (Call.Count, when Config.UseCountTokens) or
//     the estimator's count (estimate.Estimator.Input), padded by the margin, and
//     max_tokens make the cost to reserve (estimate.ReserveCost).
//  3. Engine.admit picks the target with the earliest admission (route.Router.Pick over
//     each target's forecast, quota.Limiter.Forecast), refuses at once a call whose forecast wait
//     exceeds its deadline (ErrDeadline), and waits in priority order for the
//     reservation (quota.Limiter.Wait).
//  4. Engine.Do calls the adapter's send, under the attempt timeout: Converse's
//     sends a copy of the input with the target's model id (and the right-sized
//     max_tokens) through the target's SDK client, whose own retries are off, and reads
//     the usage of the reply (invoke.ConverseUsage). The error, if any, is classified
//     (invoke.Classify).
//  5. Target.end receives the outcome: it settles the reservation at the reported usage
//     (estimate.SettleCost, quota.Reservation.Settle) or cancels it for a refusal,
//     calibrates the estimator (estimate.Estimator.Observe) and the output predictor,
//     adapts the target's limits (Target.succeeded, or Target.throttled, which lowers the
//     effective limit and pauses the target), updates the router's breaker, and tells the
//     observer (internal/metrics) once.
//  6. Engine.Do returns on success or a client error; a throttle goes back to step 3 at
//     the head of its class, possibly on another target; server errors, timeouts and lost
//     connections back off first (exponentially, with jitter). The streaming methods' send returns at
//     the start of the stream; the stream's end (its usage, or the failure that broke it)
//     reaches Target.end through the function Attempt.Defer gave.
package tollgate

import (
	"time"

	"github.com/aws/smithy-go/middleware"

	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/quota"
)

// Priority is a call's class in the queue; see quota.Priority. The zero value is Normal.
type Priority = quota.Priority

// The priority classes, highest first.
const (
	Critical   = quota.Critical
	High       = quota.High
	Normal     = quota.Normal
	Low        = quota.Low
	Background = quota.Background
)

// Call is what a Client's calls carry besides their input (see Client.With).
type Call struct {
	// Priority is the calls' class in the queue.
	Priority Priority
	// Tenant shares the fair share of the class among the calls of one tenant (virtual
	// token counters; see quota.Limiter).
	Tenant string
	// Task is the key under which output lengths are learned to right-size max_tokens
	// (Config.RightSizeMaxTokens).
	Task string
}

// Result is what one call went through. A stream's throttle or failure after its start
// is counted when the stream ends.
type Result struct {
	// Attempts counts the attempts made; Throttles those Bedrock throttled.
	Attempts, Throttles int
	// Waited is the total time spent waiting for admission, over all attempts.
	Waited time.Duration
	// Target names where the last attempt went: "region/model".
	Target string
	// MaxTokens is the max_tokens the last attempt sent (0: the request's own, unset).
	MaxTokens int
}

// ResultOf returns what the call went through whose output carries md (the output's
// ResultMetadata). For a stream, read it once the stream has ended.
func ResultOf(md middleware.Metadata) (Result, bool) {
	r, ok := pipeline.ResultOf(md)
	return Result{Attempts: r.Attempts, Throttles: r.Throttles, Waited: r.Waited, Target: r.Target, MaxTokens: r.MaxTokens}, ok
}
