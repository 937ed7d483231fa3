package tollgate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/callorder"
	"github.com/tollgate-dev/tollgate/internal/estimate"
	"github.com/tollgate-dev/tollgate/internal/invoke"
	"github.com/tollgate-dev/tollgate/internal/metrics"
	"github.com/tollgate-dev/tollgate/internal/route"
	"github.com/tollgate-dev/tollgate/quota"
)

var errDeadline = context.DeadlineExceeded

// Client is a quota-aware Bedrock Runtime client with the methods and types of
// *bedrockruntime.Client. It is safe for concurrent use; Close releases it.
type Client struct {
	cfg     Config
	cal     *estimate.Calibrator
	est     *estimate.Estimator
	pred    *estimate.OutputPredictor
	metrics *metrics.Metrics
	targets []*target
	groups  map[string]*group // by base model id

	calibrated sync.Map // base model id → true once reported usage was seen
	learn      learning // calls right-sizing max_tokens before their task is learned
	closed     atomic.Bool
	streams    sync.WaitGroup // watchers of streams handed to callers
}

// New returns a Client for cfg: it resolves each target's model in the catalog and its
// limits (explicit, discovered, or catalog defaults — each source is logged), and builds
// one SDK client per target with the SDK's retries off.
func New(ctx context.Context, cfg Config) (*Client, error) {
	cfg.Targets = append([]Target(nil), cfg.Targets...)
	cfg, err := cfg.validate(ctx)
	if err != nil {
		return nil, err
	}
	cal, err := estimate.NewCalibrator(estimate.CalibratorConfig{})
	if err != nil {
		return nil, err
	}
	est, err := estimate.New(estimate.Config{Calibrator: cal})
	if err != nil {
		return nil, err
	}
	pred, err := estimate.NewPredictor(estimate.PredictorConfig{MinObservations: learners})
	if err != nil {
		return nil, err
	}
	m, err := metrics.New(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("tollgate: registering metrics: %w", err)
	}
	c := &Client{cfg: cfg, cal: cal, est: est, pred: pred, metrics: m, groups: make(map[string]*group)}
	for _, t := range cfg.Targets {
		tg, err := c.newTarget(ctx, t)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.targets = append(c.targets, tg)
		g := c.groups[tg.model.ID]
		if g == nil {
			g = &group{model: tg.model}
			c.groups[tg.model.ID] = g
		}
		g.targets = append(g.targets, tg)
	}
	for _, g := range c.groups {
		rt := make([]route.Target, len(g.targets))
		for i, tg := range g.targets {
			rt[i] = route.Target{Name: tg.name, Preference: tg.cfg.Preference}
		}
		if g.router, err = route.New(rt, route.Config{}); err != nil {
			c.Close()
			return nil, fmt.Errorf("tollgate: %w", err)
		}
	}
	return c, nil
}

// Close stops admitting calls, fails those waiting with ErrClosed, and waits for the
// streams it handed out to end — read to their last event, or closed with the stream's
// Close, as the SDK requires of every stream: Close blocks while a caller holds a stream
// it neither reads nor closes.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	for _, tg := range c.targets {
		tg.lim.Close()
	}
	c.streams.Wait()
	return nil
}

// call is one call through the pipeline: its group, estimate and cost.
type call struct {
	g        *group
	modelID  string
	in       estimate.Input
	max      int // max_tokens sent (0: unset)
	cost     quota.Cost
	input    int // input tokens reserved (the estimate with its margin, or the exact count)
	opt      quota.Options
	prio     string
	task     string       // for output-length learning
	queued   func()       // tollgate.WithQueued's hook, run once: nil when none
	release  func()       // ends the call's place among its task's learners (see learning)
	observed *atomic.Bool // set once its reply taught the output predictor (nil: not learning)
	pick     int          // the router's index of the attempt's target
	retry    bool         // throttled once: it waits again at the head of its tenant's queue
	stats    *CallStats   // tollgate.WithStats's, filled by the attempts: nil when none
}

