package estimate

import (
	"math"
	"unicode"
	"unicode/utf8"
)

// bpe counts tokens the way tiktoken's cl100k_base encodes text, without building the
// tokens: a hand-written pre-tokenizer equivalent to cl100k_base's regular expression
// (tested against tiktoken-go, the reference implementation, on the test contracts and by
// a differential fuzz test) splits the text into pieces, and each piece not in the
// vocabulary is merged by byte-pair ranks. Substrings index the rank map directly, so
// counting allocates only a small merge buffer per call. It is safe for concurrent use.
type bpe struct {
	ranks map[string]int
}

// maxPiece bounds the length in bytes of one piece handed to the merge, which is quadratic
// in it. Pieces of ordinary text are a few bytes; a longer one (a run of a megabyte of
// letters or spaces, only ever seen in hostile input) is merged in maxPiece-byte parts,
// which can add a token per part but keeps Count linear in the text's length.
const maxPiece = 1024

// count returns the number of tokens text encodes to.
func (b *bpe) count(text string) int {
	var parts []mergePart
	n := 0
	for i := 0; i < len(text); {
		j := nextPiece(text, i)
		for piece := text[i:j]; piece != ""; {
			k := len(piece)
			if k > maxPiece {
				k = maxPiece
				for k > 0 && !utf8.RuneStart(piece[k]) {
					k--
				}
			}
			var c int
			c, parts = b.pieceTokens(piece[:k], parts)
			n += c
			piece = piece[k:]
		}
		i = j
	}
	return n
}

// mergePart is one part of a piece being merged: where it starts, and the rank of the
// token it would form merged with the next part (math.MaxInt: none).
type mergePart struct{ start, rank int }

// pieceTokens returns the number of tokens of one piece: 1 when the piece is a token,
// else the number of parts left when no adjacent pair forms a token, merging at each step
// the pair of lowest rank (the leftmost on ties), as tiktoken's byte_pair_merge does.
func (b *bpe) pieceTokens(piece string, parts []mergePart) (int, []mergePart) {
	if len(piece) <= 1 {
		return len(piece), parts
	}
	if _, ok := b.ranks[piece]; ok {
		return 1, parts
	}
	parts = parts[:0]
	for i := 0; i <= len(piece); i++ {
		parts = append(parts, mergePart{i, math.MaxInt})
	}
	// rank returns the rank of the token spanning parts i … i+skip+1, or MaxInt.
	rank := func(i, skip int) int {
		if i+skip+2 < len(parts) {
			if r, ok := b.ranks[piece[parts[i].start:parts[i+skip+2].start]]; ok {
				return r
			}
		}
		return math.MaxInt
	}
	for i := 0; i < len(parts)-2; i++ {
		parts[i].rank = rank(i, 0)
	}
	for len(parts) > 1 {
		minRank, minIdx := math.MaxInt, -1
		for i := 0; i < len(parts)-1; i++ {
			if parts[i].rank < minRank {
				minRank, minIdx = parts[i].rank, i
			}
		}
		if minIdx < 0 {
			break
		}
		i := minIdx
		parts[i].rank = rank(i, 1)
		if i > 0 {
			parts[i-1].rank = rank(i-1, 1)
		}
		parts = append(parts[:i+1], parts[i+2:]...)
	}
	return len(parts) - 1, parts
}

// nextPiece returns the end of the piece that starts at text[i:], following cl100k_base's
// pre-tokenizing expression, whose alternatives are tried in order:
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)     contractions
//	[^\r\n\p{L}\p{N}]?\p{L}+          a word, with one leading non-letter (often a space)
//	\p{N}{1,3}                        up to three digits
//	 ?[^\s\p{L}\p{N}]+[\r\n]*         punctuation, with one leading space, then newlines
//	\s*[\r\n]+                        whitespace up to its last newline
//	\s+(?!\S)                         whitespace but the last before a non-space
//	\s+                               whitespace
//
// \s is unicode.IsSpace, \p{L} unicode.IsLetter and \p{N} unicode.IsNumber, as in regexp2,
// the engine tiktoken-go runs the expression with. i < len(text); the result is > i.
func nextPiece(text string, i int) int {
	r0, s0 := utf8.DecodeRuneInString(text[i:])
	if r0 == '\'' {
		if n := contraction(text[i+1:]); n > 0 {
			return i + 1 + n
		}
	}
	if unicode.IsLetter(r0) {
		return scan(text, i, unicode.IsLetter, -1)
	}
	if r0 != '\r' && r0 != '\n' && !unicode.IsNumber(r0) && i+s0 < len(text) {
		if r1, _ := utf8.DecodeRuneInString(text[i+s0:]); unicode.IsLetter(r1) {
			return scan(text, i+s0, unicode.IsLetter, -1)
		}
	}
	if unicode.IsNumber(r0) {
		return scan(text, i, unicode.IsNumber, 3)
	}
	k := i
	if r0 == ' ' {
		k = i + 1
	}
	if k < len(text) {
		if rk, _ := utf8.DecodeRuneInString(text[k:]); isOther(rk) {
			return scan(text, scan(text, k, isOther, -1), isNewline, -1)
		}
	}
	// Whitespace (r0 is whitespace here: every other rune matched above).
	end, lastNL, lastStart := i, -1, i
	for end < len(text) {
		r, s := utf8.DecodeRuneInString(text[end:])
		if !unicode.IsSpace(r) {
			break
		}
		lastStart = end
		end += s
		if r == '\r' || r == '\n' {
			lastNL = end
		}
	}
	switch {
	case lastNL > 0: // \s*[\r\n]+
		return lastNL
	case end == len(text), lastStart == i: // \s+(?!\S) at the end of the text, or \s+
		return end
	default: // \s+(?!\S): all but the last whitespace rune
		return lastStart
	}
}

// scan returns the end of the run of runes satisfying in that starts at text[i:], at most
// limit runes long (no limit when negative).
func scan(text string, i int, in func(rune) bool, limit int) int {
	for n := 0; i < len(text) && n != limit; n++ {
		r, s := utf8.DecodeRuneInString(text[i:])
		if !in(r) {
			break
		}
		i += s
	}
	return i
}

// contraction returns the length of the contraction suffix ('s, 't, 're, 've, 'm, 'll,
// 'd, any case) that text (what follows the apostrophe) starts with, or 0.
func contraction(text string) int {
	for _, c := range [...]string{"s", "t", "re", "ve", "m", "ll", "d"} {
		if len(text) >= len(c) && asciiFoldEqual(text[:len(c)], c) {
			return len(c)
		}
	}
	return 0
}

// asciiFoldEqual reports whether s equals the lower-case ASCII word lower, ignoring case.
func asciiFoldEqual(s, lower string) bool {
	for i := 0; i < len(lower); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func isOther(r rune) bool   { return !unicode.IsSpace(r) && !unicode.IsLetter(r) && !unicode.IsNumber(r) }
func isNewline(r rune) bool { return r == '\r' || r == '\n' }
