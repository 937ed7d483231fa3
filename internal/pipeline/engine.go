package pipeline

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/internal/estimate"
	"github.com/tollgate-dev/tollgate/internal/route"
	"github.com/tollgate-dev/tollgate/quota"
	"github.com/tollgate-dev/tollgate/quota/redisquota"
)

// rightSizeQuantile is the learned output quantile max_tokens is set to when right-sizing.
const rightSizeQuantile = 0.99

// Engine runs calls through the pipeline (Do). It is safe for concurrent use; Close
// releases it.
type Engine struct {
	cfg     Config
	obs     Observer
	cal     *estimate.Calibrator
	est     *estimate.Estimator
	pred    *estimate.OutputPredictor
	targets []*Target
	groups  map[string]*group // by base model id

	calibrated sync.Map // base model id → true once reported usage was seen
	learn      learning // calls right-sizing max_tokens before their task is learned
	closed     atomic.Bool
	streams    sync.WaitGroup // streams whose end an adapter has yet to report
	shared     *shared        // Config.Redis; nil when the quota is this process's own
}

// New returns an Engine for cfg, telling obs (nil: nobody) what happens: it resolves each target's
// model in the catalog and its limits (explicit, discovered, or catalog defaults — each
// source is logged), and builds one SDK client per target with the SDK's retries off.
func New(ctx context.Context, cfg Config, obs Observer) (*Engine, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if obs == nil {
		obs = nobody{}
	}
	cal, err := estimate.NewCalibrator(estimate.CalibratorConfig{})
	if err != nil {
		return nil, err
	}
	est, err := estimate.New(estimate.Config{Calibrator: cal})
	if err != nil {
		return nil, err
	}
	pred, err := estimate.NewPredictor(estimate.PredictorConfig{MinObservations: cfg.Learners})
	if err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, obs: obs, cal: cal, est: est, pred: pred, groups: make(map[string]*group)}
	if cfg.Redis != "" {
		if e.shared, err = parseRedis(cfg.Redis); err != nil {
			return nil, err
		}
		if err := e.shared.ping(ctx); err != nil {
			e.shared.client.Close()
			return nil, err
		}
	}
	for _, t := range cfg.Targets {
		tg, err := e.newTarget(ctx, t)
		if err != nil {
			e.Close()
			return nil, err
		}
		e.targets = append(e.targets, tg)
		g := e.groups[tg.Base.ID]
		if g == nil {
			g = &group{model: tg.Base}
			e.groups[tg.Base.ID] = g
		}
		tg.g, tg.index = g, len(g.targets)
		g.targets = append(g.targets, tg)
	}
	for _, g := range e.groups {
		rt := make([]route.Target, len(g.targets))
		for i, tg := range g.targets {
			rt[i] = route.Target{Name: tg.Name, Preference: tg.cfg.Preference}
		}
		if g.router, err = route.New(rt, route.Config{}); err != nil {
			e.Close()
			return nil, fmt.Errorf("tollgate: %w", err)
		}
	}
	return e, nil
}

// Close stops admitting calls, fails those waiting with ErrClosed, and waits for the
// streams whose end is deferred to end.
func (e *Engine) Close() {
	if e.closed.Swap(true) {
		return
	}
	for _, tg := range e.targets {
		tg.lim.Close()
	}
	e.streams.Wait()
	if e.shared != nil {
		for _, tg := range e.targets {
			_ = tg.store.Close() // returns unused grants; a failure leaves them to lapse
		}
		e.shared.client.Close()
	}
}

// First returns the first target serving model's base model (for calls that are not
// metered, such as CountTokens).
func (e *Engine) First(model string) (*Target, error) {
	g, err := e.groupFor(model)
	if err != nil {
		return nil, err
	}
	return g.targets[0], nil
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
	// Input is the estimate of the call's input the forecast made: give it to Do as
	// Call.Estimated so that the request is not estimated twice.
	Input *estimate.Input
}

// Forecast predicts how long c would wait for admission now, on the target that would
// admit it first.
func (e *Engine) Forecast(ctx context.Context, c Call) (Prediction, error) {
	cl, err := e.plan(ctx, c, false)
	if err != nil {
		return Prediction{}, err
	}
	cl.release()
	best := Prediction{Wait: -1, Cost: cl.cost, Input: &cl.in}
	for _, t := range cl.g.targets {
		p, err := t.forecast(ctx, cl)
		if err != nil {
			return Prediction{}, fmt.Errorf("tollgate: %s: %w", t.Name, err)
		}
		if best.Wait < 0 || p.Wait < best.Wait {
			best.Wait, best.Limit, best.Target = p.Wait, p.Limit, t.Name
		}
	}
	return best, nil
}

