package tollgate_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/quota"
)

func streamInput(model, text string, maxTokens int32) *bedrockruntime.ConverseStreamInput {
	in := review(model, text, maxTokens)
	return &bedrockruntime.ConverseStreamInput{ModelId: in.ModelId, System: in.System, Messages: in.Messages, InferenceConfig: in.InferenceConfig}
}

func used(t *testing.T, c *tollgate.Client) int64 {
	t.Helper()
	s, err := c.Pipeline().Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s[0].Limits[0].Used
}

// TestConverseStreamSettlesFromMetadata reads a whole stream and checks that the client's
// quota holds exactly what the metadata event reported, as does the emulator.
func TestConverseStreamSettlesFromMetadata(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := emulator(t, quota.TokenBucket, 2_000_000, nil)
		c := newClient(t, tollgate.Config{Targets: []tollgate.Target{{Model: sonnet4, Endpoint: srv.URL, Limits: []quota.Limit{tpmLimit(2_000_000)}}}})
		out, err := c.ConverseStream(context.Background(), streamInput(sonnet4, contracts(t)[1], 300))
		if err != nil {
			t.Fatal(err)
		}
		var text strings.Builder
		var usage *types.TokenUsage
		for ev := range out.GetStream().Events() {
			switch e := ev.(type) {
			case *types.ConverseStreamOutputMemberContentBlockDelta:
				if d, ok := e.Value.Delta.(*types.ContentBlockDeltaMemberText); ok {
					text.WriteString(d.Value)
				}
			case *types.ConverseStreamOutputMemberMetadata:
				usage = e.Value.Usage
			}
		}
		if err := out.GetStream().Err(); err != nil {
			t.Fatal(err)
		}
		out.GetStream().Close()
		if usage == nil || text.Len() == 0 {
			t.Fatalf("stream gave text %d bytes, usage %v", text.Len(), usage)
		}
		want := int64(*usage.InputTokens) + 5*int64(*usage.OutputTokens) // Sonnet 4: output burndown 5
		if got := used(t, c); got != want {
			t.Errorf("client holds %d quota tokens after the stream; the metadata event says %d", got, want)
		}
		if s := series(t, srv, "anthropic.claude-sonnet-4-20250514-v1:0", "cross-region"); s.SettledTokens != want {
			t.Errorf("emulator settled %d, metadata says %d", s.SettledTokens, want)
		}
	})
}

// TestStreamThrottledMidway: a throttlingException frame halfway through a stream reaches
// the caller through Err, and the reservation is settled once, for what was seen — no
// less than the service charged, no more than was reserved.
func TestStreamThrottledMidway(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := emulator(t, quota.TokenBucket, 2_000_000, func(o *bedrocktest.Options) {
			o.Faults = bedrocktest.Faults{Seed: 3, StreamThrottle: 1}
		})
		c := newClient(t, tollgate.Config{Targets: []tollgate.Target{{Model: sonnet4, Endpoint: srv.URL, Limits: []quota.Limit{tpmLimit(2_000_000)}}}})
		out, err := c.ConverseStream(context.Background(), streamInput(sonnet4, contracts(t)[2], 600))
		if err != nil {
			t.Fatal(err)
		}
		for range out.GetStream().Events() {
		}
		var te *types.ThrottlingException
		if err := out.GetStream().Err(); !errors.As(err, &te) {
			t.Fatalf("stream error = %v; want a *types.ThrottlingException", err)
		}
		out.GetStream().Close()
		s := series(t, srv, "anthropic.claude-sonnet-4-20250514-v1:0", "cross-region")
		got := used(t, c)
		t.Logf("emulator charged %d, reserved %d; the client holds %d", s.SettledTokens, s.ReservedTokens, got)
		if got < s.SettledTokens {
			t.Errorf("client holds %d, less than the %d the service charged", got, s.SettledTokens)
		}
		if s.Admitted != 1 || got > s.ReservedTokens*3/2 {
			t.Errorf("client holds %d for one call that reserved about %d: charged twice?", got, s.ReservedTokens)
		}
	})
}

