package bench

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/quota"
)

// defaultWindowMargin is tollgate's WindowMargin in emulated time: the real-time jitter
// between admission in the client and metering in the emulator (scheduling on a busy
// machine), scaled.
const defaultWindowMargin = time.Second

// runTollgate sends every call through a tollgate.Client (this repository), one goroutine
// per call as an application would, with the call's priority (WithPriority) and task
// (WithTask). The target's limits are the emulator's quotas × limit_factor (1 for
// "tollgate", 2 for "tollgate-adaptive": twice too high, learned from throttles), with
// windows on the emulator's time scale. RightSizeMaxTokens is on unless right_size is
// false ("tollgate-no-rightsize").
func runTollgate(ctx context.Context, e *env, in <-chan *call) {
	f := e.cfg.LimitFactor
	if f == 0 {
		f = 1
		if e.cfg.Name == "tollgate-adaptive" {
			f = 2
		}
	}
	limits := []quota.Limit{
		{Dimension: quota.Tokens, Amount: int64(f * float64(e.tpm)), Per: e.real(time.Minute)},
		{Dimension: quota.Tokens, Amount: int64(f * float64(e.tpd)), Per: e.real(24 * time.Hour)},
	}
	if e.rpm > 0 {
		limits = append(limits, quota.Limit{Dimension: quota.Requests, Amount: int64(f * float64(e.rpm)), Per: e.real(time.Minute)})
	}
	margin := e.cfg.WindowMargin
	if margin == 0 {
		margin = defaultWindowMargin
	}
	rightSize := e.cfg.Name != "tollgate-no-rightsize"
	if e.cfg.RightSize != nil {
		rightSize = *e.cfg.RightSize
	}
	cfg := tollgate.Config{
		AWS:                &aws.Config{Region: e.region, Credentials: e.credentials()},
		Targets:            []tollgate.Target{{Region: e.region, Model: e.sc.Model, Endpoint: e.srv.URL, Limits: limits}},
		RightSizeMaxTokens: rightSize,
		WindowMargin:       e.real(margin),
		Backoff:            func(n int) time.Duration { return e.real(tollgate.DefaultBackoff(n)) },
		MaxAttempts:        e.cfg.MaxAttempts,
		Logger:             slog.New(slog.DiscardHandler),
	}
	client, err := tollgate.New(ctx, cfg)
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
			ctx := tollgate.WithTask(tollgate.WithPriority(ctx, c.priority), task)
			out, err := send(ctx, client, c)
			e.finish(c, out, err)
		})
	}
	wg.Wait()
}
