package invoke_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/internal/invoke"
)

// readConverse reads every event of a watched ConverseStream and returns the text of
// its deltas, as a caller would.
func readConverse(stream *bedrockruntime.ConverseStreamEventStream) (text string, metadata bool) {
	var b strings.Builder
	for ev := range stream.Events() {
		switch e := ev.(type) {
		case *types.ConverseStreamOutputMemberContentBlockDelta:
			if d, ok := e.Value.Delta.(*types.ContentBlockDeltaMemberText); ok {
				b.WriteString(d.Value)
			}
		case *types.ConverseStreamOutputMemberMetadata:
			metadata = true
		}
	}
	return b.String(), metadata
}

// readInvoke reads every chunk of a watched InvokeModelWithResponseStream and returns
// the text of its content_block_delta chunks.
func readInvoke(t testing.TB, stream *bedrockruntime.InvokeModelWithResponseStreamEventStream) string {
	var b strings.Builder
	for ev := range stream.Events() {
		chunk, ok := ev.(*types.ResponseStreamMemberChunk)
		if !ok {
			t.Errorf("unexpected event %T", ev)
			continue
		}
		var inner struct {
			Type  string `json:"type"`
			Delta struct {
				Text string `json:"text"`
			} `json:"delta"`
		}
		if err := json.Unmarshal(chunk.Value.Bytes, &inner); err != nil {
			t.Errorf("chunk %s: %v", chunk.Value.Bytes, err)
		}
		if inner.Type == "content_block_delta" {
			b.WriteString(inner.Delta.Text)
		}
	}
	return b.String()
}

func TestWatchConverseStreamWhole(t *testing.T) {
	e := startEmulator(t, options(100_000, 40))
	client := newClient(t, e.URL)
	out, err := invoke.ConverseStream(ctxT(t), client, converseStreamInput("three word prompt", 100))
	if err != nil {
		t.Fatalf("ConverseStream: %v", err)
	}
	var rec endRecorder
	invoke.WatchConverseStream(out, rec.done)
	stream := out.GetStream()
	text, metadata := readConverse(stream)
	// done has run by the time the events channel closes.
	end := rec.only(t)
	if !metadata {
		t.Errorf("the caller saw no metadata event")
	}
	if got := len(strings.Fields(text)); got != 40 {
		t.Errorf("caller read %d words, want 40", got)
	}
	if end.OutputText != text {
		t.Errorf("watcher saw %q, caller read %q", end.OutputText, text)
	}
	if want := (invoke.Usage{Input: 3, Output: 40, Known: true}); end.Usage != want {
		t.Errorf("usage = %+v, want %+v", end.Usage, want)
	}
	if end.Outcome.Kind != invoke.OK || end.Outcome.Err != nil {
		t.Errorf("outcome = %+v, want OK", end.Outcome)
	}
	if err := stream.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := stream.Err(); err != nil {
		t.Errorf("Err: %v", err)
	}
	rec.only(t)
}

func TestWatchInvokeStreamWhole(t *testing.T) {
	e := startEmulator(t, options(100_000, 30))
	client := newClient(t, e.URL)
	out, err := invoke.InvokeStream(ctxT(t), client, &bedrockruntime.InvokeModelWithResponseStreamInput{
		ModelId: aws.String(nova), ContentType: aws.String("application/json"), Body: anthropicBody(t, "two words", 100)})
	if err != nil {
		t.Fatalf("InvokeModelWithResponseStream: %v", err)
	}
	var rec endRecorder
	invoke.WatchInvokeStream(out, rec.done)
	stream := out.GetStream()
	text := readInvoke(t, stream)
	end := rec.only(t)
	if got := len(strings.Fields(text)); got != 30 {
		t.Errorf("caller read %d words, want 30", got)
	}
	if end.OutputText != text {
		t.Errorf("watcher saw %q, caller read %q", end.OutputText, text)
	}
	if want := (invoke.Usage{Input: 2, Output: 30, Known: true}); end.Usage != want {
		t.Errorf("usage = %+v, want %+v", end.Usage, want)
	}
	if end.Outcome.Kind != invoke.OK {
		t.Errorf("outcome = %+v, want OK", end.Outcome)
	}
	if err := stream.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	rec.only(t)
}

