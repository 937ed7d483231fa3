package tollgate

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"

	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/adapt"
	"github.com/tollgate-dev/tollgate/internal/discover"
	"github.com/tollgate-dev/tollgate/internal/estimate"
	"github.com/tollgate-dev/tollgate/internal/invoke"
	"github.com/tollgate-dev/tollgate/internal/route"
	"github.com/tollgate-dev/tollgate/quota"
)

// loadDefaultConfig is the AWS default configuration: credential chain, region, endpoints.
func loadDefaultConfig(ctx context.Context) (aws.Config, error) { return config.LoadDefaultConfig(ctx) }

// target is one Target, ready: its model, its limiter, its controllers and its SDK client.
type target struct {
	name   string // "region/model"
	region string
	cfg    Target
	ref    catalog.Ref
	model  catalog.Model
	params estimate.ModelParams
	sdk    *bedrockruntime.Client
	lim    *quota.Limiter
	source string // where the limits came from
	// configured holds each limit's configured Amount, before adaptation, and names its
	// metrics label ("tokens_per_minute").
	configured []int64
	names      []string

	mu    sync.Mutex
	ctrls []*adapt.Controller // one per limit, in the limiter's order
}

// group is the targets that serve one base model, and the router between them.
type group struct {
	model   catalog.Model
	targets []*target
	router  *route.Router
}

// newTarget resolves t's model and limits and builds its limiter and SDK client.
func (c *Client) newTarget(ctx context.Context, t Target) (*target, error) {
	m, ref, err := c.cfg.Catalog.Lookup(t.Model)
	if err != nil {
		return nil, fmt.Errorf("tollgate: target %s: %w", t.Model, err)
	}
	tg := &target{
		name: t.Region + "/" + t.Model, region: t.Region, cfg: t, ref: ref, model: m,
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
		if limits[i].Meter != quota.ClockWindow { // clock windows keep their alignment; their guard (Per/200 at each end) is their margin
			limits[i].Per += c.cfg.WindowMargin
		}
	}
	pacing := c.cfg.Pacing
	if pacing == 0 {
		for _, l := range limits {
			if pacing == 0 || l.Per/6 < pacing {
				pacing = l.Per / 6
			}
		}
	}
	tg.lim, err = quota.New(quota.Config{Limits: limits, MaxInFlight: t.MaxInFlight, Pacing: max(pacing, 0)})
	if err != nil {
		return nil, fmt.Errorf("tollgate: target %s: %w", tg.name, err)
	}
	for i, l := range limits {
		tg.configured = append(tg.configured, l.Amount)
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
			return nil, fmt.Errorf("tollgate: target %s: %w", tg.name, err)
		}
		tg.ctrls = append(tg.ctrls, ctrl)
	}
	tg.sdk = invoke.NewClient(*c.cfg.AWS, t.Region, t.Endpoint, t.Credentials)
	c.cfg.Logger.Info("tollgate target", "target", tg.name, "model", m.ID, "scope", ref.Scope.String(),
		"limits", fmt.Sprint(limits), "source", tg.source)
	return tg, nil
}

// limitsFor returns the target's limits and, for each, whether it is a guess (a catalog
// default, which the adaptive controller may raise), recording their source.
func (c *Client) limitsFor(ctx context.Context, tg *target) ([]quota.Limit, []bool, error) {
	if tg.cfg.Limits != nil {
		tg.source = "explicit"
		return append([]quota.Limit(nil), tg.cfg.Limits...), make([]bool, len(tg.cfg.Limits)), nil
	}
	if c.cfg.DiscoverQuotas {
		awsCfg := c.cfg.AWS.Copy()
		awsCfg.Region = tg.region
		if tg.cfg.Credentials != nil {
			awsCfg.Credentials = tg.cfg.Credentials
		}
		sq := servicequotas.NewFromConfig(awsCfg, func(o *servicequotas.Options) {
			if c.cfg.QuotasEndpoint != "" {
				o.BaseEndpoint = aws.String(c.cfg.QuotasEndpoint)
			}
		})
		rep, err := discover.Quotas(ctx, discover.Config{Client: sq, Region: tg.region, Catalog: c.cfg.Catalog}, tg.cfg.Model)
		if err != nil {
			return nil, nil, fmt.Errorf("tollgate: target %s: discovering quotas: %w", tg.name, err)
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
	limits, err := tg.model.Limits(tg.ref.Scope, tg.region, false)
	if err != nil {
		return nil, nil, fmt.Errorf("tollgate: target %s has no Limits and the catalog has no defaults: %w; set Target.Limits", tg.name, err)
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
func (tg *target) throttled(now time.Time, reason string, cost quota.Cost) {
	limits := tg.lim.Limits()
	i := bindingFor(limits, reason)
	if i < 0 {
		return
	}
	// The provider refused at about the usage this side counts now: the limit drops to it
	// at once (see adapt.Controller.ThrottledAt), so nothing more is sent until the window
	// drains, instead of filling the room the refunded reservation left.
	used := int64(math.MaxInt64)
	if s, err := tg.lim.Snapshot(context.Background()); err == nil {
		used = s.Limits[i].Used
	}
	tg.mu.Lock()
	amount, changed := tg.ctrls[i].ThrottledAt(now, used)
	tg.mu.Unlock()
	l := limits[i]
	if changed {
		l.Amount = amount
		_ = tg.lim.SetLimit(l)
	}
	refill := time.Duration(float64(l.Per) * float64(cost.Get(l.Dimension)) / float64(l.Amount))
	tg.lim.PauseUntil(now.Add(min(refill, l.Per/4)))
}

// succeeded lets every effective limit grow back.
func (tg *target) succeeded(now time.Time) {
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
	return strings.ReplaceAll(l.Dimension.String(), "-", "_") + "_per_" + per
}
