package metrics_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tollgate-dev/tollgate/internal/metrics"
)

// newMetrics returns a *Metrics registered on a fresh registry, and the registry.
func newMetrics(t testing.TB) (*metrics.Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if m == nil {
		t.Fatal("New(registry) returned a nil *Metrics")
	}
	return m, reg
}

// compare checks the registry's exposition of the named metrics against want, which is
// in the text format and is dedented so that tests can indent it.
func compare(t testing.TB, reg prometheus.Gatherer, want string, names ...string) {
	t.Helper()
	var b strings.Builder
	for line := range strings.Lines(want) {
		b.WriteString(strings.TrimLeft(line, "\t"))
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(b.String()), names...); err != nil {
		t.Error(err)
	}
}

// recordAll calls every recording method once with plausible values.
func recordAll(m *metrics.Metrics) {
	m.Call("anthropic.claude-sonnet-4", "us-east-1", "high", metrics.OutcomeOK)
	m.Attempt("anthropic.claude-sonnet-4", "us-east-1", metrics.ResultOK)
	m.Retry("anthropic.claude-sonnet-4", "us-east-1", metrics.ResultThrottle)
	m.Throttle("anthropic.claude-sonnet-4", "us-east-1", metrics.ReasonTokens)
	m.Tokens("anthropic.claude-sonnet-4", "us-east-1", metrics.KindInput, 1200)
	m.QueueWait("anthropic.claude-sonnet-4", "high", 250*time.Millisecond)
	m.QueueDepth("us-east-1", "high", 3)
	m.Limit("us-east-1", "tokens_per_minute", 1000, 2000, 4000)
	m.EstimateError("anthropic.claude-sonnet-4", 1000, 1100)
	m.SharedDegraded("us-east-1", true)
}

func TestNilRegistererRecordsNothing(t *testing.T) {
	m, err := metrics.New(nil)
	if err != nil {
		t.Fatalf("New(nil): %v", err)
	}
	if m != nil {
		t.Errorf("New(nil) = %p, want a nil *Metrics", m)
	}
	// A nil *Metrics, and the zero Metrics, take every call without panicking.
	recordAll(m)
	recordAll(&metrics.Metrics{})
}

