package pipeline

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"

	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/adapt"
	"github.com/tollgate-dev/tollgate/internal/costs"
	"github.com/tollgate-dev/tollgate/internal/discover"
	"github.com/tollgate-dev/tollgate/internal/estimate"
	"github.com/tollgate-dev/tollgate/internal/invoke"
	"github.com/tollgate-dev/tollgate/internal/pace"
	"github.com/tollgate-dev/tollgate/internal/quotatext"
	"github.com/tollgate-dev/tollgate/internal/route"
	"github.com/tollgate-dev/tollgate/quota"
	"github.com/tollgate-dev/tollgate/quota/redisquota"
)

// Target is one place calls go, ready: its model, its limiter, its adaptive limits, its
// breaker's place in the group's router, and an SDK client. An adapter's Send reads it to
// make its attempt; the pipeline ends every attempt through it (end).
type Target struct {
	// Name is "region/model", the target's name in logs, metrics and errors.
	Name string
	// Region and Model are where to send: the region and the model or profile id.
	Region, Model string
	// Endpoint overrides the Bedrock Runtime endpoint; empty means the SDK's resolution.
	Endpoint string
	// AWS is the configuration to sign requests to this target with (its region and
	// credentials set).
	AWS aws.Config
	// SDK is a Bedrock Runtime client for the target, with the SDK's retries off.
	SDK *bedrockruntime.Client
	// Base is the catalog's model the target serves.
	Base catalog.Model

	e      *Engine
	g      *group
	index  int // in the group's router
	cfg    TargetConfig
	ref    catalog.Ref
	params estimate.ModelParams
	lim    *quota.Limiter
	store  *redisquota.Store // the shared store (Config.Redis); nil when the quota is this process's own
	source string            // where the limits came from
	names  []string          // each limit's metrics label ("tokens_per_minute")

	mu sync.Mutex
	// ctrls hold the effective amount of each limit (in the limiter's order): the
	// limiter's amounts are set from them, and nothing else changes them.
	ctrls []*adapt.Controller
}

// group is the targets that serve one base model, and the router between them.
type group struct {
	model   catalog.Model
	targets []*Target
	router  *route.Router
}

// Admission returns the limits and the pacing a target's limiter admits against, given
// its configured limits and Config's WindowMargin and Pacing (defaults applied): every
// window lengthened by windowMargin except clock windows, which keep their alignment
// (their guard, Per/200 at each end, is their margin); the pacing, when zero, a sixth of
// the shortest window (pace.DefaultBurst), and none when negative. tollgate analyze
// replays the client with the same limits.
func Admission(limits []quota.Limit, windowMargin, pacing time.Duration) ([]quota.Limit, time.Duration) {
	limits = append([]quota.Limit(nil), limits...)
	pers := make([]time.Duration, len(limits))
	for i := range limits {
		if limits[i].Meter != quota.ClockWindow {
			limits[i].Per += windowMargin
		}
		pers[i] = limits[i].Per
	}
	if pacing == 0 {
		pacing = pace.DefaultBurst(pers...)
	}
	return limits, max(pacing, 0)
}

