package bedrocktest_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/internal/emustats"
)

// converseRequest builds an in-process Converse request for the handler.
func converseRequest(op, prompt string) *httptestRequest {
	body := `{"messages":[{"role":"user","content":[{"text":"` + prompt + `"}]}]}`
	return &httptestRequest{path: "/model/" + strings.ReplaceAll(nova, ":", "%3A") + "/" + op, body: body}
}

type httptestRequest struct{ path, body string }

func (r *httptestRequest) serve(h *bedrocktest.Handler) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", r.path, strings.NewReader(r.body)))
	return rec
}

// TestLatencyModel checks, in a synctest bubble, that a reply takes the time to first
// token plus the per-token time for each further token, divided by the time scale.
func TestLatencyModel(t *testing.T) {
	for _, op := range []string{"converse", "converse-stream"} {
		t.Run(op, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				opts := quickOptions()
				opts.TimeScale = 10
				opts.Latency = bedrocktest.Latency{TimeToFirstToken: time.Second, PerOutputToken: 10 * time.Millisecond}
				opts.OutputTokens = fixedOutput(101)
				h, err := bedrocktest.New(opts)
				if err != nil {
					t.Fatal(err)
				}
				defer h.Close()
				start := time.Now()
				emuStart := h.Now()
				rec := converseRequest(op, "hi").serve(h)
				// Emulated: 1s + 100 × 10ms = 2s; real: 2s / 10.
				if got, want := time.Since(start), 200*time.Millisecond; got != want {
					t.Errorf("real time = %v, want %v", got, want)
				}
				if got, want := h.Now().Sub(emuStart), 2*time.Second; got != want {
					t.Errorf("emulated time = %v, want %v", got, want)
				}
				if rec.Code != 200 {
					t.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
				if op == "converse" {
					var resp struct{ Metrics struct{ LatencyMs int64 } }
					if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || resp.Metrics.LatencyMs != 2000 {
						t.Errorf("latencyMs = %d (%v), want 2000", resp.Metrics.LatencyMs, err)
					}
				}
			})
		})
	}
}

// TestSlowFault checks that a slow call takes SlowFactor times as long.
func TestSlowFault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		opts := quickOptions()
		opts.Latency = bedrocktest.Latency{TimeToFirstToken: time.Second, PerOutputToken: -1}
		opts.Faults = bedrocktest.Faults{Slow: 1, SlowFactor: 3}
		h, err := bedrocktest.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		start := time.Now()
		if rec := converseRequest("converse", "hi").serve(h); rec.Code != 200 {
			t.Fatalf("status %d", rec.Code)
		}
		if got := time.Since(start); got != 3*time.Second {
			t.Errorf("slow call took %v, want 3s", got)
		}
	})
}

// TestCloseEndsReplies checks that Close ends a reply in progress and settles it.
func TestCloseEndsReplies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		opts := quickOptions()
		opts.Latency = bedrocktest.Latency{TimeToFirstToken: time.Hour}
		h, err := bedrocktest.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Go(func() { converseRequest("converse-stream", "hi").serve(h) })
		synctest.Wait()
		s, _ := emustats.Get(t, h).Get(nova, "on-demand")
		if s.InFlight != 1 {
			t.Fatalf("in flight = %d, want 1", s.InFlight)
		}
		start := time.Now()
		h.Close()
		wg.Wait()
		if time.Since(start) != 0 {
			t.Errorf("Close took %v of fake time", time.Since(start))
		}
		s, _ = emustats.Get(t, h).Get(nova, "on-demand")
		if s.InFlight != 0 || s.SettledTokens != 1 {
			t.Errorf("after Close: %+v, want the call settled at its 1 input token", s)
		}
		// A closed emulator answers 503 rather than an empty success.
		if rec := converseRequest("converse", "hi").serve(h); rec.Code != 503 {
			t.Errorf("after Close: status %d, want 503", rec.Code)
		}
	})
}

// TestTimeScaleRun runs 200 concurrent calls of 2 emulated seconds each through the
// real SDK at 1,000× and checks they finish in far less than real seconds each.
func TestTimeScaleRun(t *testing.T) {
	opts := quickOptions()
	opts.TimeScale = 1000
	opts.Latency = bedrocktest.Latency{TimeToFirstToken: time.Second, PerOutputToken: 10 * time.Millisecond}
	opts.OutputTokens = fixedOutput(101)
	srv := startServer(t, opts)
	client := runtimeClient(t, srv.URL)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for range 200 {
		wg.Go(func() {
			out, err := client.Converse(ctxT(t), &bedrockruntime.ConverseInput{ModelId: aws.String(nova), Messages: userMessage("hi")})
			if err == nil && aws.ToInt64(out.Metrics.LatencyMs) != 2000 {
				t.Errorf("latencyMs = %d, want 2000", aws.ToInt64(out.Metrics.LatencyMs))
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("200 calls took %v", d)
	}
	s, _ := emustats.Get(t, srv).Get(nova, "on-demand")
	if s.Admitted != 200 || s.InFlight != 0 {
		t.Errorf("stats = %+v", s)
	}
}

// flushTimes records when each event frame was flushed.
type flushTimes struct {
	*httptest.ResponseRecorder
	at []time.Time
}

func (f *flushTimes) Flush() {
	f.at = append(f.at, time.Now())
	f.ResponseRecorder.Flush()
}

// TestStreamDeltasOverTime checks, in a synctest bubble, that a stream's events go out as
// the tokens are produced: the first at the time to first token, the deltas spread
// evenly after it, the last at the reply's whole latency.
func TestStreamDeltasOverTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		opts := quickOptions()
		opts.Latency = bedrocktest.Latency{TimeToFirstToken: time.Second, PerOutputToken: 10 * time.Millisecond}
		opts.OutputTokens = fixedOutput(401) // deltas of 7 tokens (at most 64 deltas)
		h, err := bedrocktest.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		r := converseRequest("converse-stream", "hi")
		rec := &flushTimes{ResponseRecorder: httptest.NewRecorder()}
		start := time.Now()
		h.ServeHTTP(rec, httptest.NewRequest("POST", r.path, strings.NewReader(r.body)))
		if len(rec.at) < 60 {
			t.Fatalf("%d frames, want the reply spread over many deltas", len(rec.at))
		}
		if got := rec.at[0].Sub(start); got != time.Second {
			t.Errorf("first frame after %v, want the 1s time to first token", got)
		}
		// messageStart, then deltas, then 3 closing frames at the end.
		if got, want := rec.at[len(rec.at)-1].Sub(start), time.Second+400*10*time.Millisecond; got != want {
			t.Errorf("last frame after %v, want %v", got, want)
		}
		distinct := 0
		for i := 1; i < len(rec.at); i++ {
			if rec.at[i].Before(rec.at[i-1]) {
				t.Fatalf("frame %d went out before frame %d", i, i-1)
			}
			if rec.at[i].After(rec.at[i-1]) {
				distinct++
			}
		}
		if distinct < 50 {
			t.Errorf("frames went out at only %d distinct times", distinct+1)
		}
	})
}