// groupFor returns the group of targets that serve modelID's base model.
func (c *Client) groupFor(modelID string) (*group, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	ref, err := catalog.Parse(modelID)
	if err != nil {
		return nil, fmt.Errorf("tollgate: %w", err)
	}
	base := ref.ModelID
	if base == "" {
		if m, _, err := c.cfg.Catalog.Lookup(modelID); err == nil {
			base = m.ID
		}
	}
	g := c.groups[base]
	if g == nil {
		return nil, fmt.Errorf("%w %q (base model %q): add a Target for it to Config.Targets", ErrNoTarget, modelID, base)
	}
	return g, nil
}

// plan estimates req, a call to modelID, and returns what to reserve. exact, when
// positive, is Bedrock's own count of the input (CountTokens), used instead of the
// estimate.
func (c *Client) plan(ctx context.Context, modelID string, req *estimate.Request, exact int) (*call, error) {
	g, err := c.groupFor(modelID)
	if err != nil {
		return nil, err
	}
	in := c.est.Input(g.model.ID, req)
	tokens := in.Tokens
	switch _, calibrated := c.calibrated.Load(g.model.ID); {
	case exact > 0:
		tokens = exact
	case !calibrated:
		tokens = int(math.Ceil(float64(tokens) * c.cfg.InitialMargin))
	default:
		tokens = int(math.Ceil(float64(tokens) * (1 + c.cfg.EstimateMargin)))
	}
	cost, err := estimate.ReserveCost(g.targets[0].params, estimate.Usage{InputTokens: tokens}, req.MaxTokens)
	if err != nil {
		return nil, fmt.Errorf("tollgate: %w", err)
	}
	opt := callOptions(ctx)
	return &call{g: g, modelID: modelID, in: in, input: tokens, max: req.MaxTokens, cost: cost, opt: opt, prio: opt.Priority.String(), task: taskOf(ctx), queued: queuedOf(ctx), release: func() {}}, nil
}

// attemptFunc makes one SDK attempt on t and reports its outcome. On success it returns
// the usage to settle with; known is false when the settlement is deferred (a stream,
// settled by its watcher).
type attemptFunc func(ctx context.Context, t *target, r quota.Reservation) (u invoke.Usage, deferred bool, err error)

// run takes a planned call through admission, one attempt at a time, until it succeeds,
// fails for good, or runs out of attempts.
func (c *Client) run(ctx context.Context, cl *call, attempt attemptFunc) error {
	var exclude []int
	var last error
	st := statsOf(ctx)
	if st != nil {
		*st = CallStats{}
	}
	cl.stats = st
	for n := 1; ; n++ {
		i, tg, r, err := c.admit(ctx, cl, exclude)
		if err != nil {
			outcome := "rejected"
			if ctx.Err() != nil {
				outcome = "canceled"
			}
			c.metrics.Call(cl.g.model.ID, "", cl.prio, outcome)
			if last != nil && ctx.Err() != nil {
				return &GiveUpError{Attempts: n - 1, Err: fmt.Errorf("%w (after: %v)", err, last)}
			}
			return err
		}
		c.metrics.QueueWait(cl.g.model.ID, cl.prio, r.Waited())
		c.cfg.Logger.Debug("tollgate admitted", "target", tg.name, "priority", cl.prio, "waited", r.Waited(), "attempt", n, "tokens", r.Cost().Tokens)
		c.metrics.Tokens(cl.g.model.ID, tg.name, "reserved", r.Cost().Tokens)
		if st != nil {
			st.Attempts, st.Waited = n, st.Waited+r.Waited()
			st.Target, st.Region, st.Reserved = tg.name, tg.region, r.Cost()
		}
		cl.pick = i
		u, deferred, err := attempt(invoke.WithAttemptTimeout(ctx, c.attemptTimeout(cl)), tg, r)
		now := time.Now()
		o := invoke.Classify(err)
		if o.Kind == invoke.OK && deferred {
			return nil // a stream: endStream ends the reservation and records the outcome
		}
		switch o.Kind { // end the reservation before the outcome is recorded
		case invoke.OK:
			c.settle(tg, cl, r, u)
		case invoke.Connection:
			// The service may have metered the input before the connection broke: keep
			// that much charged rather than risk counting less than it did.
			r.Settle(quota.Cost{Requests: r.Cost().Requests, Tokens: int64(cl.input), InputTokens: int64(cl.input)})
		default:
			r.Cancel()
		}
		c.record(cl, tg, r.Cost(), o, now)
		switch o.Kind {
		case invoke.OK:
			c.metrics.Call(cl.g.model.ID, tg.name, cl.prio, "ok")
			return nil
		case invoke.Throttle:
			c.cfg.Logger.Debug("tollgate throttled", "target", tg.name, "reason", o.Reason.String(), "attempt", n)
			last = &ThrottleError{Model: cl.modelID, Region: tg.region, Target: tg.name, Reason: o.Reason.String(), Message: o.Message, Err: err}
			cl.retry = true // back at the head of its class
			if len(cl.g.targets) > 1 {
				exclude = []int{i}
			}
		case invoke.Connection, invoke.ServerError, invoke.ModelNotReady, invoke.Timeout:
			last = err
		case invoke.Canceled:
			c.metrics.Call(cl.g.model.ID, tg.name, cl.prio, "canceled")
			return err
		default: // client errors are not retried
			c.metrics.Call(cl.g.model.ID, tg.name, cl.prio, "failed")
			return err
		}
		if n >= c.cfg.MaxAttempts {
			outcome := "failed"
			if o.Kind == invoke.Throttle {
				outcome = "throttled"
			}
			c.metrics.Call(cl.g.model.ID, tg.name, cl.prio, outcome)
			return &GiveUpError{Attempts: n, Err: last}
		}
		c.metrics.Retry(cl.g.model.ID, tg.name, o.Kind.String())
		if o.Kind != invoke.Throttle {
			if err := sleep(ctx, c.cfg.Backoff(n)); err != nil {
				return &GiveUpError{Attempts: n, Err: fmt.Errorf("%w (after: %v)", err, last)}
			}
		}
	}
}

