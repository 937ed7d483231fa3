package estimate

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/pkoukk/tiktoken-go"
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

func TestReferenceOffsetOnTestContracts(t *testing.T) {
	// ReferenceOffset was measured on all 60 contracts; the 20 kept here must agree with it.
	files, err := filepath.Glob("testdata/contracts/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no contracts: %v", err)
	}
	var sum float64
	for _, f := range files {
		text := readContract(t, filepath.Base(f))
		sum += float64(Reference().Count(text)) / float64(Base().Count(text))
	}
	if mean := sum / float64(len(files)); mean < ReferenceOffset-0.02 || mean > ReferenceOffset+0.02 {
		t.Errorf("mean Reference/Base over %d contracts = %.3f, want ReferenceOffset %.3f ± 0.02", len(files), mean, ReferenceOffset)
	} else {
		t.Logf("mean Reference/Base over %d contracts = %.3f", len(files), mean)
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

// cl100kPattern is cl100k_base's pre-tokenizing expression, as tiktoken defines it.
const cl100kPattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

// oracle returns tiktoken-go's encoder (the reference implementation of tiktoken in Go)
// over the same ranks as tok, to check Count against.
func oracle(tb testing.TB, tok *Tokenizer) *tiktoken.Tiktoken {
	tb.Helper()
	core, err := tiktoken.NewCoreBPE(tok.enc.ranks, map[string]int{}, cl100kPattern)
	if err != nil {
		tb.Fatal(err)
	}
	return tiktoken.NewTiktoken(core, nil, nil)
}

// mixedText exercises every branch of the pre-tokenizer.
var mixedText = []string{
	"Hello world", "It's they'RE we'Ve I'm you'll he'd 'tis 'x", "\tTabbed\u00a0word ", "12345 678,9",
	"a  b   c\n\n  d \r\n\te", "  leading and trailing  ", "«Œuvre» — naïve café, Straße", "数据 データ 데이터",
	"emoji 🙂🙂 and ✓ marks", "x\u0301y combining", "...!!!\n\n???", " (see §4.2(b))\n", "٣٤٥ Ⅻ ½",
	"line\u2028sep\u3000wide", "'", " ", "\n", "A", "'S", "\u0085next",
}

func TestCountMatchesTiktoken(t *testing.T) {
	files, err := filepath.Glob("testdata/contracts/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no contracts: %v", err)
	}
	for _, tok := range []*Tokenizer{Base(), Reference()} {
		want := oracle(t, tok)
		texts := append([]string(nil), mixedText...)
		for _, f := range files {
			texts = append(texts, readContract(t, filepath.Base(f)))
		}
		for _, text := range texts {
			if got, want := tok.Count(text), len(want.EncodeOrdinary(text)); got != want {
				t.Errorf("%s: Count(%.40q…) = %d, tiktoken-go = %d", tok.Name(), text, got, want)
			}
		}
	}
}

// FuzzCountMatchesTiktoken checks Count against tiktoken-go on any valid UTF-8 text short
// (up to 256 bytes: longer inputs make the oracle's regexp engine backtrack for minutes).
func FuzzCountMatchesTiktoken(f *testing.F) {
	for _, s := range mixedText {
		f.Add(s)
	}
	tok := Base()
	want := oracle(f, tok)
	f.Fuzz(func(t *testing.T, text string) {
		if !utf8.ValidString(text) || len(text) > 256 { // the oracle backtracks badly on long runs
			t.Skip()
		}
		if got, want := tok.Count(text), len(want.EncodeOrdinary(text)); got != want {
			t.Errorf("Count(%q) = %d, tiktoken-go = %d", text, got, want)
		}
	})
}

func TestCountSplitsLongPieces(t *testing.T) {
	// A run with no piece boundary (here 50 KB of one letter, of one accented letter, of
	// punctuation) is merged in maxPiece-byte parts: the count is the sum of the parts'
	// counts, and the time linear (whole, such a run took seconds).
	for _, unit := range []string{"a", "é", "!"} {
		s := strings.Repeat(unit, 50_000/len(unit))
		part := strings.Repeat(unit, maxPiece/len(unit))
		want := (len(s)/len(part))*Base().Count(part) + Base().Count(s[len(s)/len(part)*len(part):])
		if got := Base().Count(s); got != want {
			t.Errorf("Count(%q × %d) = %d, want %d (the sum of its %d-byte parts)", unit, len(s)/len(unit), got, want, maxPiece)
		}
	}
	// Whitespace runs, with and without newlines, and long digit runs stay linear too.
	for _, s := range []string{strings.Repeat(" \n", 25_000), strings.Repeat(" \t", 25_000), strings.Repeat("1", 50_000)} {
		if n := Base().Count(s); n < len(s)/maxPiece {
			t.Errorf("Count of %q… = %d, want at least %d", s[:4], n, len(s)/maxPiece)
		}
	}
}
