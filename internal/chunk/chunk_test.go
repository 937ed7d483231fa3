package chunk

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tollgate-dev/tollgate/internal/estimate"
)

// words counts whitespace-separated words: a counter that makes expected chunks easy to
// read. The property tests use the real tokenizer.
func words(s string) int { return len(strings.Fields(s)) }

// bytesCount counts bytes, for hard cuts at exact places.
func bytesCount(s string) int { return len(s) }

func TestSplit(t *testing.T) {
	tests := []struct {
		name string
		text string
		cfg  Config
		want []Chunk
	}{
		{
			name: "fits in one chunk",
			text: "# Title\n\nShort text.\n",
			cfg:  Config{MaxTokens: 10, Count: words},
			want: []Chunk{{Text: "# Title\n\nShort text.\n", End: 21, Heading: "Title"}},
		},
		{
			name: "sections packed whole",
			text: "# A\n\none two three\n\n# B\n\nfour five six\n\n# C\n\nseven\n",
			cfg:  Config{MaxTokens: 8, Count: words},
			want: []Chunk{
				{Index: 0, Text: "# A\n\none two three\n\n", Start: 0, End: 20, Heading: "A"},
				{Index: 1, Text: "# B\n\nfour five six\n\n# C\n\nseven\n", Start: 20, End: 51, Heading: "B"},
			},
		},
		{
			name: "contract headings",
			text: "Preamble text is here now.\n\nARTICLE 1\nDefinitions apply.\n\nSection 2.1 Fees\nThe fees are due.\n\n3. TERM AND TERMINATION\nIt ends.\n",
			cfg:  Config{MaxTokens: 7, Count: words},
			want: []Chunk{
				{Index: 0, Text: "Preamble text is here now.\n\n", Start: 0, End: 28},
				{Index: 1, Text: "ARTICLE 1\nDefinitions apply.\n\n", Start: 28, End: 58, Heading: "ARTICLE 1"},
				{Index: 2, Text: "Section 2.1 Fees\nThe fees are due.\n\n", Start: 58, End: 94, Heading: "Section 2.1 Fees"},
				{Index: 3, Text: "3. TERM AND TERMINATION\nIt ends.\n", Start: 94, End: 127, Heading: "3. TERM AND TERMINATION"},
			},
		},
		{
			name: "paragraphs",
			text: "one two three\n\nfour five\n\nsix seven eight nine\n",
			cfg:  Config{MaxTokens: 5, Count: words},
			want: []Chunk{
				{Index: 0, Text: "one two three\n\nfour five\n\n", Start: 0, End: 26},
				{Index: 1, Text: "six seven eight nine\n", Start: 26, End: 47},
			},
		},
		{
			name: "a long section starts its own chunk, then paragraphs",
			text: "intro\n\n# Big\n\na b c\n\nd e f\n\n# Small\n\ng\n",
			cfg:  Config{MaxTokens: 6, Count: words},
			want: []Chunk{
				{Index: 0, Text: "intro\n\n", Start: 0, End: 7},
				{Index: 1, Text: "# Big\n\na b c\n\n", Start: 7, End: 21, Heading: "Big"},
				{Index: 2, Text: "d e f\n\n# Small\n\ng\n", Start: 21, End: 39, Heading: "Big"},
			},
		},
		{
			name: "lines",
			text: "a b c\nd e\nf g h\n",
			cfg:  Config{MaxTokens: 4, Count: words},
			want: []Chunk{
				{Index: 0, Text: "a b c\n", Start: 0, End: 6},
				{Index: 1, Text: "d e\n", Start: 6, End: 10},
				{Index: 2, Text: "f g h\n", Start: 10, End: 16},
			},
		},
		{
			name: "sentences",
			text: "One two. Three four five. Six.",
			cfg:  Config{MaxTokens: 3, Count: words},
			want: []Chunk{
				{Index: 0, Text: "One two. ", Start: 0, End: 9},
				{Index: 1, Text: "Three four five. ", Start: 9, End: 26},
				{Index: 2, Text: "Six.", Start: 26, End: 30},
			},
		},
		{
			name: "hard cuts, before a space when there is one",
			text: "abc defghij",
			cfg:  Config{MaxTokens: 4, Count: bytesCount},
			want: []Chunk{
				{Index: 0, Text: "abc", Start: 0, End: 3},
				{Index: 1, Text: " def", Start: 3, End: 7},
				{Index: 2, Text: "ghij", Start: 7, End: 11},
			},
		},
		{
			name: "overlap of whole paragraphs",
			text: "a b\n\nc d\n\ne f\n\ng h\n",
			cfg:  Config{MaxTokens: 5, OverlapTokens: 2, Count: words},
			want: []Chunk{
				{Index: 0, Text: "a b\n\nc d\n\n", Start: 0, End: 10},
				{Index: 1, Text: "c d\n\ne f\n\n", Start: 10, End: 15},
				{Index: 2, Text: "e f\n\ng h\n", Start: 15, End: 19},
			},
		},
		{
			name: "overlap of sentences when no paragraph fits",
			text: "a b c. d e.\n\nf g h i.\n",
			cfg:  Config{MaxTokens: 7, OverlapTokens: 3, Count: words},
			want: []Chunk{
				{Index: 0, Text: "a b c. d e.\n\n", Start: 0, End: 13},
				{Index: 1, Text: "d e.\n\nf g h i.\n", Start: 13, End: 22},
			},
		},
		{
			name: "empty text",
			text: "",
			cfg:  Config{MaxTokens: 1, Count: words},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Split(tt.text, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("Split (-got +want):\n%s", diff)
			}
			checkChunks(t, tt.text, tt.cfg, got)
		})
	}
}

