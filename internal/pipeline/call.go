package pipeline

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
	"github.com/tollgate-dev/tollgate/quota"
)

// This file holds a call's life, top to bottom: Engine.Do plans the call (estimate,
// right-size), then, one attempt at a time, admits it on a target (pick, forecast,
// reserve), sends the attempt through the adapter, and hands the outcome to the target
// (Target.end), which settles or cancels the reservation, calibrates the estimator,
// adapts the limits, updates the breaker and tells the Observer. A stream's attempt ends
// later, through the same Target.end.

// Call describes one call to the pipeline: what to estimate and how to queue it.
type Call struct {
	// Model is the model or profile id the caller named; it selects the targets serving
	// its base model.
	Model string
	// Priority and Tenant place the call in the admission queue.
	Priority quota.Priority
	Tenant   string
	// Task keys the output lengths learned to right-size max_tokens.
	Task string
	// Request is the call's content to estimate, with its max_tokens (0: unset).
	Request *estimate.Request
	// RightSize says the adapter sends Attempt.MaxTokens, so the pipeline may right-size
	// a max_tokens the request leaves unset (when Config.RightSize is on).
	RightSize bool
	// Count, when set, returns the exact input tokens of the call counted on t (Bedrock's
	// CountTokens), or 0 to estimate instead. It is asked on the group's first target,
	// when the model supports counting.
	Count func(ctx context.Context, t *Target) int
	// Queued runs once, when the call has reached its target's admission queue (admitted
	// at once or waiting in its class); a call that fails before never runs it. It must
	// not block.
	Queued func()
	// Front queues the call's first attempt ahead of its tenant's other waiting calls in
	// its class, as a throttled attempt's retry is: for a call an earlier attempt of which
	// already waited its turn (a gateway caller's SDK retrying a refused call).
	Front bool
	// Estimated, when set, is the estimate of Request's input an earlier Forecast of the
	// same call made (Prediction.Input): the call is not estimated again.
	Estimated *estimate.Input
}

// Send makes one attempt of a call on a.Target and returns the usage the service
// reported (Known false when it reported none) or the attempt's error, classified by
// invoke.Classify: the SDK's errors, or, from an adapter that is not the SDK, a
// smithy.APIError carrying the service's error code (smithy.GenericAPIError{Code:
// "ThrottlingException"}). A streaming adapter calls a.Defer before it returns and
// reports the stream's end through the function it got.
type Send func(ctx context.Context, a *Attempt) (invoke.Usage, error)

// Attempt is one attempt of a call, handed to Send.
type Attempt struct {
	// Target is where to send it.
	Target *Target
	// MaxTokens is the max_tokens to send when the call is right-sized; 0 means send the
	// request's own.
	MaxTokens int
	// N counts the call's attempts, from 1.
	N int

	c        *call
	r        quota.Reservation
	deferred bool
}

// Defer makes the attempt's end the adapter's to report: the pipeline returns once Send
// does, and the attempt ends when the adapter calls end with the stream's end (its usage,
// or the output seen and the failure that broke it). end must be called exactly once.
func (a *Attempt) Defer() (end func(invoke.StreamEnd)) {
	a.deferred = true
	e := a.Target.e
	e.streams.Add(1)
	return func(s invoke.StreamEnd) {
		defer e.streams.Done()
		defer a.c.release()
		if s.Usage.Known { // the stream reported its usage: it ran to its end
			s.Outcome = invoke.Outcome{Kind: invoke.OK}
		}
		a.Target.end(a, s.Outcome, s.Usage, s.OutputText)
		a.c.finish(a.Target, s.Outcome.Kind)
	}
}

// Result is what a call went through. A stream's throttle or failure after its start is
// counted when the stream ends.
type Result struct {
	// Attempts counts the attempts made; Throttles those the service throttled.
	Attempts, Throttles int
	// Waited is the total time spent waiting for admission, over all attempts.
	Waited time.Duration
	// Target and Region name where the last attempt went.
	Target, Region string
	// Reserved is what the last attempt reserved (input estimate + max_tokens).
	Reserved quota.Cost
	// MaxTokens is the max_tokens the last attempt sent (0: unset, the model's default).
	MaxTokens int
}

// Record holds a call's Result; it is safe to read while a stream the call started runs.
type Record struct {
	mu sync.Mutex
	r  Result
}

