package tollgate

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/tollgate-dev/tollgate/internal/estimate"
	"github.com/tollgate-dev/tollgate/internal/metrics"
	"github.com/tollgate-dev/tollgate/internal/pipeline"
)

// Client is a quota-aware Bedrock Runtime client with the methods and types of
// *bedrockruntime.Client. It is safe for concurrent use; Close releases it.
type Client struct {
	e     *pipeline.Engine
	count bool // Config.UseCountTokens
	call  Call // what its calls carry (With)
}

// New returns a Client for cfg: it resolves each target's model in the catalog and its
// limits (explicit, discovered, or catalog defaults — each source is logged), and builds
// one SDK client per target with the SDK's retries off.
func New(ctx context.Context, cfg Config) (*Client, error) {
	pc, err := cfg.pipeline(ctx)
	if err != nil {
		return nil, err
	}
	m, err := metrics.New(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("tollgate: registering metrics: %w", err)
	}
	e, err := pipeline.New(ctx, pc, m)
	if err != nil {
		return nil, err
	}
	return &Client{e: e, count: cfg.UseCountTokens}, nil
}

// With returns a Client whose calls carry o in place of c's, sharing c's targets, queues
// and learning; closing either closes both.
func (c *Client) With(o Call) *Client {
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

// TargetSnapshot is one target's quota state: usage and headroom per limit (effective
// amounts, after adaptation), calls in flight and queued per class, and where its limits
// came from.
type TargetSnapshot = pipeline.TargetSnapshot

// Snapshot reports every target's quota state, for progress displays and metrics.
func (c *Client) Snapshot(ctx context.Context) ([]TargetSnapshot, error) {
	return c.e.Snapshot(ctx)
}

// Prediction is Forecast's answer: the predicted wait, the limit that binds it, the
// target that would admit the call first, and what the call would reserve.
type Prediction = pipeline.Prediction

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

// describe is the pipeline's description of a call to model with req, carrying c's
// per-call options; resizable says the adapter sends a right-sized max_tokens.
func (c *Client) describe(model string, req *estimate.Request, resizable bool) pipeline.Call {
	return pipeline.Call{Model: model, Priority: c.call.Priority, Tenant: c.call.Tenant, Task: c.call.Task,
		Request: req, RightSize: resizable, Queued: c.call.Queued}
}

// do runs a described call through the pipeline with send, and attaches what the call
// went through to its output's metadata (set) or to its error.
func (c *Client) do(ctx context.Context, call pipeline.Call, send pipeline.Send, set func(*pipeline.Record)) error {
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
