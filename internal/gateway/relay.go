package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate-dev/tollgate/internal/estimate"
	"github.com/tollgate-dev/tollgate/internal/invoke"
	"github.com/tollgate-dev/tollgate/internal/metrics"
	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/internal/quotatext"
	"github.com/tollgate-dev/tollgate/internal/wire"
	"github.com/tollgate-dev/tollgate/quota"
)

// Headers the gateway adds to its answers.
const (
	// HeaderWaited is the time the call waited for admission, in seconds (on every
	// answer to a call that reached admission, refusals included).
	HeaderWaited = "X-Tollgate-Waited"
	// HeaderGatewayRequestID is the gateway's own id of the request, in its logs; the
	// answer's x-amzn-RequestId is the upstream's when the answer is the upstream's.
	HeaderGatewayRequestID = "X-Tollgate-Request-Id"
	// headerInvocationID is the id every AWS SDK sends, the same on each attempt of one
	// call.
	headerInvocationID = "Amz-Sdk-Invocation-Id"
)

// Defaults of RelayConfig.
const (
	// SDKReadTimeout is boto3's read timeout (60 s), the shortest of the SDKs': a call
	// must begin its answer within it or the SDK gives up and sends it again.
	SDKReadTimeout = 60 * time.Second
	// readTimeoutMargin is kept free below SDKReadTimeout for the network and the
	// upstream's own queueing.
	readTimeoutMargin = 5 * time.Second
	// expectedFirstToken and expectedPerToken estimate a model's answer time: about a
	// second to the first token, then 15 ms per token (Claude Sonnet on Bedrock writes
	// some 60 tokens a second). An unset max_tokens counts as expectedReplyTokens.
	expectedFirstToken  = time.Second
	expectedPerToken    = 15 * time.Millisecond
	expectedReplyTokens = 2000
	// minMaxWait is the least a call may wait, whatever its expected answer time.
	minMaxWait = time.Second
	// retryMemory is how long the gateway remembers a call it refused, so that the SDK's
	// next attempt (same amz-sdk-invocation-id) keeps its place.
	retryMemory = 5 * time.Minute
)

// RelayConfig configures a Relay.
type RelayConfig struct {
	// Pipeline configures the call pipeline: the targets, their limits, retries. The
	// relay sets WaitPastForecast: it refuses calls on its own forecast.
	Pipeline pipeline.Config
	// MaxWait bounds how long a call may wait for admission (its tenant's and the
	// account's). Zero means per call: boto3's 60 s read timeout less 5 s and less the
	// call's expected answer time (1 s, plus 15 ms per token of max_tokens for a call
	// that is not a stream), at least 1 s. A call whose forecast wait is longer is
	// refused at once with 429 ThrottlingException.
	MaxWait time.Duration
	// TimeScale is the upstream's emulated seconds per real second (1 for Bedrock): the
	// tenants' limit periods and the expected answer times are scaled by it. Zero means 1.
	TimeScale float64
	// Registerer receives the pipeline's and the relay's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Logger receives the pipeline's log and the relay's failures; nil discards.
	Logger *slog.Logger
}

// Relay is the gateway's Handler: it runs each call through the one call pipeline
// (internal/pipeline) with the caller's body forwarded to the target the pipeline chose,
// re-signed with the gateway's own credentials; streams are passed through frame by
// frame and settled from their final usage. Before the pipeline, each tenant's own
// limits are enforced on a limiter of its own, so a tenant over its limits waits there
// and slows nobody else. It is safe for concurrent use; Close releases it.
type Relay struct {
	cfg     RelayConfig
	e       *pipeline.Engine
	obs     *observer
	tenants *tenants
	retries retryBook
	met     *relayMetrics
	waiting waitingCalls
	hist    history
	stop    chan struct{}
	done    chan struct{}
	closed  sync.Once
}

var _ Handler = (*Relay)(nil)