// Result returns what the call went through so far.
func (r *Record) Result() Result {
	if r == nil {
		return Result{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.r
}

func (r *Record) update(f func(*Result)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.r)
}

// Observer is told what happens to calls, for metrics and logs. Its methods must not
// block.
type Observer interface {
	// Admitted reports that an attempt of c was admitted on t after waiting, reserving
	// reserved; Retrying that c goes round again after an attempt that ended with kind.
	Admitted(t *Target, c *Call, attempt int, waited time.Duration, reserved quota.Cost)
	Retrying(t *Target, c *Call, kind invoke.Kind)
	// Ended reports an attempt's end on t: its outcome, the usage reported, the input
	// estimate it was compared with (0: none) and what the reservation was settled at.
	Ended(t *Target, c *Call, o invoke.Outcome, u invoke.Usage, estimated int, settled quota.Cost)
	// Finished reports the end of c, a call to the base model: "ok", "failed",
	// "throttled" (out of attempts), "canceled" or "rejected" (never admitted); t is nil
	// when no attempt was made.
	Finished(model string, t *Target, c *Call, outcome string)
	// Counted reports an exact input count; Sampled a target's quota state.
	Counted(t *Target, tokens int)
	Sampled(t *Target, s TargetSnapshot)
}

// call is one call through the pipeline: its group, estimate and cost.
type call struct {
	Call
	g        *group
	in       estimate.Input
	max      int // max_tokens sent (0: unset)
	cost     quota.Cost
	input    int // input tokens reserved (the estimate with its margin, or the exact count)
	front    bool
	queued   func()       // Call.Queued, made to run once
	release  func()       // ends the call's place among its task's learners (see learning)
	observed *atomic.Bool // set once its reply taught the output predictor (nil: not learning)
	rec      *Record
}

// Do runs c through the pipeline, sending each attempt with send, until it succeeds,
// fails for good, or runs out of attempts. The Record is never nil; for a stream it keeps
// changing until the stream ends.
func (e *Engine) Do(ctx context.Context, c Call, send Send) (*Record, error) {
	rec := &Record{}
	cl, err := e.plan(ctx, c, true)
	if err != nil {
		return rec, err
	}
	cl.rec = rec
	deferred := false
	defer func() {
		if !deferred {
			cl.release()
		}
	}()
	var exclude []int
	var last error
	for n := 1; ; n++ {
		tg, r, err := e.admit(ctx, cl, exclude)
		if err != nil {
			outcome := "rejected"
			if ctx.Err() != nil {
				outcome = "canceled"
			}
			e.obs.Finished(cl.g.model.ID, nil, &cl.Call, outcome)
			if last != nil && ctx.Err() != nil {
				return rec, &GiveUpError{Attempts: n - 1, Err: fmt.Errorf("%w (after: %v)", err, last)}
			}
			return rec, err
		}
		e.obs.Admitted(tg, &cl.Call, n, r.Waited(), cl.cost)
		e.cfg.Logger.Debug("tollgate admitted", "target", tg.Name, "priority", cl.Priority.String(), "waited", r.Waited(), "attempt", n, "tokens", cl.cost.Tokens)
		a := &Attempt{Target: tg, N: n, c: cl, r: r}
		if cl.RightSize {
			a.MaxTokens = cl.max
		}
		rec.update(func(s *Result) {
			s.Attempts, s.Waited = n, s.Waited+r.Waited()
			s.Target, s.Region, s.Reserved, s.MaxTokens = tg.Name, tg.Region, cl.cost, cl.max
		})
		u, err := send(invoke.WithAttemptTimeout(ctx, e.attemptTimeout(cl)), a)
		o := invoke.Classify(err)
		if o.Kind == invoke.OK && a.deferred {
			deferred = true
			return rec, nil // a stream: its end comes through Attempt.Defer's function
		}
		if a.deferred { // the adapter deferred, then failed before handing the stream out
			a.deferred = false
			e.streams.Done()
		}
		tg.end(a, o, u, "")
		switch o.Kind {
		case invoke.OK:
			cl.finish(tg, o.Kind)
			return rec, nil
		case invoke.Throttle:
			e.cfg.Logger.Debug("tollgate throttled", "target", tg.Name, "reason", o.Reason.String(), "attempt", n)
			last = &ThrottleError{Model: cl.Model, Region: tg.Region, Target: tg.Name, Reason: o.Reason.String(), Message: o.Message, Err: err}
			cl.front = true // back at the head of its class
			if len(cl.g.targets) > 1 {
				exclude = []int{tg.index}
			}
		case invoke.Connection, invoke.ServerError, invoke.ModelNotReady, invoke.Timeout:
			last = err
		default: // canceled, or a client error: not retried
			cl.finish(tg, o.Kind)
			return rec, err
		}
		if n >= e.cfg.MaxAttempts {
			cl.finish(tg, o.Kind)
			return rec, &GiveUpError{Attempts: n, Err: last}
		}
		e.obs.Retrying(tg, &cl.Call, o.Kind)
		if o.Kind != invoke.Throttle {
			if err := sleep(ctx, e.cfg.Backoff(n)); err != nil {
				return rec, &GiveUpError{Attempts: n, Err: fmt.Errorf("%w (after: %v)", err, last)}
			}
		}
	}
}

// plan estimates c and returns what to reserve, right-sizing its max_tokens when
// configured. With gate false (a forecast) right-sizing never waits for learners.
func (e *Engine) plan(ctx context.Context, c Call, gate bool) (*call, error) {
	g, err := e.groupFor(c.Model)
	if err != nil {
		return nil, err
	}
	if c.Request == nil {
		return nil, fmt.Errorf("tollgate: a call to %s has nothing to estimate", c.Model)
	}
	cl := &call{Call: c, g: g, max: c.Request.MaxTokens, release: func() {}, queued: c.Queued, front: c.Front}
	if c.Queued != nil {
		cl.queued = sync.OnceFunc(c.Queued) // a throttled call queues again
	}
	if e.cfg.RightSize && c.RightSize && cl.max == 0 && c.Task != "" {
		cl.observed = new(atomic.Bool)
		n, release, err := e.rightSize(ctx, cl.observed, c.Task, gate)
		if err != nil {
			return nil, err
		}
		cl.release = release
		if n > 0 {
			cl.max = min(n, g.model.MaxOutputTokens)
		}
	}
	exact := 0
	if c.Count != nil && g.model.CountTokens {
		if exact = c.Count(ctx, g.targets[0]); exact > 0 {
			e.obs.Counted(g.targets[0], exact)
		}
	}
	if c.Estimated != nil {
		cl.in = *c.Estimated
	} else {
		cl.in = e.est.Input(g.model.ID, c.Request)
	}
	tokens := cl.in.Tokens
	switch _, calibrated := e.calibrated.Load(g.model.ID); {
	case exact > 0:
		tokens = exact
	case !calibrated:
		tokens = int(math.Ceil(float64(tokens) * (1 + e.cfg.InitialMargin)))
	default:
		tokens = int(math.Ceil(float64(tokens) * (1 + e.cfg.EstimateMargin)))
	}
	cl.input = tokens
	if cl.cost, err = estimate.ReserveCost(g.targets[0].params, estimate.Usage{InputTokens: tokens}, cl.max); err != nil {
		cl.release()
		return nil, fmt.Errorf("tollgate: %w", err)
	}
	return cl, nil
}

// admit picks the call's target and waits for its reservation. It refuses at once a
// call whose forecast wait exceeds its deadline (unless Config.WaitPastForecast). The
// quota calls of admission are here and in forecast.
func (e *Engine) admit(ctx context.Context, cl *call, exclude []int) (*Target, quota.Reservation, error) {
	g := cl.g
	for {
		now := time.Now()
		wait := func(i int) time.Duration {
			if len(g.targets) == 1 {
				return 0
			}
			p, err := g.targets[i].forecast(ctx, cl)
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
				return nil, quota.Reservation{}, err
			}
			continue
		}
		tg := g.targets[i]
		if dl, has := ctx.Deadline(); has && !e.cfg.WaitPastForecast {
			if p, err := tg.forecast(ctx, cl); err == nil && p.Wait > time.Until(dl) {
				g.router.Cancel(i, time.Now())
				return nil, quota.Reservation{}, &DeadlineError{Wait: p.Wait, Left: time.Until(dl), Limit: p.Limit, Target: tg.Name}
			}
		}
		wctx := callorder.WithQueued(ctx, cl.queued)
		if cl.front {
			wctx = callorder.WithRetry(wctx)
		}
		r, err := tg.lim.Wait(wctx, cl.cost, quota.Options{Priority: cl.Priority, Tenant: cl.Tenant})
		if err != nil {
			g.router.Cancel(i, time.Now()) // the call was never sent
			if errors.Is(err, quota.ErrClosed) {
				return nil, r, ErrClosed
			}
			return nil, r, fmt.Errorf("tollgate: %s: %w", tg.Name, err)
		}
		return tg, r, nil
	}
}

