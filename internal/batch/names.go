package batch

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Quote returns a file name (or any name from outside) fit for a terminal: as it is when
// it holds only printable characters, else quoted with Go's escapes ("a\nb", "\x1b[31m"),
// so that a name cannot move the cursor, colour the screen or fake a line of output.
func Quote(name string) string {
	if printable(name) {
		return name
	}
	return strconv.Quote(name)
}

// Escape returns a message for a terminal: its control characters (but newlines and tabs,
// which the message may use) and invalid UTF-8 are written as Go escapes.
func Escape(s string) string {
	if printable(strings.NewReplacer("\n", "", "\t", "").Replace(s)) {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			b.WriteString(`\x` + strconv.FormatUint(uint64(s[i]), 16))
		case !unicode.IsPrint(r) && r != ' ':
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// printable reports whether s is valid UTF-8 of printable characters and spaces only.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) && r != ' ' {
			return false
		}
	}
	return true
}
