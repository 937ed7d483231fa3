package tollgate_test

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/quota"
)

// waits collects the queue waits the client logs at admission, by priority.
type waits struct {
	mu     sync.Mutex
	by     map[string][]time.Duration
	ratios map[string][]time.Duration // wait ÷ (own cost ÷ rate), as a Duration of seconds-per-second ×1s
	tpm    float64
}

func (w *waits) Enabled(context.Context, slog.Level) bool { return true }
func (w *waits) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "tollgate admitted" {
		return nil
	}
	var prio string
	var waited time.Duration
	var tokens int64
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "priority":
			prio = a.Value.String()
		case "waited":
			waited = a.Value.Duration()
		case "tokens":
			tokens = a.Value.Int64()
		}
		return true
	})
	em := time.Duration(float64(waited) * scale) // emulated
	// The bound's unit: the call's own cost ÷ the rate, plus one sub-window of the
	// limiter's sliding window (Per/200), the granularity at which room is seen to free.
	own := time.Duration(float64(time.Minute)*float64(tokens)/w.tpm) + time.Minute/200
	w.mu.Lock()
	w.by[prio] = append(w.by[prio], em)
	w.ratios[prio] = append(w.ratios[prio], time.Duration(float64(time.Second)*em.Seconds()/own.Seconds()))
	w.mu.Unlock()
	return nil
}
func (w *waits) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *waits) WithGroup(string) slog.Handler      { return w }

func p95(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[(len(s)*95+99)/100-1]
}

// TestHighPriorityWaitUnderLowSaturation saturates the quota with Low work and sends High
// calls meanwhile. The documented bound (docs/client.md): after the first window, a High
// call's p95 queue wait is at most 4 × (its own cost ÷ the limit's rate + one sub-window,
// Per/200) — the time the quota takes to free room for it, plus a Low call let through by
// Low's guaranteed share — while Low calls wait minutes.
func TestHighPriorityWaitUnderLowSaturation(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	const tpm = 1_000_000
	srv := emulator(t, quota.TokenBucket, tpm, nil)
	w := &waits{by: map[string][]time.Duration{}, ratios: map[string][]time.Duration{}, tpm: tpm}
	c := newClient(t, tollgate.Config{Logger: slog.New(w), Targets: []tollgate.Target{{Model: sonnet35, Endpoint: srv.URL, Limits: []quota.Limit{tpmLimit(tpm)}}}})
	docs := contracts(t)
	var wg sync.WaitGroup
	low := c.With(tollgate.Call{Priority: tollgate.Low})
	for i := 0; i < 300; i++ { // about 3 minutes of work, all at once
		wg.Go(func() {
			if _, err := low.Converse(context.Background(), review(sonnet35, docs[i%len(docs)], 400)); err != nil {
				t.Error(err)
			}
		})
	}
	time.Sleep(emulated(70 * time.Second)) // past the first window
	high := c.With(tollgate.Call{Priority: tollgate.High})
	for i := 0; i < 24; i++ {
		doc := docs[(i*7)%len(docs)]
		wg.Go(func() {
			if _, err := high.Converse(context.Background(), review(sonnet35, doc, 400)); err != nil {
				t.Error(err)
			}
		})
		time.Sleep(emulated(5 * time.Second))
	}
	wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	hp, lp, ratio := p95(w.by["high"]), p95(w.by["low"]), p95(w.ratios["high"]).Seconds()
	t.Logf("High: %d calls, p95 wait %v, p95 of wait ÷ (own cost ÷ rate + Per/200) %.2f (bound 4); Low: %d calls, p95 wait %v",
		len(w.by["high"]), hp.Round(10*time.Millisecond), ratio, len(w.by["low"]), lp.Round(time.Second))
	if len(w.by["high"]) != 24 {
		t.Fatalf("%d High admissions logged, want 24", len(w.by["high"]))
	}
	if ratio > 4 {
		t.Errorf("High p95 wait is %.2f × (the call's own cost ÷ the rate + Per/200); the bound is 4", ratio)
	}
	if lp < 10*hp {
		t.Errorf("Low p95 wait %v is not far above High's %v", lp, hp)
	}
}