// forecast is the quota's prediction of the call's wait on tg now.
func (tg *Target) forecast(ctx context.Context, cl *call) (Prediction, error) {
	wait, binding, err := tg.lim.Forecast(ctx, cl.cost, quota.Options{Priority: cl.Priority, Tenant: cl.Tenant})
	return Prediction{Wait: wait, Limit: binding, Target: tg.Name, Cost: cl.cost}, err
}

// end is where every attempt's outcome o goes, a stream's included, once: it ends the
// reservation — settled at the usage u reported; when none was reported, at what was
// seen (the input as reserved plus the output text seen, counted, calibrated and padded
// by a tenth, times the burndown, so as not to count less than the service charged) for
// a stream that broke or a lost connection, or at the reservation for a reply without
// usage; cancelled for a refusal — then calibrates the estimator and the output
// predictor, adapts the limits, updates the breaker and tells the observer. The
// reservation ends before the limits adapt: a throttle lowers the limit to the usage left
// after it.
func (tg *Target) end(a *Attempt, o invoke.Outcome, u invoke.Usage, seen string) {
	e, cl, r := tg.e, a.c, a.r
	now := time.Now()
	settled := quota.Cost{}
	estimated := 0
	switch {
	case u.Known:
		settled = cl.cost
		if cost, err := estimate.SettleCost(tg.params, u.Estimate()); err == nil {
			settled = cost
			settled.Requests = cl.cost.Requests
		}
		r.Settle(settled)
		reported := int(u.Input + u.CacheRead + u.CacheWrite)
		e.est.Observe(now, cl.g.model.ID, cl.in, reported)
		e.calibrated.Store(cl.g.model.ID, true)
		estimated = cl.in.Tokens
		if cl.Task != "" {
			e.pred.Observe(cl.Task, int(u.Output))
			if cl.observed != nil {
				cl.observed.Store(true)
			}
		}
	case a.deferred || o.Kind == invoke.Connection:
		// The service may have metered the input, and what it sent, before the stream or
		// the connection broke: keep that much charged.
		out := float64(estimate.Base().Count(seen)) * e.cal.Factor(cl.g.model.ID) * 1.1
		settled = cl.cost
		if cost, err := estimate.SettleCost(tg.params, estimate.Usage{InputTokens: cl.input, OutputTokens: int(math.Ceil(out))}); err == nil {
			settled = cost
		}
		if !a.deferred { // a connection lost before a reply: the input only
			settled = quota.Cost{Tokens: int64(cl.input), InputTokens: int64(cl.input)}
		}
		settled.Requests = cl.cost.Requests
		r.Settle(settled)
	case o.Kind == invoke.OK: // a reply without usage: keep the reservation as the charge
		settled = cl.cost
		r.Settle(settled)
	default:
		r.Cancel()
	}

	router, i := cl.g.router, tg.index
	switch o.Kind {
	case invoke.OK:
		router.Success(i, now)
		tg.succeeded(now)
	case invoke.Throttle:
		cl.rec.update(func(s *Result) { s.Throttles++ })
		tg.throttled(now, o.Reason.String(), cl.cost)
		router.Throttled(i, now)
	case invoke.Connection, invoke.ServerError, invoke.ModelNotReady, invoke.Timeout:
		router.Failure(i, now)
	case invoke.Canceled:
		router.Cancel(i, now) // no verdict on the target
	default:
		router.Success(i, now) // a client error: the service answered
	}
	e.obs.Ended(tg, &cl.Call, o, u, estimated, settled)
}

