package batch

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/emustats"
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

// fixture is an emulator serving DefaultModel and a client for it, both on the scaled
// clock.
type fixture struct {
	srv    *bedrocktest.Handler
	client *tollgate.Client
	limits []quota.Limit
}

// newFixture starts an emulator enforcing tpm on Claude Sonnet 4's cross-region profile,
// and a client that knows it and calls it in-process. Inside a synctest bubble both run
// on the bubble's clock.
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
	c, err := tollgate.New(context.Background(), tollgate.Config{
		AWS:          &aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDBATCH", "secret", ""), HTTPClient: srv.Client()},
		WindowMargin: emulated(time.Second),
		Backoff:      func(int) time.Duration { return emulated(time.Second) },
		Targets:      []tollgate.Target{{Model: DefaultModel, Endpoint: emulatorEndpoint, Limits: limits}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &fixture{srv: srv, client: c, limits: limits}
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
	r, err := New(cfg, f.client)
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

// stats reads the emulator's stats endpoint in process.
func stats(t testing.TB, h http.Handler) emustats.Snapshot {
	t.Helper()
	st, err := emustats.Read(h)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
