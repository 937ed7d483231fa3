package tollgate_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/quota"
)

// TestRightSizeMaxTokens sends a burst of calls that leave max_tokens unset, with
// RightSizeMaxTokens on: only the task's first 10 (the replies the predictor needs) go
// out unsized, reserving the model's 64,000-token default; the others wait for them,
// holding no quota, and then reserve the learned output length.
func TestRightSizeMaxTokens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := emulator(t, quota.TokenBucket, 4_000_000, func(o *bedrocktest.Options) {
			o.OutputTokens = func(_ int, seed uint64) int { return 300 + int(seed%300) }
		})
		c := newClient(t, tollgate.Config{RightSizeMaxTokens: true, Targets: []tollgate.Target{{Model: sonnet4, Endpoint: srv.URL, Limits: []quota.Limit{tpmLimit(4_000_000)}}}})
		const calls = 60
		docs := contracts(t)
		stats := make([]pipeline.Result, calls)
		cut := make([]bool, calls)
		var wg sync.WaitGroup
		for i := range calls {
			wg.Go(func() {
				out, err := c.With(tollgate.Call{Task: "review"}).Converse(context.Background(), review(sonnet4, docs[i%len(docs)][:4000]+string(rune('a'+i%26)), 0))
				if err != nil {
					t.Error(err)
					return
				}
				stats[i], _ = pipeline.ResultOf(out.ResultMetadata)
				cut[i] = out.StopReason == types.StopReasonMaxTokens
				// The public Result says what max_tokens was sent, as the pipeline's does.
				if pub, ok := tollgate.ResultOf(out.ResultMetadata); !ok || pub.MaxTokens != stats[i].MaxTokens || pub.Attempts != stats[i].Attempts || pub.Target != stats[i].Target {
					t.Errorf("call %d: tollgate.ResultOf = %+v, %v; want the pipeline's %+v", i, pub, ok, stats[i])
				}
			})
		}
		wg.Wait()
		unsized, nCut := 0, 0
		for i, s := range stats {
			if s.Reserved.Tokens > 64_000 {
				unsized++
				if s.MaxTokens != 0 {
					t.Errorf("call %d reserved the model's default yet sent max_tokens %d; want unset (0)", i, s.MaxTokens)
				}
			} else if s.MaxTokens == 0 {
				t.Errorf("call %d reserved %d tokens without sending a learned max_tokens", i, s.Reserved.Tokens)
			} else if s.Reserved.Tokens > 3_000 {
				t.Errorf("call %d reserved %d tokens: want the 64,000 default or about 1,000 input + the learned 600 × 1.2", i, s.Reserved.Tokens)
			}
			if cut[i] {
				nCut++
			}
		}
		t.Logf("%d of %d calls went out unsized, %d replies cut at the learned max_tokens", unsized, calls, nCut)
		if unsized != 10 {
			t.Errorf("%d calls went out with max_tokens unset; want the 10 the predictor needs", unsized)
		}
		if nCut > calls/10 {
			t.Errorf("%d replies cut at max_tokens; want few (the learned 99th percentile)", nCut)
		}
	})
}