// labelled sums the counter name's series whose label key has value.
func labelled(t *testing.T, reg *prometheus.Registry, name, key, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == key && l.GetValue() == value {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}

// TestStreamThrottledMidwayIsOneOutcome: a stream throttled halfway is one throttled call,
// reported as a non-stream throttle is — to the call's stats and the throttle metrics, to
// the router, which then steers the next call to the other region for its cool-down — and
// never counted a success (no "ok" attempt or call).
func TestStreamThrottledMidwayIsOneOutcome(t *testing.T) {
	for _, op := range []string{"ConverseStream", "InvokeModelWithResponseStream"} {
		t.Run(op, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := emulator(t, quota.TokenBucket, 2_000_000, func(o *bedrocktest.Options) {
					o.Faults = bedrocktest.Faults{Seed: 3, StreamThrottle: 1} // streams only
				})
				reg := prometheus.NewRegistry()
				c := newClient(t, tollgate.Config{Registerer: reg, Targets: []tollgate.Target{
					{Region: "us-east-1", Model: sonnet4, Endpoint: srv.URL, Limits: []quota.Limit{tpmLimit(2_000_000)}},
					{Region: "us-west-2", Model: sonnet4, Endpoint: srv.URL, Limits: []quota.Limit{tpmLimit(2_000_000)}},
				}})
				var st pipeline.Result
				ctx := context.Background()
				var err error
				switch op {
				case "ConverseStream":
					out, oerr := c.ConverseStream(ctx, streamInput(sonnet4, contracts(t)[2], 600))
					if oerr != nil {
						t.Fatal(oerr)
					}
					for range out.GetStream().Events() {
					}
					err = out.GetStream().Err()
					out.GetStream().Close()
					st, _ = pipeline.ResultOf(out.ResultMetadata)
				default:
					body, _ := json.Marshal(map[string]any{"anthropic_version": "bedrock-2023-05-31", "max_tokens": 600,
						"messages": []map[string]any{{"role": "user", "content": contracts(t)[2]}}})
					out, oerr := c.InvokeModelWithResponseStream(ctx, &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String(sonnet4), Body: body})
					if oerr != nil {
						t.Fatal(oerr)
					}
					for range out.GetStream().Events() {
					}
					err = out.GetStream().Err()
					out.GetStream().Close()
					st, _ = pipeline.ResultOf(out.ResultMetadata)
				}
				var te *types.ThrottlingException
				if !errors.As(err, &te) {
					t.Fatalf("stream error = %v; want a *types.ThrottlingException", err)
				}
				if st.Attempts != 1 || st.Throttles != 1 || !strings.HasPrefix(st.Target, "us-east-1/") {
					t.Errorf("Result = %+v; want 1 attempt, 1 throttle, on us-east-1", st)
				}
				for _, m := range []struct {
					name, key, value string
					want             float64
				}{
					{"tollgate_throttles_total", "", "", 1},
					{"tollgate_attempts_total", "result", "throttle", 1},
					{"tollgate_attempts_total", "result", "ok", 0},
					{"tollgate_calls_total", "outcome", "throttled", 1},
					{"tollgate_calls_total", "outcome", "ok", 0},
				} {
					got := counter(t, reg, m.name)
					if m.key != "" {
						got = labelled(t, reg, m.name, m.key, m.value)
					}
					if got != m.want {
						t.Errorf("%s{%s=%q} = %v; want %v", m.name, m.key, m.value, got, m.want)
					}
				}
				// The throttle reached the router: us-east-1 cools down, and the next call,
				// which would go there by preference, goes to us-west-2.
				out, err := c.Converse(context.Background(), review(sonnet4, "Who are the parties?", 50))
				if err != nil {
					t.Fatal(err)
				}
				next, _ := pipeline.ResultOf(out.ResultMetadata)
				if !strings.HasPrefix(next.Target, "us-west-2/") {
					t.Errorf("the call after the throttled stream went to %s; want us-west-2, away from the target that just throttled", next.Target)
				}
			})
		})
	}
}

// TestInvokeModelAndItsStream uses the Anthropic Messages body on both InvokeModel
// operations and checks the settlement against the usage headers and the final chunk.
func TestInvokeModelAndItsStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := emulator(t, quota.TokenBucket, 2_000_000, nil)
		c := newClient(t, tollgate.Config{Targets: []tollgate.Target{{Model: sonnet35, Endpoint: srv.URL, Limits: []quota.Limit{tpmLimit(2_000_000)}}}})
		body, _ := json.Marshal(map[string]any{
			"anthropic_version": "bedrock-2023-05-31", "max_tokens": 200,
			"messages": []map[string]any{{"role": "user", "content": contracts(t)[3][:min(20_000, len(contracts(t)[3]))]}},
		})
		if _, err := c.InvokeModel(context.Background(), &bedrockruntime.InvokeModelInput{ModelId: aws.String(sonnet35), Body: body, ContentType: aws.String("application/json")}); err != nil {
			t.Fatal(err)
		}
		afterInvoke := used(t, c)
		if s := series(t, srv, sonnet35, "on-demand"); s.SettledTokens != afterInvoke {
			t.Errorf("after InvokeModel the client holds %d, the emulator settled %d", afterInvoke, s.SettledTokens)
		}
		out, err := c.InvokeModelWithResponseStream(context.Background(), &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String(sonnet35), Body: body, ContentType: aws.String("application/json")})
		if err != nil {
			t.Fatal(err)
		}
		for range out.GetStream().Events() {
		}
		if err := out.GetStream().Err(); err != nil {
			t.Fatal(err)
		}
		out.GetStream().Close()
		if s := series(t, srv, sonnet35, "on-demand"); s.SettledTokens != used(t, c) || s.Admitted != 2 {
			t.Errorf("after the stream the client holds %d, the emulator settled %d over %d calls", used(t, c), s.SettledTokens, s.Admitted)
		}
	})
}

