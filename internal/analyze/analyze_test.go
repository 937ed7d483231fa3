package analyze

import (
	"encoding/json"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/quotatext"
	"github.com/tollgate-dev/tollgate/internal/results"
	"github.com/tollgate-dev/tollgate/quota"
)

// sonnet4 is Claude Sonnet 4: burndown 5, max_tokens unset reserves 64,000.
func sonnet4(t testing.TB) catalog.Model {
	t.Helper()
	m, ok := catalog.Default().Model("anthropic.claude-sonnet-4-20250514-v1:0")
	if !ok {
		t.Fatal("no Sonnet 4 in the catalog")
	}
	return m
}

// plain are Params whose numbers are easy to work by hand: no window margin, no
// estimate padding (reservations are input + max_tokens), no pacing; the default latency
// (a call of 200 output tokens takes 0.4 s + 199 × 15 ms = 3.385 s).
var plain = Params{WindowMargin: -1, InitialMargin: -1, EstimateMargin: -1, TokenizerOffset: 1, Pacing: -1}

func tpm(n int64) quota.Limit {
	return quota.Limit{Dimension: quota.Tokens, Amount: n, Per: time.Minute}
}
func rpm(n int64) quota.Limit {
	return quota.Limit{Dimension: quota.Requests, Amount: n, Per: time.Minute}
}

// same returns n requests of in input tokens, max_tokens mt and out output tokens.
func same(n, in, mt, out int) Workload {
	var w Workload
	for i := range n {
		w.Requests = append(w.Requests, Request{Name: "doc" + string(rune('A'+i%26)) + string(rune('a'+i/26)), InputTokens: in, MaxTokens: mt, OutputTokens: out})
	}
	return w
}

// planFor expands w under limits with p's defaults set.
func planFor(t testing.TB, m catalog.Model, limits []quota.Limit, w Workload, p Params) (*plan, Params) {
	t.Helper()
	p, err := p.withDefaults(limits)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := expand(m, limits, w, p, 0)
	if err != nil {
		t.Fatal(err)
	}
	return pl, p
}