// TestWatchMidStreamException ends streams with exception frames: done reports the
// exception classified, the partial text and no usage, and Err keeps the SDK's error.
func TestWatchMidStreamException(t *testing.T) {
	tests := []struct {
		name   string
		faults bedrocktest.Faults
		kind   invoke.Kind
		reason invoke.Reason
		code   string
		check  func(error) bool
	}{
		{"throttle", bedrocktest.Faults{StreamThrottle: 1}, invoke.Throttle, invoke.Tokens, "ThrottlingException",
			func(err error) bool { var e *types.ThrottlingException; return errors.As(err, &e) }},
		{"unavailable", bedrocktest.Faults{StreamUnavailable: 1}, invoke.ServerError, invoke.Unknown, "ServiceUnavailableException",
			func(err error) bool { var e *types.ServiceUnavailableException; return errors.As(err, &e) }},
	}
	for _, tt := range tests {
		o := options(100_000, 200)
		o.Faults = tt.faults
		e := startEmulator(t, o)
		client := newClient(t, e.URL)
		checkEnd := func(t *testing.T, rec *endRecorder, text string, err error) {
			t.Helper()
			end := rec.only(t)
			if end.Outcome.Kind != tt.kind || end.Outcome.Reason != tt.reason || end.Outcome.Code != tt.code {
				t.Errorf("outcome = %+v, want %v %v %s", end.Outcome, tt.kind, tt.reason, tt.code)
			}
			if n := len(strings.Fields(end.OutputText)); n == 0 || n >= 200 {
				t.Errorf("watcher saw %d words, want some of 200", n)
			}
			if end.OutputText != text {
				t.Errorf("watcher saw %q, caller read %q", end.OutputText, text)
			}
			if end.Usage.Known {
				t.Errorf("usage %+v known without a metadata event", end.Usage)
			}
			if !tt.check(err) {
				t.Errorf("stream.Err() = %v (%T), want the SDK's exception", err, err)
			}
		}
		t.Run(tt.name+"/converse", func(t *testing.T) {
			out, err := invoke.ConverseStream(ctxT(t), client, converseStreamInput("hi", 1000))
			if err != nil {
				t.Fatalf("ConverseStream: %v", err)
			}
			var rec endRecorder
			invoke.WatchConverseStream(out, rec.done)
			text, _ := readConverse(out.GetStream())
			out.GetStream().Close()
			checkEnd(t, &rec, text, out.GetStream().Err())
		})
		t.Run(tt.name+"/invoke", func(t *testing.T) {
			out, err := invoke.InvokeStream(ctxT(t), client, &bedrockruntime.InvokeModelWithResponseStreamInput{
				ModelId: aws.String(nova), ContentType: aws.String("application/json"), Body: anthropicBody(t, "hi", 1000)})
			if err != nil {
				t.Fatalf("InvokeModelWithResponseStream: %v", err)
			}
			var rec endRecorder
			invoke.WatchInvokeStream(out, rec.done)
			text := readInvoke(t, out.GetStream())
			out.GetStream().Close()
			checkEnd(t, &rec, text, out.GetStream().Err())
		})
	}
}

// TestWatchCallerCloses closes streams before their end: done runs once, before Close
// returns, with the text read so far and the outcome Canceled.
func TestWatchCallerCloses(t *testing.T) {
	e := startEmulator(t, options(100_000, 500))
	client := newClient(t, e.URL)
	for _, read := range []int{0, 1, 5} {
		out, err := invoke.ConverseStream(ctxT(t), client, converseStreamInput("hi", 1000))
		if err != nil {
			t.Fatalf("ConverseStream: %v", err)
		}
		var rec endRecorder
		invoke.WatchConverseStream(out, rec.done)
		stream := out.GetStream()
		events := stream.Events()
		var text strings.Builder
		for range read {
			ev, ok := <-events
			if !ok {
				t.Fatalf("stream ended early")
			}
			if d, ok := ev.(*types.ConverseStreamOutputMemberContentBlockDelta); ok {
				if dt, ok := d.Value.Delta.(*types.ContentBlockDeltaMemberText); ok {
					text.WriteString(dt.Value)
				}
			}
		}
		stream.Close()
		end := rec.only(t)
		if end.Outcome.Kind != invoke.Canceled || !errors.Is(end.Outcome.Err, invoke.ErrStreamClosed) {
			t.Errorf("read %d: outcome = %+v, want canceled", read, end.Outcome)
		}
		// The watcher saw what was read, and at most the one event it was holding.
		if !strings.HasPrefix(end.OutputText, text.String()) || len(strings.Fields(end.OutputText)) >= 500 {
			t.Errorf("read %d events (%q): watcher saw %q", read, text.String(), end.OutputText)
		}
		if end.Usage.Known {
			t.Errorf("read %d: usage known: %+v", read, end.Usage)
		}
		for range events { // closed: drains at once
		}
		stream.Close()
		rec.only(t)
	}
}

