package bedrocktest_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/internal/emustats"
)

// inProcessClient is the real SDK client talking to h through h.Client(), with retries
// off so that every error surfaces.
func inProcessClient(h *bedrocktest.Handler) *bedrockruntime.Client {
	return bedrockruntime.New(bedrockruntime.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String("http://bedrocktest"),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		HTTPClient:   h.Client(),
		Retryer:      aws.NopRetryer{},
	})
}

// TestClientInBubble checks that the real SDK, through the in-process transport inside a
// synctest bubble, sees exactly the latency model's durations — 30 s for a Converse call
// and for a ConverseStream call — on the bubble's clock, at time scale 1.
func TestClientInBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		opts := quickOptions()
		// 1s + 290 further tokens × 100ms = 30s.
		opts.Latency = bedrocktest.Latency{TimeToFirstToken: time.Second, PerOutputToken: 100 * time.Millisecond}
		opts.OutputTokens = fixedOutput(291)
		h, err := bedrocktest.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		c := inProcessClient(h)
		ctx := t.Context()

		start := time.Now()
		out, err := c.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(nova), Messages: userMessage("hello there")})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := time.Since(start), 30*time.Second; got != want {
			t.Errorf("Converse took %v, want %v", got, want)
		}
		if got, want := aws.ToInt32(out.Usage.OutputTokens), int32(291); got != want {
			t.Errorf("output tokens = %d, want %d", got, want)
		}
		if got, want := aws.ToInt64(out.Metrics.LatencyMs), int64(30_000); got != want {
			t.Errorf("latencyMs = %d, want %d", got, want)
		}

		start = time.Now()
		so, err := c.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(nova), Messages: userMessage("hello there")})
		if err != nil {
			t.Fatal(err)
		}
		// The headers come at once; the events from the first token on.
		if got := time.Since(start); got != 0 {
			t.Errorf("stream opened after %v, want 0", got)
		}
		stream := so.GetStream()
		var output int32
		for ev := range stream.Events() {
			if md, ok := ev.(*types.ConverseStreamOutputMemberMetadata); ok {
				output = aws.ToInt32(md.Value.Usage.OutputTokens)
			}
		}
		if err := stream.Close(); err != nil {
			t.Fatal(err)
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if got, want := time.Since(start), 30*time.Second; got != want {
			t.Errorf("stream took %v, want %v", got, want)
		}
		if output != 291 {
			t.Errorf("streamed output tokens = %d, want 291", output)
		}
	})
}

// TestClientDrop checks that a dropped connection reaches the SDK as an error, not a
// reply, through the in-process transport.
func TestClientDrop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		opts := quickOptions()
		opts.Faults = bedrocktest.Faults{Drop: 1}
		h, err := bedrocktest.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		_, err = inProcessClient(h).Converse(t.Context(), &bedrockruntime.ConverseInput{ModelId: aws.String(nova), Messages: userMessage("hi")})
		if err == nil {
			t.Fatal("Converse succeeded, want the dropped connection's error")
		}
	})
}

// TestClientCloseEndsReply checks that closing a reply's body ends the handler's reply:
// the bubble would deadlock on a handler left writing to a pipe nobody reads.
func TestClientCloseEndsReply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		opts := quickOptions()
		opts.Latency = bedrocktest.Latency{TimeToFirstToken: time.Second, PerOutputToken: time.Second}
		opts.OutputTokens = fixedOutput(100)
		h, err := bedrocktest.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		req := converseRequest("converse-stream", "hi")
		resp, err := h.Client().Post("http://bedrocktest"+req.path, "application/json", strings.NewReader(req.body))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		buf := make([]byte, 1)
		if _, err := resp.Body.Read(buf); err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		start := time.Now()
		resp.Body.Close()
		synctest.Wait()
		if got := time.Since(start); got != 0 {
			t.Errorf("the reply went on for %v after its body was closed", got)
		}
		if st, _ := emustats.Get(t, h).Get(nova, "on-demand"); st.InFlight != 0 {
			t.Errorf("in flight = %d after the body was closed, want 0", st.InFlight)
		}
	})
}
