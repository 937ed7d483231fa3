package bedrocktest_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/emustats"
	"github.com/tollgate-dev/tollgate/internal/quotatext"
	"github.com/tollgate-dev/tollgate/quota"
)

// TestOversubscribedLoad fires 400 calls from 40 workers at a quota a fraction of their
// demand, at 60× (an emulated minute per second), and checks the referee: every call is
// either admitted or throttled, the settled tokens are exactly what the replies
// reported, and — with the reservation covering the settlement (ReserveBurndown) — no
// limit ever held more than its amount, in either window mode.
func TestOversubscribedLoad(t *testing.T) {
	for _, mode := range []quota.Meter{quota.TokenBucket, quota.ClockWindow} {
		t.Run(quotatext.MeterName(mode), func(t *testing.T) {
			opts := quickOptions()
			opts.Window, opts.ReserveBurndown, opts.TimeScale = mode, true, 60
			opts.Latency = bedrocktest.Latency{TimeToFirstToken: 2 * time.Second, PerOutputToken: 20 * time.Millisecond}
			opts.Models = []catalog.Model{{ID: sonnet, OutputBurndown: 5, MaxOutputTokens: 64_000, RequiresProfile: true,
				Quotas: map[catalog.Scope]catalog.Quotas{catalog.CrossRegion: {TPM: catalog.Quota{Default: 40_000}, TPD: catalog.Quota{Default: 10_000_000}}}}}
			srv := startServer(t, opts)

			var ok, throttled, reported atomic.Int64
			jobs := make(chan int)
			var wg sync.WaitGroup
			for range 40 {
				// A client per worker: concurrent event streams on one SDK client race on
				// its shared event-stream decoder (smithy-go v1.28.9 internal/eventstream
				// Codec.payloadBuf), which the race detector reports.
				client := runtimeClient(t, srv.URL)
				wg.Go(func() {
					for i := range jobs {
						words := fmt.Sprintf("call %d asks for a summary of clause %d of the contract", i, i%7)
						out, err := client.ConverseStream(ctxT(t), &bedrockruntime.ConverseStreamInput{
							ModelId: aws.String("us." + sonnet), Messages: userMessage(words),
							InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(int32(200 + i%5*100))},
						})
						var te *types.ThrottlingException
						if errors.As(err, &te) {
							throttled.Add(1)
							continue
						}
						if err != nil {
							t.Errorf("call %d: %v", i, err)
							continue
						}
						stream := out.GetStream()
						for ev := range stream.Events() {
							if md, isMD := ev.(*types.ConverseStreamOutputMemberMetadata); isMD {
								u := md.Value.Usage
								reported.Add(int64(aws.ToInt32(u.InputTokens)) + 5*int64(aws.ToInt32(u.OutputTokens)))
							}
						}
						if err := stream.Err(); err != nil {
							t.Errorf("call %d stream: %v", i, err)
						}
						stream.Close()
						ok.Add(1)
					}
				})
			}
			for i := range 400 {
				jobs <- i
			}
			close(jobs)
			wg.Wait()

			s, found := emustats.Get(t, srv).Get(sonnet, "cross-region")
			if !found {
				t.Fatal("no stats")
			}
			t.Logf("%d admitted, %d throttled; limits %+v", ok.Load(), throttled.Load(), s.Limits)
			if s.Admitted != ok.Load() || s.Throttled[emustats.TokensPerMinute] != throttled.Load() || ok.Load()+throttled.Load() != 400 {
				t.Errorf("stats admitted %d, throttled %v; clients saw %d ok, %d throttled", s.Admitted, s.Throttled, ok.Load(), throttled.Load())
			}
			if throttled.Load() == 0 || ok.Load() < 10 {
				t.Errorf("%d admitted, %d throttled: the load did not oversubscribe the quota", ok.Load(), throttled.Load())
			}
			if s.SettledTokens != reported.Load() || s.InFlight != 0 {
				t.Errorf("settled %d tokens, replies reported %d (in flight %d)", s.SettledTokens, reported.Load(), s.InFlight)
			}
			for _, l := range s.Limits {
				if l.Peak > l.Amount || l.Peak == 0 {
					t.Errorf("%s peak %d, amount %d", l.Name, l.Peak, l.Amount)
				}
			}
		})
	}
}