// NewRelay builds the pipeline of cfg and a Relay over it.
func NewRelay(ctx context.Context, cfg RelayConfig) (*Relay, error) {
	if cfg.TimeScale == 0 {
		cfg.TimeScale = 1
	}
	if cfg.TimeScale < 0 || cfg.MaxWait < 0 {
		return nil, errors.New("gateway: TimeScale and MaxWait must be zero (default) or positive")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := metrics.New(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("gateway: registering metrics: %w", err)
	}
	met, err := newRelayMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	obs := newObserver(m)
	pc := cfg.Pipeline
	pc.WaitPastForecast = true
	pc.AWS.HTTPClient = upstreamHTTPClient(pc.AWS.HTTPClient)
	if pc.Logger == nil {
		pc.Logger = cfg.Logger
	}
	e, err := pipeline.New(ctx, pc, obs)
	if err != nil {
		return nil, err
	}
	rl := &Relay{cfg: cfg, e: e, obs: obs, tenants: newTenants(cfg.TimeScale), met: met, stop: make(chan struct{}), done: make(chan struct{})}
	go rl.sample()
	return rl, nil
}

// Close stops admitting calls, fails those waiting, and waits for the streams under way
// to end.
func (rl *Relay) Close() {
	rl.closed.Do(func() {
		close(rl.stop)
		<-rl.done
		rl.tenants.close()
		rl.e.Close()
	})
}

// Ready reports whether the relay takes calls.
func (rl *Relay) Ready() error {
	select {
	case <-rl.stop:
		return errors.New("closed")
	default:
		return nil
	}
}

// ServeCall answers one call (Handler).
func (rl *Relay) ServeCall(w http.ResponseWriter, r *http.Request, c *Call) {
	start := time.Now()
	w.Header().Set(HeaderGatewayRequestID, c.RequestID)
	if c.Operation == wire.CountTokens {
		rl.countTokens(w, r, c)
		return
	}
	status := rl.call(w, r, c, start)
	rl.met.calls.WithLabelValues(c.Caller.Tenant, string(c.Operation), strconv.Itoa(status)).Inc()
}

// call runs a metered call and returns the status it answered (0: the caller left).
func (rl *Relay) call(w http.ResponseWriter, r *http.Request, c *Call, start time.Time) int {
	ctx := r.Context()
	tenant := c.Caller.Tenant
	var req *estimate.Request
	var err error
	if c.converse != nil {
		req, err = converseRequestOf(c.converse)
	} else {
		req, err = requestOf(c.Operation, c.Body)
	}
	if err != nil {
		return answerError(w, c, wire.ValidationException, err.Error())
	}
	maxWait := rl.maxWait(c.Operation, req)
	invocation := r.Header.Get(headerInvocationID)
	retry := rl.retries.seen(tenant, invocation, start)
	call := pipeline.Call{Model: c.ModelID, Priority: c.Priority, Tenant: tenant, Request: req, Front: retry}

	pred, err := rl.e.Forecast(ctx, call)
	if err != nil {
		return rl.pipelineError(w, r, c, err, 0)
	}
	call.Estimated = pred.Input
	if !retry && pred.Wait > maxWait {
		rl.retries.remember(tenant, invocation, start)
		rl.refused(c, "max_wait")
		w.Header().Set(HeaderWaited, seconds(time.Since(start)))
		return answerError(w, c, wire.ThrottlingException, fmt.Sprintf(
			"Too many requests, please wait before trying again. (Tollgate: the forecast wait of %v for %s is longer than the %v a call may wait.)",
			pred.Wait.Round(time.Millisecond), c.ModelID, maxWait.Round(time.Millisecond)))
	}

	dctx, cancel := context.WithDeadline(ctx, start.Add(maxWait))
	defer cancel()
	wt := rl.waiting.add(c.Priority, start)
	defer rl.waiting.remove(wt)
	ten := rl.tenants.get(tenant, c.Caller.Limits)
	tres, err := ten.admit(dctx, pred.Cost, c.Priority, retry, maxWait)
	if err != nil {
		if ctx.Err() != nil {
			return 0
		}
		var tl *tenantLimitError
		if errors.As(err, &tl) {
			rl.retries.remember(tenant, invocation, start)
			rl.refused(c, "tenant_limit")
			w.Header().Set(HeaderWaited, seconds(time.Since(start)))
			if tl.tooLarge {
				return answerError(w, c, wire.ValidationException, tl.Error())
			}
			return answerError(w, c, wire.ThrottlingException, tl.Error())
		}
		if errors.Is(err, quota.ErrClosed) {
			return answerError(w, c, wire.ServiceUnavailableException, "Tollgate: the gateway is shutting down.")
		}
		return answerError(w, c, wire.InternalServerException, "Tollgate: "+err.Error())
	}
	ended := false
	endTenant := func(u invoke.Usage) {
		if ended {
			return
		}
		ended = true
		ten.end(tres, u)
		if u.Known {
			rl.met.tokens.WithLabelValues(tenant, "input").Add(float64(u.Input + u.CacheRead + u.CacheWrite))
			rl.met.tokens.WithLabelValues(tenant, "output").Add(float64(u.Output))
		}
	}
	defer endTenant(invoke.Usage{})

	var last *upstream
	rec, err := rl.e.Do(dctx, call, func(actx context.Context, a *pipeline.Attempt) (invoke.Usage, error) {
		rl.waiting.remove(wt)
		up, err := forward(actx, ctx, a.Target, a.Target.Model, c.Operation, r.Header, c.Body)
		if err != nil {
			return invoke.Usage{}, err
		}
		last = up
		if c.Operation.Streaming() {
			up.end = a.Defer()
			return invoke.Usage{}, nil
		}
		return up.usage, nil
	})
	res := rec.Result()
	waited := time.Since(start) - attemptTime(last)
	if res.Attempts > 0 {
		waited = ten.waited(tres) + res.Waited
	}
	rl.met.wait.WithLabelValues(tenant).Observe(waited.Seconds())
	w.Header().Set(HeaderWaited, seconds(waited))
	if err != nil {
		if res.Attempts == 0 && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			rl.retries.remember(tenant, invocation, start)
			rl.refused(c, "max_wait")
			return answerError(w, c, wire.ThrottlingException, fmt.Sprintf(
				"Too many requests, please wait before trying again. (Tollgate: the call waited %v, the most a call may wait, and was not admitted.)", maxWait.Round(time.Millisecond)))
		}
		return rl.pipelineError(w, r, c, err, res.Attempts)
	}
	rl.retries.forget(tenant, invocation)
	if !c.Operation.Streaming() {
		endTenant(last.usage)
		last.writeHeader(w, c)
		_, _ = w.Write(last.body)
		return last.status
	}
	last.writeHeader(w, c)
	end := last.pump(w, c.Operation)
	endTenant(end.Usage)
	last.end(end)
	if end.Outcome.Kind == invoke.Canceled {
		return 0
	}
	return last.status
}

