package chunk

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxHeadingBytes is the longest line, trimmed, that can be a heading.
const maxHeadingBytes = 100

// structure is what Split knows of a text's layout before packing it: where its headings
// and paragraphs start.
type structure struct {
	headings []heading // in text order
	paras    []int     // the start of every paragraph after the first, in text order
}

// heading is a heading line: where it starts and its text.
type heading struct {
	start int
	title string
}

// analyze finds the headings and paragraph starts of text in one pass over its lines. A
// paragraph starts at a non-blank line that follows a blank one (only whitespace); the
// blank lines belong to the paragraph before. Markdown headings count anywhere; the other
// kinds (see headingTitle) only at the start of a paragraph or of the text, so that a
// hard-wrapped line that happens to begin "Section 3" mid-paragraph is not one.
func analyze(text string) structure {
	var st structure
	prevBlank := true // the start of the text counts as following a blank line
	for start := 0; start < len(text); {
		end := strings.IndexByte(text[start:], '\n') + 1
		if end == 0 {
			end = len(text) - start
		}
		line := text[start : start+end]
		blank := strings.TrimSpace(line) == ""
		if !blank {
			if prevBlank && start > 0 {
				st.paras = append(st.paras, start)
			}
			if title, ok := headingTitle(line, prevBlank); ok {
				st.headings = append(st.headings, heading{start, title})
			}
		}
		prevBlank = blank
		start += end
	}
	return st
}

// headingTitle reports whether line is a heading and returns its title (the trimmed line,
// markdown's "#" marks removed). Headings are at most maxHeadingBytes long and are one of:
//
//   - a markdown heading: one to six "#", a space, text;
//   - and, only where paraStart is true:
//   - "ARTICLE", "Article", "SECTION" or "Section", then an arabic (5, 3.1) or upper-case
//     roman (V) number, then nothing or punctuation or space;
//   - a number (5, 5.1, 5.) followed by text without lower-case letters
//     ("5. TERM AND TERMINATION");
//   - a line with at least four letters and no lower-case letter ("RECITALS").
func headingTitle(line string, paraStart bool) (string, bool) {
	t := strings.TrimSpace(line)
	if t == "" || len(t) > maxHeadingBytes {
		return "", false
	}
	if h := strings.TrimLeft(t, "#"); len(t)-len(h) >= 1 && len(t)-len(h) <= 6 {
		if rest := strings.TrimSpace(h); rest != "" && (h[0] == ' ' || h[0] == '\t') {
			return rest, true
		}
		return "", false
	}
	if !paraStart {
		return "", false
	}
	word, rest, _ := strings.Cut(t, " ")
	switch word {
	case "ARTICLE", "Article", "SECTION", "Section":
		num := strings.TrimLeft(rest, " \t")
		n := numberLen(num)
		if n == 0 {
			n = len(num) - len(strings.TrimLeft(num, "IVXLCDM"))
		}
		if n > 0 && (n == len(num) || strings.ContainsRune(" \t.:-–—)", rune(num[n]))) {
			return t, true
		}
	}
	if n := numberLen(t); n > 0 && n < len(t) && (t[n] == ' ' || t[n] == '\t') {
		if rest := strings.TrimSpace(t[n:]); letters(rest) > 0 && !hasLower(rest) {
			return t, true
		}
		return "", false
	}
	if letters(t) >= 4 && !hasLower(t) {
		return t, true
	}
	return "", false
}

// numberLen returns the length of the section number s starts with: digits, optionally
// followed by "." and more digits, and an optional final "." ("5", "5.", "3.1", "3.1.");
// 0 if s does not start with a digit.
func numberLen(s string) int {
	i := 0
	for i < len(s) {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i {
			break
		}
		i = j
		if i < len(s) && s[i] == '.' {
			i++
			continue
		}
		break
	}
	return i
}

// letters counts the letters in s.
func letters(s string) int {
	n := 0
	for _, r := range s {
		if unicode.IsLetter(r) {
			n++
		}
	}
	return n
}

// hasLower reports whether s holds a lower-case letter.
func hasLower(s string) bool {
	return strings.IndexFunc(s, unicode.IsLower) >= 0
}

// lineStarts returns the starts of the lines of text[s:e] after its first.
func lineStarts(text string, s, e int) []int {
	var cuts []int
	for i := s; i < e-1; i++ {
		if text[i] == '\n' {
			cuts = append(cuts, i+1)
		}
	}
	return cuts
}

// sentenceStarts returns where the sentences of text[s:e] after the first start: after
// ".", "!", "?" or ";", any closing quotes or brackets, and whitespace, at the next
// non-space character. It does not know abbreviations ("Inc. "): this level only matters
// for paragraphs too long to keep whole.
func sentenceStarts(text string, s, e int) []int {
	var cuts []int
	for i := s; i < e; i++ {
		switch text[i] {
		case '.', '!', '?', ';':
		default:
			continue
		}
		j := i + 1
		for j < e {
			r, size := utf8.DecodeRuneInString(text[j:e])
			if !strings.ContainsRune(`"')]’”»`, r) {
				break
			}
			j += size
		}
		k := j
		for k < e && (text[k] == ' ' || text[k] == '\t' || text[k] == '\n' || text[k] == '\r') {
			k++
		}
		if k > j && k < e {
			cuts = append(cuts, k)
		}
		i = k - 1
	}
	return cuts
}
