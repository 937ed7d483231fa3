package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/analyze"
	"github.com/tollgate-dev/tollgate/internal/results"
)

const sonnet4Profile = "us.anthropic.claude-sonnet-4-20250514-v1:0"

// resultsFile writes the results file of a run of n contract reviews (sonnet4Profile,
// 6,000 input and 500 output tokens each, max_tokens 1,024, a quarter high priority) and
// returns its path.
func resultsFile(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "out.jsonl")
	f, err := results.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	for i := range n {
		prio := "normal"
		if i%4 == 0 {
			prio = "high"
		}
		err := f.Append(results.Record{Path: "contracts/" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ".txt", Hash: "sha256:00",
			Settings: "s", Status: results.Done, Model: sonnet4Profile, Region: "us-east-1", Priority: prio, Calls: 1, Attempts: 1,
			MaxTokens: 1024, Usage: results.Usage{InputTokens: 6000, OutputTokens: 500 + i%7, QuotaTokens: 6000 + 5*(500+i%7)},
			Started: t0, Finished: t0.Add(time.Duration(i) * 10 * time.Second), LatencyMS: int64(400 + 15*(499+i%7))})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Append(results.Record{Path: "broken.pdf", Hash: "sha256:01", Status: results.Skipped, Error: "no text"}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAnalyzeResultsFile(t *testing.T) {
	out, err := runCLI(t, "analyze", "--tpm", "200000", "--json", resultsFile(t, 40))
	if err != nil {
		t.Fatalf("analyze: %v\n%s", err, out)
	}
	var r analyze.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not a JSON report: %v\n%s", err, out)
	}
	// 40 calls of 6,000 + 5 × 503 ≈ 8,515 quota tokens under 200,000 a minute: about 1m42s.
	if r.Binding != "tokens-per-minute" || r.Documents != 40 || r.Calls != 40 || r.Model != sonnet4Profile {
		t.Errorf("binding %q, %d documents, %d calls, model %q; want tokens-per-minute, 40, 40, %s", r.Binding, r.Documents, r.Calls, r.Model, sonnet4Profile)
	}
	if r.Makespan < time.Minute || r.Makespan > 3*time.Minute {
		t.Errorf("makespan %v; want about 1m45s", r.Makespan)
	}
	// The latency comes from the records: 400 ms + 15 ms per further token.
	if r.TTFT.Round(10*time.Millisecond) != 400*time.Millisecond || r.PerToken.Round(time.Millisecond) != 15*time.Millisecond {
		t.Errorf("latency %v + %v per token; want the records' 400ms + 15ms", r.TTFT, r.PerToken)
	}
	joined := strings.Join(r.Notes, "\n")
	if !strings.Contains(joined, "latency measured from the results") || !strings.Contains(joined, "took 6m30s") {
		t.Errorf("notes %q; want the measured latency and the run's 6m30s", r.Notes)
	}
}

func TestAnalyzeFolderTextAndChart(t *testing.T) {
	chartPath := filepath.Join(t.TempDir(), "analysis.png")
	out, err := runCLI(t, "analyze", "--tpm", "100000", "--rpm", "40", "--chart", chartPath, filepath.Join("..", "..", "examples", "contracts"))
	if err != nil {
		t.Fatalf("analyze: %v\n%s", err, out)
	}
	first, _, _ := strings.Cut(out, "\n")
	if !strings.HasPrefix(first, "Binding: tokens per minute — demand is ") || !strings.Contains(first, " to process ") {
		t.Errorf("verdict %q", first)
	}
	for _, want := range []string{"Quotas    100000 tokens/1m, 40 requests/1m (given)", "requests per minute", "max_tokens", "Chart: " + chartPath} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	b, err := os.ReadFile(chartPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(b)); err != nil {
		t.Errorf("chart is not a PNG: %v", err)
	}
}

func TestAnalyzeConfigFile(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "analyze.yaml")
	if err := os.WriteFile(cfg, []byte("limits: [\"400k tokens/min\", \"20 requests/min\"]\nmax_in_flight: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "analyze", "--config", cfg, "--json", resultsFile(t, 12))
	if err != nil {
		t.Fatalf("analyze: %v\n%s", err, out)
	}
	var r analyze.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	// 12 calls of 7.9 s, 2 in flight: 47 s; at 20 requests a minute: 36 s.
	if r.Binding != "concurrency" || len(r.Constraints) != 4 {
		t.Errorf("binding %q with %d constraints; want concurrency of 4", r.Binding, len(r.Constraints))
	}
	// A flag overrides the file: with 8 in flight (12 s), the requests limit binds.
	out, err = runCLI(t, "analyze", "--config", cfg, "--max-in-flight", "8", "--json", resultsFile(t, 12))
	if err != nil {
		t.Fatalf("analyze: %v\n%s", err, out)
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Binding != "requests-per-minute" {
		t.Errorf("with --max-in-flight 8: binding %q; want requests-per-minute", r.Binding)
	}
}

func TestAnalyzeDiscoversQuotas(t *testing.T) {
	isolateAWS(t)
	// The emulator lists Claude 3.5 Sonnet's on-demand TPM as 123,000.
	out, err := runCLI(t, "analyze", "--model", sonnet35, "--region", "us-east-1", "--endpoint", emulatorURL(t), "--json", resultsFile(t, 8))
	if err != nil {
		t.Fatalf("analyze: %v\n%s", err, out)
	}
	var r analyze.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Constraints[0].Limit != "123000 tokens/1m" || !strings.HasPrefix(r.LimitsSource, "us-east-1: TPM applied") {
		t.Errorf("limits %+v from %q; want the emulator's 123000 tokens/1m, applied", r.Constraints[0], r.LimitsSource)
	}
}

func TestAnalyzeErrors(t *testing.T) {
	results := resultsFile(t, 3)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no input", []string{"analyze", "--tpm", "1000"}, "nothing to analyze"},
		{"unknown file", []string{"analyze", "--tpm", "1000", "no/such/file.jsonl"}, "no/such/file.jsonl"},
		{"missing model", []string{"analyze", "--model", "", "--tpm", "1000", filepath.Join("..", "..", "examples", "contracts")}, "--model is required"},
		{"unknown model", []string{"analyze", "--model", "acme.nothing-v1:0", "--tpm", "1000", results}, "--model"},
		{"bad limit", []string{"analyze", "--limit", "400k bananas/min", results}, "--limit"},
		{"negative tpm", []string{"analyze", "--tpm", "-5", results}, "--tpm"},
		{"bad chart name", []string{"analyze", "--tpm", "1000", "--chart", "out.gif", results}, ".png or .svg"},
		{"bad quantile", []string{"analyze", "--tpm", "1000", "--quantile", "2", results}, "--quantile"},
		{"bad config", []string{"analyze", "--config", writeFile(t, "limitz: 1\n"), results}, "limitz"},
		{"missing config", []string{"analyze", "--config", "no-such.yaml", results}, "--config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runCLI(t, tc.args...)
			var ue usageError
			if err == nil || !errors.As(err, &ue) {
				t.Fatalf("analyze %v = %v (%s); want a usage error", tc.args, err, out)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q; want it to name %q", err, tc.want)
			}
		})
	}
}

// writeFile writes text to a new file and returns its path.
func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestIsResultsFile(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		text string
		want bool
	}{
		"out.jsonl":      {`{"path":"a","hash":"sha256:1","status":"done"}` + "\n", true},
		"requests.jsonl": {`{"id":"1","prompt":"hi"}` + "\n", false},
		"empty.jsonl":    {"\n\n", false},
		"out.json":       {`{"hash":"x","status":"done"}`, false},
		"junk.jsonl":     {"not json\n", false},
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(tc.text), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := isResultsFile(p); got != tc.want {
			t.Errorf("isResultsFile(%s) = %v; want %v", name, got, tc.want)
		}
	}
}
