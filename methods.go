package tollgate

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/tollgate-dev/tollgate/internal/estimate"
	"github.com/tollgate-dev/tollgate/internal/estimate/converse"
	"github.com/tollgate-dev/tollgate/internal/invoke"
	"github.com/tollgate-dev/tollgate/quota"
)

// rightSizeQuantile is the learned output quantile max_tokens is set to when
// Config.RightSizeMaxTokens is on.
const rightSizeQuantile = 0.99

// converseCall plans a Converse or ConverseStream call, right-sizing max_tokens on a copy
// of in when configured, and returns the input to send. The caller must call the call's
// done when it has finished with it.
func (c *Client) converseCall(ctx context.Context, in *bedrockruntime.ConverseInput, gate bool) (*call, *bedrockruntime.ConverseInput, error) {
	if in == nil || in.ModelId == nil {
		return nil, nil, fmt.Errorf("tollgate: Converse input has no ModelId: set it to a model or profile id")
	}
	req, err := converse.Request(in)
	if err != nil {
		return nil, nil, fmt.Errorf("tollgate: %w", err)
	}
	release := func() {}
	var observed *atomic.Bool
	if c.cfg.RightSizeMaxTokens && req.MaxTokens == 0 {
		if task := taskOf(ctx); task != "" {
			g, err := c.groupFor(*in.ModelId)
			if err != nil {
				return nil, nil, err
			}
			observed = new(atomic.Bool)
			n, rel, err := c.rightSize(ctx, observed, task, gate)
			if err != nil {
				return nil, nil, err
			}
			release = rel
			if n > 0 {
				n = min(n, g.model.MaxOutputTokens)
				cp := *in
				ic := types.InferenceConfiguration{}
				if in.InferenceConfig != nil {
					ic = *in.InferenceConfig
				}
				ic.MaxTokens = aws.Int32(int32(n))
				cp.InferenceConfig = &ic
				in, req.MaxTokens = &cp, n
			}
		}
	}
	cl, err := c.plan(ctx, *in.ModelId, req, c.countTokens(ctx, in))
	if err != nil {
		release()
		return nil, nil, err
	}
	cl.release, cl.observed = release, observed
	return cl, in, nil
}

// learning gates calls that would right-size max_tokens for a task whose output length is
// not learned yet: up to learners of them go out with max_tokens unset (Bedrock then
// reserves the model's maximum), and the rest wait — holding no quota — until those
// replies have taught the predictor, then go out right-sized. Without the gate, a burst of
// calls arriving before the first replies would all reserve the maximum.
type learning struct {
	mu   sync.Mutex
	n    map[string]int // calls out per task while it is being learned
	wake chan struct{}  // closed (and replaced) whenever a learning call ends
}

// learners is how many calls of a task go out unsized before its output length is
// learned: as many as the client's predictor needs replies before it answers (fewer than
// estimate.DefaultMinObservations: each learner may reserve the model's maximum, and the
// 20% headroom covers what ten replies leave unknown). A learner that ends without a reply
// (an error) frees its place.
const learners = 10

// rightSize returns the max_tokens to send for a call of task — the learned quantile with
// estimate.RightSizeHeadroom, or 0 to leave it unset when the call is one of the task's
// learners — and the function to call when the call has ended (observed says whether its
// reply was learned from). With gate false (a forecast) it never waits nor takes a
// learner's place.
func (c *Client) rightSize(ctx context.Context, observed *atomic.Bool, task string, gate bool) (int, func(), error) {
	l := &c.learn
	for {
		if n, ok := c.pred.Predict(task, rightSizeQuantile); ok {
			return int(math.Ceil(float64(n) * estimate.RightSizeHeadroom)), func() {}, nil
		}
		if !gate {
			return 0, func() {}, nil
		}
		l.mu.Lock()
		if l.n == nil {
			l.n = map[string]int{}
		}
		if l.wake == nil {
			l.wake = make(chan struct{})
		}
		if l.n[task] < learners {
			l.n[task]++
			l.mu.Unlock()
			var once sync.Once
			return 0, func() {
				once.Do(func() {
					l.mu.Lock()
					if !observed.Load() {
						l.n[task]-- // it taught nothing: another call may learn in its place
					}
					close(l.wake)
					l.wake = make(chan struct{})
					l.mu.Unlock()
				})
			}, nil
		}
		wake := l.wake
		l.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		}
	}
}

