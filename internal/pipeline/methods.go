package pipeline

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/tollgate-dev/tollgate/internal/estimate"
	"github.com/tollgate-dev/tollgate/internal/estimate/converse"
	"github.com/tollgate-dev/tollgate/internal/invoke"
)

// The four SDK methods are adapters over the pipeline: each describes its call and sends
// one attempt to the target the pipeline chose.

// Converse is bedrockruntime.Client.Converse behind Tollgate's admission: it waits in
// priority order until the quotas of a target serving the model have room, makes one
// SDK attempt, settles against the reported usage, and retries throttles and server
// errors itself. The output's ResultMetadata carries the call's Result (ResultOf).
func (c *Client) Converse(ctx context.Context, in *bedrockruntime.ConverseInput, optFns ...func(*bedrockruntime.Options)) (*bedrockruntime.ConverseOutput, error) {
	if in == nil || in.ModelId == nil {
		return nil, fmt.Errorf("tollgate: Converse input has no ModelId: set it to a model or profile id")
	}
	call, err := c.converseCall(*in.ModelId, in.System, in.Messages, in.ToolConfig, in.InferenceConfig)
	if err != nil {
		return nil, err
	}
	var out *bedrockruntime.ConverseOutput
	err = c.do(ctx, call, func(ctx context.Context, a *Attempt) (invoke.Usage, error) {
		send := *in
		send.ModelId = aws.String(a.Target.Model)
		send.InferenceConfig = sized(in.InferenceConfig, a.MaxTokens)
		o, err := a.Target.SDK.Converse(ctx, &send, optFns...)
		if err != nil {
			return invoke.Usage{}, err
		}
		out = o
		return invoke.ConverseUsage(o), nil
	}, func(rec *Record) { out.ResultMetadata.Set(resultKey{}, rec) })
	return out, err
}

// ConverseStream is bedrockruntime.Client.ConverseStream behind Tollgate's admission.
// The stream is settled when it ends, from its metadata event; a stream that breaks is
// settled for what was seen. Throttles before the stream starts are retried; an error in
// the middle of a stream reaches the caller through the stream's Err, as with the SDK.
func (c *Client) ConverseStream(ctx context.Context, in *bedrockruntime.ConverseStreamInput, optFns ...func(*bedrockruntime.Options)) (*bedrockruntime.ConverseStreamOutput, error) {
	if in == nil || in.ModelId == nil {
		return nil, fmt.Errorf("tollgate: ConverseStream input has no ModelId: set it to a model or profile id")
	}
	call, err := c.converseCall(*in.ModelId, in.System, in.Messages, in.ToolConfig, in.InferenceConfig)
	if err != nil {
		return nil, err
	}
	var out *bedrockruntime.ConverseStreamOutput
	err = c.do(ctx, call, func(ctx context.Context, a *Attempt) (invoke.Usage, error) {
		send := *in
		send.ModelId = aws.String(a.Target.Model)
		send.InferenceConfig = sized(in.InferenceConfig, a.MaxTokens)
		o, err := invoke.ConverseStream(ctx, a.Target.SDK, &send, optFns...)
		if err != nil {
			return invoke.Usage{}, err
		}
		invoke.WatchConverseStream(o, a.Defer())
		out = o
		return invoke.Usage{}, nil
	}, func(rec *Record) { out.ResultMetadata.Set(resultKey{}, rec) })
	return out, err
}

// InvokeModel is bedrockruntime.Client.InvokeModel behind Tollgate's admission. The
// body is read as an Anthropic Messages request to estimate it; the usage comes from the
// X-Amzn-Bedrock-Input-Token-Count and -Output-Token-Count headers.
func (c *Client) InvokeModel(ctx context.Context, in *bedrockruntime.InvokeModelInput, optFns ...func(*bedrockruntime.Options)) (*bedrockruntime.InvokeModelOutput, error) {
	call, err := c.invokeCall(in.ModelId, in.Body)
	if err != nil {
		return nil, err
	}
	var out *bedrockruntime.InvokeModelOutput
	err = c.do(ctx, call, func(ctx context.Context, a *Attempt) (invoke.Usage, error) {
		send := *in
		send.ModelId = aws.String(a.Target.Model)
		o, err := a.Target.SDK.InvokeModel(ctx, &send, optFns...)
		if err != nil {
			return invoke.Usage{}, err
		}
		out = o
		return invoke.InvokeUsage(o), nil
	}, func(rec *Record) { out.ResultMetadata.Set(resultKey{}, rec) })
	return out, err
}

