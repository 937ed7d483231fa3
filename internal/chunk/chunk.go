package chunk

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// Chunk is one piece of a document.
type Chunk struct {
	// Index is the chunk's position among the chunks of its document, from 0.
	Index int
	// Text is what the chunk holds: the overlap repeated from the previous chunk, if any,
	// then the chunk's own part, text[Start:End]. It is never empty.
	Text string
	// Start and End are the byte offsets in the original text of the chunk's own part
	// (without the overlap). The own parts of consecutive chunks meet: the first starts
	// at 0, each starts where the previous ends, the last ends at len(text).
	Start, End int
	// Heading is the title of the nearest section heading at or before Start (markdown
	// "#" marks removed), "" if none.
	Heading string
}

// Config says how Split sizes chunks.
type Config struct {
	// MaxTokens is the most tokens, as Count counts them, that one chunk's Text may
	// hold, overlap included. It must be positive.
	MaxTokens int
	// OverlapTokens is the most tokens of the previous chunk's end repeated at the start
	// of each chunk after the first (whole paragraphs, else whole lines or sentences).
	// Zero means no overlap; it must be less than MaxTokens/2. A chunk whose own part
	// needs the room gets less overlap, or none.
	OverlapTokens int
	// Count returns the number of tokens in a string, for example
	// estimate.Base().Count. It is required. Split packs by summing the counts of a
	// chunk's parts and then checks the chunk's whole text with Count, giving parts back
	// when the sum undercounted, so the limit holds for counters that are not additive.
	Count func(string) int
}

// validate reports the first thing wrong with cfg.
func (cfg Config) validate() error {
	switch {
	case cfg.Count == nil:
		return errors.New("chunk: Config.Count is required")
	case cfg.MaxTokens <= 0:
		return fmt.Errorf("chunk: Config.MaxTokens is %d, must be positive", cfg.MaxTokens)
	case cfg.OverlapTokens < 0:
		return fmt.Errorf("chunk: Config.OverlapTokens is %d, must not be negative", cfg.OverlapTokens)
	case cfg.OverlapTokens > 0 && 2*cfg.OverlapTokens >= cfg.MaxTokens:
		return fmt.Errorf("chunk: Config.OverlapTokens is %d, must be less than MaxTokens/2 (%d/2)",
			cfg.OverlapTokens, cfg.MaxTokens)
	}
	return nil
}

// Levels of structure, from the strongest boundary to the weakest.
const (
	levelSection   = iota // starts at a heading
	levelParagraph        // starts after a blank line
	levelLine             // starts after a line break
	levelSentence         // starts after a sentence end
	levelCut              // a hard cut, at the longest prefix that fits
)

// unit is a span of the text that Split packs whole, or splits at the next level.
type unit struct {
	start, end int
	level      int // the level whose boundaries made it
	tokens     int // Count of text[start:end], or -1 when not counted yet
	estimate   int // for an uncounted remainder of a hard cut: about how many tokens it holds
}

// Split cuts text into chunks of at most cfg.MaxTokens tokens each, overlap included,
// preferring headings, then paragraphs, lines, sentences and, last, hard cuts (see the
// package documentation). A text that fits in one chunk comes back as exactly one chunk
// equal to the text; an empty text gives no chunks. Split is deterministic, keeps no state
// between calls, and is safe for concurrent use when Count is. A chunk splits a
// multi-byte UTF-8 character only when one character alone counts more than MaxTokens.
// Split returns an error only for an invalid cfg, or when Count says a single byte is
// over MaxTokens.
func Split(text string, cfg Config) ([]Chunk, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if text == "" {
		return nil, nil
	}
	st := analyze(text)
	total := cfg.Count(text)
	if total <= cfg.MaxTokens {
		return []Chunk{{Text: text, End: len(text), Heading: st.headingAt(0)}}, nil
	}
	s := &splitter{text: text, cfg: cfg, st: st}
	// The sections, pushed last first so that they pop in order.
	starts := []int{0}
	for _, h := range st.headings {
		if h.start > 0 {
			starts = append(starts, h.start)
		}
	}
	for i := len(starts) - 1; i >= 0; i-- {
		end := len(text)
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		u := unit{start: starts[i], end: end, level: levelSection, tokens: -1}
		if len(starts) == 1 {
			u.tokens = total
		}
		s.stack = append(s.stack, u)
	}
	if err := s.run(); err != nil {
		return nil, err
	}
	return s.chunks, nil
}

