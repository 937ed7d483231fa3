// Package tollgate is a quota-aware client for Amazon Bedrock: a drop-in for the AWS SDK's
// *bedrockruntime.Client that turns throttling and lost work into queueing in priority
// order, at the highest rate the quotas allow.
//
// Each call goes through one pipeline (see the design notes in docs/):
//
//	estimate ─▶ route ─▶ admit (quota) ─▶ one SDK attempt ─▶ settle ─▶ learn
//
// Tollgate estimates what the call will cost against the quotas (input tokens + the
// max_tokens Bedrock reserves), picks the target (region and model or profile) with the
// earliest admission, waits in priority order until every quota of that target has room,
// makes exactly one SDK attempt (the SDK's own retries are off), settles the reservation
// against the usage Bedrock reports, calibrates the estimator and feeds the adaptive
// controller. A throttle cancels the reservation, lowers the effective limit, and puts
// the call back at the head of its class, possibly on another target; server errors back
// off exponentially with full jitter; client errors are returned at once.
//
// Priority and tenant ride on the context:
//
//	ctx = tollgate.WithPriority(ctx, tollgate.High)
//	out, err := client.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(id), ...})
package tollgate

import (
	"sync"
	"time"

	"context"

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

type ctxKey int

const (
	priorityKey ctxKey = iota
	tenantKey
	taskKey
	statsKey
	queuedKey
)

// WithPriority returns a context whose calls queue in class p.
func WithPriority(ctx context.Context, p Priority) context.Context {
	return context.WithValue(ctx, priorityKey, p)
}

// WithTenant returns a context whose calls share the fair share of tenant within their
// class (virtual token counters; see quota.Limiter).
func WithTenant(ctx context.Context, tenant string) context.Context {
	return context.WithValue(ctx, tenantKey, tenant)
}

// WithTask returns a context whose calls belong to task, the key under which output
// lengths are learned to right-size max_tokens (Config.RightSizeMaxTokens).
func WithTask(ctx context.Context, task string) context.Context {
	return context.WithValue(ctx, taskKey, task)
}

// WithQueued returns a context whose calls run f once, when the call has reached its
// target's admission queue (admitted at once or waiting in its class); a call that fails
// before (a bad request, a deadline it cannot meet) never runs it. A caller handing calls
// over one at a time, in priority order, waits for f before starting the next, so that the
// calls reach the queue in that order (tollgate run does): calls prepared in parallel reach
// it in whatever order their preparation ends, and an idle target admits them in that
// order. f must not block.
func WithQueued(ctx context.Context, f func()) context.Context {
	return context.WithValue(ctx, queuedKey, f)
}

// CallStats reports what one call went through, for callers that keep records (the
// batch pipeline of `tollgate run` writes them per document). A call fills it before it
// returns, success or not.
type CallStats struct {
	// Attempts counts the SDK attempts made; Throttles those the service throttled.
	Attempts, Throttles int
	// Waited is the total time spent waiting for admission, over all attempts.
	Waited time.Duration
	// Target and Region name where the last attempt went.
	Target, Region string
	// Reserved is what the last attempt reserved (input estimate + max_tokens).
	Reserved quota.Cost
}

// WithStats returns a context whose calls fill s (one call per context: a second call
// with the same context overwrites it). The caller must not read s before the call
// returns (for streams: before the stream is read to its end or closed).
func WithStats(ctx context.Context, s *CallStats) context.Context {
	return context.WithValue(ctx, statsKey, s)
}

func statsOf(ctx context.Context) *CallStats {
	s, _ := ctx.Value(statsKey).(*CallStats)
	return s
}

func callOptions(ctx context.Context) quota.Options {
	var o quota.Options
	if p, ok := ctx.Value(priorityKey).(Priority); ok {
		o.Priority = p
	}
	if t, ok := ctx.Value(tenantKey).(string); ok {
		o.Tenant = t
	}
	return o
}

// queuedOf returns the hook of WithQueued, made to run once (a throttled call queues
// again), or nil.
func queuedOf(ctx context.Context) func() {
	if f, ok := ctx.Value(queuedKey).(func()); ok && f != nil {
		return sync.OnceFunc(f)
	}
	return nil
}

func taskOf(ctx context.Context) string {
	t, _ := ctx.Value(taskKey).(string)
	return t
}
