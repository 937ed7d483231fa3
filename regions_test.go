package tollgate_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/internal/emustats"
	"github.com/tollgate-dev/tollgate/quota"
)

// settledAll sums the tokens the emulator settled across every series.
func settledAll(t testing.TB, srv *emu) int64 {
	var n int64
	for _, s := range emustats.Get(t, srv).Series {
		n += s.SettledTokens
	}
	return n
}

// steadyThroughput keeps the client backlogged with calls all sent at once and returns
// the tokens per minute the emulator settled between the first and fourth minutes (after
// the ramp).
func steadyThroughput(t *testing.T, srv *emu, c *tollgate.Client, calls int) float64 {
	t.Helper()
	docs := contracts(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	handOver(&wg, c, tollgate.Normal, calls, func(c converser, i int) {
		c.Converse(ctx, review(sonnet35, docs[i%len(docs)], 400))
	})
	time.Sleep(time.Minute)
	from := settledAll(t, srv)
	time.Sleep(3 * time.Minute)
	to := settledAll(t, srv)
	cancel()
	wg.Wait()
	return float64(to-from) / 3
}

// TestTwoRegionsDoubleThroughput: two regions with equal quotas carry at least 1.99× the
// steady throughput of one (2.005× in a bubble, in every run), and one region carries at
// least 0.97 of its TPM (0.972).
func TestTwoRegionsDoubleThroughput(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	t.Parallel() // on the bubble's clock, unaffected by the CPU the others take
	synctest.Test(t, func(t *testing.T) {
		const tpm = 400_000
		target := func(region, url string) tollgate.Target {
			return tollgate.Target{Region: region, Model: sonnet35, Endpoint: url, Limits: []quota.Limit{tpmLimit(tpm)}}
		}
		one := emulator(t, quota.TokenBucket, tpm, nil)
		c1 := newClient(t, tollgate.Config{Targets: []tollgate.Target{target("us-east-1", one.URL)}})
		single := steadyThroughput(t, one, c1, 600)

		two := emulator(t, quota.TokenBucket, tpm, nil) // one emulator, metered per region
		c2 := newClient(t, tollgate.Config{Targets: []tollgate.Target{target("us-east-1", two.URL), target("us-west-2", two.URL)}})
		double := steadyThroughput(t, two, c2, 600)

		var regions []string
		var thr int64
		for _, s := range emustats.Get(t, two).Series {
			regions = append(regions, s.Region)
			thr += throttles(s)
			t.Logf("%s: %d calls admitted, %d tokens settled", s.Region, s.Admitted, s.SettledTokens)
		}
		t.Logf("steady throughput: one region %.0f tokens/min, two regions %.0f (%.3f×); regions used %v, %d throttles",
			single, double, double/single, regions, thr)
		if len(regions) != 2 {
			t.Errorf("calls went to %v; want both regions", regions)
		}
		if double < 1.99*single {
			t.Errorf("two regions carried %.3f× one region's throughput; want >= 1.99×", double/single)
		}
		if single < 0.97*tpm {
			t.Errorf("one region carried %.0f tokens/min of %d", single, tpm)
		}
	})
}

// TestRegionFailover: one region answers every call with 503; work moves to the other
// and no call is lost.
func TestRegionFailover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const tpm = 2_000_000
		good := emulator(t, quota.TokenBucket, tpm, nil)
		bad := emulator(t, quota.TokenBucket, tpm, func(o *bedrocktest.Options) {
			o.Faults = bedrocktest.Faults{Seed: 1, ServiceUnavailable: 1}
		})
		c := newClient(t, tollgate.Config{Targets: []tollgate.Target{
			// The failing region is preferred: every call tries it until its breaker opens.
			{Region: "us-west-2", Model: sonnet35, Endpoint: bad.URL, Limits: []quota.Limit{tpmLimit(tpm)}},
			{Region: "us-east-1", Model: sonnet35, Endpoint: good.URL, Limits: []quota.Limit{tpmLimit(tpm)}},
		}})
		docs := contracts(t)
		var wg sync.WaitGroup
		errs := make([]error, 60)
		for i := range errs { // six waves of ten
			wg.Go(func() {
				_, errs[i] = c.Converse(context.Background(), review(sonnet35, docs[i%len(docs)], 200))
			})
			if i%10 == 9 {
				time.Sleep(2 * time.Second)
			}
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("call %d lost: %v", i, err)
			}
		}
		s := series(t, good, sonnet35, "on-demand")
		faults := emustats.Get(t, bad).Faults["service-unavailable"]
		t.Logf("good region admitted %d; the failing region answered %d times with 503", s.Admitted, faults)
		if s.Admitted != 60 {
			t.Errorf("good region admitted %d calls, want all 60", s.Admitted)
		}
		// The first wave goes to the preferred region and fails over; its breaker opens after
		// five failures, so later waves go straight to the good region: between 5 and the
		// first wave's 10 calls (9 or 10 in a bubble, as the wave's calls are scheduled).
		if faults < 5 || faults > 10 {
			t.Errorf("the failing region saw %d calls; want the first wave's (it was preferred), then none (its breaker is open)", faults)
		}
	})
}