// record reports the outcome o of the call's attempt on tg (which reserved cost) to all
// that learns from it: the router's breaker and throttle cool-down, the target's adaptive
// limits, the attempt and throttle metrics and the call's stats. The attempt's
// reservation must have ended (the throttle lowers the limit to the usage left after it).
// A stream's outcome is recorded once, when it ends, so a stream throttled halfway is one
// throttled attempt as a non-stream call is, not a success and then a throttle.
func (c *Client) record(cl *call, tg *target, cost quota.Cost, o invoke.Outcome, now time.Time) {
	c.metrics.Attempt(cl.g.model.ID, tg.name, o.Kind.String())
	switch o.Kind {
	case invoke.OK:
		cl.g.router.Success(cl.pick, now)
		tg.succeeded(now)
	case invoke.Throttle:
		if cl.stats != nil {
			cl.stats.Throttles++
		}
		tg.throttled(now, o.Reason.String(), cost)
		cl.g.router.Throttled(cl.pick, now)
		c.metrics.Throttle(cl.g.model.ID, tg.name, o.Reason.String())
	case invoke.Connection, invoke.ServerError, invoke.ModelNotReady, invoke.Timeout:
		cl.g.router.Failure(cl.pick, now)
	case invoke.Canceled:
		cl.g.router.Cancel(cl.pick, now) // no verdict on the target
	default:
		cl.g.router.Success(cl.pick, now) // a client error: the service answered
	}
}

// admit routes the call and waits for its reservation. It refuses at once a call whose
// forecast wait exceeds its deadline (unless NoFailFast).
func (c *Client) admit(ctx context.Context, cl *call, exclude []int) (int, *target, quota.Reservation, error) {
	g := cl.g
	for {
		now := time.Now()
		wait := func(i int) time.Duration {
			if len(g.targets) == 1 {
				return 0
			}
			p, err := g.targets[i].lim.Forecast(ctx, cl.cost, cl.opt)
			if err != nil {
				return time.Duration(math.MaxInt64)
			}
			return p.Wait
		}
		i, ok, retryAt := g.router.Pick(now, wait, exclude...)
		if !ok && len(g.targets) == 1 {
			// A breaker steers calls among targets; a lone target has no alternative and
			// keeps being tried, paced by the backoff.
			i, ok = 0, true
		}
		if !ok {
			if len(exclude) > 0 {
				exclude = nil // every other target is out: the throttled one will do
				continue
			}
			if err := sleep(ctx, retryAt.Sub(now)); err != nil {
				return 0, nil, quota.Reservation{}, err
			}
			continue
		}
		tg := g.targets[i]
		if dl, has := ctx.Deadline(); has && !c.cfg.NoFailFast {
			if p, err := tg.lim.Forecast(ctx, cl.cost, cl.opt); err == nil && p.Wait > time.Until(dl) {
				g.router.Cancel(i, time.Now())
				return 0, nil, quota.Reservation{}, &DeadlineError{Wait: p.Wait, Left: time.Until(dl), Limit: p.Limit, Target: tg.name}
			}
		}
		wctx := callorder.WithQueued(ctx, cl.queued)
		if cl.retry {
			wctx = callorder.WithRetry(wctx)
		}
		r, err := tg.lim.Wait(wctx, cl.cost, cl.opt)
		if err != nil {
			g.router.Cancel(i, time.Now()) // the call was never sent
			if errors.Is(err, quota.ErrClosed) {
				return 0, nil, r, ErrClosed
			}
			return 0, nil, r, fmt.Errorf("tollgate: %s: %w", tg.name, err)
		}
		return i, tg, r, nil
	}
}