func TestNeeds(t *testing.T) {
	m := sonnet4(t)
	const lat = 3385 * time.Millisecond
	for _, tc := range []struct {
		name     string
		w        Workload
		limits   []quota.Limit
		p        Params
		want     map[string]time.Duration
		binding  string
		margin   float64 // binding need ÷ the next one
		calls    int
		settled  int64 // of the first limit
		reserved int64
	}{{
		// max_tokens unset: R = 1,000 + 64,000 = 65,000, s = 1,000 + 5 × 200 = 2,000, held
		// for 3.385 s of a 60 s window: occ = 2,000 + 63,000 × 3.385/60 = 5,554.25; ten
		// calls need 55,542.5 ÷ 100,000 × 60 s = 33.3255 s; the latency floor is 3.385 s.
		name: "max_tokens unset holds the quota", w: same(10, 1000, 0, 200), limits: []quota.Limit{tpm(100_000)}, p: plain,
		want:    map[string]time.Duration{"tokens-per-minute": 33325500 * time.Microsecond, "latency": lat},
		binding: "tokens-per-minute", margin: 33.3255 / 3.385, calls: 10, settled: 20_000, reserved: 650_000,
	}, {
		// max_tokens 300: R = 1,300 is below s = 2,000, so nothing is lost: occ = s, and
		// ten calls need 20,000 ÷ 100,000 × 60 s = 12 s.
		name: "reservation below settlement", w: same(10, 1000, 300, 200), limits: []quota.Limit{tpm(100_000)}, p: plain,
		want:    map[string]time.Duration{"tokens-per-minute": 12 * time.Second, "latency": lat},
		binding: "tokens-per-minute", margin: 12 / 3.385, calls: 10, settled: 20_000, reserved: 13_000,
	}, {
		// 60 calls at 30 per minute need 120 s; their 120,000 tokens (R = 1,200 ≤ s) at
		// 1,000,000 per minute need 7.2 s.
		name: "requests per minute", w: same(60, 1000, 200, 200), limits: []quota.Limit{tpm(1_000_000), rpm(30)}, p: plain,
		want:    map[string]time.Duration{"tokens-per-minute": 7200 * time.Millisecond, "requests-per-minute": 120 * time.Second, "latency": lat},
		binding: "requests-per-minute", margin: 120 / 7.2, calls: 60, settled: 120_000, reserved: 72_000,
	}, {
		// Two calls in flight: ten calls of 3.385 s need 16.925 s.
		name: "calls in flight", w: same(10, 1000, 200, 200), limits: []quota.Limit{tpm(1_000_000)},
		p:       func() Params { p := plain; p.MaxInFlight = 2; return p }(),
		want:    map[string]time.Duration{"tokens-per-minute": 1200 * time.Millisecond, "concurrency": 16925 * time.Millisecond, "latency": lat},
		binding: "concurrency", margin: 16.925 / 3.385, calls: 10, settled: 20_000, reserved: 12_000,
	}, {
		// An output of 2,500 at max_tokens 1,000 takes three calls: inputs 1,000, 2,000 and
		// 3,000, outputs 1,000, 1,000 and 500; settled (1,000 + 5,000) + (2,000 + 5,000) +
		// (3,000 + 2,500) = 18,500; reserved 2,000 + 3,000 + 4,000 = 9,000 (all below
		// settlement). The chain takes 3 × 0.4 s + (999 + 999 + 499) × 15 ms = 38.655 s.
		name: "continuations", w: same(1, 1000, 1000, 2500), limits: []quota.Limit{tpm(1_000_000)}, p: plain,
		want:    map[string]time.Duration{"tokens-per-minute": 1110 * time.Millisecond, "latency": 38655 * time.Millisecond},
		binding: "latency", margin: 38.655 / 1.11, calls: 3, settled: 18_500, reserved: 9_000,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			pl, p := planFor(t, m, tc.limits, tc.w, tc.p)
			ns := pl.needs(tc.limits, p)
			got := map[string]time.Duration{}
			for _, n := range ns {
				got[n.key] = n.d
			}
			if len(got) != len(tc.want) {
				t.Errorf("needs %v; want %v", got, tc.want)
			}
			for k, want := range tc.want {
				if d := got[k] - want; d < -time.Millisecond || d > time.Millisecond {
					t.Errorf("need of %s = %v; want %v", k, got[k], want)
				}
			}
			if pl.calls != tc.calls {
				t.Errorf("calls = %d; want %d", pl.calls, tc.calls)
			}
			if ns[0].settled != tc.settled || ns[0].reserved != tc.reserved {
				t.Errorf("settled, reserved = %d, %d; want %d, %d", ns[0].settled, ns[0].reserved, tc.settled, tc.reserved)
			}
			r, err := New(Config{Model: m, Limits: tc.limits, Workload: tc.w, Params: tc.p})
			if err != nil {
				t.Fatal(err)
			}
			if r.Binding != tc.binding || math.Abs(r.Margin-tc.margin) > 0.01*tc.margin {
				t.Errorf("binding %s by %.3f× the next; want %s by %.3f×", r.Binding, r.Margin, tc.binding, tc.margin)
			}
		})
	}
}

// TestSimulateWindows checks the simulation against admissions worked by hand.
func TestSimulateWindows(t *testing.T) {
	m := sonnet4(t)
	noLatency := plain
	noLatency.Latency = Latency{TimeToFirstToken: -1, PerOutputToken: -1}
	for _, tc := range []struct {
		name     string
		w        Workload
		limits   []quota.Limit
		p        Params
		min, max time.Duration
	}{
		// 60 instant calls at 30 a minute, unpaced: 30 at once, 30 when the first leave
		// the sliding window, a minute (plus one sub-window, 0.3 s) later.
		{"sliding window", same(60, 100, 100, 10), []quota.Limit{rpm(30)}, noLatency, 60 * time.Second, 60300 * time.Millisecond},
		// Paced at a sixth of the window (10 s, 5 calls' worth): 6 calls at once (the 6th
		// when the horizon is exactly 10 s ahead), then one every 2 s until the window holds
		// 30 (at 48 s); at 60.3 s the first 6 leave it and go at once (the horizon has
		// fallen behind), then one every 2 s again: the 60th at 60.3 + 24 × 2 = 108.3 s.
		{"paced", same(60, 100, 100, 10), []quota.Limit{rpm(30)},
			func() Params { p := noLatency; p.Pacing = 10 * time.Second; return p }(), 108 * time.Second, 109 * time.Second},
		// Two in flight, ten calls of 3.385 s: five rounds, 16.925 s.
		{"in flight", same(10, 100, 300, 200), []quota.Limit{tpm(1_000_000)},
			func() Params { p := plain; p.MaxInFlight = 2; return p }(), 16925 * time.Millisecond, 16925 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pl, p := planFor(t, m, tc.limits, tc.w, tc.p)
			got := simulate(pl, tc.limits, p).makespan
			if got < tc.min || got > tc.max {
				t.Errorf("makespan %v; want within [%v, %v]", got, tc.min, tc.max)
			}
		})
	}
}

