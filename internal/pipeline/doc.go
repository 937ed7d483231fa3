// Package pipeline is the call pipeline of Tollgate, written once: every call, from the
// Go client's SDK methods or from a gateway's HTTP handlers, goes through Engine.Do:
//
//	estimate ─▶ pick a target ─▶ admit (quota) ─▶ send one attempt ─▶ settle ─▶ observe
//
// with retries (throttles queue again at the head of their class, possibly on another
// target; server errors, timeouts and lost connections back off), a breaker per target,
// adaptive limits and right-sized max_tokens. call.go holds a call's life top to bottom.
//
// An adapter supplies two things: a Call, which describes the call (model id, priority,
// tenant, task, the request to estimate with its max_tokens), and a Send, which makes
// one attempt to the Target the pipeline chose (its Region, Model, Endpoint, an AWS
// configuration to sign with, an SDK client) and returns the usage the service reported
// or the attempt's error. The outcome of every attempt goes to one place, the target's
// end: it settles or cancels the reservation, calibrates the estimator, adapts the
// limits, updates the breaker and tells the Observer. A streaming adapter calls
// Attempt.Defer before Send returns (after the 200) and reports the stream's end — its
// usage, or the failure that broke it and the output seen — through the function it
// got, which ends the attempt through the same path.
//
// Client (client.go, methods.go) is the adapter for the AWS SDK's Bedrock Runtime
// methods, with every knob of Config; the public tollgate.Client is a thin wrapper over
// it that keeps the knobs at their defaults, and the CLI, the batch runner and the bench
// use it directly.
//
// A gateway handler, in outline:
//
//	req := estimate.ParseInvokeBody(body) // the estimator's representation
//	rec, err := engine.Do(ctx, pipeline.Call{Model: modelID, Priority: p, Tenant: tenant, Request: req},
//		func(ctx context.Context, a *pipeline.Attempt) (invoke.Usage, error) {
//			resp, err := forward(ctx, a.Target.Endpoint, a.Target.AWS, a.Target.Model, body) // re-signed
//			if err != nil {
//				return invoke.Usage{}, err // e.g. &smithy.GenericAPIError{Code: "ThrottlingException"}
//			}
//			return usageFromHeaders(resp), nil
//		})
//	// rec.Result(): attempts, throttles, wait, target, reservation.
package pipeline