// headingAt returns the title of the last heading that starts at or before offset.
func (st structure) headingAt(offset int) string {
	i := sort.Search(len(st.headings), func(i int) bool { return st.headings[i].start > offset })
	if i == 0 {
		return ""
	}
	return st.headings[i-1].title
}

// splitter holds the state of one Split: the units still to place (a stack, next on
// top) and the chunk being filled.
type splitter struct {
	text   string
	cfg    Config
	st     structure
	stack  []unit
	chunks []Chunk

	// The chunk being filled: its overlap text[ovStart:start] of ovTokens tokens, and its
	// own units, text[start:end], of tokens tokens in all (the sum of their counts).
	ovStart, start, end int
	ovTokens, tokens    int
	units               []unit
}

// run places every unit of the stack, then closes the last chunk.
func (s *splitter) run() error {
	maxT := s.cfg.MaxTokens
	for len(s.stack) > 0 {
		u := s.stack[len(s.stack)-1]
		s.stack = s.stack[:len(s.stack)-1]
		if u.tokens < 0 && u.estimate <= 2*maxT {
			u.tokens = s.cfg.Count(s.text[u.start:u.end])
		}
		if len(s.units) > 0 {
			if u.tokens >= 0 && s.tokens+u.tokens <= maxT-s.ovTokens {
				s.add(u)
				continue
			}
			// The unit does not fit: the chunk ends at its start, the strongest boundary
			// available here.
			s.stack = append(s.stack, u)
			s.close()
			continue
		}
		switch {
		case u.tokens >= 0 && u.tokens <= maxT-s.ovTokens:
			s.add(u)
		case u.tokens >= 0 && u.tokens <= maxT:
			s.setOverlap(min(s.cfg.OverlapTokens, maxT-u.tokens))
			s.add(u)
		default:
			subs, err := s.split(u)
			if err != nil {
				return err
			}
			for i := len(subs) - 1; i >= 0; i-- {
				s.stack = append(s.stack, subs[i])
			}
		}
	}
	if len(s.units) > 0 {
		s.close()
	}
	return nil
}

// add puts u at the end of the chunk being filled.
func (s *splitter) add(u unit) {
	if len(s.units) == 0 {
		s.start = u.start
	}
	s.units = append(s.units, u)
	s.end = u.end
	s.tokens += u.tokens
}

// close finishes the chunk being filled, after checking its whole text with Count: when
// the sum of its parts' counts undercounted it, the overlap goes first, then its last
// units, back on the stack. It then starts the next chunk, with its overlap.
func (s *splitter) close() {
	for s.cfg.Count(s.text[s.ovStart:s.end]) > s.cfg.MaxTokens {
		if s.ovStart < s.start {
			s.ovStart, s.ovTokens = s.start, 0
			continue
		}
		if len(s.units) == 1 {
			break // a single unit's own count was checked when it was added
		}
		last := s.units[len(s.units)-1]
		s.units = s.units[:len(s.units)-1]
		s.stack = append(s.stack, last)
		s.end = last.start
		s.tokens -= last.tokens
	}
	s.chunks = append(s.chunks, Chunk{
		Index:   len(s.chunks),
		Text:    s.text[s.ovStart:s.end],
		Start:   s.start,
		End:     s.end,
		Heading: s.st.headingAt(s.start),
	})
	s.units = s.units[:0]
	s.tokens = 0
	s.start = s.end
	s.ovStart, s.ovTokens = s.start, 0
	if len(s.stack) > 0 {
		s.setOverlap(s.cfg.OverlapTokens)
	}
}

// setOverlap sets the overlap of the (empty) chunk being filled: the longest end of the
// previous chunk's own part, of at most limit tokens and not blank, that starts at a
// paragraph start (or the part's own start), or, when not even the last paragraph fits, at
// a line or sentence start of the last paragraph. It counts one suffix more than it keeps, at each level.
func (s *splitter) setOverlap(limit int) {
	s.ovStart, s.ovTokens = s.start, 0
	if limit <= 0 || len(s.chunks) == 0 {
		return
	}
	prev := s.chunks[len(s.chunks)-1]
	end := prev.End
	// Paragraph (and heading) starts inside the previous chunk, latest first.
	lo := sort.SearchInts(s.st.paras, prev.Start+1)
	hi := sort.SearchInts(s.st.paras, end)
	cands := append(slices.Clone(s.st.paras[lo:hi]), prev.Start)
	slices.Reverse(cands)
	if s.suffix(cands, end, limit) {
		return
	}
	// Not one paragraph fits: lines and sentences of the last paragraph.
	last := prev.Start
	if hi > lo {
		last = s.st.paras[hi-1]
	}
	cands = append(lineStarts(s.text, last, end), sentenceStarts(s.text, last, end)...)
	cands = append(cands, last)
	slices.Sort(cands)
	cands = slices.Compact(cands)
	slices.Reverse(cands)
	s.suffix(cands, end, limit)
}

