package estimate

import (
	"bytes"
	"image"
	"image/png"
	"testing"
)

func newEstimator(tb testing.TB, cfg Config) *Estimator {
	tb.Helper()
	e, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

func TestImageTokens(t *testing.T) {
	// Examples from Anthropic's vision guide ("Calculate image costs"): 200×200 ≈ 54,
	// 1000×1000 ≈ 1334, 1092×1092 ≈ 1590 tokens.
	tests := []struct{ w, h, want int }{
		{200, 200, 54},
		{1000, 1000, 1334},
		{1092, 1092, 1590},
		{784, 1568, 1600},  // 1,639 by the formula, capped at ~1,600
		{3136, 1568, 1600}, // scaled to 1568×784 first
		{1568, 100, 210},   // long edge at the limit: not scaled
		{0, 100, MaxImageTokens},
	}
	for _, tt := range tests {
		if got := ImageTokens(tt.w, tt.h); got != tt.want {
			t.Errorf("ImageTokens(%d, %d) = %d, want %d", tt.w, tt.h, got, tt.want)
		}
	}
}

func pngBytes(tb testing.TB, w, h int) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func TestInputParts(t *testing.T) {
	e := newEstimator(t, Config{})
	count := Base().Count
	system := "You are terse."
	question := "What does clause 4 say?"
	schema := `{"type":"object","properties":{"clause":{"type":"integer"}}}`
	pdf := []byte("%PDF-1.4\n1 0 obj <</Type /Pages /Count 2>>\n2 0 obj <</Type /Page>>\n3 0 obj <</Type/Page>>\n")
	req := &Request{
		System: []Block{{Kind: Text, Text: system}, {Kind: CachePoint}},
		Tools:  []Tool{{Name: "lookup", Description: "Finds a clause.", Schema: schema}},
		Messages: []Message{
			{Role: "user", Content: []Block{
				{Kind: Text, Text: question},
				{Kind: Image, Image: &ImageSrc{Format: "png", Data: pngBytes(t, 1000, 1000)}},
				{Kind: Document, Document: &DocSrc{Format: "pdf", Name: "deal", Data: pdf}},
			}},
			{Role: "assistant", Content: []Block{{Kind: ToolUse, Name: "lookup", Text: `{"clause":4}`}}},
			{Role: "user", Content: []Block{{Kind: ToolResult, Content: []Block{{Kind: Text, Text: "Payment is due in 30 days."}}}}},
		},
	}
	got := e.Input("m", req)
	wantCounted := count(system) + count("lookup") + count("Finds a clause.") + count(schema) +
		count(question) + count("deal") + count("lookup") + count(`{"clause":4}`) + count("Payment is due in 30 days.")
	wantFixed := DefaultToolPromptTokens + 1334 + 2*DefaultPDFPageTokens + 3*DefaultMessageTokens
	if got.Counted != wantCounted || got.Fixed != wantFixed || got.Tokens != wantCounted+wantFixed || got.Factor != 1 {
		t.Errorf("Input = %+v, want Counted %d, Fixed %d, Tokens %d, Factor 1", got, wantCounted, wantFixed, wantCounted+wantFixed)
	}
	wantCache := count("lookup") + count("Finds a clause.") + count(schema) + count(system) + DefaultToolPromptTokens
	if got.Cacheable != wantCache {
		t.Errorf("Cacheable = %d, want %d (tools and system)", got.Cacheable, wantCache)
	}
}

func TestInputCalibratedAndDocuments(t *testing.T) {
	cal := newCalibrator(t, CalibratorConfig{})
	cal.Observe(t0, "m", 1000, 1500)
	e := newEstimator(t, Config{Calibrator: cal, MessageTokens: 1})
	text := "The term of this Agreement is five years."
	req := &Request{Messages: []Message{{Role: "user", Content: []Block{
		{Kind: Document, Document: &DocSrc{Format: "csv", Data: []byte(text)}},
		{Kind: Document, Document: &DocSrc{Format: "docx", Data: make([]byte, 401)}},
	}}}}
	got := e.Input("m", req)
	n := Base().Count(text)
	if want := (n*3+1)/2 + 1 + 101; got.Counted != n || got.Tokens != want {
		t.Errorf("Input = %+v, want Counted %d and Tokens ceil(%d×1.5)+1+101 = %d", got, n, n, want)
	}
	if e.Input("m", &Request{}).Tokens != 0 {
		t.Error("the empty request costs tokens")
	}
}

func TestNewRejectsNegativeOverheads(t *testing.T) {
	for _, cfg := range []Config{{MessageTokens: -1}, {ToolPromptTokens: -1}, {PDFPageTokens: -1}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", cfg)
		}
	}
}
