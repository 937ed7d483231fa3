package metrics

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Namespace is the prefix of every metric name Tollgate exports ("tollgate_calls_total").
const Namespace = "tollgate"

// Metrics holds Tollgate's collectors. Build it with New.
//
// A nil *Metrics, the zero Metrics, and the *Metrics New returns for a nil Registerer are
// all valid and record nothing: every method first checks its receiver, so a caller records
// unconditionally and pays a nil check when metrics are off.
//
// Every method is safe for concurrent use. Label values are normalized before recording
// (see the package documentation): enumerated labels (outcome, result, kind, reason of a
// throttle) outside their documented set are recorded as "other", and the open labels
// (model, target, priority, limit, reason of a retry) are capped at MaxLabelValues
// distinct values each, beyond which they are recorded as "other" too. Label values that
// are not valid UTF-8 are dropped silently rather than panicking.
type Metrics struct {
	calls         *prometheus.CounterVec
	attempts      *prometheus.CounterVec
	tokens        *prometheus.CounterVec
	throttles     *prometheus.CounterVec
	retries       *prometheus.CounterVec
	queueWait     *prometheus.HistogramVec
	queueDepth    *prometheus.GaugeVec
	limitUsed     *prometheus.GaugeVec
	limitEff      *prometheus.GaugeVec
	limitConf     *prometheus.GaugeVec
	limitUtil     *prometheus.GaugeVec
	degraded      *prometheus.GaugeVec
	estimateError *prometheus.HistogramVec

	// Open label values, each capped at MaxLabelValues distinct values.
	models, targets, priorities, limits, retryReasons bounded
}

// queueWaitBuckets are the upper bounds, in seconds, of tollgate_queue_wait_seconds: 1 ms
// doubling 19 times to 524.288 s (≈ 8.7 minutes), 20 bounds and the implicit +Inf. Waits range
// from nothing (a quota with room) to minutes (Low work behind a saturated
// tokens-per-minute quota), so the buckets are exponential.
var queueWaitBuckets = prometheus.ExponentialBuckets(0.001, 2, 20)

// estimateErrorBuckets are the upper bounds of tollgate_estimate_error_ratio, the ratio
// reported ÷ estimated. They are dense around 1 (exact) and roughly symmetric in ratio
// terms: 0.5 and 2 are the same factor off in opposite directions. The bucket
// (0.99, 1.01] holds calls estimated to within 1%.
var estimateErrorBuckets = []float64{0.5, 0.67, 0.8, 0.9, 0.95, 0.99, 1.01, 1.05, 1.1, 1.25, 1.5, 2}

// New builds Tollgate's collectors and registers every one of them on reg.
//
// A nil reg turns metrics off: New returns a nil *Metrics, whose methods do nothing, and a
// nil error. New never touches the global registry (prometheus.DefaultRegisterer); pass it
// explicitly to use it.
//
// Registration is all or nothing: if reg refuses a collector, New unregisters those it had
// already registered and returns an error wrapping reg's. Registering twice on one registry
// fails this way with a prometheus.AlreadyRegisteredError, which errors.As finds; build
// one *Metrics per registry and share it.
func New(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := newMetrics()
	cs := m.collectors()
	for i, c := range cs {
		if err := reg.Register(c.collector); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done.collector)
			}
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("metrics: %s is already registered (one *Metrics per registry): %w", c.name, err)
			}
			return nil, fmt.Errorf("metrics: registering %s: %w", c.name, err)
		}
	}
	return m, nil
}

// named is a collector with the full name of the metric it exports.
type named struct {
	name      string
	collector prometheus.Collector
}

// collectors lists m's collectors in registration order, the order of the package
// documentation.
func (m *Metrics) collectors() []named {
	return []named{
		{Namespace + "_calls_total", m.calls},
		{Namespace + "_attempts_total", m.attempts},
		{Namespace + "_retries_total", m.retries},
		{Namespace + "_throttles_total", m.throttles},
		{Namespace + "_tokens_total", m.tokens},
		{Namespace + "_queue_wait_seconds", m.queueWait},
		{Namespace + "_queue_depth", m.queueDepth},
		{Namespace + "_limit_used", m.limitUsed},
		{Namespace + "_limit_effective", m.limitEff},
		{Namespace + "_limit_configured", m.limitConf},
		{Namespace + "_limit_utilization", m.limitUtil},
		{Namespace + "_shared_store_degraded", m.degraded},
		{Namespace + "_estimate_error_ratio", m.estimateError},
	}
}

func counter(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
}

func gauge(name, help string, labels ...string) *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help}, labels)
}

func histogram(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, Buckets: buckets}, labels)
}

