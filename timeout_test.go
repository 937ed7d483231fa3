package tollgate_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/internal/testnet"
	"github.com/tollgate-dev/tollgate/quota"
)

// TestAttemptTimeoutStalledBackend calls a backend that accepts connections and never
// answers: every attempt, streaming or not, gives up at Config.AttemptTimeout and is
// retried, and the call fails "giving up after" MaxAttempts timeouts instead of
// hanging.
func TestAttemptTimeoutStalledBackend(t *testing.T) {
	const attempts = 2
	url, conns := testnet.Stalled(t)
	// A real socket: the attempt timeout must hold against a connection that is
	// accepted and never answered, which the in-process transport does not have.
	sockets := awsConfig()
	sockets.HTTPClient = nil // the SDK's own
	c := newClient(t, tollgate.Config{AWS: sockets, AttemptTimeout: 300 * time.Millisecond, MaxAttempts: attempts,
		Targets: []tollgate.Target{{Region: "us-east-1", Model: sonnet35, Endpoint: url,
			Limits: []quota.Limit{{Dimension: quota.Tokens, Amount: 1_000_000, Per: time.Minute}}}}},
		func(pc *pipeline.Config) { pc.Backoff = func(int) time.Duration { return time.Millisecond } })
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Converse", func(ctx context.Context) error {
			_, err := c.Converse(ctx, review(sonnet35, "A short agreement.", 100))
			return err
		}},
		{"ConverseStream", func(ctx context.Context) error {
			in := review(sonnet35, "A short agreement.", 100)
			_, err := c.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: in.ModelId, Messages: in.Messages, InferenceConfig: in.InferenceConfig})
			return err
		}},
	}
	for _, tt := range calls {
		t.Run(tt.name, func(t *testing.T) {
			before := conns.Load()
			// The test's own bound: without an attempt timeout the call would hang until it.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err := tt.call(ctx)
			if ctx.Err() != nil {
				t.Fatalf("the call hung until the test's own deadline: %v", err)
			}
			var gu *pipeline.GiveUpError
			if !errors.As(err, &gu) || gu.Attempts != attempts || !strings.Contains(err.Error(), "attempt timeout (300ms)") {
				t.Fatalf("error %v; want giving up after %d attempt timeouts", err, attempts)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v does not match context.DeadlineExceeded", err)
			}
			if got := conns.Load() - before; got < attempts {
				t.Errorf("%d connections for %d attempts", got, attempts)
			}
		})
	}
}

// TestAttemptTimeoutLeavesStreamsAlone streams a reply that takes several times the
// attempt timeout to arrive: the timeout bounds the wait for the stream to start, not
// its events, so the whole reply arrives; and a Converse whose reply takes longer than
// the timeout times out.
func TestAttemptTimeoutLeavesStreamsAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 300 * time.Millisecond
		srv := emulator(t, quota.TokenBucket, 1_000_000, func(o *bedrocktest.Options) {
			o.Latency = bedrocktest.Latency{TimeToFirstToken: 10 * time.Millisecond, PerOutputToken: 20 * time.Millisecond}
			o.OutputTokens = func(int, uint64) int { return 60 } // 1.2s of output
		})
		c := newClient(t, tollgate.Config{AttemptTimeout: timeout, MaxAttempts: 1,
			Targets: []tollgate.Target{{Region: "us-east-1", Model: sonnet35, Endpoint: srv.URL,
				Limits: []quota.Limit{{Dimension: quota.Tokens, Amount: 1_000_000, Per: time.Minute}}}}})
		in := review(sonnet35, "A short agreement.", 100)
		start := time.Now()
		out, err := c.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{ModelId: in.ModelId, Messages: in.Messages, InferenceConfig: in.InferenceConfig})
		if err != nil {
			t.Fatal(err)
		}
		st := out.GetStream()
		var text strings.Builder
		var usage *types.TokenUsage
		for ev := range st.Events() {
			switch e := ev.(type) {
			case *types.ConverseStreamOutputMemberContentBlockDelta:
				if d, ok := e.Value.Delta.(*types.ContentBlockDeltaMemberText); ok {
					text.WriteString(d.Value)
				}
			case *types.ConverseStreamOutputMemberMetadata:
				usage = e.Value.Usage
			}
		}
		if err := st.Err(); err != nil {
			t.Fatalf("stream broke after %v: %v", time.Since(start), err)
		}
		st.Close()
		// 10ms to the first token and 59 more at 20ms: 1.19s, four times the timeout.
		if got, want := time.Since(start), 1190*time.Millisecond; usage == nil || aws.ToInt32(usage.OutputTokens) != 60 || got != want {
			t.Errorf("stream: usage %+v after %v; want 60 output tokens over exactly %v", usage, got, want)
		}
		if _, err := c.Converse(context.Background(), in); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "attempt timeout") {
			t.Errorf("Converse of a 1.2s reply with a %v attempt timeout: %v; want the attempt timeout", timeout, err)
		}
	})
}
