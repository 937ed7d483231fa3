package tollgate_test

import (
	"context"
	"sort"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/quota"
)

// admission is one call's wait for admission and what its last attempt reserved, read
// from its Result.
type admission struct {
	waited time.Duration
	tokens int64
}

func p95(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[(len(s)*95+99)/100-1]
}

// TestHighPriorityWaitUnderLowSaturation saturates the quota with Low work and sends High
// calls meanwhile. The documented bound (docs/client.md): after the first window, a High
// call's p95 queue wait is at most 4 × (its own cost ÷ the limit's rate + one sub-window,
// Per/200) — the time the quota takes to free room for it, plus a Low call let through by
// Low's guaranteed share — while Low calls wait minutes. In a bubble, with the calls
// handed over in order, the figures are the same in every run: a p95 of 1.617 × that unit
// (1.1s), asserted at most 1.65, and Low's p95 wait 2m22s, asserted at least 100 × High's.
func TestHighPriorityWaitUnderLowSaturation(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	t.Parallel() // on the bubble's clock, unaffected by the CPU the others take
	synctest.Test(t, func(t *testing.T) {
		const tpm = 1_000_000
		srv := emulator(t, quota.TokenBucket, tpm, nil)
		c := newClient(t, tollgate.Config{Targets: []tollgate.Target{{Model: sonnet35, Endpoint: srv.URL, Limits: []quota.Limit{tpmLimit(tpm)}}}})
		docs := contracts(t)
		var mu sync.Mutex
		by := map[tollgate.Priority][]admission{}
		call := func(c converser, p tollgate.Priority, doc string) {
			out, err := c.Converse(context.Background(), review(sonnet35, doc, 400))
			if err != nil {
				t.Error(err)
				return
			}
			r, _ := pipeline.ResultOf(out.ResultMetadata)
			mu.Lock()
			by[p] = append(by[p], admission{r.Waited, r.Reserved.Tokens})
			mu.Unlock()
		}
		var wg sync.WaitGroup
		// About 3 minutes of work, all at once, reaching the queue in order.
		handOver(&wg, c, tollgate.Low, 300, func(c converser, i int) { call(c, tollgate.Low, docs[i%len(docs)]) })
		time.Sleep(70 * time.Second) // past the first window
		high := c.With(tollgate.Call{Priority: tollgate.High})
		for i := 0; i < 24; i++ {
			doc := docs[(i*7)%len(docs)]
			wg.Go(func() { call(high, tollgate.High, doc) })
			time.Sleep(5 * time.Second)
		}
		wg.Wait()
		waits := func(p tollgate.Priority) (w, ratios []time.Duration) {
			for _, a := range by[p] {
				// The bound's unit: the call's own cost ÷ the rate, plus one sub-window of
				// the limiter's sliding window (Per/200), the granularity at which room is
				// seen to free.
				own := time.Duration(float64(time.Minute)*float64(a.tokens)/tpm) + time.Minute/200
				w = append(w, a.waited)
				ratios = append(ratios, time.Duration(float64(time.Second)*a.waited.Seconds()/own.Seconds()))
			}
			return w, ratios
		}
		hw, hr := waits(tollgate.High)
		lw, _ := waits(tollgate.Low)
		if len(hw) != 24 || len(lw) != 300 {
			t.Fatalf("%d High and %d Low calls served, want 24 and 300", len(hw), len(lw))
		}
		hp, lp, ratio := p95(hw), p95(lw), p95(hr).Seconds()
		t.Logf("High: p95 wait %v, p95 of wait ÷ (own cost ÷ rate + Per/200) %.3f (bound 4); Low: p95 wait %v",
			hp, ratio, lp)
		if ratio > 1.65 {
			t.Errorf("High p95 wait is %.3f × (the call's own cost ÷ the rate + Per/200); want at most 1.65 (the documented bound is 4)", ratio)
		}
		if lp < 100*hp {
			t.Errorf("Low p95 wait %v is not 100 times High's %v", lp, hp)
		}
	})
}
