package tollgate_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/emustats"
	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/quota"
)

func TestConverseRoundTrip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := emulator(t, quota.TokenBucket, 2_000_000, nil)
		c := newClient(t, tollgate.Config{Targets: []tollgate.Target{{Region: "us-east-1", Model: sonnet35, Endpoint: srv.URL, Limits: []quota.Limit{tpmLimit(2_000_000)}}}})
		out, err := c.Converse(context.Background(), review(sonnet35, contracts(t)[0], 300))
		if err != nil {
			t.Fatal(err)
		}
		msg, ok := out.Output.(*types.ConverseOutputMemberMessage)
		if !ok || len(msg.Value.Content) == 0 || out.Usage == nil || *out.Usage.InputTokens == 0 {
			t.Fatalf("Converse output = %+v", out)
		}
		s := series(t, srv, sonnet35, "on-demand")
		if s.Admitted != 1 || throttles(s) != 0 {
			t.Errorf("emulator saw %+v; want one admitted call", s)
		}
		if want := int64(*out.Usage.InputTokens + *out.Usage.OutputTokens); s.SettledTokens != want {
			t.Errorf("emulator settled %d tokens, the reply reported %d", s.SettledTokens, want)
		}
	})
}

func TestUnknownModelAndBadInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := emulator(t, quota.TokenBucket, 2_000_000, nil)
		c := newClient(t, tollgate.Config{Targets: []tollgate.Target{{Model: sonnet35, Endpoint: srv.URL, Limits: []quota.Limit{tpmLimit(2_000_000)}}}})
		if _, err := c.Converse(context.Background(), review("amazon.nova-pro-v1:0", "hi", 10)); !errors.Is(err, tollgate.ErrNoTarget) {
			t.Errorf("call to a model without a target: %v; want ErrNoTarget", err)
		}
		// max_tokens unset is a valid request (Bedrock then caps the output at the model's
		// default and reserves that much against the token quotas): the call goes through,
		// reserving the catalog's default output cap, as Bedrock does.
		m, _ := catalog.Default().Model(sonnet35)
		if out, err := c.Converse(context.Background(), review(sonnet35, "x", 0)); err != nil {
			t.Errorf("call with max_tokens unset: %v; want it served", err)
		} else if st, _ := pipeline.ResultOf(out.ResultMetadata); st.Reserved.OutputTokens != int64(m.MaxTokensDefault()) {
			t.Errorf("call with max_tokens unset reserved %d output tokens; want the model's default cap %d", st.Reserved.OutputTokens, m.MaxTokensDefault())
		}
		if _, err := tollgate.New(context.Background(), tollgate.Config{AWS: awsConfig()}); err == nil {
			t.Error("New with no targets succeeded")
		}
		if _, err := tollgate.New(context.Background(), tollgate.Config{AWS: awsConfig(), Targets: []tollgate.Target{{Model: "acme.unknown-v1"}}}); err == nil {
			t.Error("New with an unknown model and no settings succeeded")
		}
	})
}

// oversubscribe sends the contracts, n calls in all, arriving at 4× the rate the limit
// allows, and returns the makespan and every call's error.
func oversubscribe(t *testing.T, c *tollgate.Client, model string, n int, tpm int64, maxTokens int32) (time.Duration, []error) {
	t.Helper()
	docs := contracts(t)
	var avg int64
	for _, d := range docs {
		avg += int64(len(d)) / 4
	}
	avg /= int64(len(docs))
	interval := time.Duration(float64(time.Minute) * float64(avg) / float64(4*tpm)) // 4× the limit's rate
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n; i++ {
		time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.Converse(context.Background(), review(model, docs[i%len(docs)], maxTokens))
		}()
	}
	wg.Wait()
	return time.Since(start), errs
}

// noThrottles sends 500 contract calls at 4× oversubscription (TPM tpm) through c to
// srv and checks that none was throttled or lost and that the sustained rate (the time
// the settled usage takes at the quota's rate ÷ makespan; not the quota efficiency of
// analyze.LowerBound, which also takes off what the provider lets through at the start)
// is at least least.
func noThrottles(t *testing.T, srv *emu, c *tollgate.Client, tpm int64, least float64) {
	t.Helper()
	makespan, errs := oversubscribe(t, c, sonnet35, 500, tpm, 400)
	lost := 0
	for _, err := range errs {
		if err != nil {
			lost++
			if lost < 4 {
				t.Errorf("call failed: %v", err)
			}
		}
	}
	s := series(t, srv, sonnet35, "on-demand")
	atRate := time.Duration(float64(s.SettledTokens) / float64(tpm) * float64(time.Minute))
	rate := atRate.Seconds() / makespan.Seconds()
	t.Logf("%d admitted, %d throttled, settled %d tokens; at the quota's rate %v, makespan %v: sustained rate %.4f",
		s.Admitted, throttles(s), s.SettledTokens, atRate.Round(time.Second), makespan.Round(time.Second), rate)
	if lost > 0 || s.Admitted != 500 {
		t.Errorf("%d calls lost, %d admitted; want 0 and 500", lost, s.Admitted)
	}
	if throttles(s) != 0 {
		t.Errorf("%d throttles; want none", throttles(s))
	}
	if rate < least {
		t.Errorf("sustained rate %.4f; want >= %.3f", rate, least)
	}
}

