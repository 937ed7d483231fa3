package gateway

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/internal/callorder"
	"github.com/tollgate-dev/tollgate/internal/costs"
	"github.com/tollgate-dev/tollgate/internal/invoke"
	"github.com/tollgate-dev/tollgate/quota"
)

// tenants holds a limiter per tenant for the tenant's own limits, enforced before the
// shared pipeline: a tenant over its limits waits on its own limiter and takes no place
// in the account's queues, so it slows no other tenant.
type tenants struct {
	scale float64
	mu    sync.Mutex
	m     map[string]*tenant
}

// tenant is one tenant's limiter and counters.
type tenant struct {
	name      string
	scale     float64
	mu        sync.Mutex
	limits    Tenant // the limits lim enforces
	lim       *quota.Limiter
	inFlight  atomic.Int64
	waiting   atomic.Int64
	throttled atomic.Int64
	use       slidingUse
}

func newTenants(scale float64) *tenants { return &tenants{scale: scale, m: map[string]*tenant{}} }

// get returns the tenant named name, its limiter matching limits (a tenant whose limits
// changed in the configuration gets a new limiter; calls under way settle on the old).
func (ts *tenants) get(name string, limits Tenant) *tenant {
	ts.mu.Lock()
	t := ts.m[name]
	if t == nil {
		t = &tenant{name: name, scale: ts.scale}
		ts.m[name] = t
	}
	ts.mu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.lim == nil || !sameLimits(t.limits, limits) {
		lim, err := quota.New(quota.Config{Limits: tenantLimits(limits, ts.scale), MaxInFlight: limits.InFlight, ReservationTTL: 24 * time.Hour})
		if err != nil { // the configuration's limits were validated; keep the old ones
			if t.lim == nil {
				lim, _ = quota.New(quota.Config{})
			} else {
				return t
			}
		}
		t.lim, t.limits = lim, limits
	}
	return t
}

// sameLimits reports whether a and b have the same limits.
func sameLimits(a, b Tenant) bool {
	return a.TokensPerMinute == b.TokensPerMinute && a.RequestsPerMinute == b.RequestsPerMinute &&
		a.TokensPerDay == b.TokensPerDay && a.InFlight == b.InFlight
}

// tenantLimits turns a tenant's configured limits into quota limits, their periods
// scaled to the upstream's time.
func tenantLimits(t Tenant, scale float64) []quota.Limit {
	per := func(d time.Duration) time.Duration { return time.Duration(float64(d) / scale) }
	var ls []quota.Limit
	if t.TokensPerMinute > 0 {
		ls = append(ls, quota.Limit{Dimension: quota.Tokens, Amount: t.TokensPerMinute, Per: per(time.Minute)})
	}
	if t.RequestsPerMinute > 0 {
		ls = append(ls, quota.Limit{Dimension: quota.Requests, Amount: t.RequestsPerMinute, Per: per(time.Minute)})
	}
	if t.TokensPerDay > 0 {
		ls = append(ls, quota.Limit{Dimension: quota.Tokens, Amount: t.TokensPerDay, Per: per(24 * time.Hour)})
	}
	return ls
}

func (t *tenant) limiter() (*quota.Limiter, Tenant) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lim, t.limits
}

// tenantRes is a call's reservation on its tenant's limiter.
type tenantRes struct {
	lim *quota.Limiter
	r   quota.Reservation
}

// tenantLimitError is a call refused because of its tenant's own limits.
type tenantLimitError struct {
	tenant   string
	what     string // the limit, in words
	tooLarge bool   // the call can never fit
}

func (e *tenantLimitError) Error() string {
	if e.tooLarge {
		return fmt.Sprintf("Tollgate: the call needs more than tenant %s's own limit of %s allows at once.", e.tenant, e.what)
	}
	return fmt.Sprintf("Too many requests, please wait before trying again. (Tollgate: tenant %s is over its own limit of %s.)", e.tenant, e.what)
}

// admit waits until the tenant's own limits admit cost, up to ctx's deadline; a call
// whose forecast wait exceeds maxWait is refused at once (unless front: a call whose
// earlier attempt was refused waits its turn, at the front of the tenant's class).
func (t *tenant) admit(ctx context.Context, cost quota.Cost, p quota.Priority, front bool, maxWait time.Duration) (tenantRes, error) {
	lim, limits := t.limiter()
	if !front {
		wait, binding, err := lim.Forecast(ctx, cost, quota.Options{Priority: p})
		if errors.Is(err, quota.ErrTooLarge) {
			return tenantRes{}, &tenantLimitError{tenant: t.name, what: limitWords(limits, tooLarge(lim.Limits(), cost), t.scale), tooLarge: true}
		}
		if err != nil {
			return tenantRes{}, err
		}
		if wait > maxWait {
			return tenantRes{}, &tenantLimitError{tenant: t.name, what: bindingWords(limits, binding, t.scale)}
		}
	}
	t.waiting.Add(1)
	wctx := ctx
	if front {
		wctx = callorder.WithRetry(ctx)
	}
	r, err := lim.Wait(wctx, cost, quota.Options{Priority: p})
	t.waiting.Add(-1)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && context.Cause(ctx) == context.DeadlineExceeded {
			_, binding, _ := lim.Forecast(context.Background(), cost, quota.Options{Priority: p})
			return tenantRes{}, &tenantLimitError{tenant: t.name, what: bindingWords(limits, binding, t.scale)}
		}
		return tenantRes{}, err
	}
	t.inFlight.Add(1)
	return tenantRes{lim: lim, r: r}, nil
}

