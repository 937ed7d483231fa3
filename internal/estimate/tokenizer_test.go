package estimate

import (
	"os"
	"strings"
	"sync"
	"testing"
)

func TestBaseCountsLikeTiktoken(t *testing.T) {
	// Expected counts are cl100k_base's, as OpenAI's tiktoken reports them
	// (tiktoken.get_encoding("cl100k_base").encode(text)); "tiktoken is great!" is the
	// example in tiktoken's README.
	tests := []struct {
		text string
		want int
	}{
		{"", 0},
		{"hello world", 2},
		{"tiktoken is great!", 6},
		{"<|endoftext|>", 7}, // a special-token marker is ordinary text here
	}
	for _, tt := range tests {
		if got := Base().Count(tt.text); got != tt.want {
			t.Errorf("Base().Count(%q) = %d, want %d", tt.text, got, tt.want)
		}
	}
}

func TestReferenceCountsMore(t *testing.T) {
	text := readContract(t, "UAGHINC_04_14_2004-EX-10.18-MAINTENANCE_AGREEMENT.txt")
	b, r := Base().Count(text), Reference().Count(text)
	ratio := float64(r) / float64(b)
	if ratio < 1.15 || ratio > 1.30 {
		t.Errorf("Reference/Base = %d/%d = %.3f, want within 1.15–1.30", r, b, ratio)
	}
	if Base().Name() == Reference().Name() {
		t.Errorf("Base and Reference share the name %q", Base().Name())
	}
}

func TestCountConcurrent(t *testing.T) {
	text := strings.Repeat("The Licensee shall indemnify the Licensor. ", 50)
	want := Base().Count(text)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if got := Base().Count(text); got != want {
				t.Errorf("concurrent Count = %d, want %d", got, want)
			}
		})
	}
	wg.Wait()
}

// readContract returns a contract from testdata/contracts.
func readContract(tb testing.TB, name string) string {
	tb.Helper()
	data, err := os.ReadFile("testdata/contracts/" + name)
	if err != nil {
		tb.Fatalf("reading contract: %v", err)
	}
	return string(data)
}

func TestCountChunkingIsExact(t *testing.T) {
	// Counting a contract whole (one EncodeOrdinary call) and in Count's chunks must agree.
	text := readContract(t, "BIOAMBERINC_04_10_2013-EX-10.34-DEVELOPMENT_AGREEMENT_1.txt")
	for _, tok := range []*Tokenizer{Base(), Reference()} {
		if got, want := tok.Count(text), len(tok.enc.EncodeOrdinary(text)); got != want {
			t.Errorf("%s: Count = %d, whole-text encoding = %d", tok.Name(), got, want)
		}
	}
}

func TestCountPathologicalInputIsFast(t *testing.T) {
	// Long runs without word boundaries are quadratic for BPE and the pre-tokenizer; Count
	// cuts them. 200 KB of each must count quickly even under -race (whole, " \n"×40000
	// alone took 2.6 s without chunking).
	for _, s := range []string{strings.Repeat(" \n", 100_000), strings.Repeat("a", 200_000), strings.Repeat("é", 100_000)} {
		if n := Base().Count(s); n <= 0 {
			t.Errorf("Count of %q… = %d, want positive", s[:4], n)
		}
	}
}