// TestNoThrottlesUnderOversubscription: limits known, both window modes, 500 calls with
// contract-sized inputs at 4× oversubscription: zero throttles, no call lost, quota
// sustained rate (settled usage at the quota's rate ÷ makespan) of at least 0.985 (0.989
// in a bubble, in every run; what is left is the window margin and the last calls'
// latency).
func TestNoThrottlesUnderOversubscription(t *testing.T) {
	if testing.Short() {
		t.Skip("long: runs 500 calls")
	}
	t.Parallel() // on the bubble's clock, unaffected by the CPU the others take
	const tpm = 1_000_000
	for _, mode := range []quota.Meter{quota.TokenBucket, quota.ClockWindow} {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				srv := emulator(t, mode, tpm, nil)
				c := newClient(t, tollgate.Config{Targets: []tollgate.Target{{Model: sonnet35, Endpoint: srv.URL, Limits: []quota.Limit{tpmLimit(tpm)}}}})
				noThrottles(t, srv, c, tpm, 0.985)
			})
		})
	}
}

// TestToldMeterNoThrottles: limits known with the provider's reading — quota.TokenBucket
// against a token bucket, quota.ClockWindow against clock minutes (the emulator's and the
// client's, on one clock) — no pacing, 500 calls at 4× oversubscription:
// zero throttles, no call lost, and the start-up allowance a sliding window leaves unused
// is used: against a token bucket, whose bucket starts full, a sustained rate of at least
// 1.26 (1.267 in a bubble, in every run); against clock minutes, at least 1.0 (1.007).
func TestToldMeterNoThrottles(t *testing.T) {
	if testing.Short() {
		t.Skip("long: runs 500 calls")
	}
	t.Parallel() // on the bubble's clock, unaffected by the CPU the others take
	const tpm = 1_000_000
	for _, c := range []struct {
		mode  quota.Meter
		meter quota.Meter
		least float64
	}{{quota.TokenBucket, quota.TokenBucket, 1.26}, {quota.ClockWindow, quota.ClockWindow, 1.0}} {
		t.Run(fmt.Sprint(c.mode), func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				srv := emulator(t, c.mode, tpm, nil)
				l := tpmLimit(tpm)
				l.Meter = c.meter
				cfg := tollgate.Config{Targets: []tollgate.Target{{Model: sonnet35, Endpoint: srv.URL, Limits: []quota.Limit{l}}}}
				noThrottles(t, srv, newClient(t, cfg, noPacing), tpm, c.least)
			})
		})
	}
}

// counter sums the samples of a counter family in reg.
func counter(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	sum, err := counterSum(reg, name)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// counterSum is counter for goroutines other than the test's own, which must not call
// t.Fatal: it returns the gathering error instead.
func counterSum(reg *prometheus.Registry, name string) (float64, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return 0, err
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum, nil
}

// TestLearnsAnOverstatedLimit configures twice the TPM the service enforces: the first
// minute sees a throttle (one in a bubble), after it throttled attempts stay at most 5 (1% of the calls;
// 3 or 4 in a bubble), the sustained rate (settled usage at the real TPM ÷ makespan) stays
// at least 1.0 (1.007 or 1.139 in a bubble, as the calls are scheduled: the emulator's
// bucket starts full), and no call is lost.
func TestLearnsAnOverstatedLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("long: runs 500 calls")
	}
	t.Parallel() // on the bubble's clock, unaffected by the CPU the others take
	synctest.Test(t, func(t *testing.T) {
		const real = 1_000_000
		srv := emulator(t, quota.TokenBucket, real, nil)
		reg := prometheus.NewRegistry()
		c := newClient(t, tollgate.Config{Registerer: reg, Targets: []tollgate.Target{{Model: sonnet35, Endpoint: srv.URL, Limits: []quota.Limit{tpmLimit(2 * real)}}}})
		// The first minute's count is read on its own goroutine while the calls run and
		// handed over on a channel, so the test goroutine reads it only after it is written.
		type reading struct {
			n   float64
			err error
		}
		first := make(chan reading, 1)
		go func() {
			time.Sleep(time.Minute)
			n, err := counterSum(reg, "tollgate_throttles_total")
			first <- reading{n, err}
		}()
		makespan, errs := oversubscribe(t, c, sonnet35, 500, real, 400)
		r := <-first
		if r.err != nil {
			t.Fatal(r.err)
		}
		early := r.n
		lost := 0
		for _, err := range errs {
			if err != nil {
				lost++
				t.Log(err)
			}
		}
		s := series(t, srv, sonnet35, "on-demand")
		late := counter(t, reg, "tollgate_throttles_total") - early
		atRate := time.Duration(float64(s.SettledTokens) / real * float64(time.Minute))
		rate := atRate.Seconds() / makespan.Seconds()
		t.Logf("throttles: %v in the first minute, %v after (%d emulator); sustained rate %.3f (at the quota's rate %v, makespan %v)",
			early, late, throttles(s), rate, atRate.Round(time.Second), makespan.Round(time.Second))
		if lost > 0 {
			t.Errorf("%d calls lost", lost)
		}
		if early < 1 {
			t.Errorf("no throttle in the first minute: the overstated limit was never hit, so nothing was learned")
		}
		if late > 5 {
			t.Errorf("%v throttled attempts after the first minute; want at most 5 (1%% of 500 calls)", late)
		}
		if rate < 1.0 {
			t.Errorf("sustained rate %.3f; want >= 1.0", rate)
		}
	})
}

