package invoke_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/tollgate-dev/tollgate/internal/invoke"
	"github.com/tollgate-dev/tollgate/internal/wire"
)

// instantStream answers every request at once with a short ConverseStream, before
// reading the request body: the timing in which smithy-go's closed request body
// makes net/http close the connection under the stream (SDK note 2).
func instantStream(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.WriteHeader(http.StatusOK)
	f := w.(http.Flusher)
	ew := wire.NewEventWriter(w, func() error { f.Flush(); return nil })
	ew.Event(wire.EventMessageStart, map[string]any{"role": "assistant"})
	for i := range 3 {
		ew.Event("contentBlockDelta", map[string]any{"contentBlockIndex": 0, "delta": map[string]any{"text": fmt.Sprintf("w%d ", i)}})
	}
	ew.Event("messageStop", map[string]any{"stopReason": "end_turn"})
	ew.Event("metadata", map[string]any{"usage": map[string]any{"inputTokens": 2, "outputTokens": 3, "totalTokens": 5}, "metrics": map[string]any{"latencyMs": 1}})
}

// runInstantStreams runs n concurrent watched ConverseStreams against instantStream
// and returns the errors of those that did not end well.
func runInstantStreams(t *testing.T, client *bedrockruntime.Client, n int, optFns ...func(*bedrockruntime.Options)) []error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for range n {
		wg.Go(func() {
			out, err := client.ConverseStream(ctxT(t), converseStreamInput("hi", 10), optFns...)
			if err == nil {
				var rec endRecorder
				invoke.WatchConverseStream(out, rec.done)
				readConverse(out.GetStream())
				out.GetStream().Close()
				if end := rec.only(t); end.Outcome.Kind != invoke.OK || !end.Usage.Known || end.OutputText != "w0 w1 w2 " {
					err = fmt.Errorf("end = %+v", end)
				}
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errs
}

// TestClosedConnectionWorkaround runs 300 concurrent watched streams against a server
// that answers at once: all of them end well, none on "use of closed network
// connection". (The bug is timing-dependent and did not show on this machine with the
// SDK's own HTTP client either; TestTransportNeverGetsTheSDKsBody checks the mechanism.)
func TestClosedConnectionWorkaround(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(instantStream))
	t.Cleanup(srv.Close)
	for _, err := range runInstantStreams(t, newClient(t, srv.URL), 300) {
		t.Errorf("stream: %v", err)
	}
}

// bodyProbe is a real transport that records whether request bodies are the SDK's own
// (a type of an AWS SDK or smithy-go package).
type bodyProbe struct {
	sdk, bodies atomic.Int64
}

func (p *bodyProbe) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		p.bodies.Add(1)
		ty := reflect.TypeOf(r.Body)
		if ty.Kind() == reflect.Pointer {
			ty = ty.Elem()
		}
		if strings.HasPrefix(ty.PkgPath(), "github.com/aws/") {
			p.sdk.Add(1)
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestTransportNeverGetsTheSDKsBody checks the mechanism of the workaround: the transport of
// cfg.HTTPClient never receives the SDK's own request body (smithy-go's closed body
// returns io.EOF from its WriteTo), where the SDK's default client hands it over.
func TestTransportNeverGetsTheSDKsBody(t *testing.T) {
	e := startEmulator(t, options(100_000, 5))
	for _, tt := range []struct {
		name    string
		client  func(*http.Client) *bedrockruntime.Client
		wantSDK bool
	}{
		{"NewClient", func(hc *http.Client) *bedrockruntime.Client {
			return invoke.NewClient(aws.Config{HTTPClient: hc}, "us-east-1", e.URL,
				credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""))
		}, false},
		{"SDK default", func(hc *http.Client) *bedrockruntime.Client {
			return bedrockruntime.New(bedrockruntime.Options{Region: "us-east-1", BaseEndpoint: aws.String(e.URL), HTTPClient: hc,
				Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""), Retryer: aws.NopRetryer{}})
		}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			probe := &bodyProbe{}
			client := tt.client(&http.Client{Transport: probe})
			if _, err := client.Converse(ctxT(t), converseInput("hi", 8)); err != nil {
				t.Fatalf("Converse: %v", err)
			}
			out, err := client.ConverseStream(ctxT(t), converseStreamInput("hi", 8))
			if err != nil {
				t.Fatalf("ConverseStream: %v", err)
			}
			readConverse(out.GetStream())
			out.GetStream().Close()
			if probe.bodies.Load() != 2 {
				t.Fatalf("the transport saw %d bodies, want 2", probe.bodies.Load())
			}
			if got := probe.sdk.Load() > 0; got != tt.wantSDK {
				t.Errorf("the SDK's own bodies: %d of 2, want the SDK's %v", probe.sdk.Load(), tt.wantSDK)
			}
		})
	}
}