func TestPriorityClassesFinishInOrder(t *testing.T) {
	w := same(30, 2000, 500, 300)
	for i := range w.Requests {
		w.Requests[i].Priority = []quota.Priority{quota.Low, quota.Normal, quota.High}[i%3]
	}
	r, err := New(Config{Model: sonnet4(t), Limits: []quota.Limit{tpm(40_000)}, Workload: w})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range r.Classes {
		got = append(got, c.Priority)
	}
	if diff := cmp.Diff([]string{"high", "normal", "low"}, got); diff != "" {
		t.Fatalf("classes (-want +got):\n%s", diff)
	}
	if !(r.Classes[0].Mean < r.Classes[1].Mean && r.Classes[1].Mean < r.Classes[2].Mean) {
		t.Errorf("mean completion by class %v, %v, %v; want increasing", r.Classes[0].Mean, r.Classes[1].Mean, r.Classes[2].Mean)
	}
	if r.Classes[2].Done != r.Makespan {
		t.Errorf("low done at %v, makespan %v; want equal", r.Classes[2].Done, r.Makespan)
	}
}

func TestChunkedDocumentCombinesLast(t *testing.T) {
	w := Workload{Requests: []Request{
		{Name: "big.txt#chunk1", InputTokens: 1000, MaxTokens: 500, OutputTokens: 200},
		{Name: "big.txt#chunk2", InputTokens: 1000, MaxTokens: 500, OutputTokens: 200},
		{Name: "big.txt#combine", InputTokens: 500, MaxTokens: 500, OutputTokens: 200},
	}}
	r, err := New(Config{Model: sonnet4(t), Limits: []quota.Limit{tpm(10_000_000)}, Workload: w, Params: plain})
	if err != nil {
		t.Fatal(err)
	}
	// Two chunks in parallel, then the combining call: 2 × 3.385 s.
	if want := 6770 * time.Millisecond; r.Makespan != want || r.Documents != 1 || r.Calls != 3 {
		t.Errorf("makespan %v, %d documents, %d calls; want %v, 1, 3", r.Makespan, r.Documents, r.Calls, want)
	}
}

func TestTooLarge(t *testing.T) {
	// 70,000 input + 64,000 reserved cannot fit in 100,000 TPM.
	w := Workload{Requests: []Request{{Name: "a", InputTokens: 70_000, OutputTokens: 100}, {Name: "b", InputTokens: 1000, OutputTokens: 100, MaxTokens: 500}}}
	r, err := New(Config{Model: sonnet4(t), Limits: []quota.Limit{tpm(100_000)}, Workload: w, Params: plain})
	if err != nil {
		t.Fatal(err)
	}
	if r.TooLarge != 1 || !strings.Contains(strings.Join(r.Notes, "\n"), "can never be admitted") {
		t.Errorf("TooLarge %d, notes %q; want 1 and a note", r.TooLarge, r.Notes)
	}
}

