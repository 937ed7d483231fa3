package batch

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
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

// article returns a contract article of about n offline tokens.
func article(k, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ARTICLE %d. OBLIGATIONS\n\n", k)
	for i := 0; b.Len() < 5*n; i++ {
		fmt.Fprintf(&b, "%d.%d The Supplier shall deliver the goods of order %d to the Customer within thirty days. ", k, i+1, 100*k+i)
	}
	return b.String() + "\n\n"
}

// TestChunksQueueInOrder runs documents of three articles of growing length, one chunk
// each, through a client that admits one call at a time: the emulator receives each
// document's chunks in their order, the order the plan assumes (chunks started at once
// would reach the client's queue in whatever order their goroutines ran).
func TestChunksQueueInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		for _, name := range []string{"a.txt", "b.txt", "c.txt"} {
			write(t, filepath.Join(dir, name), []byte(article(1, 1100)+article(2, 1500)+article(3, 1900)))
		}
		cfg := Config{Inputs: []string{dir}, Out: filepath.Join(t.TempDir(), "out.jsonl"), ChunkTokens: 3300, OverlapTokens: -1, MaxTokens: 100}
		w, _, err := Plan(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if len(w.Requests) != 3*4 {
			t.Fatalf("plan: %d calls; want 3 chunks and a combining call per document (adjust the articles to ChunkTokens)", len(w.Requests))
		}

		var mu sync.Mutex
		var inputs []int // of the calls the emulator answers, in the order it answers them
		m, ref, err := catalog.Default().Lookup(DefaultModel)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := bedrocktest.New(bedrocktest.Options{Models: []catalog.Model{m}, TimeScale: scale,
			OutputTokens: func(input int, _ uint64) int {
				mu.Lock()
				inputs = append(inputs, input)
				mu.Unlock()
				return 20
			}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Close)
		limits, err := m.Limits(ref.Scope, "us-east-1", false)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Limits = []quota.Limit{{Dimension: quota.Tokens, Amount: 200_000, Per: time.Minute}}
		c := newClient(t, pipeline.Config{
			AWS:     aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDBATCH", "secret", ""), HTTPClient: srv.Client()},
			Backoff: func(int) time.Duration { return emulated(time.Second) },
			Targets: []pipeline.TargetConfig{{Model: DefaultModel, Endpoint: emulatorEndpoint, Limits: limits, MaxInFlight: 1}},
		}, cfg)
		r, err := New(cfg, c)
		if err != nil {
			t.Fatal(err)
		}
		sum, err := r.Run(context.Background())
		if err != nil || sum.Done != 3 {
			t.Fatalf("run: %d of 3 done, %v: %+v", sum.Done, err, sum.Failures)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(inputs) != 12 {
			t.Fatalf("the emulator answered %d calls; want 12", len(inputs))
		}
		// Documents are handed over one after the other, each once its chunks are queued:
		// the first nine calls are the chunks, three by three.
		for d := range 3 {
			if got := inputs[3*d : 3*d+3]; !(got[0] < got[1] && got[1] < got[2]) {
				t.Errorf("document %d: chunk inputs %v in the order sent; want the chunks in order, growing", d+1, got)
			}
		}
	})
}
