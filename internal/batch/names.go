package batch

import (
	"fmt"
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

// Escape returns a message for a terminal, on one line: its control characters
// (newlines included) and invalid UTF-8 are written as Go escapes, the rest as it is.
func Escape(s string) string {
	if printable(s) {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, `\x%02x`, s[i])
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
