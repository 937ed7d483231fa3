package batch

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/quota"
)

// TestRunStopsOnSameSDKFailure runs 40 documents through the real SDK against an
// emulator where every call fails the same way, each error with a request id of its
// own, handing the client up to 64 at once: the run sends StopAfter documents, stops,
// and says which error it was.
func TestRunStopsOnSameSDKFailure(t *testing.T) {
	const maxAttempts = 3
	nova, _, err := catalog.Default().Lookup("amazon.nova-pro-v1:0")
	if err != nil {
		t.Fatal(err)
	}
	sonnet, _, err := catalog.Default().Lookup(DefaultModel)
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bedrocktest.Limits{DefaultModel: {TokensPerMinute: 1_000_000, TokensPerDay: 1_000_000 * 1440}}
	tests := []struct {
		name      string
		opts      bedrocktest.Options
		class     string
		perDoc    int64 // HTTP requests per failed document
		retryable bool
	}{
		{name: "model not served", opts: bedrocktest.Options{Models: []catalog.Model{nova}},
			class: "(HTTP 400)", perDoc: 1},
		{name: "model never ready", opts: bedrocktest.Options{Models: []catalog.Model{sonnet}, Limits: served, Faults: bedrocktest.Faults{ModelNotReady: 1}},
			class: "ModelNotReadyException (HTTP 429)", perDoc: maxAttempts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := bedrocktest.New(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(h.Close)
			var requests atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasPrefix(r.URL.Path, "/model/") {
					requests.Add(1)
				}
				h.ServeHTTP(w, r)
			}))
			t.Cleanup(srv.Close)
			limits := []quota.Limit{{Dimension: quota.Tokens, Amount: 1_000_000, Per: time.Minute}}
			dir := t.TempDir()
			for i := range 40 {
				write(t, filepath.Join(dir, fmt.Sprintf("doc%02d.txt", i)), []byte(fmt.Sprintf("Agreement number %d between the parties.", i)))
			}
			cfg := Config{Inputs: []string{dir}, Out: filepath.Join(t.TempDir(), "out.jsonl"), Limits: limits} // the default Pending, 64: more than the 40 documents
			c := newClient(t, pipeline.Config{
				AWS:         aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDSTOP", "secret", "")},
				MaxAttempts: maxAttempts, Backoff: func(int) time.Duration { return time.Millisecond },
				Targets: []pipeline.TargetConfig{{Model: DefaultModel, Endpoint: srv.URL, Limits: limits}},
			}, cfg)
			r, err := New(cfg, c)
			if err != nil {
				t.Fatal(err)
			}
			sum, err := r.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if sum.Failed != StopAfter || sum.Done != 0 || sum.Interrupted {
				t.Errorf("failed %d, done %d, interrupted %v; want %d failed and the rest not sent", sum.Failed, sum.Done, sum.Interrupted, StopAfter)
			}
			if !strings.Contains(sum.Stopped, tt.class) {
				t.Errorf("stopped %q; want the reason naming %q", sum.Stopped, tt.class)
			}
			if got, want := requests.Load(), StopAfter*tt.perDoc; got != want {
				t.Errorf("the emulator saw %d requests; want %d (%d documents × %d)", got, want, StopAfter, tt.perDoc)
			}
			if len(sum.Failures) > 1 && sum.Failures[0].Error == sum.Failures[1].Error {
				t.Errorf("two failures read the same %q: the test needs errors that differ in text", sum.Failures[0].Error)
			}
		})
	}
}

// TestRunInterruptedBeforeItStarts runs with a context already cancelled: nothing is
// sent, and the summary says the run was interrupted, every time (the flag once came
// from a goroutine that could lose the race with the summary).
func TestRunInterruptedBeforeItStarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, 400_000, nil)
		dir := contractsDir(t, 4)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for i := range 20 {
			cfg := Config{Inputs: []string{dir}, Out: filepath.Join(t.TempDir(), "out.jsonl"), Limits: f.limits}
			r, err := New(cfg, f.clientFor(t, cfg))
			if err != nil {
				t.Fatal(err)
			}
			sum, err := r.Run(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !sum.Interrupted || sum.Done != 0 || sum.Calls != 0 {
				t.Fatalf("run %d: interrupted %v, done %d, calls %d; want an interrupted run that sent nothing", i, sum.Interrupted, sum.Done, sum.Calls)
			}
		}
	})
}

// TestPrepareWatchesContext prepares a long document (it needs chunks) with a context
// that ends while its tokens are being counted: prepare returns the context's error
// within a fraction of the time the whole preparation takes.
func TestPrepareWatchesContext(t *testing.T) {
	cfg, m, err := Config{Inputs: []string{"x"}, Out: "x"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	p, err := newPlanner(cfg, m)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for b.Len() < 4<<20 {
		fmt.Fprintf(&b, "Section %d. The parties agree that payment is due within %d days of notice.\n\n", b.Len(), b.Len()%90)
	}
	it := &item{path: "long.txt", text: b.String()}
	start := time.Now()
	j, err := p.prepare(context.Background(), it)
	whole := time.Since(start)
	if err != nil || len(j.chunks) < 2 {
		t.Fatalf("prepare: %v (%d chunks); want a chunked job", err, len(j.chunks))
	}
	ctx, cancel := context.WithTimeout(context.Background(), whole/20)
	defer cancel()
	start = time.Now()
	if _, err := p.prepare(ctx, it); err != context.DeadlineExceeded {
		t.Errorf("prepare under a context that ended: %v; want context.DeadlineExceeded", err)
	}
	if took := time.Since(start); took > whole/2 {
		t.Errorf("prepare took %v after its context ended at %v (a whole preparation: %v)", took, whole/20, whole)
	}
}
