package analyze

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/quota"
)

// limiterFinish runs pl's calls (one per document, no continuations) through a real
// quota.Limiter configured as the client configures it, inside a synctest bubble: each
// document's call waits in submission order, is held for its latency and settles at its
// real usage. It returns when each document finished, from the start.
func limiterFinish(t *testing.T, pl *plan, limits []quota.Limit, p Params) []time.Duration {
	t.Helper()
	finish := make([]time.Duration, len(pl.docs))
	synctest.Test(t, func(t *testing.T) {
		adm, _ := pipeline.Admission(limits, p.WindowMargin, -1)
		share := p.MinShare
		if share == 0 {
			share = -1 // resolved to none: quota reads zero as its default
		}
		lim, err := quota.New(quota.Config{Limits: adm, MaxInFlight: p.MaxInFlight, Pacing: p.Pacing, MinShare: share})
		if err != nil {
			t.Fatal(err)
		}
		defer lim.Close()
		start := time.Now()
		var wg sync.WaitGroup
		for _, d := range pl.order {
			ch := pl.docs[d].chains
			if len(ch) != 1 || len(pl.chains[ch[0]]) != 1 {
				t.Fatalf("document %d has more than one call", d)
			}
			c := &pl.chains[ch[0]][0]
			wg.Go(func() {
				r, err := lim.Wait(context.Background(), pl.reservation(c), quota.Options{Priority: c.prio})
				if err != nil {
					t.Error(err)
					return
				}
				time.Sleep(c.latency)
				r.Settle(c.settle)
				finish[d] = time.Since(start)
			})
			synctest.Wait() // queued (or admitted) before the next one comes
		}
		wg.Wait()
	})
	return finish
}

// TestSimulationIsTheLimiter: the simulation admits every call when the client's own
// Limiter does, on workloads where the order matters: a small call behind a large one
// that must wait (the Limiter backfills it), lower classes below a busy higher one (the
// guaranteed share), pacing, and the cap on calls in flight.
func TestSimulationIsTheLimiter(t *testing.T) {
	m := sonnet4(t)
	mixed := func(in []int, prio []quota.Priority) Workload {
		var w Workload
		for i, n := range in {
			w.Requests = append(w.Requests, Request{Name: "doc" + string(rune('A'+i%26)) + string(rune('a'+i/26)),
				InputTokens: n, MaxTokens: 100, OutputTokens: 1, Priority: prio[i%len(prio)]})
		}
		return w
	}
	normal := []quota.Priority{quota.Normal}
	for _, tc := range []struct {
		name   string
		w      Workload
		limits []quota.Limit
		p      Params
	}{
		// 700, then 800 that must wait a window for room, then 300 that fits beside the
		// first at once without delaying the second: backfilled, it is done in a second,
		// not after two windows.
		{"backfill", mixed([]int{600, 700, 200}, normal), []quota.Limit{tpm(1000)}, plain},
		{"backfill behind many", mixed([]int{3000, 6000, 500, 4000, 700, 200, 5000, 300}, normal), []quota.Limit{tpm(10_000)}, plain},
		{"guaranteed share", mixed([]int{2000, 1500, 2500, 1000, 3000, 1200, 800, 2200, 1800, 900, 2600, 1400},
			[]quota.Priority{quota.High, quota.High, quota.High, quota.Low, quota.Background}), []quota.Limit{tpm(8000)},
			func() Params { p := plain; p.MinShare = 0.3; return p }()},
		{"client defaults (paced)", mixed([]int{900, 400, 1500, 300, 1100, 700, 200, 1300}, []quota.Priority{quota.High, quota.Normal}),
			[]quota.Limit{tpm(6000), rpm(20)}, func() Params { p := plain; p.Pacing = 0; p.WindowMargin = 0; return p }()},
		{"in flight", mixed([]int{900, 400, 1500, 300, 1100, 700}, normal), []quota.Limit{tpm(100_000)},
			func() Params { p := plain; p.MaxInFlight = 2; return p }()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pl, p := planFor(t, m, tc.limits, tc.w, tc.p)
			want := limiterFinish(t, pl, tc.limits, p)
			got := simulate(pl, tc.limits, p).finish
			for d := range want {
				if diff := got[d] - want[d]; diff < -time.Millisecond || diff > time.Millisecond {
					t.Errorf("document %s: simulated done at %v, the Limiter's at %v", pl.docs[d].name, got[d], want[d])
				}
			}
		})
	}
}