func TestSplitConfigErrors(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{MaxTokens: 10}, "chunk: Config.Count is required"},
		{Config{Count: words}, "chunk: Config.MaxTokens is 0, must be positive"},
		{Config{MaxTokens: 10, OverlapTokens: -1, Count: words}, "chunk: Config.OverlapTokens is -1, must not be negative"},
		{Config{MaxTokens: 10, OverlapTokens: 5, Count: words}, "chunk: Config.OverlapTokens is 5, must be less than MaxTokens/2 (10/2)"},
		{Config{MaxTokens: 1, Count: func(string) int { return 2 }}, "chunk: Count says one byte holds more than MaxTokens (1) tokens"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			_, err := Split("some text", tt.cfg)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Split = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestHeadingTitle(t *testing.T) {
	tests := []struct {
		line      string
		paraStart bool
		want      string // "" for no heading
	}{
		{"# Title\n", false, "Title"},
		{"###### Deep", false, "Deep"},
		{"####### Seven", true, ""}, // too many marks for markdown, and lower case
		{"#hashtag", true, ""},
		{"ARTICLE 5", true, "ARTICLE 5"},
		{"ARTICLE 5", false, ""},
		{"Article V. Definitions", true, "Article V. Definitions"},
		{"ARTICLE I DEFINITIONS", true, "ARTICLE I DEFINITIONS"},
		{"SECTION 3", true, "SECTION 3"},
		{"  Section 3.1 Payment Terms  ", true, "Section 3.1 Payment Terms"},
		{"Section In general", true, ""},
		{"Sections 3 and 4 apply.", true, ""},
		{"5. TERM AND TERMINATION", true, "5. TERM AND TERMINATION"},
		{"5.1 TERM", true, "5.1 TERM"},
		{"5. The term of this Agreement", true, ""},
		{"1. 1.1.", true, ""},
		{"RECITALS", true, "RECITALS"},
		{"AND", true, ""},
		{"WHEREAS the parties agree", true, ""},
		{"IN WITNESS WHEREOF", true, "IN WITNESS WHEREOF"},
		{strings.Repeat("LONG ", 30), true, ""},
	}
	for _, tt := range tests {
		got, ok := headingTitle(tt.line, tt.paraStart)
		if ok != (tt.want != "") || got != tt.want {
			t.Errorf("headingTitle(%q, %v) = %q, %v; want %q", tt.line, tt.paraStart, got, ok, tt.want)
		}
	}
}

// checkChunks checks the guarantees of Split: every chunk non-empty and within
// MaxTokens, indexes in order, own parts tiling the text, each Text the overlap (at most
// OverlapTokens, ending where the own part starts) then the own part, no boundary inside a
// section that fits in a chunk, and the same chunks from a second Split.
func checkChunks(tb testing.TB, text string, cfg Config, chunks []Chunk) {
	tb.Helper()
	if text == "" {
		if len(chunks) != 0 {
			tb.Errorf("Split(\"\") = %d chunks, want none", len(chunks))
		}
		return
	}
	if cfg.Count(text) <= cfg.MaxTokens && (len(chunks) != 1 || chunks[0].Text != text) {
		tb.Errorf("text of %d tokens fits in %d, but Split gave %d chunks", cfg.Count(text), cfg.MaxTokens, len(chunks))
	}
	st := analyze(text)
	fits := map[int]bool{} // by section start
	sectionFits := func(start, end int) bool {
		f, ok := fits[start]
		if !ok {
			f = cfg.Count(text[start:end]) <= cfg.MaxTokens
			fits[start] = f
		}
		return f
	}
	end := 0
	for i, c := range chunks {
		if c.Index != i {
			tb.Errorf("chunk %d has Index %d", i, c.Index)
		}
		if c.Text == "" {
			tb.Errorf("chunk %d is empty", i)
		}
		if n := cfg.Count(c.Text); n > cfg.MaxTokens {
			tb.Errorf("chunk %d holds %d tokens, over MaxTokens %d", i, n, cfg.MaxTokens)
		}
		if c.Start != end || c.End <= c.Start || c.End > len(text) {
			tb.Fatalf("chunk %d spans [%d, %d), want it to start at %d and be non-empty", i, c.Start, c.End, end)
		}
		end = c.End
		ov := len(c.Text) - (c.End - c.Start)
		if ov < 0 || c.Start-ov < 0 || c.Text != text[c.Start-ov:c.End] {
			tb.Fatalf("chunk %d Text is not overlap + text[%d:%d]", i, c.Start, c.End)
		}
		if n := cfg.Count(c.Text[:ov]); n > cfg.OverlapTokens || i == 0 && ov > 0 {
			tb.Errorf("chunk %d overlap holds %d tokens, over OverlapTokens %d", i, n, cfg.OverlapTokens)
		}
		if want := st.headingAt(c.Start); c.Heading != want {
			tb.Errorf("chunk %d Heading = %q, want %q", i, c.Heading, want)
		}
		if i == 0 {
			continue
		}
		// A boundary inside a section means the section did not fit in a chunk.
		hs, he := 0, len(text)
		for _, h := range st.headings {
			if h.start <= c.Start {
				hs = h.start
			} else {
				he = h.start
				break
			}
		}
		if hs < c.Start && sectionFits(hs, he) {
			tb.Errorf("chunk %d starts at %d inside the section [%d, %d), which fits in a chunk", i, c.Start, hs, he)
		}
	}
	if end != len(text) {
		tb.Errorf("chunks end at %d, want %d", end, len(text))
	}
	again, err := Split(text, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if diff := cmp.Diff(again, chunks); diff != "" {
		tb.Errorf("a second Split differs (-second +first):\n%s", diff)
	}
}

// contracts returns the sample contracts' texts, by file name.
func contracts(tb testing.TB) map[string]string {
	tb.Helper()
	paths, err := filepath.Glob("../estimate/testdata/contracts/*.txt")
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no sample contracts: %v", err)
	}
	texts := make(map[string]string, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		texts[filepath.Base(p)] = string(b)
	}
	return texts
}

// configs are the sizes the property tests split with.
var configs = []Config{
	{MaxTokens: 2000, OverlapTokens: 200},
	{MaxTokens: 500, OverlapTokens: 0},
	{MaxTokens: 300, OverlapTokens: 100},
	{MaxTokens: 40, OverlapTokens: 10},
	{MaxTokens: 5, OverlapTokens: 2},
}

func TestSplitContracts(t *testing.T) {
	count := estimate.Base().Count
	for name, text := range contracts(t) {
		for _, cfg := range configs {
			cfg.Count = count
			chunks, err := Split(text, cfg)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			checkChunks(t, text, cfg, chunks)
			if testing.Verbose() && cfg.MaxTokens == 2000 {
				t.Logf("%s: %d chunks of at most %d tokens", name, len(chunks), cfg.MaxTokens)
			}
		}
	}
}

// randomText builds a text from a seeded source: words, punctuation, sentence ends, line
// breaks, blank lines, headings of every kind, non-ASCII letters, and now and then a long
// run without a break.
func randomText(r *rand.Rand, n int) string {
	pieces := []string{
		"the", "party", "shall", "pay", "within", "thirty", "days", "Agreement", "fees", "é", "中文",
		"😀", ",", ".", ". ", "; ", "? ", "\n", "\n\n", "\n\n\n", "  ", "\t", "\r\n",
		"\n\nARTICLE 5\n", "\n\n# Heading\n\n", "\n\nSection 3.1 Payment\n", "\n\n5. TERM AND TERMINATION\n",
		"\n\nRECITALS\n\n", "\"quoted.\" ", "(a) ",
	}
	var b strings.Builder
	for b.Len() < n {
		switch k := r.IntN(100); {
		case k == 0:
			b.WriteString(strings.Repeat("x", r.IntN(3000)))
		case k == 1:
			b.WriteString(strings.Repeat("ab ", r.IntN(1000)))
		default:
			b.WriteString(pieces[r.IntN(len(pieces))])
			b.WriteByte(' ')
		}
	}
	return b.String()
}

func TestSplitRandom(t *testing.T) {
	count := estimate.Base().Count
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 60 {
		text := randomText(r, r.IntN(10000))
		cfg := configs[i%len(configs)]
		cfg.Count = count
		chunks, err := Split(text, cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkChunks(t, text, cfg, chunks)
	}
}

func FuzzSplit(f *testing.F) {
	for _, text := range contracts(f) {
		f.Add(text[:min(len(text), 5000)], uint16(300), uint16(50))
	}
	f.Add("ARTICLE 1\nx\n\n# A\n\nb c. d e\n"+strings.Repeat("y", 500), uint16(7), uint16(2))
	f.Add("é😀中文", uint16(1), uint16(0))
	count := estimate.Base().Count
	f.Fuzz(func(t *testing.T, text string, maxTokens, overlap uint16) {
		cfg := Config{MaxTokens: 1 + int(maxTokens)%3000, Count: count}
		cfg.OverlapTokens = int(overlap) % ((cfg.MaxTokens + 1) / 2)
		if 2*cfg.OverlapTokens >= cfg.MaxTokens {
			cfg.OverlapTokens = 0
		}
		// A hang is a failure too: the fuzzer reports a panic with the input that caused it.
		defer time.AfterFunc(10*time.Second, func() {
			panic(fmt.Sprintf("Split still running after 10s on %d bytes, %+v", len(text), cfg))
		}).Stop()
		chunks, err := Split(text, cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkChunks(t, text, cfg, chunks)
	})
}
