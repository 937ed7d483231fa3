package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tollgate-dev/tollgate/internal/discover"
	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/internal/testnet"
)

// TestQuotasStalledEndpoint points "tollgate quotas" at a Service Quotas endpoint that
// never answers: after --timeout it shows the catalog's defaults and fails with an error
// naming the endpoint and the flag to change.
func TestQuotasStalledEndpoint(t *testing.T) {
	isolateAWS(t)
	url := stalledURL(t)
	start := time.Now()
	out, err := runCLI(t, "quotas", "--model", sonnet35, "--region", "us-east-1", "--endpoint", url, "--timeout", "300ms")
	if !errors.Is(err, discover.ErrTimeout) || !strings.Contains(err.Error(), url) || !strings.Contains(err.Error(), "--timeout") {
		t.Fatalf("error %v; want a timeout naming %s and --timeout", err, url)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("took %v with --timeout 300ms", took)
	}
	if !strings.Contains(out, "catalog default") {
		t.Errorf("no catalog defaults shown:\n%s", out)
	}
	if _, err := runCLI(t, "quotas", "--model", sonnet35, "--timeout", "0s"); err == nil || !strings.Contains(err.Error(), "--timeout 0s is out of range") {
		t.Errorf("--timeout 0s: %v", err)
	}
}

// TestRunStalledBedrock runs a document against a Bedrock endpoint that accepts and never
// answers: each attempt gives up at --attempt-timeout, and the run ends with the
// document failed instead of hanging. It runs in a synctest bubble, its requests through
// an in-process stalled transport (the root package's TestAttemptTimeoutStalledBackend
// holds the attempt timeout against a real socket).
func TestRunStalledBedrock(t *testing.T) {
	isolateAWS(t)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://bedrock.stalled.test")
	client, requests := testnet.StalledClient()
	bedrockHTTPClient = client
	t.Cleanup(func() { bedrockHTTPClient = nil })
	synctest.Test(t, func(t *testing.T) {
		out, err := runOneDocument(t, 2*time.Minute, "--tpm", "200000", "--tpd", "1000000", "--attempt-timeout", "100ms")
		if err == nil || !strings.Contains(err.Error(), "1 document(s) failed") || !strings.Contains(out, "attempt timeout (100ms)") {
			t.Errorf("error %v; want the document failed on attempt timeouts\n%s", err, out)
		}
		if got, want := requests.Load(), int64(pipeline.DefaultMaxAttempts); got != want {
			t.Errorf("%d requests reached the stalled endpoint; want one per attempt, %d", got, want)
		}
	})
}

// stalledURL is the URL of a backend that accepts connections and never answers.
func stalledURL(t *testing.T) string {
	url, _ := testnet.Stalled(t)
	return url
}

// TestRunStalledQuotas runs against a Service Quotas endpoint that accepts and never
// answers (no --tpm, so the run reads the account's quotas first): after exactly the
// discovery timeout (discover.DefaultTimeout) the run fails with an error naming the
// endpoint and the flags that skip Service Quotas, instead of hanging with no output. It
// runs in a synctest bubble, its requests through an in-process stalled transport.
func TestRunStalledQuotas(t *testing.T) {
	isolateAWS(t)
	const url = "http://quotas.stalled.test"
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ENDPOINT_URL_SERVICE_QUOTAS", url)
	t.Setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://bedrock.stalled.test")
	client, requests := testnet.StalledClient()
	bedrockHTTPClient = client
	t.Cleanup(func() { bedrockHTTPClient = nil })
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		out, err := runOneDocument(t, discover.DefaultTimeout+time.Minute)
		if !errors.Is(err, discover.ErrTimeout) || !strings.Contains(err.Error(), url) || !strings.Contains(err.Error(), "--tpm") {
			t.Errorf("error %v; want a discovery timeout naming %s and --tpm\n%s", err, url, out)
		}
		if got, want := time.Since(start), discover.DefaultTimeout; got != want {
			t.Errorf("the run failed after %v; want the discovery timeout, %v", got, want)
		}
		if requests.Load() == 0 {
			t.Error("no request reached the stalled endpoint")
		}
	})
}

// runOneDocument runs "tollgate run" on one short document with flags, and returns its
// output and error. It fails the test if the run is still going after bound.
func runOneDocument(t *testing.T, bound time.Duration, flags ...string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	doc := filepath.Join(dir, "a.txt")
	if err := os.WriteFile(doc, []byte("A short agreement between two parties."), 0o644); err != nil {
		t.Fatal(err)
	}
	root := newRootCmd()
	root.SetArgs(append(append([]string{"run", "--progress", "none", "--out", filepath.Join(dir, "out.jsonl")}, flags...), doc))
	var buf syncBuffer
	root.SetOut(&buf)
	root.SetErr(&buf)
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	err := root.ExecuteContext(ctx)
	if ctx.Err() != nil {
		t.Fatalf("the run hung until the test's deadline (%v): %v\n%s", bound, err, buf.String())
	}
	return buf.String(), err
}
