package tollgate_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/emustats"
	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/quota"
)

// The tests run the real SDK against emulators in the test's process (each
// bedrocktest.Handler's in-process transport), inside testing/synctest bubbles: the
// emulator's latency and quota windows, the client's queues, pacing and backoff and the
// test's own sleeps all run on the bubble's clock, at time scale 1. Durations are exact
// and a test takes the CPU time of its calls, not the emulated minutes they span,
// however loaded the machine is.

const (
	// sonnet35 is metered at burndown 1 and served on demand; sonnet4 at burndown 5
	// through a cross-region profile.
	sonnet35 = "anthropic.claude-3-5-sonnet-20240620-v1:0"
	sonnet4  = "us.anthropic.claude-sonnet-4-20250514-v1:0"
)

// emu is an emulator reached in-process at URL, a host no resolver knows: the clients of
// newClient route each request to the emulator registered for its host.
type emu struct {
	*bedrocktest.Handler
	URL string
}

var (
	emuHosts sync.Map // host → http.RoundTripper of the emulator there
	emuSeq   atomic.Int64
)

// emuRouter is the HTTP transport of the tests' clients: it hands each request to the
// in-process transport of the emulator registered for its host, and answers any other
// host as a closed port does.
type emuRouter struct{}

func (emuRouter) RoundTrip(r *http.Request) (*http.Response, error) {
	rt, ok := emuHosts.Load(r.URL.Host)
	if !ok {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, fmt.Errorf("dial tcp %s: connection refused (no emulator there)", r.URL.Host)
	}
	return rt.(http.RoundTripper).RoundTrip(r)
}

// emulator builds bedrocktest serving sonnet35 and sonnet4 with the given TPM (TPD
// unlimited in practice), in the given window mode, at time scale 1: inside a bubble its
// clock is the bubble's.
func emulator(t testing.TB, mode quota.Meter, tpm int64, edit func(*bedrocktest.Options)) *emu {
	t.Helper()
	var models []catalog.Model
	limits := map[string]bedrocktest.Limits{}
	for _, id := range []string{sonnet35, "anthropic.claude-sonnet-4-20250514-v1:0"} {
		m, ok := catalog.Default().Model(id)
		if !ok {
			t.Fatalf("catalog has no %s", id)
		}
		for s := range m.Quotas {
			limits[catalog.CallID(id, s)] = bedrocktest.Limits{TokensPerMinute: tpm, TokensPerDay: tpm * 1440 * 10}
		}
		models = append(models, m)
	}
	opts := bedrocktest.Options{Models: models, Limits: limits, Window: mode}
	if edit != nil {
		edit(&opts)
	}
	h, err := bedrocktest.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	host := fmt.Sprintf("bedrocktest-%d", emuSeq.Add(1))
	emuHosts.Store(host, h.Client().Transport)
	t.Cleanup(func() {
		emuHosts.Delete(host)
		h.Close()
	})
	return &emu{Handler: h, URL: "http://" + host}
}

// awsConfig is an SDK configuration with static credentials, as any user's would be,
// whose requests reach the tests' emulators in-process.
func awsConfig() *aws.Config {
	return &aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTOLLGATE", "secret", ""),
		HTTPClient: &http.Client{Transport: emuRouter{}}}
}

// tpmLimit is a tokens-per-minute limit.
func tpmLimit(n int64) quota.Limit {
	return quota.Limit{Dimension: quota.Tokens, Amount: n, Per: time.Minute}
}

// newClient builds a client on cfg, calling the emulators in-process, with a fixed
// one-second backoff after server errors (the default's jitter would make runs differ),
// tune editing the pipeline's configuration (the knobs Config leaves out) after that.
func newClient(t testing.TB, cfg tollgate.Config, tune ...func(*pipeline.Config)) *tollgate.Client {
	t.Helper()
	if cfg.AWS == nil {
		cfg.AWS = awsConfig()
	}
	c, err := tollgate.NewTuned(context.Background(), cfg, func(pc *pipeline.Config) {
		pc.Backoff = func(int) time.Duration { return time.Second }
		for _, f := range tune {
			f(pc)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// The tuning knobs a few tests set, in one place.

// noPacing turns the client's pacing off: admissions go out as soon as the limits allow.
func noPacing(pc *pipeline.Config) { pc.Pacing = -1 }

// discoverAt makes the client read its targets' limits from the Service Quotas API at
// endpoint, with no window margin (so that the limits read back are the service's).
func discoverAt(endpoint string) func(*pipeline.Config) {
	return func(pc *pipeline.Config) {
		pc.DiscoverQuotas, pc.QuotasEndpoint, pc.WindowMargin = true, endpoint, -1
	}
}

// converser is the call the tests hand over in order.
type converser interface {
	Converse(ctx context.Context, in *bedrockruntime.ConverseInput, optFns ...func(*bedrockruntime.Options)) (*bedrockruntime.ConverseOutput, error)
}

// handOver starts n calls on goroutines of wg, at priority p, one at a time: each once
// the one before has reached its target's queue (Call.Queued), as tollgate run hands
// over documents. The calls all start at the same instant of a bubble's clock, yet reach
// the queues in order, so that each call's choice of target sees the calls before it
// queued there: started together, calls pick their targets concurrently, and how they
// split depends on how the goroutines are scheduled.
func handOver(wg *sync.WaitGroup, c *tollgate.Client, p tollgate.Priority, n int, send func(c converser, i int)) {
	for i := range n {
		queued := make(chan struct{})
		mark := sync.OnceFunc(func() { close(queued) })
		cc := c.Pipeline().With(pipeline.Options{Priority: p, Queued: mark})
		wg.Go(func() {
			defer mark() // a call that fails before it is queued
			send(cc, i)
		})
		<-queued
	}
}

// contracts returns the text of the sample contracts.
func contracts(t testing.TB) []string {
	t.Helper()
	dir := filepath.Join("internal", "estimate", "testdata", "contracts")
	names, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no contracts in %s: %v", dir, err)
	}
	sort.Strings(names)
	var out []string
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// review is a contract-review Converse request.
func review(model, contract string, maxTokens int32) *bedrockruntime.ConverseInput {
	in := &bedrockruntime.ConverseInput{
		ModelId: aws.String(model),
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

// series returns the emulator's stats for model (base id) in scope.
func series(t testing.TB, srv *emu, model, scope string) emustats.Series {
	t.Helper()
	s, ok := emustats.Get(t, srv).Get(model, scope)
	if !ok {
		t.Fatalf("no stats for %s %s", model, scope)
	}
	return s
}

func throttles(s emustats.Series) int64 {
	var n int64
	for _, v := range s.Throttled {
		n += v
	}
	return n
}