// waited is how long the reservation waited.
func (t *tenant) waited(res tenantRes) time.Duration {
	if res.lim == nil {
		return 0
	}
	return res.r.Waited()
}

// end settles the call's reservation at the usage reported, or cancels it when none
// was (the call failed).
func (t *tenant) end(res tenantRes, u invoke.Usage) {
	if res.lim == nil {
		return
	}
	t.inFlight.Add(-1)
	if !u.Known {
		res.r.Cancel()
		return
	}
	in := u.Input + u.CacheRead + u.CacheWrite
	res.r.Settle(quota.Cost{Requests: 1, Tokens: in + u.Output, InputTokens: in, OutputTokens: u.Output})
	t.use.add(time.Now(), in+u.Output)
}

// bindingWords names the limit a forecast says binds.
// The zero Limit binds when the cap on calls in flight does (or nothing does).
func bindingWords(t Tenant, binding quota.Limit, scale float64) string {
	if binding.Amount == 0 {
		return fmt.Sprintf("%d calls in flight", t.InFlight)
	}
	return limitWords(t, binding, scale)
}

// tooLarge returns the first of limits that cost exceeds on its own.
func tooLarge(limits []quota.Limit, cost quota.Cost) quota.Limit {
	for _, l := range limits {
		if costs.Get(cost, l.Dimension) > l.Amount {
			return l
		}
	}
	return quota.Limit{}
}

// limitWords names one of a tenant's limits as configured: "10000 tokens per minute".
// The day's limit is the tokens limit whose window is over an hour of upstream time.
func limitWords(t Tenant, l quota.Limit, scale float64) string {
	switch {
	case l.Dimension == quota.Requests:
		return fmt.Sprintf("%d requests per minute", t.RequestsPerMinute)
	case float64(l.Per)*scale > float64(time.Hour):
		return fmt.Sprintf("%d tokens per day", t.TokensPerDay)
	}
	return fmt.Sprintf("%d tokens per minute", t.TokensPerMinute)
}

func (ts *tenants) throttled(name string) {
	ts.mu.Lock()
	t := ts.m[name]
	ts.mu.Unlock()
	if t != nil {
		t.throttled.Add(1)
	}
}

// status reports every tenant's use.
func (ts *tenants) status(now time.Time) []TenantStatus {
	ts.mu.Lock()
	list := make([]*tenant, 0, len(ts.m))
	for _, t := range ts.m {
		list = append(list, t)
	}
	ts.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].name < list[j].name })
	out := make([]TenantStatus, 0, len(list))
	for _, t := range list {
		_, limits := t.limiter()
		tokens, requests := t.use.lastMinute(now)
		out = append(out, TenantStatus{Name: t.name, TokensLastMinute: float64(tokens), RequestsLastMinute: float64(requests),
			TokensPerMinute: limits.TokensPerMinute, InFlight: int(t.inFlight.Load()), Waiting: int(t.waiting.Load()), Throttled: t.throttled.Load()})
	}
	return out
}

func (ts *tenants) close() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, t := range ts.m {
		t.mu.Lock()
		if t.lim != nil {
			_ = t.lim.Close()
		}
		t.mu.Unlock()
	}
}

// slidingUse counts tokens and requests over the last minute, in one-second buckets.
type slidingUse struct {
	mu      sync.Mutex
	buckets [60]struct{ sec, tokens, requests int64 }
}

func (s *slidingUse) add(now time.Time, tokens int64) {
	sec := now.Unix()
	s.mu.Lock()
	defer s.mu.Unlock()
	b := &s.buckets[sec%60]
	if b.sec != sec {
		b.sec, b.tokens, b.requests = sec, 0, 0
	}
	b.tokens += tokens
	b.requests++
}

func (s *slidingUse) lastMinute(now time.Time) (tokens, requests int64) {
	sec := now.Unix()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.buckets {
		if sec-b.sec < 60 {
			tokens += b.tokens
			requests += b.requests
		}
	}
	return tokens, requests
}
