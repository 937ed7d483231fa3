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
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/quota"
)

// TestRunStopsOnSameSDKFailure runs 40 documents through the real SDK against an
// emulator where every call fails the same way, each error with a request id of its
// own: the run stops after StopAfter documents, and says which error it was.
func TestRunStopsOnSameSDKFailure(t *testing.T) {
	const maxAttempts = 3
	nova, _, err := catalog.Default().Lookup("amazon.nova-pro-v1:0")
	if err != nil {
		t.Fatal(err)
	}
	sonnet, ref, err := catalog.Default().Lookup(DefaultModel)
	if err != nil {
		t.Fatal(err)
	}
	served := bedrocktest.FromCatalog(sonnet, "us-east-1", false)
	served.Limits[ref.Scope] = bedrocktest.Limits{TokensPerMinute: 1_000_000}
	tests := []struct {
		name      string
		opts      bedrocktest.Options
		class     string
		perDoc    int64 // HTTP requests per failed document
		retryable bool
	}{
		{name: "model not served", opts: bedrocktest.Options{Models: []bedrocktest.Model{bedrocktest.FromCatalog(nova, "us-east-1", false)}},
			class: "(HTTP 400)", perDoc: 1},
		{name: "model never ready", opts: bedrocktest.Options{Models: []bedrocktest.Model{served}, Faults: bedrocktest.Faults{ModelNotReady: 1}},
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
			c, err := tollgate.New(context.Background(), tollgate.Config{
				AWS:         &aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDSTOP", "secret", "")},
				MaxAttempts: maxAttempts, Backoff: func(int) time.Duration { return time.Millisecond },
				Targets: []tollgate.Target{{Model: DefaultModel, Endpoint: srv.URL, Limits: limits}},
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			dir := t.TempDir()
			for i := range 40 {
				write(t, filepath.Join(dir, fmt.Sprintf("doc%02d.txt", i)), []byte(fmt.Sprintf("Agreement number %d between the parties.", i)))
			}
			r, err := New(Config{Inputs: []string{dir}, Out: filepath.Join(t.TempDir(), "out.jsonl"), Pending: 1, Limits: limits}, c)
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
