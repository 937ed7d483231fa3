package gateway

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate-dev/tollgate/internal/invoke"
	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/internal/quotatext"
	"github.com/tollgate-dev/tollgate/quota"
)

// The status page's history: a sample of every target's limits every historyEvery, for
// historySpan.
const (
	historyEvery = 5 * time.Second
	historySpan  = 10 * time.Minute
)

// observer is the pipeline's Observer: the client's metrics, plus what the status page
// shows that the metrics do not keep (throttles per target, recent waits per class).
type observer struct {
	pipeline.Observer
	mu        sync.Mutex
	throttles map[string]int64
	waits     []admittedWait // the last minute's, oldest first
}

type admittedWait struct {
	at    time.Time
	class int
	wait  time.Duration
}

func newObserver(next pipeline.Observer) *observer {
	return &observer{Observer: next, throttles: map[string]int64{}}
}

func (o *observer) Admitted(t *pipeline.Target, c *pipeline.Call, attempt int, waited time.Duration, reserved quota.Cost) {
	o.Observer.Admitted(t, c, attempt, waited, reserved)
	now := time.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	o.waits = append(o.waits, admittedWait{at: now, class: classIndex(c.Priority), wait: waited})
	o.trimLocked(now)
}

func (o *observer) Ended(t *pipeline.Target, c *pipeline.Call, out invoke.Outcome, u invoke.Usage, estimated int, settled quota.Cost) {
	o.Observer.Ended(t, c, out, u, estimated, settled)
	if out.Kind == invoke.Throttle {
		o.mu.Lock()
		o.throttles[t.Name]++
		o.mu.Unlock()
	}
}

// trimLocked drops the waits older than a minute.
func (o *observer) trimLocked(now time.Time) {
	i := 0
	for i < len(o.waits) && now.Sub(o.waits[i].at) > time.Minute {
		i++
	}
	if i > 0 {
		o.waits = append(o.waits[:0], o.waits[i:]...)
	}
}

// meanWaits returns each class's mean wait over the last minute.
func (o *observer) meanWaits(now time.Time) (mean [len(quotatext.Priorities)]time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.trimLocked(now)
	var n [len(quotatext.Priorities)]int
	var sum [len(quotatext.Priorities)]time.Duration
	for _, w := range o.waits {
		n[w.class]++
		sum[w.class] += w.wait
	}
	for i := range mean {
		if n[i] > 0 {
			mean[i] = sum[i] / time.Duration(n[i])
		}
	}
	return mean
}

func (o *observer) throttlesOf(target string) int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.throttles[target]
}

// relayMetrics are the gateway's own metrics, per tenant.
type relayMetrics struct {
	calls   *prometheus.CounterVec
	tokens  *prometheus.CounterVec
	refused *prometheus.CounterVec
	wait    *prometheus.HistogramVec
}

func newRelayMetrics(reg prometheus.Registerer) (*relayMetrics, error) {
	m := &relayMetrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_gateway_calls_total",
			Help: "Calls the gateway answered, by tenant, operation and HTTP status (0: the caller left)."}, []string{"tenant", "operation", "status"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_gateway_tokens_total",
			Help: "Tokens the upstream reported for the gateway's calls, by tenant and kind (input, output)."}, []string{"tenant", "kind"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_gateway_refused_total",
			Help: "Calls the gateway answered with 429 itself, by tenant and reason (max_wait: the wait would pass the maximum; tenant_limit: the tenant's own limits)."}, []string{"tenant", "reason"}),
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tollgate_gateway_wait_seconds",
			Help: "Time the gateway's calls waited for admission (the tenant's and the account's), by tenant.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 17)}, []string{"tenant"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.calls, m.tokens, m.refused, m.wait} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("gateway: registering metrics: %w", err)
			}
		}
	}
	return m, nil
}

// history keeps the samples of each target's limits.
type history struct {
	mu sync.Mutex
	m  map[string][][]Sample // by target, by limit index
}

func (h *history) add(target string, i int, s Sample) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = map[string][][]Sample{}
	}
	lists := h.m[target]
	for len(lists) <= i {
		lists = append(lists, nil)
	}
	l := append(lists[i], s)
	if keep := int(historySpan / historyEvery); len(l) > keep {
		l = append(l[:0], l[len(l)-keep:]...)
	}
	lists[i] = l
	h.m[target] = lists
}

func (h *history) get(target string, i int) []Sample {
	h.mu.Lock()
	defer h.mu.Unlock()
	lists := h.m[target]
	if i >= len(lists) {
		return nil
	}
	return append([]Sample(nil), lists[i]...)
}

// sample records the targets' use every historyEvery until Close; it also keeps the
// pipeline's gauges (queue depths, limits) fresh for /metrics.
func (rl *Relay) sample() {
	defer close(rl.done)
	t := time.NewTicker(historyEvery)
	defer t.Stop()
	for {
		rl.record()
		select {
		case <-rl.stop:
			return
		case <-t.C:
		}
	}
}

func (rl *Relay) record() {
	snaps, err := rl.e.Snapshot(context.Background())
	if err != nil {
		return
	}
	now := time.Now()
	for _, s := range snaps {
		for i, l := range s.Limits {
			rl.hist.add(s.Target, i, Sample{At: now, Used: float64(l.Used)})
		}
	}
}

// Status is what the status page shows now (Config.Status).
func (rl *Relay) Status() Status {
	now := time.Now()
	st := Status{Time: now}
	snaps, err := rl.e.Snapshot(context.Background())
	if err == nil {
		for _, s := range snaps {
			ts := TargetStatus{Name: s.Target, InFlight: s.InFlight, Throttles: rl.obs.throttlesOf(s.Target), Shared: s.Shared}
			if s.Degraded {
				since := s.DegradedSince
				ts.DegradedSince = &since
			}
			for i, l := range s.Limits {
				ts.Limits = append(ts.Limits, LimitStatus{Name: rl.limitName(l.Limit), Limit: float64(l.Limit.Amount), Used: float64(l.Used), History: rl.hist.get(s.Target, i)})
			}
			st.Targets = append(st.Targets, ts)
		}
	}
	n, oldest := rl.waiting.byClass(now)
	mean := rl.obs.meanWaits(now)
	for i, p := range quotatext.Priorities {
		st.Queues = append(st.Queues, QueueStatus{Priority: p.String(), Waiting: n[i], OldestWaitSeconds: oldest[i].Seconds(), MeanWaitSeconds: mean[i].Seconds()})
	}
	st.Tenants = rl.tenants.status(now)
	return st
}

// limitName names a target's limit in words, in the upstream's time: "tokens per minute".
func (rl *Relay) limitName(l quota.Limit) string {
	per := time.Duration(float64(l.Per) * rl.cfg.TimeScale)
	unit := "tokens"
	if l.Dimension == quota.Requests {
		unit = "requests"
	}
	switch {
	case per >= 23*time.Hour:
		return unit + " per day"
	case per >= 50*time.Second && per <= 70*time.Second:
		return unit + " per minute"
	}
	return l.String()
}
