package chart_test

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/analyze"
	"github.com/tollgate-dev/tollgate/internal/analyze/chart"
	"github.com/tollgate-dev/tollgate/quota"
)

// report analyses 60 contract-sized calls with max_tokens unset on Claude Sonnet 4 under
// 200,000 tokens per minute and 50 requests per minute.
func report(t testing.TB) *analyze.Report {
	t.Helper()
	m, ok := catalog.Default().Model("anthropic.claude-sonnet-4-20250514-v1:0")
	if !ok {
		t.Fatal("no Sonnet 4 in the catalog")
	}
	var w analyze.Workload
	for i := range 60 {
		p := quota.Normal
		if i%4 == 0 {
			p = quota.High
		}
		w.Requests = append(w.Requests, analyze.Request{Name: "contracts/c" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ".txt",
			Priority: p, InputTokens: 3000 + 150*i, OutputTokens: 400 + 10*(i%30)})
	}
	w.Source = "folder contracts"
	r, err := analyze.New(analyze.Config{Model: m, ModelID: "us." + m.ID, Workload: w, Limits: []quota.Limit{
		{Dimension: quota.Tokens, Amount: 200_000, Per: time.Minute},
		{Dimension: quota.Tokens, Amount: 288_000_000, Per: 24 * time.Hour},
		{Dimension: quota.Requests, Amount: 50, Per: time.Minute},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestWritePNG(t *testing.T) {
	r := report(t)
	path := filepath.Join(t.TempDir(), "analysis.png")
	if dir := os.Getenv("TOLLGATE_CHART_DIR"); dir != "" {
		path = filepath.Join(dir, "analysis.png")
	}
	if err := chart.WriteFile(path, r); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if got := img.Bounds().Size(); got.X != 1152 || got.Y != 480 {
		t.Errorf("PNG is %v pixels; want 1152×480", got)
	}
	if len(b) < 10_000 || len(b) > 1_000_000 {
		t.Errorf("PNG has %d bytes; want a drawing of sensible size", len(b))
	}
}

func TestWriteSVG(t *testing.T) {
	var buf bytes.Buffer
	if err := chart.Write(&buf, "svg", report(t)); err != nil {
		t.Fatal(err)
	}
	s := buf.String()
	for _, want := range []string{"<svg", "</svg>", "tokens per minute", "max_tokens", "recommended"} {
		if !strings.Contains(s, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct{ path, want string }{{"a.png", "png"}, {"b.SVG", "svg"}, {"c.jpg", ""}, {"d", ""}} {
		got, err := chart.Format(tc.path)
		if got != tc.want || (err != nil) != (tc.want == "") {
			t.Errorf("Format(%q) = %q, %v; want %q", tc.path, got, err, tc.want)
		}
	}
	if err := chart.WriteFile(filepath.Join(t.TempDir(), "x.gif"), report(t)); err == nil || !strings.Contains(err.Error(), ".png or .svg") {
		t.Errorf("WriteFile(.gif) = %v; want an error naming .png or .svg", err)
	}
}