// Converse is bedrockruntime.Client.Converse behind Tollgate's admission: it waits in
// priority order until the quotas of a target serving the model have room, makes one
// SDK attempt, settles against the reported usage, and retries throttles and server
// errors itself.
func (c *Client) Converse(ctx context.Context, in *bedrockruntime.ConverseInput, optFns ...func(*bedrockruntime.Options)) (*bedrockruntime.ConverseOutput, error) {
	cl, in, err := c.converseCall(ctx, in, true)
	if err != nil {
		return nil, err
	}
	defer cl.release()
	var out *bedrockruntime.ConverseOutput
	err = c.run(ctx, cl, func(ctx context.Context, t *target, _ quota.Reservation) (invoke.Usage, bool, error) {
		send := *in
		send.ModelId = aws.String(t.cfg.Model)
		o, err := t.sdk.Converse(ctx, &send, optFns...)
		if err != nil {
			return invoke.Usage{}, false, err
		}
		out = o
		return invoke.ConverseUsage(o), false, nil
	})
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
	conv := &bedrockruntime.ConverseInput{ModelId: in.ModelId, Messages: in.Messages, System: in.System,
		InferenceConfig: in.InferenceConfig, ToolConfig: in.ToolConfig}
	cl, conv, err := c.converseCall(ctx, conv, true)
	if err != nil {
		return nil, err
	}
	var out *bedrockruntime.ConverseStreamOutput
	err = c.run(ctx, cl, func(ctx context.Context, t *target, r quota.Reservation) (invoke.Usage, bool, error) {
		send := *in
		send.ModelId = aws.String(t.cfg.Model)
		send.InferenceConfig = conv.InferenceConfig
		o, err := invoke.ConverseStream(ctx, t.sdk, &send, optFns...)
		if err != nil {
			return invoke.Usage{}, false, err
		}
		c.streams.Add(1)
		invoke.WatchConverseStream(o, func(end invoke.StreamEnd) {
			defer c.streams.Done()
			c.endStream(t, cl, r, end)
		})
		out = o
		return invoke.Usage{}, true, nil
	})
	if err != nil {
		cl.release() // no stream: endStream will not run
	}
	return out, err
}

// InvokeModel is bedrockruntime.Client.InvokeModel behind Tollgate's admission. The
// body is read as an Anthropic Messages request to estimate it; the usage comes from the
// X-Amzn-Bedrock-Input-Token-Count and -Output-Token-Count headers.
func (c *Client) InvokeModel(ctx context.Context, in *bedrockruntime.InvokeModelInput, optFns ...func(*bedrockruntime.Options)) (*bedrockruntime.InvokeModelOutput, error) {
	cl, err := c.invokeCall(ctx, in.ModelId, in.Body)
	if err != nil {
		return nil, err
	}
	var out *bedrockruntime.InvokeModelOutput
	err = c.run(ctx, cl, func(ctx context.Context, t *target, _ quota.Reservation) (invoke.Usage, bool, error) {
		send := *in
		send.ModelId = aws.String(t.cfg.Model)
		o, err := t.sdk.InvokeModel(ctx, &send, optFns...)
		if err != nil {
			return invoke.Usage{}, false, err
		}
		out = o
		return invoke.InvokeUsage(o), false, nil
	})
	return out, err
}

// InvokeModelWithResponseStream is bedrockruntime.Client.InvokeModelWithResponseStream
// behind Tollgate's admission, settled from the final chunk's invocation metrics.
func (c *Client) InvokeModelWithResponseStream(ctx context.Context, in *bedrockruntime.InvokeModelWithResponseStreamInput, optFns ...func(*bedrockruntime.Options)) (*bedrockruntime.InvokeModelWithResponseStreamOutput, error) {
	cl, err := c.invokeCall(ctx, in.ModelId, in.Body)
	if err != nil {
		return nil, err
	}
	var out *bedrockruntime.InvokeModelWithResponseStreamOutput
	err = c.run(ctx, cl, func(ctx context.Context, t *target, r quota.Reservation) (invoke.Usage, bool, error) {
		send := *in
		send.ModelId = aws.String(t.cfg.Model)
		o, err := invoke.InvokeStream(ctx, t.sdk, &send, optFns...)
		if err != nil {
			return invoke.Usage{}, false, err
		}
		c.streams.Add(1)
		invoke.WatchInvokeStream(o, func(end invoke.StreamEnd) {
			defer c.streams.Done()
			c.endStream(t, cl, r, end)
		})
		out = o
		return invoke.Usage{}, true, nil
	})
	return out, err
}

func (c *Client) invokeCall(ctx context.Context, modelID *string, body []byte) (*call, error) {
	if modelID == nil {
		return nil, fmt.Errorf("tollgate: InvokeModel input has no ModelId: set it to a model or profile id")
	}
	req, err := estimate.ParseInvokeBody(body)
	if err != nil {
		return nil, fmt.Errorf("tollgate: %w", err)
	}
	return c.plan(ctx, *modelID, req, 0)
}