// newMetrics builds the collectors without registering them.
func newMetrics() *Metrics {
	m := &Metrics{
		calls: counter("calls_total",
			"Calls through the Tollgate client, counted once when a call ends after all its attempts, by outcome: "+
				"ok (answered), throttled (gave up after service throttles), failed (gave up after other errors), "+
				"rejected (refused before any attempt: larger than a limit, or forecast past its deadline), "+
				"canceled (the caller's context ended). The non-ok outcomes' share of the total is the failure ratio callers see.",
			"model", "target", "priority", "outcome"),
		attempts: counter("attempts_total",
			"SDK attempts, one HTTP request to Bedrock each (the SDK's own retries are off), by result: "+
				"ok, throttle (HTTP 429 ThrottlingException), server_error (HTTP 5xx), model_not_ready (the model is loading), "+
				"connection (no reply: refused, reset, dropped), timeout, canceled, "+
				"client_error (validation or access errors, never retried), other. "+
				"attempts_total / calls_total is the mean number of attempts per call.",
			"model", "target", "result"),
		retries: counter("retries_total",
			"Attempts Tollgate retried, by the reason of the failed attempt (throttle, server_error, timeout, ...). "+
				"A throttled call is requeued at the head of its priority class, possibly on another target; "+
				"other retries back off exponentially with full jitter.",
			"model", "target", "reason"),
		throttles: counter("throttles_total",
			"Throttles (HTTP 429) received from the service, by the quota the message points to: "+
				"tokens (\"Too many tokens\"), requests (\"Too many requests\"), tokens_per_day, or unknown. "+
				"The message is a hint, not proof. With limits known this stays at zero; each one lowers the "+
				"target's effective limit (tollgate_limit_effective).",
			"model", "target", "reason"),
		tokens: counter("tokens_total",
			"Tokens by kind. reserved: quota tokens held at admission (input + cache + max_tokens, after burndown); "+
				"settled: quota tokens finally charged after the reply (input + cache_write + output x burndown); "+
				"input, output, cache_read, cache_write: as the service reported them; counted: input tokens from the CountTokens API. "+
				"settled / reserved below 1 is reservation headroom left unused: lower max_tokens to gain throughput.",
			"model", "target", "kind"),
		queueWait: histogram("queue_wait_seconds",
			"Seconds a call waited for admission, until every limit of its target had room, by priority. "+
				"A call requeued after a throttle is observed again. High-priority quantiles should stay small "+
				"while low-priority work saturates the quota.",
			queueWaitBuckets, "model", "priority"),
		queueDepth: gauge("queue_depth",
			"Calls waiting for admission on a target now, by priority.",
			"target", "priority"),
		limitUsed: gauge("limit_used",
			"Usage counted against a limit in its trailing window now (reservations in flight plus settled usage), "+
				"in the limit's unit (quota tokens, requests, or calls in flight).",
			"target", "limit"),
		limitEff: gauge("limit_effective",
			"The amount Tollgate admits up to now: the configured limit lowered by the adaptive controller after "+
				"throttles and grown back while calls succeed. Below tollgate_limit_configured means the account's "+
				"real quota is probably lower than configured.",
			"target", "limit"),
		limitConf: gauge("limit_configured",
			"The limit's amount as configured, discovered through Service Quotas, or taken from the catalog's defaults.",
			"target", "limit"),
		limitUtil: gauge("limit_utilization",
			"tollgate_limit_used / tollgate_limit_effective: the fraction of the effective limit in use, "+
				"normally 0..1 (above 1 briefly when a reply settles for more than was reserved); "+
				"1 when the effective limit is 0. The limit near 1 while calls queue is the bottleneck.",
			"target", "limit"),
		degraded: gauge("shared_store_degraded",
			"1 while a target whose quota is shared through Redis cannot reach it: the target admits from its "+
				"last grant until it lapses, then within its own part of each limit (or nothing, with fallback=none), never the full limit; 0 when Redis answers.",
			"target"),
		estimateError: histogram("estimate_error_ratio",
			"Per call, the token count the service reported divided by Tollgate's estimate of it before the call. "+
				"1 is exact; above 1 the estimate was low (risk of throttles), below 1 it was high (idle headroom). "+
				"Calls where either count is 0 are not observed.",
			estimateErrorBuckets, "model"),
	}
	for _, b := range []*bounded{&m.models, &m.targets, &m.priorities, &m.limits, &m.retryReasons} {
		b.max = MaxLabelValues
	}
	return m
}

// off reports whether m records nothing: nil, zero, or made from a nil Registerer.
func (m *Metrics) off() bool { return m == nil || m.calls == nil }

// Call counts one call that ended, in tollgate_calls_total{model,target,priority,outcome}.
// The outcome is one of OutcomeOK, OutcomeThrottled, OutcomeFailed, OutcomeRejected and
// OutcomeCanceled; target is empty for a call rejected before routing.
func (m *Metrics) Call(model, target, priority, outcome string) {
	if m.off() {
		return
	}
	add(m.calls, 1, m.models.value(model), m.targets.value(target), m.priorities.value(priority), outcomeLabel(outcome))
}