func TestRecommendation(t *testing.T) {
	// Outputs 100..1,090 tokens; the 95th percentile of 100 is the 95th, 1,040, rounded up
	// to 1,088: the longest (1,090 tokens) is continued. Sent with max_tokens unset
	// (64,000 reserved), the ceiling is lower.
	var w Workload
	for i := range 100 {
		w.Requests = append(w.Requests, Request{Name: "d" + string(rune(0x4e00+i)), InputTokens: 3000, OutputTokens: 100 + 10*i})
	}
	r, err := New(Config{Model: sonnet4(t), Limits: []quota.Limit{tpm(200_000)}, Workload: w})
	if err != nil {
		t.Fatal(err)
	}
	mt := r.MaxTokens
	if mt.OutputQuantile != 1040 || mt.Recommended != 1088 || !mt.Unset || mt.Current != 64_000 {
		t.Errorf("max_tokens %+v; want quantile 1,040, recommended 1,088, current 64,000 (unset)", mt)
	}
	if mt.Continued != 1 || mt.ExtraCalls != 1 {
		t.Errorf("continued %d (+%d calls); want 1 (+1): only 1,090 is above 1,088", mt.Continued, mt.ExtraCalls)
	}
	if !(mt.CallsPerMinute > r.CallsPerMinute && mt.Makespan < r.Makespan) {
		t.Errorf("recommended: %.1f calls/min in %v; now %.1f in %v; want faster", mt.CallsPerMinute, mt.Makespan, r.CallsPerMinute, r.Makespan)
	}
	if r.Concurrency.Recommended < 1 {
		t.Errorf("recommended concurrency %d", r.Concurrency.Recommended)
	}
	// The curve rises from 64,000 down to the recommendation.
	at := func(v int) Point {
		for _, p := range r.Curve {
			if p.MaxTokens == v {
				return p
			}
		}
		t.Fatalf("no curve point at %d", v)
		return Point{}
	}
	if lo, hi := at(1088), at(64_000); !(lo.CallsPerMinute > hi.CallsPerMinute && lo.AtOnce > hi.AtOnce) {
		t.Errorf("curve at 1,088: %+v; at 64,000: %+v; want more throughput and more calls at once with the smaller reservation", lo, hi)
	}
	if !sort.SliceIsSorted(r.Curve, func(i, j int) bool { return r.Curve[i].MaxTokens < r.Curve[j].MaxTokens }) {
		t.Error("curve not sorted by max_tokens")
	}
}

