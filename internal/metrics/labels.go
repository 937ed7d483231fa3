package metrics

import (
	"sync"
)

// Values of the outcome label of tollgate_calls_total, one per call.
const (
	// OutcomeOK is a call that was answered.
	OutcomeOK = "ok"
	// OutcomeThrottled is a call that gave up after the service throttled its attempts.
	OutcomeThrottled = "throttled"
	// OutcomeFailed is a call that gave up after errors other than throttles.
	OutcomeFailed = "failed"
	// OutcomeRejected is a call refused before any attempt: larger than a limit can ever
	// admit, or forecast to wait past its deadline.
	OutcomeRejected = "rejected"
	// OutcomeCanceled is a call whose context ended before it did.
	OutcomeCanceled = "canceled"
)

// Values of the result label of tollgate_attempts_total, one per SDK attempt, and of the
// reason label of tollgate_retries_total.
const (
	// ResultOK is an attempt that got a reply.
	ResultOK = "ok"
	// ResultThrottle is an attempt the service throttled (HTTP 429 ThrottlingException).
	ResultThrottle = "throttle"
	// ResultServerError is an attempt that failed on the service's side (HTTP 500, 502,
	// 503, 504); it is retried with backoff.
	ResultServerError = "server_error"
	// ResultModelNotReady is an attempt refused because the model is loading
	// (ModelNotReadyException); it is retried with backoff.
	ResultModelNotReady = "model_not_ready"
	// ResultConnection is an attempt that got no reply: connection refused or reset,
	// unexpected EOF, a connection closed under a stream. It is retried with backoff.
	ResultConnection = "connection"
	// ResultClientError is an attempt the service refused as invalid or not allowed
	// (validation, access); it is not retried.
	ResultClientError = "client_error"
	// ResultTimeout is an attempt that ran out of time.
	ResultTimeout = "timeout"
	// ResultCanceled is an attempt stopped because the caller's context ended.
	ResultCanceled = "canceled"
)

// Values of the kind label of tollgate_tokens_total.
const (
	// KindReserved counts quota tokens reserved at admission.
	KindReserved = "reserved"
	// KindSettled counts quota tokens finally charged when a reservation is settled.
	KindSettled = "settled"
	// KindInput counts input tokens as the service reported them.
	KindInput = "input"
	// KindOutput counts output tokens as the service reported them, before burndown.
	KindOutput = "output"
	// KindCacheRead counts prompt-cache read tokens as the service reported them.
	KindCacheRead = "cache_read"
	// KindCacheWrite counts prompt-cache write tokens as the service reported them.
	KindCacheWrite = "cache_write"
	// KindCounted counts input tokens as the CountTokens API counted them.
	KindCounted = "counted"
)

// Values of the reason label of tollgate_throttles_total: the quota a throttle's message
// points to.
const (
	// ReasonTokens is a throttle saying "Too many tokens".
	ReasonTokens = "tokens"
	// ReasonRequests is a throttle saying "Too many requests".
	ReasonRequests = "requests"
	// ReasonTokensPerDay is a throttle saying "Too many tokens per day".
	ReasonTokensPerDay = "tokens_per_day"
	// ReasonUnknown is a throttle whose message names no quota.
	ReasonUnknown = "unknown"
)

// Other is the label value recorded in place of a value outside an enumerated label's
// documented set, and in place of a new value of an open label that already has
// MaxLabelValues distinct values.
const Other = "other"

// MaxLabelValues is how many distinct values each open label (model, target, priority,
// limit, and the reason of a retry) may take in one *Metrics; later new values are
// recorded as Other. These labels are meant to be bounded sets fixed by configuration —
// the configured targets, the models they serve, the priority classes, the limits of each
// target — so the cap is only a guard against a caller passing unbounded values, such as
// arbitrary model ids from requests, and the memory and series explosion that would follow.
const MaxLabelValues = 100

func outcomeLabel(s string) string {
	switch s {
	case OutcomeOK, OutcomeThrottled, OutcomeFailed, OutcomeRejected, OutcomeCanceled:
		return s
	}
	return Other
}

func resultLabel(s string) string {
	switch s {
	case ResultOK, ResultThrottle, ResultServerError, ResultModelNotReady, ResultConnection,
		ResultClientError, ResultTimeout, ResultCanceled:
		return s
	}
	return Other
}

func kindLabel(s string) string {
	switch s {
	case KindReserved, KindSettled, KindInput, KindOutput, KindCacheRead, KindCacheWrite, KindCounted:
		return s
	}
	return Other
}

func throttleLabel(s string) string {
	switch s {
	case ReasonTokens, ReasonRequests, ReasonTokensPerDay, ReasonUnknown:
		return s
	}
	return Other
}

// bounded admits up to max distinct values of one open label and maps every later new
// value to Other. A value seen before costs one lock-free map lookup; only a value never
// seen takes the mutex. The zero bounded admits nothing but Other; newMetrics sets max.
type bounded struct {
	seen sync.Map // string → struct{}: the admitted values
	mu   sync.Mutex
	n    int // len(seen), guarded by mu
	max  int
}

// value returns v if it is, or can become, one of the admitted values, else Other.
func (b *bounded) value(v string) string {
	if _, ok := b.seen.Load(v); ok {
		return v
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.seen.Load(v); ok {
		return v
	}
	if b.n >= b.max {
		return Other
	}
	b.seen.Store(v, struct{}{})
	b.n++
	return v
}
