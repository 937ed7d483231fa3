package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/smithy-go/middleware"

	"github.com/tollgate-dev/tollgate/internal/estimate"
	"github.com/tollgate-dev/tollgate/internal/invoke"
	"github.com/tollgate-dev/tollgate/quota"
)

// Client is a Bedrock Runtime client over an Engine: the SDK's methods (methods.go) as
// adapters, with every knob of Config. The public tollgate.Client is a thin wrapper over
// it; the CLI, the batch runner and the bench use it directly, for the knobs and
// readings (Snapshot, Forecast, Predict, Options.Queued) the public API leaves out. It is
// safe for concurrent use; Close releases it.
type Client struct {
	e    *Engine
	call Options // what its calls carry (With)
}

// Options is what a Client's calls carry besides their input.
type Options struct {
	// Priority and Tenant place the calls in the admission queue; Task keys the output
	// lengths learned to right-size max_tokens.
	Priority quota.Priority
	Tenant   string
	Task     string
	// Queued, when set, runs once per call, when the call has reached its target's
	// admission queue (admitted at once or waiting in its class); a call that fails
	// before (a bad request, a deadline it cannot meet) never runs it. A caller handing
	// calls over one at a time, in priority order, waits for it before starting the next,
	// so that the calls reach the queue in that order: calls prepared in parallel reach it
	// in whatever order their preparation ends. It must not block.
	Queued func()
}

// NewClient returns a Client for cfg, telling obs (nil: nobody) what happens; see New.
func NewClient(ctx context.Context, cfg Config, obs Observer) (*Client, error) {
	e, err := New(ctx, cfg, obs)
	if err != nil {
		return nil, err
	}
	return &Client{e: e}, nil
}

// With returns a Client whose calls carry o in place of c's, sharing c's engine (its
// targets, queues and learning); closing either closes both.
func (c *Client) With(o Options) *Client {
	v := *c
	v.call = o
	return &v
}

// Close stops admitting calls, fails those waiting with ErrClosed, and waits for the
// streams it handed out to end — read to their last event, or closed with the stream's
// Close, as the SDK requires of every stream: Close blocks while a caller holds a stream
// it neither reads nor closes.
func (c *Client) Close() error {
	c.e.Close()
	return nil
}

// Snapshot reports every target's quota state, for progress displays and metrics.
func (c *Client) Snapshot(ctx context.Context) ([]TargetSnapshot, error) {
	return c.e.Snapshot(ctx)
}

// Forecast predicts how long a Converse call with in would wait for admission now, at
// the client's priority (With), on the target that would admit it first.
func (c *Client) Forecast(ctx context.Context, in *bedrockruntime.ConverseInput) (Prediction, error) {
	if in == nil || in.ModelId == nil {
		return Prediction{}, fmt.Errorf("tollgate: Converse input has no ModelId: set it to a model or profile id")
	}
	call, err := c.converseCall(*in.ModelId, in.System, in.Messages, in.ToolConfig, in.InferenceConfig)
	if err != nil {
		return Prediction{}, err
	}
	return c.e.Forecast(ctx, call)
}

// Config returns the configuration c runs with, its defaults filled in.
func (c *Client) Config() Config { return c.e.cfg }

// Predict returns the learned q-quantile of task's output length per call, in tokens,
// once the task has Config.Learners replies.
func (c *Client) Predict(task string, q float64) (int, bool) { return c.e.Predict(task, q) }

// describe is the pipeline's description of a call to model with req, carrying c's
// options; resizable says the adapter sends a right-sized max_tokens.
func (c *Client) describe(model string, req *estimate.Request, resizable bool) Call {
	return Call{Model: model, Priority: c.call.Priority, Tenant: c.call.Tenant, Task: c.call.Task,
		Request: req, RightSize: resizable, Queued: c.call.Queued}
}

// do runs a described call through the pipeline with send, and attaches what the call
// went through to its output's metadata (set) or to its error.
func (c *Client) do(ctx context.Context, call Call, send Send, set func(*Record)) error {
	rec, err := c.e.Do(ctx, call, send)
	if err != nil {
		if rec.Result().Attempts > 0 {
			return &callError{err: err, rec: rec}
		}
		return err
	}
	set(rec)
	return nil
}

type resultKey struct{}

// ResultOf returns what the call went through whose output carries md (the output's
// ResultMetadata). For a stream, read it once the stream has ended.
func ResultOf(md middleware.Metadata) (Result, bool) {
	rec, ok := md.Get(resultKey{}).(*Record)
	return rec.Result(), ok
}

// ErrorResult returns what a failed call went through, when it made at least one attempt.
func ErrorResult(err error) (Result, bool) {
	var ce *callError
	if !errors.As(err, &ce) {
		return Result{}, false
	}
	return ce.rec.Result(), true
}

// callError is a call's error with what the call went through; it reads and unwraps as
// the error itself.
type callError struct {
	err error
	rec *Record
}

func (e *callError) Error() string { return e.err.Error() }
func (e *callError) Unwrap() error { return e.err }

// nobody is the Observer of an Engine given none.
type nobody struct{}

func (nobody) Admitted(*Target, *Call, int, time.Duration, quota.Cost)             {}
func (nobody) Retrying(*Target, *Call, invoke.Kind)                                {}
func (nobody) Ended(*Target, *Call, invoke.Outcome, invoke.Usage, int, quota.Cost) {}
func (nobody) Finished(string, *Target, *Call, string)                             {}
func (nobody) Counted(*Target, int)                                                {}
func (nobody) Sampled(*Target, TargetSnapshot)                                     {}