// endStream settles a stream when it ends: from its reported usage, or, when it broke
// before reporting, for what was seen — the input as reserved (the estimate with its
// margin) plus the output text seen, counted, calibrated and padded by a tenth, times
// the burndown — so that the settlement does not count less than the service charged
// for what it sent. It is not capped at the reservation: output at a burndown of 5 can
// cost more than the max_tokens reserved.
func (c *Client) endStream(t *target, cl *call, r quota.Reservation, end invoke.StreamEnd) {
	defer cl.release()
	if end.Usage.Known {
		c.settle(t, cl, r, end.Usage)
		c.record(cl, t, r.Cost(), invoke.Outcome{Kind: invoke.OK}, time.Now())
		c.metrics.Call(cl.g.model.ID, t.name, cl.prio, "ok")
		return
	}
	seen := float64(estimate.Base().Count(end.OutputText)) * c.cal.Factor(cl.g.model.ID) * 1.1
	cost, err := estimate.SettleCost(t.params, estimate.Usage{InputTokens: cl.input, OutputTokens: int(math.Ceil(seen))})
	if err != nil {
		cost = r.Cost()
	}
	cost.Requests = r.Cost().Requests
	r.Settle(cost)
	c.record(cl, t, r.Cost(), end.Outcome, time.Now())
	outcome := "failed"
	switch end.Outcome.Kind {
	case invoke.Throttle:
		outcome = "throttled"
	case invoke.Canceled:
		outcome = "canceled"
	}
	c.metrics.Call(cl.g.model.ID, t.name, cl.prio, outcome)
}

// CountTokens is bedrockruntime.Client.CountTokens, sent to the first target serving the
// model (the API is free and not metered against the quotas).
func (c *Client) CountTokens(ctx context.Context, in *bedrockruntime.CountTokensInput, optFns ...func(*bedrockruntime.Options)) (*bedrockruntime.CountTokensOutput, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	if in == nil || in.ModelId == nil {
		return nil, fmt.Errorf("tollgate: CountTokens input has no ModelId")
	}
	g, err := c.groupFor(*in.ModelId)
	if err != nil {
		return nil, err
	}
	t := g.targets[0]
	send := *in
	send.ModelId = aws.String(t.model.ID)
	return t.sdk.CountTokens(ctx, &send, optFns...)
}

// countTokens returns Bedrock's exact count of in's input when UseCountTokens is set and
// the model supports CountTokens, else 0 (estimate instead).
func (c *Client) countTokens(ctx context.Context, in *bedrockruntime.ConverseInput) int {
	if !c.cfg.UseCountTokens {
		return 0
	}
	g, err := c.groupFor(*in.ModelId)
	if err != nil || !g.model.CountTokens {
		return 0
	}
	t := g.targets[0]
	out, err := t.sdk.CountTokens(ctx, &bedrockruntime.CountTokensInput{ModelId: aws.String(t.model.ID),
		Input: &types.CountTokensInputMemberConverse{Value: types.ConverseTokensRequest{Messages: in.Messages, System: in.System, ToolConfig: in.ToolConfig}}})
	if err != nil || out.InputTokens == nil {
		c.cfg.Logger.Debug("tollgate CountTokens failed; estimating instead", "model", *in.ModelId, "err", err)
		return 0
	}
	c.metrics.Tokens(g.model.ID, t.name, "counted", int64(*out.InputTokens))
	return int(*out.InputTokens)
}

// Prediction is Forecast's answer for a call.
type Prediction struct {
	// Wait is the predicted time until the call would be admitted.
	Wait time.Duration
	// Limit is the limit that binds; the zero Limit when nothing does or the in-flight
	// cap binds.
	Limit quota.Limit
	// Target is the target with the earliest admission.
	Target string
	// Cost is what the call would reserve.
	Cost quota.Cost
}

// Forecast predicts how long a Converse call with in would wait for admission now, at
// the priority of ctx, on the target that would admit it first.
func (c *Client) Forecast(ctx context.Context, in *bedrockruntime.ConverseInput) (Prediction, error) {
	cl, _, err := c.converseCall(ctx, in, false)
	if err != nil {
		return Prediction{}, err
	}
	cl.release()
	best := Prediction{Wait: -1, Cost: cl.cost}
	for _, t := range cl.g.targets {
		p, err := t.lim.Forecast(ctx, cl.cost, cl.opt)
		if err != nil {
			return Prediction{}, fmt.Errorf("tollgate: %s: %w", t.name, err)
		}
		if best.Wait < 0 || p.Wait < best.Wait {
			best.Wait, best.Limit, best.Target = p.Wait, p.Limit, t.name
		}
	}
	return best, nil
}