// finish reports the end of the call, whose last attempt on t ended with kind.
func (cl *call) finish(t *Target, kind invoke.Kind) {
	outcome := "failed"
	switch kind {
	case invoke.OK:
		outcome = "ok"
	case invoke.Throttle:
		outcome = "throttled"
	case invoke.Canceled:
		outcome = "canceled"
	}
	t.e.obs.Finished(cl.g.model.ID, t, &cl.Call, outcome)
}

// groupFor returns the group of targets that serve model's base model.
func (e *Engine) groupFor(model string) (*group, error) {
	if e.closed.Load() {
		return nil, ErrClosed
	}
	ref, err := catalog.Parse(model)
	if err != nil {
		return nil, fmt.Errorf("tollgate: %w", err)
	}
	base := ref.ModelID
	if base == "" {
		if m, _, err := e.cfg.Catalog.Lookup(model); err == nil {
			base = m.ID
		}
	}
	g := e.groups[base]
	if g == nil {
		return nil, fmt.Errorf("%w %q (base model %q): add a Target for it to Config.Targets", ErrNoTarget, model, base)
	}
	return g, nil
}

// attemptTimeout is the attempt timeout of cl (see Config.AttemptTimeout).
func (e *Engine) attemptTimeout(cl *call) time.Duration {
	if e.cfg.AttemptTimeout != 0 {
		return e.cfg.AttemptTimeout
	}
	maxTokens := cl.max
	if maxTokens <= 0 {
		maxTokens = cl.g.model.MaxTokensDefault()
	}
	return DefaultAttemptTimeout + time.Duration(maxTokens)*DefaultAttemptTimePerToken
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
