package tollgate

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/tollgate-dev/tollgate/internal/metrics"
	"github.com/tollgate-dev/tollgate/internal/pipeline"
)

// Client is a quota-aware Bedrock Runtime client with the methods and types of
// *bedrockruntime.Client. It is safe for concurrent use; Close releases it.
type Client struct {
	c *pipeline.Client
}

// New returns a Client for cfg: it resolves each target's model in the catalog and its
// limits (explicit, or the catalog's defaults for the model, scope and region — each
// source is logged), and builds one SDK client per target with the SDK's retries off.
func New(ctx context.Context, cfg Config) (*Client, error) {
	return newClient(ctx, cfg, nil)
}

// newClient is New, with tune editing the pipeline's configuration before the client is
// built (the tests' way to the knobs Config leaves out).
func newClient(ctx context.Context, cfg Config, tune func(*pipeline.Config)) (*Client, error) {
	pc, err := cfg.pipeline(ctx)
	if err != nil {
		return nil, err
	}
	if tune != nil {
		tune(&pc)
	}
	m, err := metrics.New(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("tollgate: registering metrics: %w", err)
	}
	c, err := pipeline.NewClient(ctx, pc, m)
	if err != nil {
		return nil, err
	}
	return &Client{c: c}, nil
}

// With returns a Client whose calls carry o in place of c's, sharing c's targets, queues
// and learning; closing either closes both.
func (c *Client) With(o Call) *Client {
	return &Client{c: c.c.With(pipeline.Options{Priority: o.Priority, Tenant: o.Tenant, Task: o.Task})}
}

// Close stops admitting calls, fails those waiting with ErrClosed, and waits for the
// streams it handed out to end — read to their last event, or closed with the stream's
// Close, as the SDK requires of every stream: Close blocks while a caller holds a stream
// it neither reads nor closes.
func (c *Client) Close() error { return c.c.Close() }

// Converse is bedrockruntime.Client.Converse behind Tollgate's admission: it waits in
// priority order until the quotas of a target serving the model have room, makes one
// SDK attempt, settles against the reported usage, and retries throttles and server
// errors itself. The output's ResultMetadata carries the call's Result (ResultOf).
func (c *Client) Converse(ctx context.Context, in *bedrockruntime.ConverseInput, optFns ...func(*bedrockruntime.Options)) (*bedrockruntime.ConverseOutput, error) {
	return c.c.Converse(ctx, in, optFns...)
}

// ConverseStream is bedrockruntime.Client.ConverseStream behind Tollgate's admission.
// The stream is settled when it ends, from its metadata event; a stream that breaks is
// settled for what was seen. Throttles before the stream starts are retried; an error in
// the middle of a stream reaches the caller through the stream's Err, as with the SDK.
func (c *Client) ConverseStream(ctx context.Context, in *bedrockruntime.ConverseStreamInput, optFns ...func(*bedrockruntime.Options)) (*bedrockruntime.ConverseStreamOutput, error) {
	return c.c.ConverseStream(ctx, in, optFns...)
}

// InvokeModel is bedrockruntime.Client.InvokeModel behind Tollgate's admission. The
// body is read as an Anthropic Messages request to estimate it; the usage comes from the
// X-Amzn-Bedrock-Input-Token-Count and -Output-Token-Count headers.
func (c *Client) InvokeModel(ctx context.Context, in *bedrockruntime.InvokeModelInput, optFns ...func(*bedrockruntime.Options)) (*bedrockruntime.InvokeModelOutput, error) {
	return c.c.InvokeModel(ctx, in, optFns...)
}

// InvokeModelWithResponseStream is bedrockruntime.Client.InvokeModelWithResponseStream
// behind Tollgate's admission, settled from the final chunk's invocation metrics.
func (c *Client) InvokeModelWithResponseStream(ctx context.Context, in *bedrockruntime.InvokeModelWithResponseStreamInput, optFns ...func(*bedrockruntime.Options)) (*bedrockruntime.InvokeModelWithResponseStreamOutput, error) {
	return c.c.InvokeModelWithResponseStream(ctx, in, optFns...)
}

// CountTokens is bedrockruntime.Client.CountTokens, sent to the first target serving the
// model (the API is free and not metered against the quotas).
func (c *Client) CountTokens(ctx context.Context, in *bedrockruntime.CountTokensInput, optFns ...func(*bedrockruntime.Options)) (*bedrockruntime.CountTokensOutput, error) {
	return c.c.CountTokens(ctx, in, optFns...)
}
