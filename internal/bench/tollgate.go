package bench

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/internal/quotatext"
	"github.com/tollgate-dev/tollgate/quota"
)

// Tollgate's WindowMargin covers the time between admission in the client and metering
// at the service: network latency and jitter, 250 ms by default against Bedrock. Against
// a time-scaled emulator in the same process that time is scheduling jitter on a busy
// machine, which the time scale multiplies: the margin is the larger of the client's
// default and Options.Jitter × scale, in emulated time. DefaultJitter, 12.5 ms of real
// time, gives the client's own 250 ms at the contracts scenario's 20×; the full bench on
// the 2-core machine ran without a throttle at 15× with 17 ms (255 ms emulated) and at 20×
// with 20 ms. (At 60× the margin is 750 ms of every emulated minute, 1.25% of the quota:
// an artefact of emulating, which is why the contracts scenario runs at 20×.)
const (
	clientWindowMargin = 250 * time.Millisecond
	// DefaultJitter is Options.Jitter when zero.
	DefaultJitter = 12500 * time.Microsecond
)

// windowMargin is tollgate's WindowMargin for e, in emulated time: the strategy's
// window_margin, else the default above.
func (e *env) windowMargin() time.Duration {
	if e.cfg.WindowMargin > 0 {
		return e.cfg.WindowMargin
	}
	return max(clientWindowMargin, time.Duration(float64(e.jitter)*e.scale))
}

// pacing is tollgate's Config.Pacing for e: the client's default, or none (−1) when the
// strategy's pacing is false.
func (e *env) pacing() time.Duration {
	if (e.cfg.Pacing != nil && !*e.cfg.Pacing) || (e.cfg.Pacing == nil && !slices.Equal(e.meters(), []quota.Meter{quota.Sliding})) {
		return -1
	}
	return 0
}

// reserveBurndown is tollgate's ReserveWithBurndown for e: the strategy's setting, else on
// for a token bucket only (see StrategyConfig.ReserveBurndown).
func (e *env) reserveBurndown() bool {
	if e.cfg.ReserveBurndown != nil {
		return *e.cfg.ReserveBurndown
	}
	return slices.Contains(e.meters(), quota.TokenBucket)
}

// meters are how tollgate counts its limits for e: the strategy's meter setting, else
// "provider" for tollgate-told — its limits known, amounts and reading alike — and
// sliding windows, the client's default, for the rest: tollgate is the client as a user
// configures it, told the quotas' amounts but not how the provider meters them. "either"
// gives each limit twice, as a token bucket and as clock windows (quota.Config.Limits):
// admitted only when both readings admit.
func (e *env) meters() []quota.Meter {
	m := e.cfg.Meter
	if m == "" {
		m = "sliding"
		if e.cfg.Name == "tollgate-told" {
			m = "provider"
		}
	}
	if m == "provider" {
		m = quotatext.MeterName(e.mode)
	}
	switch m {
	case "bucket":
		return []quota.Meter{quota.TokenBucket}
	case "clock":
		return []quota.Meter{quota.ClockWindow}
	case "either":
		return []quota.Meter{quota.TokenBucket, quota.ClockWindow}
	}
	return []quota.Meter{quota.Sliding}
}

// runTollgate sends every call through the client of this repository (pipeline.Client, which tollgate.Client wraps), one goroutine
// per call as an application would, with the call's priority and task (Client.With)
// The target's limits are the emulator's quotas × limit_factor (1 for
// "tollgate", 2 for "tollgate-adaptive": twice too high, learned from throttles), with
// windows on the emulator's time scale. RightSizeMaxTokens is on unless right_size is
// false ("tollgate-no-rightsize"). "tollgate-told" is told how the emulator meters (see
// meter): quota.TokenBucket limits against a token bucket, quota.ClockWindow against
// clock minutes, both without pacing; the others count sliding windows, with the
// client's default pacing unless pacing is false.
func runTollgate(ctx context.Context, e *env, in <-chan *call) {
	f := e.cfg.LimitFactor
	if f == 0 {
		f = 1
		if e.cfg.Name == "tollgate-adaptive" {
			f = 2
		}
	}
	var limits []quota.Limit
	for _, m := range e.meters() {
		limits = append(limits,
			quota.Limit{Dimension: quota.Tokens, Amount: int64(f * float64(e.tpm)), Per: e.real(time.Minute), Meter: m},
			quota.Limit{Dimension: quota.Tokens, Amount: int64(f * float64(e.tpd)), Per: e.real(24 * time.Hour), Meter: m})
		if e.rpm > 0 {
			limits = append(limits, quota.Limit{Dimension: quota.Requests, Amount: int64(f * float64(e.rpm)), Per: e.real(time.Minute), Meter: m})
		}
	}
	margin := e.windowMargin()
	rightSize := e.cfg.Name != "tollgate-no-rightsize"
	if e.cfg.RightSize != nil {
		rightSize = *e.cfg.RightSize
	}
	cfg := pipeline.Config{
		AWS:                 aws.Config{Region: e.region, Credentials: e.credentials(), HTTPClient: e.srv.Client()},
		Targets:             []pipeline.TargetConfig{{Region: e.region, Model: e.sc.Model, Endpoint: emulatorEndpoint, Limits: limits}},
		RightSize:           rightSize,
		Pacing:              e.pacing(),
		ReserveWithBurndown: e.reserveBurndown(),
		WindowMargin:        e.real(margin),
		Backoff:             func(n int) time.Duration { return e.real(pipeline.DefaultBackoff(n)) },
		MaxAttempts:         e.cfg.MaxAttempts,
		Logger:              slog.New(slog.DiscardHandler),
	}
	client, err := pipeline.NewClient(ctx, cfg, nil)
	if err != nil {
		for c := range in {
			e.finish(c, nil, err)
		}
		return
	}
	defer client.Close()
	var wg sync.WaitGroup
	for c := range in {
		wg.Go(func() {
			out, err := send(ctx, client.With(pipeline.Options{Priority: c.priority, Task: task}), c)
			e.finish(c, out, err)
		})
	}
	wg.Wait()
}