// attemptTime is how long the last attempt took (zero when there was none): the part
// of a failed call's time that was not waiting.
func attemptTime(up *upstream) time.Duration {
	if up == nil {
		return 0
	}
	return up.took
}

// refused counts a call the gateway refused itself.
func (rl *Relay) refused(c *Call, reason string) {
	rl.met.refused.WithLabelValues(c.Caller.Tenant, reason).Inc()
	rl.tenants.throttled(c.Caller.Tenant)
}

// pipelineError answers a call the pipeline failed; attempts is how many it made.
func (rl *Relay) pipelineError(w http.ResponseWriter, r *http.Request, c *Call, err error, attempts int) int {
	if r.Context().Err() != nil {
		return 0 // the caller left: nobody to answer
	}
	var ue *upstreamError
	var te *pipeline.ThrottleError
	switch {
	case errors.As(err, &te):
		// Out of attempts, every one throttled: the caller's SDK backs off and retries.
		rl.tenants.throttled(c.Caller.Tenant)
		return answerError(w, c, wire.ThrottlingException, te.Message)
	case errors.As(err, &ue):
		ue.write(w, c)
		return ue.status
	case errors.Is(err, pipeline.ErrNoTarget):
		return answerError(w, c, wire.ValidationException, wire.MsgInvalidModel+" (Tollgate: the gateway serves no target for "+truncate(c.ModelID, 200)+"; its operator adds one with --model.)")
	case errors.Is(err, quota.ErrTooLarge):
		return answerError(w, c, wire.ValidationException, "Tollgate: the call can never be admitted: "+err.Error())
	case errors.Is(err, pipeline.ErrClosed):
		return answerError(w, c, wire.ServiceUnavailableException, "Tollgate: the gateway is shutting down.")
	case attempts > 0:
		rl.cfg.Logger.Warn("gateway call failed", "request_id", c.RequestID, "model", c.ModelID, "err", err)
		return answerError(w, c, wire.ServiceUnavailableException, wire.MsgUnavailable+" (Tollgate: the upstream could not be reached.)")
	default:
		rl.cfg.Logger.Warn("gateway call failed", "request_id", c.RequestID, "model", c.ModelID, "err", err)
		return answerError(w, c, wire.InternalServerException, "Tollgate: "+err.Error())
	}
}

// countTokens forwards CountTokens to the first target serving the model; it is free and
// not metered, so it is not admitted.
func (rl *Relay) countTokens(w http.ResponseWriter, r *http.Request, c *Call) {
	tg, err := rl.e.First(c.ModelID)
	if err != nil {
		rl.pipelineError(w, r, c, err, 0)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), pipeline.DefaultAttemptTimeout)
	defer cancel()
	up, err := forward(ctx, r.Context(), tg, tg.Base.ID, c.Operation, r.Header, c.Body)
	if err != nil {
		rl.pipelineError(w, r, c, err, 1)
		return
	}
	up.writeHeader(w, c)
	_, _ = w.Write(up.body)
	rl.met.calls.WithLabelValues(c.Caller.Tenant, string(c.Operation), strconv.Itoa(up.status)).Inc()
}

