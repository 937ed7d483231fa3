package metrics

import (
	"time"

	"github.com/tollgate-dev/tollgate/internal/invoke"
	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/internal/quotatext"
	"github.com/tollgate-dev/tollgate/quota"
)

// The pipeline reports what happens to calls through one observer: *Metrics.
var _ pipeline.Observer = (*Metrics)(nil)

// Admitted records an attempt's admission: the queue wait and the tokens reserved.
func (m *Metrics) Admitted(t *pipeline.Target, c *pipeline.Call, _ int, waited time.Duration, reserved quota.Cost) {
	m.QueueWait(t.Base.ID, c.Priority.String(), waited)
	m.Tokens(t.Base.ID, t.Name, KindReserved, reserved.Tokens)
}

// Retrying records that a call goes round again after an attempt that ended with kind.
func (m *Metrics) Retrying(t *pipeline.Target, _ *pipeline.Call, kind invoke.Kind) {
	m.Retry(t.Base.ID, t.Name, kind.String())
}

// Ended records an attempt's end: its result, its throttle, and, when the service
// reported its usage, the tokens settled and used and the estimate's error.
func (m *Metrics) Ended(t *pipeline.Target, _ *pipeline.Call, o invoke.Outcome, u invoke.Usage, estimated int, settled quota.Cost) {
	model := t.Base.ID
	m.Attempt(model, t.Name, o.Kind.String())
	if o.Kind == invoke.Throttle {
		m.Throttle(model, t.Name, o.Reason.String())
	}
	if !u.Known {
		return
	}
	m.EstimateError(model, int64(estimated), u.Input+u.CacheRead+u.CacheWrite)
	m.Tokens(model, t.Name, KindSettled, settled.Tokens)
	m.Tokens(model, t.Name, KindInput, u.Input)
	m.Tokens(model, t.Name, KindOutput, u.Output)
	m.Tokens(model, t.Name, KindCacheRead, u.CacheRead)
	m.Tokens(model, t.Name, KindCacheWrite, u.CacheWrite)
}

// Finished records the end of a call to the base model; t is nil for a call never
// admitted.
func (m *Metrics) Finished(model string, t *pipeline.Target, c *pipeline.Call, outcome string) {
	target := ""
	if t != nil {
		target = t.Name
	}
	m.Call(model, target, c.Priority.String(), outcome)
}

// Counted records an exact input count (CountTokens).
func (m *Metrics) Counted(t *pipeline.Target, tokens int) {
	m.Tokens(t.Base.ID, t.Name, KindCounted, int64(tokens))
}

// Sampled sets a target's limit and queue gauges from its snapshot.
func (m *Metrics) Sampled(t *pipeline.Target, s pipeline.TargetSnapshot) {
	for i, l := range s.Limits {
		name, configured := t.LimitName(i)
		m.Limit(t.Name, name, l.Used, l.Limit.Amount, configured)
	}
	for i, p := range quotatext.Priorities {
		m.QueueDepth(t.Name, p.String(), s.Queued[i])
	}
	if s.Shared {
		m.SharedDegraded(t.Name, s.Degraded)
	}
}
