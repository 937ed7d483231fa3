package tollgate_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"sort"
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

const (
	// sonnet35 is metered at burndown 1 and served on demand; sonnet4 at burndown 5
	// through a cross-region profile.
	sonnet35 = "anthropic.claude-3-5-sonnet-20240620-v1:0"
	sonnet4  = "us.anthropic.claude-sonnet-4-20250514-v1:0"

	// scale runs the emulator at one emulated minute per six real seconds: fast, yet
	// slow enough that scheduling on a loaded 2-core machine under -race stays well inside
	// the window margin.
	scale = 10.0
)

// emulated converts an emulated duration to the real one at scale.
func emulated(d time.Duration) time.Duration { return time.Duration(float64(d) / scale) }

// emulator starts bedrocktest serving sonnet35 and sonnet4 with the given TPM (TPD
// unlimited in practice), at the time scale, in the given window mode.
func emulator(t testing.TB, mode quota.Meter, tpm int64, edit func(*bedrocktest.Options)) *bedrocktest.Server {
	t.Helper()
	var models []catalog.Model
	limits := map[string]bedrocktest.Limits{}
	for _, id := range []string{sonnet35, "anthropic.claude-sonnet-4-20250514-v1:0"} {
		m, ok := catalog.Default().Model(id)
		if !ok {
			t.Fatalf("catalog has no %s", id)
		}
		for s := range m.Quotas {
			limits[scopeID(id, s)] = bedrocktest.Limits{TokensPerMinute: tpm, TokensPerDay: tpm * 1440 * 10}
		}
		models = append(models, m)
	}
	opts := bedrocktest.Options{Models: models, Limits: limits, Window: mode, TimeScale: scale}
	if edit != nil {
		edit(&opts)
	}
	srv, err := bedrocktest.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// scopeID is an id that calls model id in scope s.
func scopeID(id string, s catalog.Scope) string {
	switch s {
	case catalog.CrossRegion:
		return "us." + id
	case catalog.Global:
		return "global." + id
	}
	return id
}

// stats reads the emulator's stats endpoint in process.
func stats(t testing.TB, h http.Handler) emustats.Snapshot {
	t.Helper()
	st, err := emustats.Read(h)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// awsConfig is an SDK configuration with static credentials, as any user's would be.
func awsConfig() *aws.Config {
	return &aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTOLLGATE", "secret", "")}
}

// tpmLimit is a tokens-per-minute limit on the emulator's scaled clock.
func tpmLimit(n int64) quota.Limit {
	return quota.Limit{Dimension: quota.Tokens, Amount: n, Per: emulated(time.Minute)}
}

// newClient returns a client for cfg on the emulator's scaled clock, tune editing the
// pipeline's configuration (the knobs Config leaves out) after the scaled defaults.
func newClient(t testing.TB, cfg tollgate.Config, tune ...func(*pipeline.Config)) *tollgate.Client {
	t.Helper()
	if cfg.AWS == nil {
		cfg.AWS = awsConfig()
	}
	c, err := tollgate.NewTuned(context.Background(), cfg, func(pc *pipeline.Config) {
		pc.WindowMargin = emulated(time.Second) // network and scheduling jitter, scaled
		pc.Backoff = func(int) time.Duration { return emulated(time.Second) }
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
func series(t testing.TB, srv *bedrocktest.Server, model, scope string) emustats.Series {
	t.Helper()
	s, ok := stats(t, srv).Get(model, scope)
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