// TargetSnapshot is one target's quota state: usage and headroom per limit (effective
// amounts, after adaptation), calls in flight and queued per class.
type TargetSnapshot struct {
	Target string
	QuotaState
	// Source says where the target's limits came from: "explicit", "catalog default", or
	// "service quotas (…)" naming each quota's source (applied, or catalog default and why).
	Source string
}

// QuotaState is a target's quota usage at one moment.
type QuotaState struct {
	// Limits has one entry per limit in force, in the order of quota.Limiter.Limits.
	Limits []LimitUsage
	// InFlight is the number of reservations open in the quota's store (of every
	// Limiter sharing it).
	InFlight int
	// Queued is the number of calls waiting in each priority class, highest (Critical)
	// first.
	Queued [5]int
	// Shared is true when the quota is held in Redis with other instances (Config.Redis);
	// Degraded while that Redis is unreachable, and the target admits from its last grant,
	// then within its own part of each limit.
	Shared, Degraded bool
	// DegradedSince is when Redis became unreachable, while Degraded.
	DegradedSince time.Time
}

// LimitUsage is the usage of one limit.
type LimitUsage struct {
	// Limit is the limit in force (its Amount as adaptation last set it).
	Limit quota.Limit
	// Used is the usage counted in the window now; a call of cost c fits while
	// Used + c <= Amount. It exceeds Amount after settlements charged more than was
	// reserved.
	Used int64
}

// Snapshot reports every target's quota state, and tells the observer.
func (e *Engine) Snapshot(ctx context.Context) ([]TargetSnapshot, error) {
	out := make([]TargetSnapshot, 0, len(e.targets))
	for _, tg := range e.targets {
		limits := tg.lim.Limits()
		used, inFlight, queued, err := tg.lim.Usage(ctx)
		var shared redisquota.Status
		if tg.store != nil {
			shared = tg.store.Status()
		}
		degraded := shared.Degraded
		if err != nil && !degraded {
			return nil, fmt.Errorf("tollgate: %s: %w", tg.Name, err)
		}
		// While Redis is unreachable the shared usage is unknown: the limits are
		// reported with no usage, and Degraded says why.
		s := QuotaState{Limits: make([]LimitUsage, len(limits)), InFlight: inFlight, Queued: queued, Shared: tg.store != nil, Degraded: degraded}
		if degraded {
			s.DegradedSince = shared.Since
		}
		for i, l := range limits {
			s.Limits[i] = LimitUsage{Limit: l}
			if used != nil {
				s.Limits[i].Used = used[i]
			}
		}
		ts := TargetSnapshot{Target: tg.Name, QuotaState: s, Source: tg.source}
		e.obs.Sampled(tg, ts)
		out = append(out, ts)
	}
	return out, nil
}

// LimitName returns the metrics label of the target's limit i ("tokens_per_minute"), and
// its configured amount, before adaptation.
func (tg *Target) LimitName(i int) (name string, configured int64) {
	return tg.names[i], tg.ctrls[i].State().Configured
}

// learning gates calls that would right-size max_tokens for a task whose output length is
// not learned yet: up to Config.Learners of them go out with max_tokens unset (Bedrock
// then reserves the model's maximum), and the rest wait — holding no quota — until those
// replies have taught the predictor, then go out right-sized. Without the gate, a burst
// of calls arriving before the first replies would all reserve the maximum. A learner
// that ends without a reply (an error) frees its place.
type learning struct {
	mu   sync.Mutex
	n    map[string]int // calls out per task while it is being learned
	wake chan struct{}  // closed (and replaced) whenever a learning call ends
}

// rightSize returns the max_tokens to send for a call of task — the learned quantile with
// estimate.RightSizeHeadroom; while the task is being learned, Config.InitialMaxTokens, or
// 0 to leave it unset when the call is one of the task's learners — and the function to call when the call has ended (observed says whether its
// reply was learned from). With gate false (a forecast) it never waits nor takes a
// learner's place.
func (e *Engine) rightSize(ctx context.Context, observed *atomic.Bool, task string, gate bool) (int, func(), error) {
	l := &e.learn
	for {
		if n, ok := e.pred.Predict(task, rightSizeQuantile); ok {
			return int(math.Ceil(float64(n) * estimate.RightSizeHeadroom)), func() {}, nil
		}
		if e.cfg.InitialMaxTokens > 0 {
			return e.cfg.InitialMaxTokens, func() {}, nil
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
		if l.n[task] < e.cfg.Learners {
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

// Predict returns the learned q-quantile of task's output length, in tokens.
func (e *Engine) Predict(task string, q float64) (int, bool) { return e.pred.Predict(task, q) }