// Attempt counts one SDK attempt in tollgate_attempts_total{model,target,result}. The
// result is one of ResultOK, ResultThrottle, ResultServerError, ResultModelNotReady,
// ResultConnection, ResultClientError, ResultTimeout and ResultCanceled: the names
// invoke.Kind's String returns.
func (m *Metrics) Attempt(model, target, result string) {
	if m.off() {
		return
	}
	add(m.attempts, 1, m.models.value(model), m.targets.value(target), resultLabel(result))
}

// Tokens adds n tokens of a kind to tollgate_tokens_total{model,target,kind}. The kind is
// one of KindReserved, KindSettled, KindInput, KindOutput, KindCacheRead, KindCacheWrite
// and KindCounted. A counter only grows: n ≤ 0 records nothing.
func (m *Metrics) Tokens(model, target, kind string, n int64) {
	if m.off() || n <= 0 {
		return
	}
	add(m.tokens, float64(n), m.models.value(model), m.targets.value(target), kindLabel(kind))
}

// Throttle counts one throttle received from the service in
// tollgate_throttles_total{model,target,reason}. The reason is one of ReasonTokens,
// ReasonRequests, ReasonTokensPerDay and ReasonUnknown: the names invoke.Reason's String
// returns.
func (m *Metrics) Throttle(model, target, reason string) {
	if m.off() {
		return
	}
	add(m.throttles, 1, m.models.value(model), m.targets.value(target), throttleLabel(reason))
}

// Retry counts one retried attempt in tollgate_retries_total{model,target,reason}, where
// target is the target of the attempt that failed and reason says why it failed, such as
// ResultThrottle, ResultServerError or ResultTimeout.
func (m *Metrics) Retry(model, target, reason string) {
	if m.off() {
		return
	}
	add(m.retries, 1, m.models.value(model), m.targets.value(target), m.retryReasons.value(reason))
}

// QueueWait observes how long a call waited for admission in
// tollgate_queue_wait_seconds{model,priority}. A negative d is recorded as 0.
func (m *Metrics) QueueWait(model, priority string, d time.Duration) {
	if m.off() {
		return
	}
	o, err := m.queueWait.GetMetricWithLabelValues(m.models.value(model), m.priorities.value(priority))
	if err != nil {
		return
	}
	o.Observe(max(d, 0).Seconds())
}

// QueueDepth sets tollgate_queue_depth{target,priority} to n, the number of calls waiting
// for admission on the target in that priority class.
func (m *Metrics) QueueDepth(target, priority string, n int) {
	if m.off() {
		return
	}
	set(m.queueDepth, float64(n), m.targets.value(target), m.priorities.value(priority))
}

// Limit sets the gauges of one limit of a target: tollgate_limit_used,
// tollgate_limit_effective and tollgate_limit_configured{target,limit} to used, effective
// and configured, and tollgate_limit_utilization to used ÷ effective (1 when effective ≤ 0:
// a limit that admits nothing is saturated). The limit names the dimension and window,
// such as "tokens_per_minute", "tokens_per_day", "requests_per_minute" or "concurrency";
// the values are in its unit.
func (m *Metrics) Limit(target, limit string, used, effective, configured int64) {
	if m.off() {
		return
	}
	t, l := m.targets.value(target), m.limits.value(limit)
	util := 1.0
	if effective > 0 {
		util = float64(used) / float64(effective)
	}
	set(m.limitUsed, float64(used), t, l)
	set(m.limitEff, float64(effective), t, l)
	set(m.limitConf, float64(configured), t, l)
	set(m.limitUtil, util, t, l)
}

// SharedDegraded sets tollgate_shared_store_degraded{target} to 1 while the target's
// shared quota store cannot reach Redis, else 0.
func (m *Metrics) SharedDegraded(target string, degraded bool) {
	if m.off() {
		return
	}
	v := 0.0
	if degraded {
		v = 1
	}
	set(m.degraded, v, m.targets.value(target))
}

// EstimateError observes reported ÷ estimated in tollgate_estimate_error_ratio{model}, for
// one call whose tokens (input tokens, as the estimator predicts them) were estimated
// before it was sent and reported by the service after. It records nothing when either
// count is 0 or less: there is no ratio to learn from.
func (m *Metrics) EstimateError(model string, estimated, reported int64) {
	if m.off() || estimated <= 0 || reported <= 0 {
		return
	}
	o, err := m.estimateError.GetMetricWithLabelValues(m.models.value(model))
	if err != nil {
		return
	}
	o.Observe(float64(reported) / float64(estimated))
}

// add adds v to the counter with the label values lvs, dropping the sample when a value
// is not valid UTF-8 (WithLabelValues would panic).
func add(c *prometheus.CounterVec, v float64, lvs ...string) {
	if m, err := c.GetMetricWithLabelValues(lvs...); err == nil {
		m.Add(v)
	}
}

// set sets the gauge with the label values lvs to v, dropping the sample when a value is
// not valid UTF-8.
func set(g *prometheus.GaugeVec, v float64, lvs ...string) {
	if m, err := g.GetMetricWithLabelValues(lvs...); err == nil {
		m.Set(v)
	}
}
