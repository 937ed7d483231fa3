package estimate

import (
	"fmt"
	"sync"

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
// safe for concurrent use afterwards. Count runs a hand-written equivalent of the
// encoding's pre-tokenizing expression and a BPE merge for each word not in the
// vocabulary; it gives tiktoken's counts, allocates almost nothing, and stays linear in the
// text's length on any input (see BenchmarkCount).
type Tokenizer struct {
	name      string // encoding name, as Name reports it
	vocabSize int    // keep only ranks below this; 0 keeps all
	once      sync.Once
	enc       *bpe
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
// over the 60 CUAD contracts listed in testdata/contracts/SOURCE.md the ratio Reference/Base has mean
// 1.219 (standard deviation 0.033, range 1.155–1.358). Anthropic's Claude tokenizers run
// 15–30 % above cl100k_base on English text in the same way.
const ReferenceOffset = 1.219

// cl100kRanks parses the embedded cl100k_base ranks once; both tokenizers read them.
var cl100kRanks = sync.OnceValues(func() (map[string]int, error) {
	return tiktokenloader.NewOfflineLoader().LoadTiktokenBpe(BaseEncoding + ".tiktoken")
})

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
		all, err := cl100kRanks()
		if err != nil {
			t.err = fmt.Errorf("estimate: loading the embedded %s ranks: %w", BaseEncoding, err)
			return
		}
		ranks := all
		if t.vocabSize > 0 {
			ranks = make(map[string]int, t.vocabSize)
			for tok, rank := range all {
				if rank < t.vocabSize {
					ranks[tok] = rank
				}
			}
		}
		// No special tokens: text such as "<|endoftext|>" is counted as the ordinary text
		// it is, so no input can change how the rest is counted.
		t.enc = &bpe{ranks: ranks}
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
	return t.enc.count(text)
}