// TestWatchConcurrentStreams runs 300 ConverseStreams and 100
// InvokeModelWithResponseStreams at once on one client from NewClient, called directly
// (no PrivateCodec), every one watched: all complete, with no closed connection, each
// with the text a plain Converse of its prompt gets (no payload was mixed up between
// streams) and, under -race, no data race.
func TestWatchConcurrentStreams(t *testing.T) {
	e := startEmulator(t, options(100_000_000, 20))
	client := newClient(t, e.URL)
	const converse, invokes, prompts = 300, 100, 10
	want := make([]string, prompts)
	for i := range want {
		out, err := client.Converse(ctxT(t), converseInput(fmt.Sprintf("prompt number %d", i), 100))
		if err != nil {
			t.Fatalf("Converse: %v", err)
		}
		want[i] = out.Output.(*types.ConverseOutputMemberMessage).Value.Content[0].(*types.ContentBlockMemberText).Value
	}
	var wg sync.WaitGroup
	errs := make(chan error, converse+invokes)
	for i := range converse + invokes {
		wg.Go(func() {
			var rec endRecorder
			prompt := fmt.Sprintf("prompt number %d", i%prompts)
			var text string
			var err error
			if i < converse {
				var out *bedrockruntime.ConverseStreamOutput
				if out, err = client.ConverseStream(ctxT(t), converseStreamInput(prompt, 100)); err != nil {
					errs <- err
					return
				}
				invoke.WatchConverseStream(out, rec.done)
				text, _ = readConverse(out.GetStream())
				err = out.GetStream().Close()
			} else {
				var out *bedrockruntime.InvokeModelWithResponseStreamOutput
				if out, err = client.InvokeModelWithResponseStream(ctxT(t), &bedrockruntime.InvokeModelWithResponseStreamInput{
					ModelId: aws.String(nova), ContentType: aws.String("application/json"), Body: anthropicBody(t, prompt, 100)}); err != nil {
					errs <- err
					return
				}
				invoke.WatchInvokeStream(out, rec.done)
				text = readInvoke(t, out.GetStream())
				err = out.GetStream().Close()
			}
			if err != nil {
				errs <- fmt.Errorf("stream %d: %w", i, err)
				return
			}
			if n := rec.calls.Load(); n != 1 {
				errs <- fmt.Errorf("stream %d: done called %d times", i, n)
				return
			}
			end := *rec.end.Load()
			if end.Outcome.Kind != invoke.OK || end.Usage != (invoke.Usage{Input: 3, Output: 20, Known: true}) {
				errs <- fmt.Errorf("stream %d: end = %+v", i, end)
			}
			if text != want[i%prompts] || end.OutputText != text {
				errs <- fmt.Errorf("stream %d: read %q, watcher saw %q, want %q", i, text, end.OutputText, want[i%prompts])
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got, want := e.Requests(), int64(prompts+converse+invokes); got != want {
		t.Errorf("server saw %d requests, want %d", got, want)
	}
}

// TestPrivateCodec runs concurrent streams on a client the SDK built, through the
// helpers that pass PrivateCodec: under -race, no data race on the shared decoder.
func TestPrivateCodec(t *testing.T) {
	e := startEmulator(t, options(100_000_000, 20))
	client := bedrockruntime.New(bedrockruntime.Options{Region: "us-east-1", BaseEndpoint: aws.String(e.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""), Retryer: aws.NopRetryer{}})
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			var text string
			if i%2 == 0 {
				out, err := invoke.ConverseStream(ctxT(t), client, converseStreamInput("a short prompt", 100))
				if err != nil {
					t.Error(err)
					return
				}
				text, _ = readConverse(out.GetStream())
				out.GetStream().Close()
			} else {
				out, err := invoke.InvokeStream(ctxT(t), client, &bedrockruntime.InvokeModelWithResponseStreamInput{
					ModelId: aws.String(nova), ContentType: aws.String("application/json"), Body: anthropicBody(t, "a short prompt", 100)})
				if err != nil {
					t.Error(err)
					return
				}
				text = readInvoke(t, out.GetStream())
				out.GetStream().Close()
			}
			if n := len(strings.Fields(text)); n != 20 {
				t.Errorf("stream %d read %d words, want 20", i, n)
			}
		})
	}
	wg.Wait()
}

func TestWatchNothing(t *testing.T) {
	var rec endRecorder
	invoke.WatchConverseStream(nil, rec.done)
	if end := rec.only(t); end.Outcome.Kind != invoke.Other {
		t.Errorf("outcome = %+v, want other", end.Outcome)
	}
	var rec2 endRecorder
	invoke.WatchInvokeStream(&bedrockruntime.InvokeModelWithResponseStreamOutput{}, rec2.done)
	rec2.only(t)
	invoke.WatchConverseStream(nil, nil) // a nil done is allowed
}

// TestWatchContextEndsStream ends streams through the call's context while events
// are still coming: a deadline is reported as Timeout, a cancellation as Canceled,
// each with the text seen so far.
func TestWatchContextEndsStream(t *testing.T) {
	o := options(100_000, 400)
	o.Latency = bedrocktest.Latency{TimeToFirstToken: -1, PerOutputToken: 5 * time.Millisecond}
	e := startEmulator(t, o)
	client := newClient(t, e.URL)
	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		kind invoke.Kind
	}{
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(ctxT(t), 300*time.Millisecond)
		}, invoke.Timeout},
		{"cancel", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(ctxT(t))
			time.AfterFunc(300*time.Millisecond, cancel)
			return ctx, cancel
		}, invoke.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := tt.ctx()
			defer cancel()
			out, err := client.ConverseStream(ctx, converseStreamInput("hi", 1000))
			if err != nil {
				t.Fatalf("ConverseStream: %v", err)
			}
			var rec endRecorder
			invoke.WatchConverseStream(out, rec.done)
			text, metadata := readConverse(out.GetStream())
			out.GetStream().Close()
			end := rec.only(t)
			if metadata || end.Usage.Known {
				t.Fatalf("the stream ended before the context did")
			}
			if end.Outcome.Kind != tt.kind {
				t.Errorf("outcome = %v (%v), want %v", end.Outcome.Kind, end.Outcome.Err, tt.kind)
			}
			if end.OutputText != text || text == "" {
				t.Errorf("watcher saw %q, caller read %q", end.OutputText, text)
			}
		})
	}
}