// newTarget resolves t's model and limits and builds its limiter and SDK client.
func (e *Engine) newTarget(ctx context.Context, t TargetConfig) (*Target, error) {
	c := e
	m, ref, err := c.cfg.Catalog.Lookup(t.Model)
	if err != nil {
		return nil, fmt.Errorf("tollgate: target %s: %w", t.Model, err)
	}
	tg := &Target{e: e,
		Name: t.Region + "/" + t.Model, Region: t.Region, Model: t.Model, Endpoint: t.Endpoint, Base: m, cfg: t, ref: ref,
		params: estimate.ModelParams{
			OutputBurndown: m.OutputBurndown, DefaultMaxTokens: m.DefaultMaxTokens,
			MaxOutputTokens: m.MaxOutputTokens, ReserveWithBurndown: c.cfg.ReserveWithBurndown,
		},
	}
	limits, guesses, err := c.limitsFor(ctx, tg)
	if err != nil {
		return nil, err
	}
	for i := range limits {
		tg.names = append(tg.names, limitName(limits[i]))
	}
	limits, pacing := Admission(limits, c.cfg.WindowMargin, c.cfg.Pacing)
	qc := quota.Config{Limits: limits, MaxInFlight: t.MaxInFlight, Pacing: pacing}
	if e.shared != nil {
		if tg.store, err = e.shared.storeFor(e, tg, &tg.lim); err != nil {
			return nil, fmt.Errorf("tollgate: target %s: %w", tg.Name, err)
		}
		qc.Store = tg.store
	}
	tg.lim, err = quota.New(qc)
	if err != nil {
		if tg.store != nil {
			tg.store.Close()
		}
		return nil, fmt.Errorf("tollgate: target %s: %w", tg.Name, err)
	}
	for i, l := range limits {
		ctrl, err := adapt.New(adapt.Config{
			Configured: l.Amount, Per: l.Per, Guess: guesses[i], Floor: max(l.Amount/4, 1),
			// A throttle cuts by 0.7, and each further one while the cut is held by 0.9 more:
			// throttles that keep coming say the cut was not enough. Growth back to 95% of
			// where the provider throttled is fast (half the configured amount per window:
			// the provider admitted that much); above it, probing is slow (2% per window): a
			// token-bucket provider absorbs a small overestimate for a long time, then
			// refuses a burst of calls at once.
			Decrease: 0.7, HoldDecrease: 0.9, Increase: 0.02, Recovery: 0.5, Hold: l.Per / 6,
		})
		if err != nil {
			tg.lim.Close()
			if tg.store != nil {
				tg.store.Close()
			}
			return nil, fmt.Errorf("tollgate: target %s: %w", tg.Name, err)
		}
		tg.ctrls = append(tg.ctrls, ctrl)
	}
	tg.AWS = c.cfg.AWS.Copy()
	tg.AWS.Region = t.Region
	if t.Credentials != nil {
		tg.AWS.Credentials = t.Credentials
	}
	tg.SDK = invoke.NewClient(c.cfg.AWS, t.Region, t.Endpoint, t.Credentials)
	c.cfg.Logger.Info("tollgate target", "target", tg.Name, "model", m.ID, "scope", ref.Scope.String(),
		"limits", fmt.Sprint(limits), "source", tg.source)
	if e.shared != nil {
		c.cfg.Logger.Info("tollgate shared quota", "target", tg.Name, "redis", e.shared.addr,
			"account", e.shared.account, "scope", e.shared.scope)
	}
	return tg, nil
}

// limitsFor returns the target's limits and, for each, whether it is a guess (a catalog
// default, which the adaptive controller may raise), recording their source.
func (c *Engine) limitsFor(ctx context.Context, tg *Target) ([]quota.Limit, []bool, error) {
	if tg.cfg.Limits != nil {
		tg.source = "explicit"
		return append([]quota.Limit(nil), tg.cfg.Limits...), make([]bool, len(tg.cfg.Limits)), nil
	}
	if c.cfg.DiscoverQuotas {
		awsCfg := c.cfg.AWS.Copy()
		awsCfg.Region = tg.Region
		if tg.cfg.Credentials != nil {
			awsCfg.Credentials = tg.cfg.Credentials
		}
		sq := servicequotas.NewFromConfig(awsCfg, func(o *servicequotas.Options) {
			if c.cfg.QuotasEndpoint != "" {
				o.BaseEndpoint = aws.String(c.cfg.QuotasEndpoint)
			}
		})
		rep, err := discover.Quotas(ctx, discover.Config{Client: sq, Region: tg.Region, Catalog: c.cfg.Catalog}, tg.cfg.Model)
		if err != nil {
			return nil, nil, fmt.Errorf("tollgate: target %s: discovering quotas: %w", tg.Name, err)
		}
		// Each value says where it came from: the account's applied quota, or the catalog's
		// default when the account lists none (or the API could not be read).
		var limits []quota.Limit
		var guesses []bool
		var parts []string
		for _, v := range rep.Values {
			if v.Limit.Amount == 0 {
				continue
			}
			limits = append(limits, v.Limit)
			guesses = append(guesses, v.Source != discover.Applied)
			if v.Source == discover.Applied {
				parts = append(parts, v.Kind+" applied")
			} else {
				parts = append(parts, v.Kind+" catalog default")
			}
		}
		tg.source = "service quotas (" + strings.Join(parts, ", ") + ")"
		if rep.Fallback != "" {
			tg.source += ": " + rep.Fallback
		}
		return limits, guesses, nil
	}
	limits, err := tg.Base.Limits(tg.ref.Scope, tg.Region, false)
	if err != nil {
		return nil, nil, fmt.Errorf("tollgate: target %s has no Limits and the catalog has no defaults: %w; set Target.Limits", tg.Name, err)
	}
	tg.source = "catalog default"
	guesses := make([]bool, len(limits))
	for i := range guesses {
		guesses[i] = true
	}
	return limits, guesses, nil
}