// TestCancelReleasesAtOnce cancels a call waiting for admission and one in flight: both
// return at once with the context's error, and the quota holds nothing for them.
func TestCancelReleasesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := emulator(t, quota.TokenBucket, 1_000_000, func(o *bedrocktest.Options) {
			o.Latency = bedrocktest.Latency{TimeToFirstToken: 10 * time.Minute} // calls hang
		})
		c := newClient(t, tollgate.Config{Targets: []tollgate.Target{{Model: sonnet35, Endpoint: srv.URL, Limits: []quota.Limit{tpmLimit(30_000)}}}})
		doc := longest(t)[:40_000] // about 10K tokens
		ctx1, cancel1 := context.WithCancel(context.Background())
		errs := make(chan error, 2)
		go func() { _, err := c.Converse(ctx1, review(sonnet35, doc, 100)); errs <- err }()
		time.Sleep(5 * time.Second) // admitted and in flight
		inFlight := used(t, c)
		if inFlight == 0 {
			t.Fatal("the first call holds nothing: not in flight")
		}
		ctx2, cancel2 := context.WithCancel(context.Background())
		go func() { _, err := c.Converse(ctx2, review(sonnet35, doc+doc, 100)); errs <- err }() // does not fit
		time.Sleep(5 * time.Second)
		if s, _ := c.Pipeline().Snapshot(context.Background()); s[0].Queued[2] != 1 {
			t.Fatalf("queued = %v; want the second call waiting", s[0].Queued)
		}
		start := time.Now()
		cancel2()
		cancel1()
		for i := 0; i < 2; i++ {
			if err := <-errs; !errors.Is(err, context.Canceled) {
				t.Errorf("cancelled call returned %v; want context.Canceled", err)
			}
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("cancelled calls took %v to return; want at once", d)
		}
		if got := used(t, c); got != 0 {
			t.Errorf("after cancelling, the quota holds %d; want 0", got)
		}
		if s, _ := c.Pipeline().Snapshot(context.Background()); s[0].Queued != [5]int{} || s[0].InFlight != 0 {
			t.Errorf("after cancelling: queued %v, in flight %d", s[0].Queued, s[0].InFlight)
		}
	})
}

// TestCountTokensWhenConfigured: with UseCountTokens, the reservation's input is the
// service's exact count for a model that supports CountTokens.
func TestCountTokensWhenConfigured(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := emulator(t, quota.TokenBucket, 2_000_000, nil)
		in := review(sonnet35, contracts(t)[4], 300)
		for _, use := range []bool{false, true} {
			c := newClient(t, tollgate.Config{UseCountTokens: use, Targets: []tollgate.Target{{Model: sonnet35, Endpoint: srv.URL, Limits: []quota.Limit{tpmLimit(2_000_000)}}}})
			n, err := c.CountTokens(context.Background(), &bedrockruntime.CountTokensInput{ModelId: in.ModelId,
				Input: &types.CountTokensInputMemberConverse{Value: types.ConverseTokensRequest{Messages: in.Messages, System: in.System}}})
			if err != nil {
				t.Fatal(err)
			}
			p, err := c.Pipeline().Forecast(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			exact := int64(*n.InputTokens) + 300
			if use && p.Cost.Tokens != exact {
				t.Errorf("with UseCountTokens the call reserves %d; want the exact count + max_tokens = %d", p.Cost.Tokens, exact)
			}
			if !use && p.Cost.Tokens == exact {
				t.Errorf("without UseCountTokens the reservation equals the exact count (%d): the test cannot tell them apart", exact)
			}
		}
	})
}

// TestFailFastOnDeadline refuses at once a call whose forecast wait exceeds its deadline.
func TestFailFastOnDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := emulator(t, quota.TokenBucket, 2_000_000, nil)
		c := newClient(t, tollgate.Config{Targets: []tollgate.Target{{Model: sonnet35, Endpoint: srv.URL, Limits: []quota.Limit{tpmLimit(25_000)}}}})
		doc := longest(t)[:60_000]
		if _, err := c.Converse(context.Background(), review(sonnet35, doc, 100)); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		start := time.Now()
		_, err := c.Converse(ctx, review(sonnet35, doc, 100))
		var de *pipeline.DeadlineError
		if !errors.As(err, &de) || !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, tollgate.ErrDeadline) {
			t.Fatalf("call that cannot be admitted before its deadline = %v; want a *DeadlineError matching ErrDeadline", err)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("fail-fast took %v; want at once", d)
		}
		t.Log(err)
	})
}

// longest returns the longest sample contract.
func longest(t *testing.T) string {
	var l string
	for _, d := range contracts(t) {
		if len(d) > len(l) {
			l = d
		}
	}
	return l
}