func TestFromResults(t *testing.T) {
	recs := []results.Record{
		// One call: exact.
		{Path: "a.txt", Hash: "sha256:1", Status: results.Done, Priority: "high", Calls: 1, MaxTokens: 1000,
			Usage: results.Usage{InputTokens: 4000, OutputTokens: 600}},
		// One request continued twice at max_tokens 1,000: k = 3 calls with inputs in, in +
		// 1,000, in + 2,000, so input = 3·in + 3,000 = 9,000 gives in = 2,000.
		{Path: "b.txt", Hash: "sha256:2", Status: results.Done, Priority: "normal", Calls: 3, Continuations: 2, MaxTokens: 1000,
			Usage: results.Usage{InputTokens: 9000, OutputTokens: 2500}},
		// Two chunks and the combining call: usage split evenly.
		{Path: "c.txt", Hash: "sha256:3", Status: results.Done, Priority: "low", Chunks: 2, Calls: 3, MaxTokens: 2000,
			Usage: results.Usage{InputTokens: 9000, OutputTokens: 900, CacheWriteTokens: 300}},
		{Path: "d.txt", Hash: "sha256:4", Status: results.Failed, Error: "boom"},
		{Path: "e.bin", Hash: "sha256:5", Status: results.Skipped, Error: "binary"},
	}
	got := FromResults(recs)
	want := Workload{Documents: 3, Requests: []Request{
		{Name: "a.txt", Priority: quota.High, InputTokens: 4000, MaxTokens: 1000, OutputTokens: 600},
		{Name: "b.txt", Priority: quota.Normal, InputTokens: 2000, MaxTokens: 1000, OutputTokens: 2500},
		{Name: "c.txt#chunk1", Priority: quota.Low, InputTokens: 3100, MaxTokens: 2000, OutputTokens: 300},
		{Name: "c.txt#chunk2", Priority: quota.Low, InputTokens: 3100, MaxTokens: 2000, OutputTokens: 300},
		{Name: "c.txt#combine", Priority: quota.Low, InputTokens: 3100, MaxTokens: 2000, OutputTokens: 300},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("FromResults (-want +got):\n%s", diff)
	}
	// Replayed, b.txt is three calls again, with the input it reported.
	p, _ := plain.withDefaults(nil)
	pl, err := expand(sonnet4(t), nil, got, p, 0)
	if err != nil {
		t.Fatal(err)
	}
	var in int
	for _, c := range pl.chains[1] {
		in += c.in
	}
	if len(pl.chains[1]) != 3 || in != 9000 {
		t.Errorf("b.txt replays as %d calls of %d input tokens; want 3 of 9,000", len(pl.chains[1]), in)
	}
}

func TestMeasureLatency(t *testing.T) {
	def := Latency{TimeToFirstToken: 400 * time.Millisecond, PerOutputToken: 15 * time.Millisecond}
	var recs []results.Record
	for i := range 20 {
		out := 100 + 50*i
		ms := 700 + 20*(out-1) // 700 ms + 20 ms per further token
		recs = append(recs, results.Record{Status: results.Done, Calls: 2, LatencyMS: int64(2 * ms), Usage: results.Usage{OutputTokens: 2 * out}})
	}
	got, ok := MeasureLatency(recs, def)
	if !ok || got.TimeToFirstToken.Round(time.Millisecond) != 700*time.Millisecond || got.PerOutputToken.Round(time.Microsecond) != 20*time.Millisecond {
		t.Errorf("MeasureLatency = %+v, %v; want 700ms + 20ms per token", got, ok)
	}
	// Equal outputs: the slope is the default's, the intercept fitted.
	flat := []results.Record{{Status: results.Done, Calls: 1, LatencyMS: 2000, Usage: results.Usage{OutputTokens: 101}},
		{Status: results.Done, Calls: 1, LatencyMS: 2000, Usage: results.Usage{OutputTokens: 101}}}
	got, ok = MeasureLatency(flat, def)
	if !ok || got.PerOutputToken != def.PerOutputToken || got.TimeToFirstToken != 500*time.Millisecond {
		t.Errorf("MeasureLatency(equal outputs) = %+v, %v; want 500ms + 15ms", got, ok)
	}
	if _, ok := MeasureLatency(recs[:1], def); ok {
		t.Error("MeasureLatency with one record reported a fit")
	}
}

func TestObservedMakespan(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	recs := []results.Record{
		{Status: results.Done, Started: t0, Finished: t0.Add(time.Minute)},
		{Status: results.Done, Started: t0.Add(time.Second), Finished: t0.Add(3 * time.Minute)},
		{Status: results.Failed, Started: t0.Add(-time.Hour), Finished: t0.Add(time.Hour)},
	}
	if d, ok := ObservedMakespan(recs); !ok || d != 3*time.Minute {
		t.Errorf("ObservedMakespan = %v, %v; want 3m", d, ok)
	}
}

// TestJSONShape pins the field names `tollgate analyze --json` prints (docs/analyze.md).
func TestJSONShape(t *testing.T) {
	r, err := New(Config{Model: sonnet4(t), ModelID: "us.anthropic.claude-sonnet-4-20250514-v1:0",
		Limits: []quota.Limit{tpm(200_000), rpm(50)}, Workload: same(20, 3000, 0, 400), Params: Params{MaxInFlight: 8}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	keys := func(m map[string]json.RawMessage) []string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return ks
	}
	want := []string{"binding", "calls", "calls_per_minute", "classes", "concurrency", "constraints", "context_window",
		"curve", "default_max_tokens", "demand", "documents", "documents_per_minute", "efficiency", "input_tokens",
		"lower_bound_ns", "makespan_ns", "margin", "max_tokens", "mean_latency_ns", "mean_wait_ns", "model", "model_id", "model_name", "next", "notes", "output_burndown",
		"output_tokens", "pacing_ns", "per_output_token_ns", "quota_tokens", "requests", "time_to_first_token_ns"}
	if diff := cmp.Diff(want, keys(top)); diff != "" {
		t.Errorf("top-level keys (-want +got):\n%s", diff)
	}
	var cs []map[string]json.RawMessage
	if err := json.Unmarshal(top["constraints"], &cs); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"amount", "blocked_ns", "demand", "held", "key", "limit", "name", "need_ns", "per_ns", "ratio", "reserved", "settled", "utilization"}, keys(cs[0])); diff != "" {
		t.Errorf("constraint keys (-want +got):\n%s", diff)
	}
	var mt map[string]json.RawMessage
	if err := json.Unmarshal(top["max_tokens"], &mt); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"binding", "calls_per_minute", "continued", "current", "documents_per_minute", "extra_calls",
		"keep", "makespan_ns", "output_quantile", "quantile", "recommended", "unset"}, keys(mt)); diff != "" {
		t.Errorf("max_tokens keys (-want +got):\n%s", diff)
	}
	var got []string
	for _, c := range r.Constraints {
		got = append(got, c.Key)
	}
	if diff := cmp.Diff([]string{"tokens-per-minute", "requests-per-minute", "concurrency", "latency"}, got); diff != "" {
		t.Errorf("constraint keys (-want +got):\n%s", diff)
	}
}

