package estimate

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// contractRequests returns one summarisation request per contract, in file-name order,
// from testdata/contracts or from the folder named by $TOLLGATE_CONTRACTS (e.g. the full
// 60-contract CUAD set that testdata/contracts/SOURCE.md lists).
func contractRequests(tb testing.TB) (names []string, reqs []*Request) {
	tb.Helper()
	dir := "testdata/contracts"
	if d := os.Getenv("TOLLGATE_CONTRACTS"); d != "" {
		dir = d
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil || len(files) < 20 {
		tb.Fatalf("want at least 20 contracts in %s, found %d (err %v)", dir, len(files), err)
	}
	slices.Sort(files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".txt"))
		reqs = append(reqs, &Request{
			System: []Block{{Kind: Text, Text: "You are a careful contract analyst. Answer in plain English."}},
			Messages: []Message{{Role: "user", Content: []Block{
				{Kind: Text, Text: "List each party's obligations, the term and the termination clauses of this contract:\n\n"},
				{Kind: Document, Document: &DocSrc{Format: "txt", Name: "contract", Data: data}},
			}}},
			MaxTokens: 1024,
		})
	}
	return names, reqs
}

// TestCalibrationAccuracy plays the contracts as calls to one model whose service counts
// tokens with Reference (a tokenizer 15–30 % above Base, like Claude's), settling each call
// with the reported count. It measures each call's error before the call is observed, so
// every figure is out of sample. Run with -v to print the table in docs/estimation.md.
func TestCalibrationAccuracy(t *testing.T) {
	names, reqs := contractRequests(t)
	const model = "anthropic.claude-sonnet-4-20250514-v1:0"
	service, err := New(Config{Counter: Reference()})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	cal, err := NewCalibrator(CalibratorConfig{HalfLife: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	est, err := New(Config{Calibrator: cal})
	if err != nil {
		t.Fatal(err)
	}

	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	var rawErr, calErr []float64
	t.Logf("%4s  %-42s %9s %9s %7s %9s %7s %6s", "call", "contract", "reported", "base", "err", "calib.", "err", "factor")
	for i, r := range reqs {
		reported := service.Input(model, r).Tokens
		in := est.Input(model, r)
		base := raw.Input(model, r).Tokens
		re := math.Abs(float64(base-reported)) / float64(reported)
		ce := math.Abs(float64(in.Tokens-reported)) / float64(reported)
		rawErr, calErr = append(rawErr, re), append(calErr, ce)
		t.Logf("%4d  %-42.42s %9d %9d %6.1f%% %9d %6.1f%% %6.3f", i+1, names[i], reported, base, 100*re, in.Tokens, 100*ce, in.Factor)
		est.Observe(now, model, in, reported)
		now = now.Add(30 * time.Second)
	}
	n := len(reqs)
	uncal := mean(rawErr)
	after1, after5, after10 := mean(calErr[1:]), mean(calErr[5:]), mean(calErr[10:])
	t.Logf("mean absolute percentage error, uncalibrated (all %d calls): %.1f%%", n, 100*uncal)
	t.Logf("calibrated, calls 2–%d (after 1 settled call): %.2f%%", n, 100*after1)
	t.Logf("calibrated, calls 6–%d (after 5 settled calls): %.2f%%", n, 100*after5)
	t.Logf("calibrated, calls 11–%d (after 10 settled calls): %.2f%%", n, 100*after10)
	t.Logf("final factor %.3f (Reference/Base measured offset %.3f)", cal.Factor(model), ReferenceOffset)

	if uncal < 0.15 || uncal > 0.30 {
		t.Errorf("uncalibrated error %.1f%%, want within 15–30%%: the reference counter no longer differs from the base as a Claude tokenizer does", 100*uncal)
	}
	if after10 >= 0.03 {
		t.Errorf("calibrated error after 10 settled calls %.2f%%, want below 3%%", 100*after10)
	}
	if after1 >= uncal/2 {
		t.Errorf("calibrated error after 1 settled call %.2f%%, want well below the uncalibrated %.1f%%", 100*after1, 100*uncal)
	}
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// ExampleEstimator shows a request estimated, settled and estimated again.
func ExampleEstimator() {
	cal, _ := NewCalibrator(CalibratorConfig{})
	e, _ := New(Config{Calibrator: cal})
	req := &Request{Messages: []Message{{Role: "user", Content: []Block{{Kind: Text, Text: strings.Repeat("The Supplier shall deliver the Goods. ", 20)}}}}}
	in := e.Input("claude", req)
	fmt.Println(in.Counted, in.Fixed, in.Tokens)
	// The service reported 20 % more input tokens than estimated.
	e.Observe(time.Unix(0, 0), "claude", in, in.Fixed+in.Counted*6/5)
	fmt.Println(e.Input("claude", req).Tokens)
	// Output:
	// 141 4 145
	// 173
}
