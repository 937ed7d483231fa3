package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestShortBench runs the short version of every built-in scenario, in its window modes,
// through every strategy, with the real SDK against the in-process emulator inside a
// synctest bubble (every wait is on the bubble's clock, so the run takes only the CPU
// time of its calls and no call is late), and checks the shape and invariants of the
// report — not timings.
func TestShortBench(t *testing.T) {
	var scs []*Scenario
	for _, n := range Scenarios() {
		sc, err := LoadScenario(n)
		if err != nil {
			t.Fatal(err)
		}
		scs = append(scs, sc)
	}
	var progress bytes.Buffer
	var rep *Report
	synctest.Test(t, func(t *testing.T) {
		// In the bubble nothing is late: no scheduling jitter to allow for.
		var err error
		rep, err = Run(context.Background(), Options{Scenarios: scs, Short: true, Progress: &progress, Jitter: time.Nanosecond, Strategies: inBubble})
		if err != nil {
			t.Fatal(err)
		}
	})
	if t.Failed() {
		return
	}
	// The other strategies run in real time, with 50 ms of jitter allowed for the race
	// detector (see inRealTime).
	real, err := Run(context.Background(), Options{Scenarios: scs, Short: true, Progress: &progress, Jitter: 50 * time.Millisecond, Strategies: inRealTime})
	if err != nil {
		t.Fatal(err)
	}
	mergeRuns(scs, rep, real)
	t.Log("\n" + progress.String())
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + table.String())
	windows := map[string]bool{}
	want := 0
	for _, sc := range scs {
		want += max(len(sc.Windows), 1)
	}
	for _, sr := range rep.Runs {
		windows[sr.Window] = true
	}
	if !windows["bucket"] || !windows["clock"] {
		t.Errorf("window modes run: %v; want both", windows)
	}
	if got := len(rep.Runs); got != want {
		t.Fatalf("%d scenario runs; want %d", got, want)
	}
	for _, sr := range rep.Runs {
		t.Run(sr.Scenario+"/"+sr.Window, func(t *testing.T) {
			sc := scs[slices.IndexFunc(scs, func(s *Scenario) bool { return s.Name == sr.Scenario })]
			var want []string
			for _, c := range sc.strategyConfigs() {
				want = append(want, c.Name)
			}
			var got []string
			for _, r := range sr.Results {
				got = append(got, r.Strategy)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("strategies %v; want %v", got, want)
			}
			for _, want := range []string{"tollgate", "tollgate-adaptive", "sdk-standard", "sdk-adaptive", "rpm-only", "dual-bucket", "cookbook"} {
				if !slices.Contains(got, want) {
					t.Errorf("strategy %s missing", want)
				}
			}
			if sr.Calls != sc.calls(true) {
				t.Errorf("%d calls; want %d", sr.Calls, sc.calls(true))
			}
			for _, r := range sr.Results {
				if r.Lost != 0 {
					t.Errorf("%s: %d calls lost", r.Strategy, r.Lost)
				}
				if r.Succeeded+r.Failed+r.Lost != sr.Calls {
					t.Errorf("%s: %d succeeded + %d failed + %d lost != %d calls", r.Strategy, r.Succeeded, r.Failed, r.Lost, sr.Calls)
				}
				if r.Admitted < int64(r.Succeeded) {
					t.Errorf("%s: emulator admitted %d calls, %d succeeded", r.Strategy, r.Admitted, r.Succeeded)
				}
				// The lower bound takes off what the emulator lets through at once at the
				// start: no strategy, however it times its calls, can beat it.
				if r.Efficiency <= 0 || r.Efficiency > 1 {
					t.Errorf("%s: efficiency %v not in (0, 1]", r.Strategy, r.Efficiency)
				}
				if r.SettledTokens <= 0 || r.ReservedTokens <= 0 || r.LowerBoundSeconds <= 0 {
					t.Errorf("%s: settled %d, reserved %d, lower bound %v", r.Strategy, r.SettledTokens, r.ReservedTokens, r.LowerBoundSeconds)
				}
				n := 0
				for _, p := range r.Latency {
					n += p.N
					if p.P50 > p.P95 {
						t.Errorf("%s: p50 %v > p95 %v", r.Strategy, p.P50, p.P95)
					}
				}
				if n != r.Succeeded {
					t.Errorf("%s: latencies of %d calls, %d succeeded", r.Strategy, n, r.Succeeded)
				}
				if strings.HasPrefix(r.Strategy, "tollgate") && r.Strategy != "tollgate-adaptive" {
					if r.ThrottledAttempts != 0 || r.Failed != 0 {
						t.Errorf("%s: %d throttled attempts, %d failed; want none", r.Strategy, r.ThrottledAttempts, r.Failed)
					}
				}
			}
		})
	}
	if sr := rep.Runs[slices.IndexFunc(rep.Runs, func(sr ScenarioRun) bool { return sr.Scenario == "max-tokens-unset" })]; sr.RightSizing == nil {
		t.Error("max-tokens-unset has no right-sizing comparison")
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Runs) != len(rep.Runs) {
		t.Errorf("JSON does not read back: %v", err)
	}
}

// inRealTime are the strategies TestShortBench runs in real time, not in a bubble. The
// SDK's adaptive retry mode waits in a loop that can ask for a zero-length sleep, which
// on a bubble's frozen clock never ends (and in go1.26.8 crashed the runtime's timer
// code).
var inRealTime = []string{"sdk-adaptive"}

// inBubble are the strategies TestShortBench runs in a synctest bubble.
var inBubble = slices.DeleteFunc(Strategies(), func(s string) bool { return slices.Contains(inRealTime, s) })

// mergeRuns adds the results of more to the runs of rep with the same scenario and
// window, in the order of the scenario's strategies.
func mergeRuns(scs []*Scenario, rep, more *Report) {
	for _, m := range more.Runs {
		for i := range rep.Runs {
			sr := &rep.Runs[i]
			if sr.Scenario != m.Scenario || sr.Window != m.Window {
				continue
			}
			var order []string
			for _, c := range scs[slices.IndexFunc(scs, func(s *Scenario) bool { return s.Name == sr.Scenario })].strategyConfigs() {
				order = append(order, c.Name)
			}
			sr.Results = append(sr.Results, m.Results...)
			slices.SortStableFunc(sr.Results, func(a, b Result) int {
				return slices.Index(order, a.Strategy) - slices.Index(order, b.Strategy)
			})
			sr.RightSizing, sr.Ratios = rightSizing(sr.Results), ratios(sr.Results)
		}
	}
}

// TestBucketRefillNoTimeElapsed checks that an unlimited bucket refilled by no time at all
// (two equal clock readings, as in a synctest bubble or on a coarse clock) still has
// room: +Inf × 0 once made its level NaN, and every call of dual-bucket and cookbook then
// waited forever.
func TestBucketRefillNoTimeElapsed(t *testing.T) {
	for _, b := range []bucket{{perMinute: math.Inf(1), level: math.Inf(1)}, {perMinute: 60, level: 30}} {
		want := b.level
		b.refill(0)
		if b.level != want {
			t.Errorf("bucket of %v per minute: level %v after refilling by 0, want %v", b.perMinute, b.level, want)
		}
	}
}