// TestWatchCloseRacesEnd closes streams from another goroutine while they are being
// read to their end: done runs exactly once whichever comes first.
func TestWatchCloseRacesEnd(t *testing.T) {
	e := startEmulator(t, options(100_000_000, 30))
	client := newClient(t, e.URL)
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			out, err := client.ConverseStream(ctxT(t), converseStreamInput("hi", 100))
			if err != nil {
				t.Error(err)
				return
			}
			var rec endRecorder
			invoke.WatchConverseStream(out, rec.done)
			stream := out.GetStream()
			read := make(chan struct{})
			go func() {
				defer close(read)
				n := 0
				for range stream.Events() {
					if n++; n == i%40 {
						stream.Close()
					}
				}
			}()
			<-read
			stream.Close()
			if n := rec.calls.Load(); n != 1 {
				t.Errorf("stream %d: done called %d times", i, n)
				return
			}
			if k := rec.end.Load().Outcome.Kind; k != invoke.OK && k != invoke.Canceled {
				t.Errorf("stream %d: outcome %v", i, k)
			}
		})
	}
	wg.Wait()
}

// TestWatchClosedAfterMetadata closes a stream as soon as its metadata event arrives,
// before the SDK's channel has closed: the stream was complete, so the outcome is OK.
func TestWatchClosedAfterMetadata(t *testing.T) {
	e := startEmulator(t, options(100_000, 10))
	client := newClient(t, e.URL)
	out, err := client.ConverseStream(ctxT(t), converseStreamInput("hi", 100))
	if err != nil {
		t.Fatalf("ConverseStream: %v", err)
	}
	var rec endRecorder
	invoke.WatchConverseStream(out, rec.done)
	for ev := range out.GetStream().Events() {
		if _, ok := ev.(*types.ConverseStreamOutputMemberMetadata); ok {
			break
		}
	}
	out.GetStream().Close()
	end := rec.only(t)
	if end.Outcome.Kind != invoke.OK || end.Usage != (invoke.Usage{Input: 1, Output: 10, Known: true}) {
		t.Errorf("end = %+v, want OK with the usage", end)
	}
}