// InvokeModelWithResponseStream is bedrockruntime.Client.InvokeModelWithResponseStream
// behind Tollgate's admission, settled from the final chunk's invocation metrics.
func (c *Client) InvokeModelWithResponseStream(ctx context.Context, in *bedrockruntime.InvokeModelWithResponseStreamInput, optFns ...func(*bedrockruntime.Options)) (*bedrockruntime.InvokeModelWithResponseStreamOutput, error) {
	call, err := c.invokeCall(in.ModelId, in.Body)
	if err != nil {
		return nil, err
	}
	var out *bedrockruntime.InvokeModelWithResponseStreamOutput
	err = c.do(ctx, call, func(ctx context.Context, a *Attempt) (invoke.Usage, error) {
		send := *in
		send.ModelId = aws.String(a.Target.Model)
		o, err := invoke.InvokeStream(ctx, a.Target.SDK, &send, optFns...)
		if err != nil {
			return invoke.Usage{}, err
		}
		invoke.WatchInvokeStream(o, a.Defer())
		out = o
		return invoke.Usage{}, nil
	}, func(rec *Record) { out.ResultMetadata.Set(resultKey{}, rec) })
	return out, err
}

// CountTokens is bedrockruntime.Client.CountTokens, sent to the first target serving the
// model (the API is free and not metered against the quotas).
func (c *Client) CountTokens(ctx context.Context, in *bedrockruntime.CountTokensInput, optFns ...func(*bedrockruntime.Options)) (*bedrockruntime.CountTokensOutput, error) {
	if in == nil || in.ModelId == nil {
		return nil, fmt.Errorf("tollgate: CountTokens input has no ModelId")
	}
	t, err := c.e.First(*in.ModelId)
	if err != nil {
		return nil, err
	}
	send := *in
	send.ModelId = aws.String(t.Base.ID)
	return t.SDK.CountTokens(ctx, &send, optFns...)
}

// converseCall describes a Converse or ConverseStream call from the parts of its input
// that cost tokens, asking CountTokens for the exact input when Config.UseCountTokens.
func (c *Client) converseCall(model string, system []types.SystemContentBlock, messages []types.Message, tools *types.ToolConfiguration, inf *types.InferenceConfiguration) (Call, error) {
	req, err := converse.Parts(system, messages, tools, inf)
	if err != nil {
		return Call{}, fmt.Errorf("tollgate: %w", err)
	}
	call := c.describe(model, req, true)
	if c.e.cfg.UseCountTokens {
		call.Count = func(ctx context.Context, t *Target) int {
			out, err := t.SDK.CountTokens(ctx, &bedrockruntime.CountTokensInput{ModelId: aws.String(t.Base.ID),
				Input: &types.CountTokensInputMemberConverse{Value: types.ConverseTokensRequest{Messages: messages, System: system, ToolConfig: tools}}})
			if err != nil || out.InputTokens == nil {
				return 0 // estimate instead
			}
			return int(*out.InputTokens)
		}
	}
	return call, nil
}

// invokeCall describes an InvokeModel call from its body (an Anthropic Messages request).
func (c *Client) invokeCall(modelID *string, body []byte) (Call, error) {
	if modelID == nil {
		return Call{}, fmt.Errorf("tollgate: InvokeModel input has no ModelId: set it to a model or profile id")
	}
	req, err := estimate.ParseInvokeBody(body)
	if err != nil {
		return Call{}, fmt.Errorf("tollgate: %w", err)
	}
	return c.describe(*modelID, req, false), nil
}

// sized returns ic with max_tokens set to n (a copy), or ic itself when n is 0.
func sized(ic *types.InferenceConfiguration, n int) *types.InferenceConfiguration {
	if n == 0 {
		return ic
	}
	cp := types.InferenceConfiguration{}
	if ic != nil {
		cp = *ic
	}
	cp.MaxTokens = aws.Int32(int32(n))
	return &cp
}