// TestMetrics records through a real Prometheus registry: calls by outcome, tokens,
// queue waits and the limit gauges of a snapshot.
func TestMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := emulator(t, quota.TokenBucket, 2_000_000, nil)
		reg := prometheus.NewRegistry()
		c := newClient(t, tollgate.Config{Registerer: reg, Targets: []tollgate.Target{{Model: sonnet35, Endpoint: srv.URL, Limits: []quota.Limit{tpmLimit(2_000_000)}}}})
		for i := 0; i < 3; i++ {
			out, err := c.Converse(context.Background(), review(sonnet35, contracts(t)[i], 100))
			if err != nil {
				t.Fatal(err)
			}
			st, _ := pipeline.ResultOf(out.ResultMetadata)
			if st.Attempts != 1 || st.Throttles != 0 || st.Target == "" {
				t.Errorf("Result of a call admitted at once = %+v; want 1 attempt, no throttle, a target", st)
			}
		}
		if _, err := c.Pipeline().Snapshot(context.Background()); err != nil {
			t.Fatal(err)
		}
		s := series(t, srv, sonnet35, "on-demand")
		if got := counter(t, reg, "tollgate_calls_total"); got != 3 {
			t.Errorf("tollgate_calls_total = %v, want 3", got)
		}
		if got := counter(t, reg, "tollgate_attempts_total"); got != 3 {
			t.Errorf("tollgate_attempts_total = %v, want 3", got)
		}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		found := map[string]bool{}
		for _, mf := range mfs {
			found[mf.GetName()] = true
			switch mf.GetName() {
			case "tollgate_tokens_total":
				for _, m := range mf.GetMetric() {
					for _, l := range m.GetLabel() {
						if l.GetName() == "kind" && l.GetValue() == "settled" && int64(m.GetCounter().GetValue()) != s.SettledTokens {
							t.Errorf("settled tokens = %v; the emulator settled %d", m.GetCounter().GetValue(), s.SettledTokens)
						}
					}
				}
			case "tollgate_queue_wait_seconds":
				if n := mf.GetMetric()[0].GetHistogram().GetSampleCount(); n != 3 {
					t.Errorf("queue wait samples = %d, want 3", n)
				}
			}
		}
		for _, name := range []string{"tollgate_tokens_total", "tollgate_queue_wait_seconds", "tollgate_limit_used", "tollgate_limit_effective", "tollgate_queue_depth", "tollgate_estimate_error_ratio"} {
			if !found[name] {
				t.Errorf("metric %s not exported", name)
			}
		}
	})
}

