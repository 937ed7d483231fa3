// Package metrics holds Tollgate's Prometheus collectors.
//
// Metrics are opt-in: New registers the collectors on the prometheus.Registerer it is
// given and never on the global registry; a nil Registerer gives a nil *Metrics whose
// methods record nothing, so callers record unconditionally. docs/metrics.md is the
// user's guide, with example queries.
//
// Every metric, with its type and labels:
//
//	tollgate_calls_total{model,target,priority,outcome}   counter    calls that ended, by outcome:
//	                                                                 ok, throttled, failed, rejected, canceled
//	tollgate_attempts_total{model,target,result}          counter    SDK attempts (one HTTP request each), by result:
//	                                                                 ok, throttle, server_error, model_not_ready, connection,
//	                                                                 timeout, canceled, client_error
//	tollgate_retries_total{model,target,reason}           counter    attempts retried, by the reason the attempt failed
//	tollgate_throttles_total{model,target,reason}         counter    429s from the service, by the quota the message names:
//	                                                                 tokens, requests, tokens_per_day, unknown
//	tollgate_tokens_total{model,target,kind}              counter    tokens: reserved and settled (quota tokens, after
//	                                                                 burndown); input, output, cache_read, cache_write (reported);
//	                                                                 counted (CountTokens)
//	tollgate_queue_wait_seconds{model,priority}           histogram  seconds waited for admission; buckets 1 ms doubling to 524 s
//	tollgate_queue_depth{target,priority}                 gauge      calls waiting for admission now
//	tollgate_limit_used{target,limit}                     gauge      usage in the limit's trailing window, in its unit
//	tollgate_limit_effective{target,limit}                gauge      what the adaptive controller admits up to now
//	tollgate_limit_configured{target,limit}               gauge      the configured, discovered or default amount
//	tollgate_limit_utilization{target,limit}              gauge      used ÷ effective (1 when effective is 0)
//	tollgate_shared_store_degraded{target}                gauge      1 while a quota shared through Redis cannot reach it
//	tollgate_estimate_error_ratio{model}                  histogram  reported ÷ estimated tokens per call; buckets 0.5 .. 2
//
// # Labels and cardinality
//
// Each labelled series costs memory in the process and in Prometheus, so every label is a
// bounded set. The enumerated labels — outcome, result, kind and a throttle's reason —
// take only the values of this package's constants (OutcomeOK, ResultThrottle, KindInput,
// ReasonTokens, ...); any other value is recorded as Other. The open labels take values
// fixed by configuration: model (the model or inference-profile ids the configured targets
// serve), target (the configured targets' names), priority (the priority classes), limit
// (the limits of each target, such as "tokens_per_minute") and a retry's reason (the
// attempt results that are retried). They must never carry per-request or per-tenant
// values; as a guard, each takes at most MaxLabelValues distinct values per *Metrics and
// records later new ones as Other. An empty target is a call rejected before it was routed.
//
// # Cost
//
// Recording costs a nil check when metrics are off and, when on, a lock-free lookup per
// open label plus client_golang's own label lookup and atomic add; BenchmarkCall measures
// it.
package metrics