// settle ends a reservation with the usage Bedrock reported, and learns from it.
func (c *Client) settle(tg *target, cl *call, r quota.Reservation, u invoke.Usage) {
	now := time.Now()
	if !u.Known {
		r.Settle(r.Cost()) // nothing reported: keep the reservation as the charge
		return
	}
	eu := estimate.Usage{InputTokens: int(u.Input), OutputTokens: int(u.Output), CacheReadTokens: int(u.CacheRead), CacheWriteTokens: int(u.CacheWrite)}
	cost, err := estimate.SettleCost(tg.params, eu)
	if err != nil {
		r.Settle(r.Cost())
		return
	}
	cost.Requests = r.Cost().Requests
	r.Settle(cost)
	reported := int(u.Input + u.CacheRead + u.CacheWrite)
	c.est.Observe(now, cl.g.model.ID, cl.in, reported)
	c.calibrated.Store(cl.g.model.ID, true)
	c.metrics.EstimateError(cl.g.model.ID, int64(cl.in.Tokens), int64(reported))
	c.metrics.Tokens(cl.g.model.ID, tg.name, "settled", cost.Tokens)
	c.metrics.Tokens(cl.g.model.ID, tg.name, "input", u.Input)
	c.metrics.Tokens(cl.g.model.ID, tg.name, "output", u.Output)
	c.metrics.Tokens(cl.g.model.ID, tg.name, "cache_read", u.CacheRead)
	c.metrics.Tokens(cl.g.model.ID, tg.name, "cache_write", u.CacheWrite)
	if cl.task != "" {
		c.pred.Observe(cl.task, int(u.Output))
		if cl.observed != nil {
			cl.observed.Store(true)
		}
	}
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TargetSnapshot is one target's quota state: usage and headroom per limit (effective
// amounts, after adaptation), calls in flight and queued per class.
type TargetSnapshot struct {
	Target string
	quota.Snapshot
	// Source says where the target's limits came from: "explicit", "catalog default", or
	// "service quotas (…)" naming each quota's source (applied, or catalog default and why).
	Source string
}

// Snapshot reports every target's quota state, for progress displays and metrics.
func (c *Client) Snapshot(ctx context.Context) ([]TargetSnapshot, error) {
	out := make([]TargetSnapshot, 0, len(c.targets))
	for _, tg := range c.targets {
		s, err := tg.lim.Snapshot(ctx)
		if err != nil {
			return nil, fmt.Errorf("tollgate: %s: %w", tg.name, err)
		}
		out = append(out, TargetSnapshot{Target: tg.name, Snapshot: s, Source: tg.source})
		for i, l := range s.Limits {
			c.metrics.Limit(tg.name, tg.names[i], l.Used, l.Limit.Amount, tg.configured[i])
		}
		for i, p := range quota.Priorities {
			c.metrics.QueueDepth(tg.name, p.String(), s.Queued[i])
		}
	}
	return out, nil
}

// attemptTimeout is the attempt timeout of cl (see Config.AttemptTimeout).
func (c *Client) attemptTimeout(cl *call) time.Duration {
	if c.cfg.AttemptTimeout != 0 {
		return c.cfg.AttemptTimeout
	}
	maxTokens := cl.max
	if maxTokens <= 0 {
		maxTokens = cl.g.model.MaxTokensDefault()
	}
	return DefaultAttemptTimeout + time.Duration(maxTokens)*DefaultAttemptTimePerToken
}