// maxWait is how long a call may wait for admission (see RelayConfig.MaxWait).
func (rl *Relay) maxWait(op wire.Operation, req *estimate.Request) time.Duration {
	if rl.cfg.MaxWait > 0 {
		return rl.cfg.MaxWait
	}
	answer := expectedFirstToken
	if !op.Streaming() {
		n := req.MaxTokens
		if n <= 0 || n > expectedReplyTokens {
			n = expectedReplyTokens
		}
		answer += time.Duration(n) * expectedPerToken
	}
	answer = time.Duration(float64(answer) / rl.cfg.TimeScale)
	return max(SDKReadTimeout-readTimeoutMargin-answer, minMaxWait)
}

// requestOf reads a call's body into the estimator's representation. An InvokeModel
// body that is not an Anthropic Messages request (another model family's native format)
// is counted whole as text, with max_tokens unset, so the model's default output is
// reserved: more than the call may need, never less.
func requestOf(op wire.Operation, body []byte) (*estimate.Request, error) {
	if op == wire.Converse || op == wire.ConverseStream {
		return converseRequest(body)
	}
	req, err := estimate.ParseInvokeBody(body)
	if err != nil {
		return &estimate.Request{Messages: []estimate.Message{{Role: "user", Content: []estimate.Block{{Kind: estimate.Text, Text: string(body)}}}}}, nil
	}
	return req, nil
}

// answerError answers an error of the gateway's own, with the gateway's request id, and
// returns its status.
func answerError(w http.ResponseWriter, c *Call, code wire.ErrorCode, msg string) int {
	wire.WriteError(w, code, c.RequestID, msg)
	return code.Status
}

// seconds formats d as seconds with millisecond precision.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(max(d, 0).Seconds(), 'f', 3, 64)
}

// retryBook remembers the calls the gateway refused, by tenant and SDK invocation id,
// so that their next attempt keeps its place in the queue.
type retryBook struct {
	mu sync.Mutex
	m  map[string]time.Time
}

func retryKey(tenant, id string) string { return tenant + "\x00" + id }

// remember notes a refused call.
func (b *retryBook) remember(tenant, id string, now time.Time) {
	if id == "" || len(id) > 128 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[string]time.Time{}
	}
	if len(b.m) > 100_000 { // bounded: forget the expired, else everything
		for k, t := range b.m {
			if now.Sub(t) > retryMemory {
				delete(b.m, k)
			}
		}
		if len(b.m) > 100_000 {
			clear(b.m)
		}
	}
	b.m[retryKey(tenant, id)] = now
}

// seen reports whether an earlier attempt of this call was refused lately.
func (b *retryBook) seen(tenant, id string, now time.Time) bool {
	if id == "" {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.m[retryKey(tenant, id)]
	return ok && now.Sub(t) <= retryMemory
}

// forget drops a call that was answered.
func (b *retryBook) forget(tenant, id string) {
	if id == "" {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, retryKey(tenant, id))
}

// waitingCalls tracks the calls waiting for admission, for the status page.
type waitingCalls struct {
	mu    sync.Mutex
	calls map[*waitingCall]struct{}
}

type waitingCall struct {
	class quota.Priority
	since time.Time
}

func (wc *waitingCalls) add(p quota.Priority, since time.Time) *waitingCall {
	w := &waitingCall{class: p, since: since}
	wc.mu.Lock()
	defer wc.mu.Unlock()
	if wc.calls == nil {
		wc.calls = map[*waitingCall]struct{}{}
	}
	wc.calls[w] = struct{}{}
	return w
}

func (wc *waitingCalls) remove(w *waitingCall) {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	delete(wc.calls, w)
}

// byClass returns the number of calls waiting in each class and the longest wait.
func (wc *waitingCalls) byClass(now time.Time) (n [len(quotatext.Priorities)]int, oldest [len(quotatext.Priorities)]time.Duration) {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	for w := range wc.calls {
		i := classIndex(w.class)
		n[i]++
		oldest[i] = max(oldest[i], now.Sub(w.since))
	}
	return n, oldest
}

// classIndex is p's place in quotatext.Priorities (highest first).
func classIndex(p quota.Priority) int {
	for i, q := range quotatext.Priorities {
		if q == p {
			return i
		}
	}
	return len(quotatext.Priorities) - 1
}

// headerIsBedrock reports whether a header is one of Bedrock's own (X-Amzn-Bedrock-*).
func headerIsBedrock(name string) bool {
	return len(name) > len("X-Amzn-Bedrock-") && strings.EqualFold(name[:len("X-Amzn-Bedrock-")], "X-Amzn-Bedrock-")
}
