package analyze_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/analyze"
	"github.com/tollgate-dev/tollgate/internal/emustats"
	"github.com/tollgate-dev/tollgate/internal/estimate"
	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/quota"
)

// The accuracy tests run a workload through the real tollgate.Client (the real AWS SDK
// against the emulator, called in-process) inside a testing/synctest bubble, and compare
// the makespan, exact on the bubble's clock, with the prediction.
const (
	// sonnet4 is called through its US cross-region profile: output burndown 5.
	sonnet4     = "us.anthropic.claude-sonnet-4-20250514-v1:0"
	sonnet4Base = "anthropic.claude-sonnet-4-20250514-v1:0"
	// margin is the client's window margin (and the prediction's).
	margin = 2 * time.Second
)

// scenario is a workload on the emulator with a known binding limit.
type scenario struct {
	docBytes     int // the documents are the contracts' first docBytes bytes; 0 = whole
	calls        int
	outputTokens int   // every reply's length
	maxTokens    int32 // sent with every call
	tpm, rpm     int64 // quotas, emulated per minute; rpm 0 = not enforced
	maxInFlight  int
	priorities   []quota.Priority // cycled over the calls
}

// run sends the scenario's calls through a tollgate.Client against the emulator, all at
// once in priority order, and returns the workload (inputs as the emulator counts them),
// the makespan in emulated time and the emulator's stats.
func (sc scenario) run(t *testing.T) (analyze.Workload, time.Duration, emustats.Series) {
	t.Helper()
	m, ok := catalog.Default().Model(sonnet4Base)
	if !ok {
		t.Fatal("catalog has no Sonnet 4")
	}
	l := bedrocktest.Limits{TokensPerMinute: sc.tpm, TokensPerDay: sc.tpm * 1440 * 10, RequestsPerMinute: sc.rpm}
	srv, err := bedrocktest.New(bedrocktest.Options{Models: []catalog.Model{m},
		Limits:       map[string]bedrocktest.Limits{"us." + sonnet4Base: l, "global." + sonnet4Base: l},
		OutputTokens: func(int, uint64) int { return sc.outputTokens }, Counter: counter{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)

	limits := []quota.Limit{{Dimension: quota.Tokens, Amount: sc.tpm, Per: time.Minute}}
	if sc.rpm > 0 {
		limits = append(limits, quota.Limit{Dimension: quota.Requests, Amount: sc.rpm, Per: time.Minute})
	}
	ctx := context.Background()
	c, err := pipeline.NewClient(ctx, pipeline.Config{
		AWS: aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDANALYZE", "secret", ""),
			HTTPClient: srv.Client()},
		Targets:      []pipeline.TargetConfig{{Region: "us-east-1", Model: sonnet4, Endpoint: "http://bedrocktest", Limits: limits, MaxInFlight: sc.maxInFlight}},
		WindowMargin: margin,
		Backoff:      func(int) time.Duration { return time.Second },
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })

	docs := contracts(t)
	type job struct {
		in   *bedrockruntime.ConverseInput
		prio quota.Priority
		name string
	}
	jobs := make([]job, sc.calls)
	var w analyze.Workload
	for i := range jobs {
		d := docs[i%len(docs)]
		if sc.docBytes > 0 {
			d.text = d.text[:min(sc.docBytes, len(d.text))]
		}
		jobs[i] = job{in: review(d.text, sc.maxTokens), prio: sc.priorities[i%len(sc.priorities)], name: fmt.Sprintf("%s (copy %d)", d.name, i/len(docs)+1)}
	}
	sort.SliceStable(jobs, func(a, b int) bool { return jobs[a].prio > jobs[b].prio })
	for _, j := range jobs {
		n, err := c.CountTokens(ctx, &bedrockruntime.CountTokensInput{ModelId: aws.String(sonnet4),
			Input: &types.CountTokensInputMemberConverse{Value: types.ConverseTokensRequest{Messages: j.in.Messages, System: j.in.System}}})
		if err != nil {
			t.Fatal(err)
		}
		w.Requests = append(w.Requests, analyze.Request{Name: j.name, Priority: j.prio, InputTokens: int(*n.InputTokens),
			MaxTokens: int(sc.maxTokens), OutputTokens: sc.outputTokens})
	}
	w.Documents, w.Source = len(jobs), "emulator scenario"

	start := srv.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(jobs))
	for i, j := range jobs {
		// Each call is handed over once the one before has reached the queue
		// (Call.Queued), so that they queue in priority order, all at the same instant.
		queued := make(chan struct{})
		mark := sync.OnceFunc(func() { close(queued) })
		cj := c.With(pipeline.Options{Priority: j.prio, Queued: mark})
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer mark()
			_, errs[i] = cj.Converse(ctx, j.in)
		}()
		<-queued
	}
	wg.Wait()
	makespan := srv.Now().Sub(start)
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s, _ := emustats.Get(t, srv).Get(sonnet4Base, "cross-region")
	return w, makespan, s
}

