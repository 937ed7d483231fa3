package batch

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/internal/results"
	"github.com/tollgate-dev/tollgate/quota"
)

// scale runs the emulator at one emulated minute per three real seconds.
const scale = 20.0

// emulated converts an emulated duration to the real one at scale.
func emulated(d time.Duration) time.Duration { return time.Duration(float64(d) / scale) }

// emulatorEndpoint is the endpoint the client is given: the emulator's in-process
// transport never looks the host up.
const emulatorEndpoint = "http://bedrocktest"

// fixture is an emulator serving DefaultModel, and the configuration of clients for it,
// both on the scaled clock.
type fixture struct {
	srv    *bedrocktest.Handler
	pc     pipeline.Config
	limits []quota.Limit
}

// newFixture starts an emulator enforcing tpm on Claude Sonnet 4's cross-region profile;
// clientFor makes clients that know it and call it in-process. Inside a synctest bubble
// both run on the bubble's clock.
func newFixture(t testing.TB, tpm int64, edit func(*bedrocktest.Options)) *fixture {
	t.Helper()
	m, _, err := catalog.Default().Lookup(DefaultModel)
	if err != nil {
		t.Fatal(err)
	}
	opts := bedrocktest.Options{Models: []catalog.Model{m}, TimeScale: scale,
		Limits: map[string]bedrocktest.Limits{DefaultModel: {TokensPerMinute: tpm, TokensPerDay: tpm * 1440}}}
	if edit != nil {
		edit(&opts)
	}
	srv, err := bedrocktest.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	limits := []quota.Limit{{Dimension: quota.Tokens, Amount: tpm, Per: emulated(time.Minute)}}
	pc := pipeline.Config{
		AWS:          aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDBATCH", "secret", ""), HTTPClient: srv.Client()},
		WindowMargin: emulated(time.Second),
		Backoff:      func(int) time.Duration { return emulated(time.Second) },
		Targets:      []pipeline.TargetConfig{{Model: DefaultModel, Endpoint: emulatorEndpoint, Limits: limits}},
	}
	return &fixture{srv: srv, pc: pc, limits: limits}
}

// clientFor returns a client of the emulator for a run of cfg, as `tollgate run` makes
// it (ClientConfig).
func (f *fixture) clientFor(t testing.TB, cfg Config) *pipeline.Client {
	t.Helper()
	return newClient(t, f.pc, cfg)
}

// newClient returns a client with pc for a run of cfg (ClientConfig), closed when the
// test ends. A cfg ClientConfig refuses (a model not in the catalog) gets a client with pc
// as it is: New's refusal of cfg is what such a test checks.
func newClient(t testing.TB, pc pipeline.Config, cfg Config) *pipeline.Client {
	t.Helper()
	if rc, err := ClientConfig(cfg, pc); err == nil {
		pc = rc
	}
	c, err := pipeline.NewClient(context.Background(), pc, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// contractsDir copies n sample contracts (all when n is 0) into a new folder and returns it.
func contractsDir(t testing.TB, n int) string {
	t.Helper()
	src := filepath.Join("..", "..", "examples", "contracts")
	dst := t.TempDir()
	count := 0
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || (n > 0 && count >= n) {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, rel)), 0o755); err != nil {
			return err
		}
		count++
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil || count == 0 {
		t.Fatalf("copying contracts from %s: %d copied, %v", src, count, err)
	}
	return dst
}

// run runs a batch to its end and returns its summary and the records of its file.
func (f *fixture) run(t testing.TB, ctx context.Context, cfg Config) (Summary, []results.Record) {
	t.Helper()
	cfg.Limits = f.limits
	r, err := New(cfg, f.clientFor(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := results.Load(sum.Out)
	if err != nil {
		t.Fatal(err)
	}
	return sum, recs
}

func write(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