// TestRetries: server errors and ModelNotReady are retried with backoff until the call
// succeeds; a quota that never admits gives up after MaxAttempts with a *ThrottleError;
// validation errors are returned at once.
func TestRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		flaky := emulator(t, quota.TokenBucket, 2_000_000, func(o *bedrocktest.Options) {
			o.Faults = bedrocktest.Faults{Seed: 9, ServiceUnavailable: 0.15, InternalError: 0.1, ModelNotReady: 0.05}
		})
		c := newClient(t, tollgate.Config{Targets: []tollgate.Target{{Model: sonnet35, Endpoint: flaky.URL, Limits: []quota.Limit{tpmLimit(2_000_000)}}}})
		for i := 0; i < 20; i++ {
			if _, err := c.Converse(context.Background(), review(sonnet35, "Name the parties.", 50)); err != nil {
				t.Fatalf("call %d through 30%% faults: %v", i, err)
			}
		}
		if f := emustats.Get(t, flaky).Faults; f["service-unavailable"]+f["internal-error"]+f["model-not-ready"] == 0 {
			t.Fatalf("no faults were injected: %v", f)
		}

		// A zero tokens-per-day quota throttles every call ("Too many tokens per day").
		dry := emulator(t, quota.TokenBucket, 2_000_000, func(o *bedrocktest.Options) {
			for id, l := range o.Limits {
				l.TokensPerDay = -1
				o.Limits[id] = l
			}
		})
		c = newClient(t, tollgate.Config{MaxAttempts: 3, Targets: []tollgate.Target{{Model: sonnet35, Endpoint: dry.URL, Limits: []quota.Limit{tpmLimit(2_000_000)}}}})
		_, err := c.Converse(context.Background(), review(sonnet35, "Name the parties.", 50))
		st, _ := pipeline.ErrorResult(err)
		if st.Attempts != 3 || st.Throttles != 3 || st.Region != "us-east-1" || st.Reserved.Tokens <= 50 {
			t.Errorf("Result of a call throttled 3 times = %+v; want 3 attempts, 3 throttles, region us-east-1, a reservation above max_tokens", st)
		}
		var te *pipeline.ThrottleError
		var ge *pipeline.GiveUpError
		if !errors.As(err, &ge) || ge.Attempts != 3 || !errors.As(err, &te) || te.Reason != "tokens_per_day" || !errors.Is(err, tollgate.ErrThrottled) {
			t.Fatalf("call against a zero daily quota = %v; want giving up after 3 attempts with a tokens_per_day *ThrottleError, matching ErrThrottled", err)
		}
		if !strings.Contains(err.Error(), "giving up after 3 attempts") {
			t.Errorf("error %q does not say it gave up after 3 attempts", err)
		}
		var sdkThrottle *types.ThrottlingException
		if !errors.As(err, &sdkThrottle) {
			t.Errorf("the SDK's *types.ThrottlingException is not reachable through %v", err)
		}

		// A validation error is not retried.
		before := series(t, dry, sonnet35, "on-demand")
		huge := strings.Repeat(longest(t), 1+1_000_000/len(longest(t))) // beyond the 200K-token context window
		_, err = c.Converse(context.Background(), review(sonnet35, huge, 50))
		var ve *types.ValidationException
		if !errors.As(err, &ve) {
			t.Fatalf("input beyond the context window = %v; want a *types.ValidationException", err)
		}
		in := review(sonnet35, "x", 50)
		in.InferenceConfig.MaxTokens = aws.Int32(1_000_000)
		if _, err := c.Converse(context.Background(), in); err == nil || !strings.Contains(err.Error(), "maximum output") {
			t.Errorf("max_tokens above the model's maximum = %v; want Tollgate's own error before any call", err)
		}
		if after := series(t, dry, sonnet35, "on-demand"); throttles(after) != throttles(before) {
			t.Errorf("a validation error was retried")
		}
	})
}

// TestDiscoveredLimits reads a target's limits from the emulator's Service Quotas API and
// reports their source; a target without access falls back to catalog defaults.
func TestDiscoveredLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := emulator(t, quota.TokenBucket, 1_234_000, nil)
		cfg := tollgate.Config{Targets: []tollgate.Target{{Model: sonnet35, Endpoint: srv.URL}}}
		c := newClient(t, cfg, discoverAt(srv.URL))
		snap, err := c.Pipeline().Snapshot(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(snap[0].Source, "service quotas (TPM applied") {
			t.Errorf("limits source = %q, want service quotas with the TPM applied", snap[0].Source)
		}
		t.Log(snap[0].Source)
		var tpm int64
		for _, l := range snap[0].Limits {
			if l.Limit.Dimension == quota.Tokens && l.Limit.Per == time.Minute {
				tpm = l.Limit.Amount
			}
		}
		if tpm != 1_234_000 {
			t.Errorf("discovered TPM = %d, want the emulator's applied 1,234,000 (limits %+v)", tpm, snap[0].Limits)
		}

		// No Service Quotas there: catalog defaults, saying why.
		cfg = tollgate.Config{Targets: []tollgate.Target{{Model: sonnet35, Endpoint: srv.URL}}}
		c = newClient(t, cfg, discoverAt("http://127.0.0.1:1"))
		snap, _ = c.Pipeline().Snapshot(context.Background())
		if !strings.Contains(snap[0].Source, "TPM catalog default") || !strings.Contains(snap[0].Source, "unreachable") {
			t.Errorf("limits source without Service Quotas = %q, want catalog defaults and the reason", snap[0].Source)
		}
		t.Log(snap[0].Source)
	})
}