// suffix extends the overlap to the earliest of cands (latest first, each before end)
// such that text[c:end] holds at most limit tokens, and reports whether it found one.
func (s *splitter) suffix(cands []int, end, limit int) bool {
	found := false
	for _, c := range cands {
		if strings.TrimSpace(s.text[c:end]) == "" {
			continue // a blank overlap repeats nothing
		}
		n := s.cfg.Count(s.text[c:end])
		if n > limit {
			break
		}
		s.ovStart, s.ovTokens, found = c, n, true
	}
	return found
}

// split breaks a unit too large for a chunk of its own into the units of the next level
// that has boundaries inside it; at the last level it cuts the longest prefix that fits the
// chunk being filled (which is empty), and leaves the rest as one uncounted unit.
func (s *splitter) split(u unit) ([]unit, error) {
	for level := u.level + 1; level < levelCut; level++ {
		var cuts []int
		switch level {
		case levelParagraph:
			lo := sort.SearchInts(s.st.paras, u.start+1)
			hi := sort.SearchInts(s.st.paras, u.end)
			cuts = s.st.paras[lo:hi]
		case levelLine:
			cuts = lineStarts(s.text, u.start, u.end)
		case levelSentence:
			cuts = sentenceStarts(s.text, u.start, u.end)
		}
		if len(cuts) == 0 {
			continue
		}
		subs := make([]unit, 0, len(cuts)+1)
		prev := u.start
		for _, c := range append(cuts, u.end) {
			subs = append(subs, unit{start: prev, end: c, level: level, tokens: -1})
			prev = c
		}
		return subs, nil
	}
	return s.cut(u)
}

// cut returns the longest prefix of u, ending on a rune boundary, whose count fits the
// chunk being filled, then the rest of u. It looks for it by doubling a guess (eight
// bytes a token) until the count is over, then by bisection; it moves the cut back to just
// before a space when one lies in the prefix's second half, as a space starts a token. A
// single rune over the budget is cut between its bytes, a last resort for tiny budgets.
func (s *splitter) cut(u unit) ([]unit, error) {
	budget := s.cfg.MaxTokens - s.ovTokens
	count := func(end int) int { return s.cfg.Count(s.text[u.start:end]) }
	lo, hi := u.start, u.end // count(lo) fits (an empty prefix); count(hi) does not
	for guess := 8 * budget; u.start+guess < hi; guess *= 2 {
		if count(u.start+guess) > budget {
			hi = u.start + guess
			break
		}
		lo = u.start + guess
	}
	if hi == u.end && u.tokens < 0 {
		// An uncounted remainder: it may fit whole after all.
		if n := count(u.end); n <= budget {
			u.tokens = n
			return []unit{u}, nil
		}
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if count(mid) <= budget {
			lo = mid
		} else {
			hi = mid
		}
	}
	// Back to a rune boundary, then to a space.
	p := lo
	for p > u.start && !utf8.RuneStart(s.text[p]) {
		p--
	}
	if p == u.start {
		p = lo
	}
	for i := p - 1; i > u.start+(p-u.start)/2; i-- {
		if s.text[i] == ' ' {
			p = i
			break
		}
	}
	if p == u.start {
		if s.cfg.Count(s.text[u.start:u.start+1]) > s.cfg.MaxTokens {
			return nil, fmt.Errorf("chunk: Count says one byte holds more than MaxTokens (%d) tokens", s.cfg.MaxTokens)
		}
		// Only the overlap is in the way: drop it and cut again.
		s.setOverlap(0)
		return s.cut(u)
	}
	head := unit{start: u.start, end: p, level: levelCut, tokens: count(p)}
	rest := unit{start: p, end: u.end, level: levelCut, tokens: -1}
	if u.tokens >= 0 {
		rest.estimate = u.tokens - head.tokens
	} else {
		rest.estimate = u.estimate - head.tokens
	}
	return []unit{head, rest}, nil
}
