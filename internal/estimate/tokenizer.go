package estimate

import (
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/pkoukk/tiktoken-go"
	tiktokenloader "github.com/pkoukk/tiktoken-go-loader"
)

// A Counter counts the tokens of a text. Estimator counts with one, so that tests and the
// emulator can swap tokenizers; *Tokenizer implements it.
type Counter interface {
	// Count returns the number of tokens text encodes to; the empty text has 0.
	Count(text string) int
}

var _ Counter = (*Tokenizer)(nil)

// Tokenizer is an offline byte-pair-encoding (BPE) tokenizer. Its merge ranks are compiled
// into the binary (github.com/pkoukk/tiktoken-go-loader embeds them), so nothing is fetched
// at run time. Each Tokenizer is built once, on first use (tens of milliseconds), and is
// safe for concurrent use afterwards. Count costs one pass of the pre-tokenizing regular
// expression over the text plus a BPE merge for each word not in the vocabulary, roughly
// 5 MB/s (see BenchmarkCount), and stays linear in the text's length on any input.
type Tokenizer struct {
	name      string // encoding name, as Name reports it
	vocabSize int    // keep only ranks below this; 0 keeps all
	once      sync.Once
	enc       *tiktoken.Tiktoken
	err       error
}

// BaseEncoding is the BPE encoding Base counts with: OpenAI's cl100k_base, a vocabulary of
// 100,256 tokens.
const BaseEncoding = "cl100k_base"

// ReferenceVocabulary is the number of cl100k_base ranks Reference keeps: its first 16,000
// (256 single bytes and the first 15,744 merges). A BPE vocabulary cut at a rank is exactly
// the tokenizer its training would have produced had it stopped there, so Reference is a
// real, smaller-vocabulary BPE tokenizer, not a scaled count.
const ReferenceVocabulary = 16_000

// ReferenceOffset is Reference's measured count relative to Base on English legal text:
// over the 60 CUAD contracts in ../shared/data/contracts the ratio Reference/Base has mean
// 1.219 (standard deviation 0.033, range 1.155–1.358). Anthropic's Claude tokenizers run
// 15–30 % above cl100k_base on English text in the same way.
const ReferenceOffset = 1.219

// cl100kPattern is cl100k_base's pre-tokenizing expression, as tiktoken defines it.
const cl100kPattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

var (
	base      = &Tokenizer{name: BaseEncoding}
	reference = &Tokenizer{name: fmt.Sprintf("%s[:%d]", BaseEncoding, ReferenceVocabulary), vocabSize: ReferenceVocabulary}
)

// Base returns the tokenizer Tollgate estimates with: cl100k_base. The first call loads its
// embedded ranks; every call returns the same Tokenizer.
func Base() *Tokenizer {
	base.load()
	return base
}

// Reference returns a second tokenizer whose counts on English text run a stable 15–30 %
// above Base's, the way a Claude tokenizer's do: cl100k_base cut to its first
// ReferenceVocabulary ranks (see ReferenceOffset for the measured ratio). The Bedrock
// emulator reports usage counted with it, so that calibration has a realistic offset to
// learn. It is not the tokenizer of any Bedrock model.
func Reference() *Tokenizer {
	reference.load()
	return reference
}

// load builds the encoding once from the ranks embedded in the binary. An error here means
// a broken build, never bad input.
func (t *Tokenizer) load() {
	t.once.Do(func() {
		ranks, err := tiktokenloader.NewOfflineLoader().LoadTiktokenBpe(BaseEncoding + ".tiktoken")
		if err != nil {
			t.err = fmt.Errorf("estimate: loading the embedded %s ranks: %w", BaseEncoding, err)
			return
		}
		if t.vocabSize > 0 {
			for tok, rank := range ranks {
				if rank >= t.vocabSize {
					delete(ranks, tok)
				}
			}
		}
		// No special tokens: text such as "<|endoftext|>" is counted as the ordinary text
		// it is, so no input can change how the rest is counted.
		core, err := tiktoken.NewCoreBPE(ranks, map[string]int{}, cl100kPattern)
		if err != nil {
			t.err = fmt.Errorf("estimate: building the %s tokenizer: %w", t.name, err)
			return
		}
		t.enc = tiktoken.NewTiktoken(core, nil, nil)
	})
}

// Name returns the tokenizer's encoding name: "cl100k_base" for Base and
// "cl100k_base[:16000]" for Reference.
func (t *Tokenizer) Name() string { return t.name }

// Count returns the number of BPE tokens text encodes to. It is safe for concurrent use.
func (t *Tokenizer) Count(text string) int {
	if text == "" {
		return 0
	}
	t.load()
	if t.err != nil {
		// The ranks are embedded in the binary; only a broken build gets here.
		panic(t.err)
	}
	n := 0
	for text != "" {
		var chunk string
		chunk, text = nextChunk(text)
		n += len(t.enc.EncodeOrdinary(chunk))
	}
	return n
}

// Chunk sizes for Count, in bytes. BPE merging and the pre-tokenizer's backtracking are
// quadratic in the length of one run of similar characters (a megabyte of spaces would
// take minutes), so Count encodes the text in chunks of at most maxChunk bytes.
const (
	minChunk = 1024
	maxChunk = 2048
)

// nextChunk splits text into a chunk to encode and the rest. It cuts where the
// pre-tokenizer always cuts, before a space that follows a non-space and precedes an ASCII
// letter (cl100k_base's pattern starts a word piece there), so ordinary text counts exactly
// as it would whole. A run of maxChunk bytes with no such place (a pathological input) is
// cut at a rune boundary, which can add a token or two per cut.
func nextChunk(text string) (chunk, rest string) {
	if len(text) <= maxChunk {
		return text, ""
	}
	for i := minChunk; i < maxChunk; i++ {
		if text[i] == ' ' && !isSpace(text[i-1]) && isASCIILetter(text[i+1]) {
			return text[:i], text[i:]
		}
	}
	i := maxChunk
	for i > 0 && !utf8.RuneStart(text[i]) {
		i--
	}
	return text[:i], text[i:]
}

func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\v' || b == '\f'
}
func isASCIILetter(b byte) bool { return b|0x20 >= 'a' && b|0x20 <= 'z' }