// predict analyses the scenario's workload with the emulator's quotas.
func (sc scenario) predict(t *testing.T, w analyze.Workload) *analyze.Report {
	t.Helper()
	m, _ := catalog.Default().Model(sonnet4Base)
	limits := []quota.Limit{{Dimension: quota.Tokens, Amount: sc.tpm, Per: time.Minute}}
	if sc.rpm > 0 {
		limits = append(limits, quota.Limit{Dimension: quota.Requests, Amount: sc.rpm, Per: time.Minute})
	}
	r, err := analyze.New(analyze.Config{Model: m, ModelID: sonnet4, Limits: limits, Workload: w,
		Params: analyze.Params{MaxInFlight: sc.maxInFlight, WindowMargin: margin}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPredictionMatchesClient(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the client against the emulator")
	}
	for _, tc := range []struct {
		name    string
		sc      scenario
		binding string
	}{
		// Contracts of 2,000–12,000 tokens, 300 output tokens (×5): about 9,000 quota tokens
		// a call against 100,000 TPM, 11 calls a minute: 48 calls take about 4 minutes.
		{"tokens", scenario{calls: 48, outputTokens: 300, maxTokens: 1024, tpm: 100_000,
			priorities: []quota.Priority{quota.High, quota.Normal, quota.Low}}, "tokens-per-minute"},
		// max_tokens unset: each call reserves its input + 64,000 while in flight, so two
		// calls at most fit in 150,000 TPM, and the reservations held cost about a third
		// of the throughput (docs/analyze.md): about 11 calls a minute.
		{"reservations", scenario{calls: 30, outputTokens: 300, tpm: 150_000,
			priorities: []quota.Priority{quota.Normal}}, "tokens-per-minute"},
		// 30 requests a minute while TPM has room for 150: 60 calls take 2 minutes.
		{"requests", scenario{docBytes: 2000, calls: 60, outputTokens: 200, maxTokens: 512, tpm: 2_000_000, rpm: 30,
			priorities: []quota.Priority{quota.Normal}}, "requests-per-minute"},
		// 3 calls in flight, each 0.4 s + 599 × 15 ms = 9.4 s: 24 calls take 75 s.
		{"concurrency", scenario{docBytes: 2000, calls: 24, outputTokens: 600, maxTokens: 1024, tpm: 2_000_000, maxInFlight: 3,
			priorities: []quota.Priority{quota.High, quota.Normal}}, "concurrency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w, actual, st := tc.sc.run(t)
				r := tc.sc.predict(t, w)
				errRel := (r.Makespan.Seconds() - actual.Seconds()) / actual.Seconds()
				t.Logf("%s: predicted %v, actual %v (%+.2f%%); binding %s (demand %.2f×); throttled %v",
					tc.name, r.Makespan.Round(time.Second), actual, 100*errRel, r.Binding, r.Demand, st.Throttled)
				if r.Binding != tc.binding {
					t.Errorf("binding %q; want %q", r.Binding, tc.binding)
				}
				// In a bubble, with the calls queued in order, every run's makespan is the
				// same: the predictions are within 0.2% of it.
				if errRel > 0.01 || errRel < -0.01 {
					t.Errorf("predicted makespan %v is %+.2f%% off the actual %v; want within 1%%", r.Makespan, 100*errRel, actual)
				}
			})
		})
	}
}

// counter counts tokens as the emulator's default counter does on average (the offline
// tokenizer's count × estimate.ReferenceOffset) at a twentieth of its cost, which under
// -race would otherwise add a second of emulated time to every call.
type counter struct{}

func (counter) Count(text string) int {
	return int(math.Ceil(float64(estimate.Base().Count(text)) * estimate.ReferenceOffset))
}

// document is one sample contract.
type document struct{ name, text string }

// contracts returns the sample contracts of internal/estimate/testdata.
func contracts(t testing.TB) []document {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("..", "estimate", "testdata", "contracts", "*.txt"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no contracts: %v", err)
	}
	sort.Strings(names)
	var out []document
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, document{name: filepath.Base(n), text: string(b)})
	}
	return out
}

// review is a contract-review Converse request.
func review(contract string, maxTokens int32) *bedrockruntime.ConverseInput {
	in := &bedrockruntime.ConverseInput{
		ModelId: aws.String(sonnet4),
		System:  []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: "You review commercial contracts. List the parties, the term and the termination clauses."}},
		Messages: []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{
			&types.ContentBlockMemberText{Value: contract},
		}}},
	}
	if maxTokens > 0 {
		in.InferenceConfig = &types.InferenceConfiguration{MaxTokens: aws.Int32(maxTokens)}
	}
	return in
}