func TestText(t *testing.T) {
	r, err := New(Config{Model: sonnet4(t), ModelID: "us.anthropic.claude-sonnet-4-20250514-v1:0", LimitsSource: "given",
		Limits: []quota.Limit{tpm(200_000)}, Workload: Workload{Requests: same(60, 5000, 0, 500).Requests, Source: "folder contracts"}})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	first, _, _ := strings.Cut(out, "\n")
	if !strings.HasPrefix(first, "Binding: tokens per minute — demand is ") || !strings.HasSuffix(first, " to process 60 documents") {
		t.Errorf("verdict %q", first)
	}
	for _, want := range []string{"Model     us.anthropic", "CONSTRAINT", "tokens per minute", "◀ binds", "Ceiling", "Time to process",
		"now 64,000 (unset: the model's default); recommended 512", "Concurrency", "Note: max_tokens is unset"} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
}

func TestHuman(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 850 * time.Millisecond: "850ms", 9400 * time.Millisecond: "9.4s", 42 * time.Second: "42s",
		12*time.Minute + 40*time.Second: "12m40s", 3*time.Hour + 5*time.Minute: "3h05m", 52 * time.Hour: "2d04h",
	} {
		if got := Human(d); got != want {
			t.Errorf("Human(%v) = %q; want %q", d, got, want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	m := sonnet4(t)
	w := same(1, 100, 100, 10)
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no model", Config{Limits: []quota.Limit{tpm(1)}, Workload: w}, "no model"},
		{"no limits", Config{Model: m, Workload: w}, "no limits"},
		{"bad limit", Config{Model: m, Limits: []quota.Limit{{Dimension: quota.Tokens, Per: time.Minute}}, Workload: w}, "analyze:"},
		{"no requests", Config{Model: m, Limits: []quota.Limit{tpm(1)}}, "no requests"},
		{"bad quantile", Config{Model: m, Limits: []quota.Limit{tpm(1000)}, Workload: w, Params: Params{Quantile: 2}}, "quantile"},
		{"bad margin", Config{Model: m, Limits: []quota.Limit{tpm(1000)}, Workload: w, Params: Params{InitialMargin: math.NaN()}}, "initial margin NaN"},
		{"negative tokens", Config{Model: m, Limits: []quota.Limit{tpm(1000)}, Workload: Workload{Requests: []Request{{Name: "x", InputTokens: -1}}}}, "negative"},
		{"max_tokens above the model's", Config{Model: m, Limits: []quota.Limit{tpm(1000)}, Workload: same(1, 10, 100_000, 10)}, "max"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v; want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestParseFile(t *testing.T) {
	f, err := ParseFile([]byte(`model: us.anthropic.claude-sonnet-4-20250514-v1:0
limits: ["400k tokens/min", "50 requests/1m"]
max_in_flight: 8
latency: {time_to_first_token: 600ms, per_output_token: 20ms}
quantile: 0.9
pending: 32
`))
	if err != nil {
		t.Fatal(err)
	}
	if f.Model == "" || len(f.Limits) != 2 || f.Limits[0] != tpm(400_000) || f.Limits[1] != rpm(50) || f.MaxInFlight != 8 ||
		f.Latency.TimeToFirstToken != 600*time.Millisecond || f.Latency.PerOutputToken != 20*time.Millisecond || f.Quantile != 0.9 || f.Pending != 32 {
		t.Errorf("ParseFile = %+v", f)
	}
	if f, err := ParseFile(nil); err != nil || f.Model != "" {
		t.Errorf("ParseFile(empty) = %+v, %v; want the zero File", f, err)
	}
	for _, bad := range []string{"limitz: 3", `limits: ["400k bananas/min"]`, "max_in_flight: -1", "quantile: 1.5", "pending: -2", "model: [", "latency: {time_to_first_token: soon}"} {
		if _, err := ParseFile([]byte(bad)); err == nil {
			t.Errorf("ParseFile(%q) succeeded", bad)
		}
	}
}

func FuzzParseFile(f *testing.F) {
	f.Add([]byte("limits: [\"400k tokens/min\"]\nmax_in_flight: 3\n"))
	f.Add([]byte("latency: {time_to_first_token: 1s}\nquantile: 0.5\n"))
	f.Add([]byte("model: x\nregion: y\nreserve_burndown: true\npending: 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseFile(data)
		if err != nil {
			return
		}
		for _, l := range file.Limits {
			if quotatext.Validate(l) != nil {
				t.Fatalf("ParseFile accepted an invalid limit %v", l)
			}
		}
		if file.MaxInFlight < 0 || file.Pending < 0 || file.Quantile < 0 || file.Quantile > 1 {
			t.Fatalf("ParseFile accepted %+v", file)
		}
	})
}