// throttled lowers the effective limit a throttle of reason most likely hit, and pauses
// the target for as long as the provider needs to refill cost at that limit's rate: the
// throttle says the provider's window is full now, so calls sent sooner would be
// throttled too, whatever this side counted.
func (tg *Target) throttled(now time.Time, reason string, cost quota.Cost) {
	limits := tg.lim.Limits()
	i := bindingFor(limits, reason)
	if i < 0 {
		return
	}
	// The provider refused at about the usage this side counts now: the limit drops to it
	// at once (see adapt.Controller.ThrottledAt), so nothing more is sent until the window
	// drains, instead of filling the room the refunded reservation left.
	used := int64(math.MaxInt64)
	if u, _, _, err := tg.lim.Usage(context.Background()); err == nil {
		used = u[i]
	}
	tg.mu.Lock()
	amount, changed := tg.ctrls[i].ThrottledAt(now, used)
	tg.mu.Unlock()
	l := limits[i]
	if changed {
		l.Amount = amount
		_ = tg.lim.SetLimit(l)
	}
	refill := time.Duration(float64(l.Per) * float64(costs.Get(cost, l.Dimension)) / float64(l.Amount))
	tg.lim.PauseUntil(now.Add(min(refill, l.Per/4)))
}

// succeeded lets every effective limit grow back.
func (tg *Target) succeeded(now time.Time) {
	limits := tg.lim.Limits()
	tg.mu.Lock()
	defer tg.mu.Unlock()
	for i, ctrl := range tg.ctrls {
		if amount, changed := ctrl.Succeeded(now); changed {
			l := limits[i]
			l.Amount = amount
			_ = tg.lim.SetLimit(l)
		}
	}
}

// bindingFor returns the index of the limit a throttle's reason points at: tokens per day
// for "tokens_per_day", requests for "requests" (when limited), else the shortest tokens
// window; -1 when there is none.
func bindingFor(limits []quota.Limit, reason string) int {
	best := -1
	for i, l := range limits {
		switch {
		case reason == "tokens_per_day" && l.Dimension == quota.Tokens && l.Per >= 24*time.Hour:
			return i
		case reason == "requests" && l.Dimension == quota.Requests:
			return i
		case l.Dimension == quota.Tokens && (best < 0 || l.Per < limits[best].Per):
			best = i
		}
	}
	return best
}

// limitName names a limit for metrics labels by its dimension and period, which stay
// fixed while its amount adapts: "tokens_per_minute", "tokens_per_day", "requests_per_10s".
func limitName(l quota.Limit) string {
	per := l.Per.String()
	switch l.Per {
	case time.Minute:
		per = "minute"
	case 24 * time.Hour:
		per = "day"
	}
	return strings.ReplaceAll(quotatext.DimensionName(l.Dimension), "-", "_") + "_per_" + per
}
