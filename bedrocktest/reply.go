package bedrocktest

import (
	"hash"
	"hash/fnv"
	"strings"
	"sync"
	"time"
)

// imageTokens is what an image or video block counts as input: about what Claude charges
// for an image of 1.15 megapixels (width × height / 750). Documents, tool use and tool
// results count as the tokens of their JSON.
const imageTokens = 1600

// prompt is what the emulator knows of a request's input.
type prompt struct {
	tokens       int    // every input token, cached ones included
	prefixTokens int    // tokens up to the last cache point; 0 when there is none
	prefixHash   uint64 // hash of that prefix
	seed         uint64 // hash of the whole prompt
}

// promptBuilder counts a prompt's parts in order and notes cache points.
type promptBuilder struct {
	counter tokenCounter
	h       hash.Hash64
	p       prompt
}

func newPromptBuilder(c tokenCounter) *promptBuilder {
	return &promptBuilder{counter: c, h: fnv.New64a()}
}

func (b *promptBuilder) text(s string) {
	b.p.tokens += b.counter.Count(s)
	b.h.Write([]byte(s))
}

// raw adds a non-text block: images and videos count imageTokens, the rest their JSON.
func (b *promptBuilder) raw(kind string, raw []byte) {
	if len(raw) == 0 {
		return
	}
	if kind == "image" || kind == "video" {
		b.p.tokens += imageTokens
	} else {
		b.p.tokens += b.counter.Count(string(raw))
	}
	b.h.Write(raw)
}

func (b *promptBuilder) cachePoint() {
	b.p.prefixTokens = b.p.tokens
	b.p.prefixHash = b.h.Sum64()
}

func (b *promptBuilder) done() prompt {
	b.p.seed = b.h.Sum64()
	return b.p
}

// promptCache remembers cached prompt prefixes until they expire, in emulated time. A
// prefix is cached per account and model: the first call writes it, later calls within
// the TTL read it (and each read extends it, as Bedrock's cache does).
type promptCache struct {
	ttl     time.Duration
	mu      sync.Mutex
	expires map[cacheKey]time.Time
}

type cacheKey struct {
	account, model string
	hash           uint64
}

// peek returns how many of p's tokens would be read from the cache and how many written
// to it at now.
func (c *promptCache) peek(now time.Time, account, model string, p prompt) (read, write int) {
	if p.prefixTokens == 0 {
		return 0, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Before(c.expires[cacheKey{account, model, p.prefixHash}]) {
		return p.prefixTokens, 0
	}
	return 0, p.prefixTokens
}

// store records p's prefix as cached until now + ttl.
func (c *promptCache) store(now time.Time, account, model string, p prompt) {
	if p.prefixTokens == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expires == nil {
		c.expires = make(map[cacheKey]time.Time)
	}
	c.expires[cacheKey{account, model, p.prefixHash}] = now.Add(c.ttl)
	if len(c.expires) > 4096 { // drop expired entries now and then
		for k, t := range c.expires {
			if !now.Before(t) {
				delete(c.expires, k)
			}
		}
	}
}

func (c *promptCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expires = nil
}

// replyWords are common English words that each encode to one BPE token after a space.
var replyWords = [...]string{"the", "of", "and", "to", "in", "is", "that", "for", "it", "as",
	"with", "was", "on", "be", "by", "this", "are", "or", "at", "from", "which", "an", "but",
	"not", "have", "all", "one", "they", "has", "were", "more", "their", "will", "can", "also"}

// replyText returns deterministic text of n words (n tokens) drawn from seed.
func replyText(seed uint64, n int) string {
	var b strings.Builder
	b.Grow(n * 5)
	x := seed | 1
	for i := range n {
		x ^= x << 13 // xorshift64
		x ^= x >> 7
		x ^= x << 17
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(replyWords[x%uint64(len(replyWords))])
	}
	return b.String()
}

// splitWords splits text into pieces of at most per words, each but the first starting
// with its separating space, so that the pieces concatenate back to text.
func splitWords(text string, per int) []string {
	var out []string
	count, start := 0, 0
	for i := 0; i < len(text); i++ {
		if text[i] != ' ' {
			continue
		}
		count++
		if count == per {
			out = append(out, text[start:i])
			start, count = i, 0
		}
	}
	return append(out, text[start:])
}

// tokenCounter is the type of Options.Counter.
type tokenCounter = interface{ Count(text string) int }
