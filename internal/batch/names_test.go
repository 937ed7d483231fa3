package batch

import "testing"

func TestQuoteAndEscape(t *testing.T) {
	for _, c := range []struct{ in, quote, escape string }{
		{"contracts/a b.txt", "contracts/a b.txt", "contracts/a b.txt"},
		{"café/報告.md", "café/報告.md", "café/報告.md"},
		{"x\n  forged.txt", `"x\n  forged.txt"`, `x\n  forged.txt`},
		{"red\x1b[31m.txt", `"red\x1b[31m.txt"`, `red\x1b[31m.txt`},
		{"bad\xffutf8", `"bad\xffutf8"`, `bad\xffutf8`},
		{"tab\there", `"tab\there"`, `tab\there`},
	} {
		if got := Quote(c.in); got != c.quote {
			t.Errorf("Quote(%q) = %s, want %s", c.in, got, c.quote)
		}
		if got := Escape(c.in); got != c.escape {
			t.Errorf("Escape(%q) = %s, want %s", c.in, got, c.escape)
		}
	}
}