func TestNewRegistersEveryMetric(t *testing.T) {
	m, reg := newMetrics(t)
	recordAll(m)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, mf := range mfs {
		got = append(got, mf.GetName()+" "+mf.GetType().String())
		if !strings.HasPrefix(mf.GetName(), "tollgate_") {
			t.Errorf("metric %s lacks the tollgate_ prefix", mf.GetName())
		}
		if len(mf.GetHelp()) < 40 {
			t.Errorf("metric %s: help %q is too short to teach anything", mf.GetName(), mf.GetHelp())
		}
	}
	want := []string{ // Gather sorts by name.
		"tollgate_attempts_total COUNTER",
		"tollgate_calls_total COUNTER",
		"tollgate_estimate_error_ratio HISTOGRAM",
		"tollgate_limit_configured GAUGE",
		"tollgate_limit_effective GAUGE",
		"tollgate_limit_used GAUGE",
		"tollgate_limit_utilization GAUGE",
		"tollgate_queue_depth GAUGE",
		"tollgate_queue_wait_seconds HISTOGRAM",
		"tollgate_retries_total COUNTER",
		"tollgate_shared_store_degraded GAUGE",
		"tollgate_throttles_total COUNTER",
		"tollgate_tokens_total COUNTER",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("gathered metrics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestCounters(t *testing.T) {
	m, reg := newMetrics(t)
	const (
		sonnet = "anthropic.claude-sonnet-4"
		east   = "us-east-1"
		west   = "us-west-2"
	)
	m.Call(sonnet, east, "high", metrics.OutcomeOK)
	m.Call(sonnet, east, "high", metrics.OutcomeOK)
	m.Call(sonnet, west, "low", metrics.OutcomeThrottled)
	m.Call(sonnet, "", "low", metrics.OutcomeRejected)
	m.Call(sonnet, east, "low", "exploded") // not an outcome: recorded as other

	m.Attempt(sonnet, east, metrics.ResultOK)
	m.Attempt(sonnet, west, metrics.ResultThrottle)
	m.Attempt(sonnet, west, metrics.ResultThrottle)
	m.Attempt(sonnet, west, metrics.ResultServerError)

	m.Retry(sonnet, west, metrics.ResultThrottle)
	m.Retry(sonnet, west, metrics.ResultThrottle)
	m.Retry(sonnet, west, metrics.ResultServerError)

	m.Throttle(sonnet, west, metrics.ReasonTokens)
	m.Throttle(sonnet, west, metrics.ReasonTokensPerDay)
	m.Throttle(sonnet, west, "") // no reason given: other

	m.Tokens(sonnet, east, metrics.KindReserved, 70000)
	m.Tokens(sonnet, east, metrics.KindSettled, 9000)
	m.Tokens(sonnet, east, metrics.KindInput, 5000)
	m.Tokens(sonnet, east, metrics.KindInput, 1000)
	m.Tokens(sonnet, east, metrics.KindOutput, 800)
	m.Tokens(sonnet, east, metrics.KindCacheRead, 0)   // nothing to count
	m.Tokens(sonnet, east, metrics.KindCacheWrite, -5) // counters never go down

	compare(t, reg, `
		# HELP tollgate_calls_total Calls through the Tollgate client, counted once when a call ends after all its attempts, by outcome: ok (answered), throttled (gave up after service throttles), failed (gave up after other errors), rejected (refused before any attempt: larger than a limit, or forecast past its deadline), canceled (the caller's context ended). The non-ok outcomes' share of the total is the failure ratio callers see.
		# TYPE tollgate_calls_total counter
		tollgate_calls_total{model="anthropic.claude-sonnet-4",outcome="ok",priority="high",target="us-east-1"} 2
		tollgate_calls_total{model="anthropic.claude-sonnet-4",outcome="other",priority="low",target="us-east-1"} 1
		tollgate_calls_total{model="anthropic.claude-sonnet-4",outcome="rejected",priority="low",target=""} 1
		tollgate_calls_total{model="anthropic.claude-sonnet-4",outcome="throttled",priority="low",target="us-west-2"} 1
		# HELP tollgate_attempts_total SDK attempts, one HTTP request to Bedrock each (the SDK's own retries are off), by result: ok, throttle (HTTP 429 ThrottlingException), server_error (HTTP 5xx), model_not_ready (the model is loading), connection (no reply: refused, reset, dropped), timeout, canceled, client_error (validation or access errors, never retried), other. attempts_total / calls_total is the mean number of attempts per call.
		# TYPE tollgate_attempts_total counter
		tollgate_attempts_total{model="anthropic.claude-sonnet-4",result="ok",target="us-east-1"} 1
		tollgate_attempts_total{model="anthropic.claude-sonnet-4",result="server_error",target="us-west-2"} 1
		tollgate_attempts_total{model="anthropic.claude-sonnet-4",result="throttle",target="us-west-2"} 2
		# HELP tollgate_retries_total Attempts Tollgate retried, by the reason of the failed attempt (throttle, server_error, timeout, ...). A throttled call is requeued at the head of its priority class, possibly on another target; other retries back off exponentially with full jitter.
		# TYPE tollgate_retries_total counter
		tollgate_retries_total{model="anthropic.claude-sonnet-4",reason="server_error",target="us-west-2"} 1
		tollgate_retries_total{model="anthropic.claude-sonnet-4",reason="throttle",target="us-west-2"} 2
		# HELP tollgate_throttles_total Throttles (HTTP 429) received from the service, by the quota the message points to: tokens ("Too many tokens"), requests ("Too many requests"), tokens_per_day, or unknown. The message is a hint, not proof. With limits known this stays at zero; each one lowers the target's effective limit (tollgate_limit_effective).
		# TYPE tollgate_throttles_total counter
		tollgate_throttles_total{model="anthropic.claude-sonnet-4",reason="other",target="us-west-2"} 1
		tollgate_throttles_total{model="anthropic.claude-sonnet-4",reason="tokens",target="us-west-2"} 1
		tollgate_throttles_total{model="anthropic.claude-sonnet-4",reason="tokens_per_day",target="us-west-2"} 1
		# HELP tollgate_tokens_total Tokens by kind. reserved: quota tokens held at admission (input + cache + max_tokens, after burndown); settled: quota tokens finally charged after the reply (input + cache_write + output x burndown); input, output, cache_read, cache_write: as the service reported them; counted: input tokens from the CountTokens API. settled / reserved below 1 is reservation headroom left unused: lower max_tokens to gain throughput.
		# TYPE tollgate_tokens_total counter
		tollgate_tokens_total{kind="input",model="anthropic.claude-sonnet-4",target="us-east-1"} 6000
		tollgate_tokens_total{kind="output",model="anthropic.claude-sonnet-4",target="us-east-1"} 800
		tollgate_tokens_total{kind="reserved",model="anthropic.claude-sonnet-4",target="us-east-1"} 70000
		tollgate_tokens_total{kind="settled",model="anthropic.claude-sonnet-4",target="us-east-1"} 9000
	`, "tollgate_calls_total", "tollgate_attempts_total", "tollgate_retries_total", "tollgate_throttles_total", "tollgate_tokens_total")
}

func TestGauges(t *testing.T) {
	m, reg := newMetrics(t)
	m.QueueDepth("us-east-1", "high", 7)
	m.QueueDepth("us-east-1", "high", 2) // a gauge keeps the last value
	m.QueueDepth("us-east-1", "low", 40)
	m.Limit("us-east-1", "tokens_per_minute", 300000, 400000, 500000)
	m.Limit("us-east-1", "tokens_per_day", 5, 0, 0) // a limit that admits nothing is saturated

	compare(t, reg, `
		# HELP tollgate_queue_depth Calls waiting for admission on a target now, by priority.
		# TYPE tollgate_queue_depth gauge
		tollgate_queue_depth{priority="high",target="us-east-1"} 2
		tollgate_queue_depth{priority="low",target="us-east-1"} 40
	`, "tollgate_queue_depth")

	// The help strings are checked once above; for the limit gauges the values matter.
	for _, c := range []struct {
		name, limit string
		want        float64
	}{
		{"tollgate_limit_used", "tokens_per_minute", 300000},
		{"tollgate_limit_effective", "tokens_per_minute", 400000},
		{"tollgate_limit_configured", "tokens_per_minute", 500000},
		{"tollgate_limit_utilization", "tokens_per_minute", 0.75},
		{"tollgate_limit_used", "tokens_per_day", 5},
		{"tollgate_limit_effective", "tokens_per_day", 0},
		{"tollgate_limit_configured", "tokens_per_day", 0},
		{"tollgate_limit_utilization", "tokens_per_day", 1},
	} {
		got, ok := gaugeValue(t, reg, c.name, map[string]string{"target": "us-east-1", "limit": c.limit})
		if !ok {
			t.Errorf("%s{limit=%q}: no such series", c.name, c.limit)
		} else if got != c.want {
			t.Errorf("%s{limit=%q} = %v, want %v", c.name, c.limit, got, c.want)
		}
	}
}

// gaugeValue returns the value of the gauge series of the named metric with exactly the
// given labels.
func gaugeValue(t testing.TB, reg prometheus.Gatherer, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, s := range mf.GetMetric() {
			if len(s.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range s.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue series
				}
			}
			return s.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

func TestQueueWaitHistogram(t *testing.T) {
	m, reg := newMetrics(t)
	// Durations with exact binary fractions of a second keep the sum exact.
	m.QueueWait("anthropic.claude-sonnet-4", "high", 1953125*time.Nanosecond) // 1/512 s
	m.QueueWait("anthropic.claude-sonnet-4", "high", 3*time.Second)
	m.QueueWait("anthropic.claude-sonnet-4", "high", 10*time.Minute) // past the last bucket
	m.QueueWait("anthropic.claude-sonnet-4", "low", -time.Second)    // recorded as 0

	compare(t, reg, `
		# HELP tollgate_queue_wait_seconds Seconds a call waited for admission, until every limit of its target had room, by priority. A call requeued after a throttle is observed again. High-priority quantiles should stay small while low-priority work saturates the quota.
		# TYPE tollgate_queue_wait_seconds histogram
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="high",le="0.001"} 0
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="high",le="0.002"} 1
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="high",le="0.004"} 1
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="high",le="0.008"} 1
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="high",le="0.016"} 1
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="high",le="0.032"} 1
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="high",le="0.064"} 1
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="high",le="0.128"} 1
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="high",le="0.256"} 1
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="high",le="0.512"} 1
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="high",le="1.024"} 1
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="high",le="2.048"} 1
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="high",le="4.096"} 2
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="high",le="8.192"} 2
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="high",le="16.384"} 2
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="high",le="32.768"} 2
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="high",le="65.536"} 2
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="high",le="131.072"} 2
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="high",le="262.144"} 2
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="high",le="524.288"} 2
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="high",le="+Inf"} 3
		tollgate_queue_wait_seconds_sum{model="anthropic.claude-sonnet-4",priority="high"} 603.001953125
		tollgate_queue_wait_seconds_count{model="anthropic.claude-sonnet-4",priority="high"} 3
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="low",le="0.001"} 1
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="low",le="0.002"} 1
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="low",le="0.004"} 1
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="low",le="0.008"} 1
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="low",le="0.016"} 1
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="low",le="0.032"} 1
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="low",le="0.064"} 1
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="low",le="0.128"} 1
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="low",le="0.256"} 1
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="low",le="0.512"} 1
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="low",le="1.024"} 1
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="low",le="2.048"} 1
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="low",le="4.096"} 1
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="low",le="8.192"} 1
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="low",le="16.384"} 1
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="low",le="32.768"} 1
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="low",le="65.536"} 1
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="low",le="131.072"} 1
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="low",le="262.144"} 1
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="low",le="524.288"} 1
		tollgate_queue_wait_seconds_bucket{model="anthropic.claude-sonnet-4",priority="low",le="+Inf"} 1
		tollgate_queue_wait_seconds_sum{model="anthropic.claude-sonnet-4",priority="low"} 0
		tollgate_queue_wait_seconds_count{model="anthropic.claude-sonnet-4",priority="low"} 1
	`, "tollgate_queue_wait_seconds")
}

func TestEstimateErrorHistogram(t *testing.T) {
	m, reg := newMetrics(t)
	const model = "anthropic.claude-sonnet-4"
	m.EstimateError(model, 1000, 500)  // 0.5: estimated twice too high
	m.EstimateError(model, 1000, 1000) // 1: exact
	m.EstimateError(model, 800, 1000)  // 1.25: estimated low
	m.EstimateError(model, 1000, 2000) // 2
	m.EstimateError(model, 0, 1000)    // no estimate: skipped
	m.EstimateError(model, 1000, 0)    // nothing reported: skipped

	compare(t, reg, `
		# HELP tollgate_estimate_error_ratio Per call, the token count the service reported divided by Tollgate's estimate of it before the call. 1 is exact; above 1 the estimate was low (risk of throttles), below 1 it was high (idle headroom). Calls where either count is 0 are not observed.
		# TYPE tollgate_estimate_error_ratio histogram
		tollgate_estimate_error_ratio_bucket{model="anthropic.claude-sonnet-4",le="0.5"} 1
		tollgate_estimate_error_ratio_bucket{model="anthropic.claude-sonnet-4",le="0.67"} 1
		tollgate_estimate_error_ratio_bucket{model="anthropic.claude-sonnet-4",le="0.8"} 1
		tollgate_estimate_error_ratio_bucket{model="anthropic.claude-sonnet-4",le="0.9"} 1
		tollgate_estimate_error_ratio_bucket{model="anthropic.claude-sonnet-4",le="0.95"} 1
		tollgate_estimate_error_ratio_bucket{model="anthropic.claude-sonnet-4",le="0.99"} 1
		tollgate_estimate_error_ratio_bucket{model="anthropic.claude-sonnet-4",le="1.01"} 2
		tollgate_estimate_error_ratio_bucket{model="anthropic.claude-sonnet-4",le="1.05"} 2
		tollgate_estimate_error_ratio_bucket{model="anthropic.claude-sonnet-4",le="1.1"} 2
		tollgate_estimate_error_ratio_bucket{model="anthropic.claude-sonnet-4",le="1.25"} 3
		tollgate_estimate_error_ratio_bucket{model="anthropic.claude-sonnet-4",le="1.5"} 3
		tollgate_estimate_error_ratio_bucket{model="anthropic.claude-sonnet-4",le="2"} 4
		tollgate_estimate_error_ratio_bucket{model="anthropic.claude-sonnet-4",le="+Inf"} 4
		tollgate_estimate_error_ratio_sum{model="anthropic.claude-sonnet-4"} 4.75
		tollgate_estimate_error_ratio_count{model="anthropic.claude-sonnet-4"} 4
	`, "tollgate_estimate_error_ratio")
}

func TestRegisteringTwiceFails(t *testing.T) {
	m, reg := newMetrics(t)
	again, err := metrics.New(reg)
	if err == nil {
		t.Fatal("second New on one registry succeeded, want an error")
	}
	if again != nil {
		t.Errorf("second New returned %p with its error, want nil", again)
	}
	var are prometheus.AlreadyRegisteredError
	if !errors.As(err, &are) {
		t.Errorf("error %q does not wrap a prometheus.AlreadyRegisteredError", err)
	}
	if !strings.Contains(err.Error(), "already registered") {
		t.Errorf("error %q does not say the collectors are already registered", err)
	}
	// The first *Metrics still records.
	m.Call("m", "t", "high", metrics.OutcomeOK)
	if n := testutil.CollectAndCount(reg, "tollgate_calls_total"); n != 1 {
		t.Errorf("after the failed second New, tollgate_calls_total has %d series, want 1", n)
	}
}

// refusing is a real registry that refuses one metric by name and keeps track of the
// collectors registered on it.
type refusing struct {
	*prometheus.Registry
	refuse string
	live   map[prometheus.Collector]bool
}

func (r *refusing) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 1)
	c.Describe(ch)
	if d := (<-ch).String(); strings.Contains(d, `fqName: "`+r.refuse+`"`) {
		return errors.New("refused")
	}
	if err := r.Registry.Register(c); err != nil {
		return err
	}
	r.live[c] = true
	return nil
}

func (r *refusing) Unregister(c prometheus.Collector) bool {
	delete(r.live, c)
	return r.Registry.Unregister(c)
}

func TestFailedRegistrationRollsBack(t *testing.T) {
	// tollgate_limit_used is registered half-way through New.
	reg := &refusing{Registry: prometheus.NewRegistry(), refuse: "tollgate_limit_used", live: map[prometheus.Collector]bool{}}
	m, err := metrics.New(reg)
	if err == nil {
		t.Fatal("New succeeded though the registry refused a collector")
	}
	if m != nil {
		t.Errorf("New returned %p with its error, want nil", m)
	}
	if got, want := err.Error(), "metrics: registering tollgate_limit_used: refused"; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
	if len(reg.live) != 0 {
		t.Errorf("the failed New left %d collectors registered, want 0", len(reg.live))
	}
	// With nothing left behind, the same registry takes a *Metrics once it stops refusing.
	reg.refuse = ""
	if _, err := metrics.New(reg); err != nil {
		t.Errorf("New on the same registry after the failure: %v", err)
	}
	if len(reg.live) != 13 {
		t.Errorf("New registered %d collectors, want 13", len(reg.live))
	}
}

func TestForeignCollectorUnderOurName(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "tollgate_limit_used", Help: "Someone else's."}))
	if _, err := metrics.New(reg); err == nil || !strings.Contains(err.Error(), "tollgate_limit_used") {
		t.Errorf("New beside a foreign tollgate_limit_used: error %v, want one naming the metric", err)
	}
}

func TestInvalidLabelValuesAreDropped(t *testing.T) {
	m, reg := newMetrics(t)
	bad := string([]byte{0xff, 0xfe})
	m.Call(bad, "t", "high", metrics.OutcomeOK) // would panic through WithLabelValues
	m.QueueWait(bad, "high", time.Second)
	m.QueueDepth(bad, "high", 1)
	m.EstimateError(bad, 10, 10)
	if n := testutil.CollectAndCount(reg); n != 0 {
		t.Errorf("%d series recorded with invalid UTF-8 labels, want 0", n)
	}
}
