package extract

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzBytes extracts arbitrary data as each format: Bytes must never panic, its errors
// must name the file, and what it returns must be non-blank UTF-8 with "\n" line ends
// (for text files, the input itself). The first input picks the extension from Formats;
// EXTRACT_FUZZ_FORMAT=.pdf (or another extension) fixes it, to fuzz one format at a time:
//
//	EXTRACT_FUZZ_FORMAT=.pdf go test -fuzz=FuzzBytes -fuzztime=60s ./internal/extract
func FuzzBytes(f *testing.F) {
	exts := Formats()
	seed := func(ext string, data []byte) { f.Add(uint8(slices.Index(exts, ext)), data) }
	seed(".txt", []byte("Line one\r\nline two\n"))
	seed(".txt", []byte{0xFF, 0xFE, 'h', 0, 'i', 0})
	seed(".md", []byte("# Title\n\nText.\n"))
	seed(".html", []byte(pageHTML))
	seed(".htm", []byte("<title>T</title><pre>x</pre><table><tr><td>a<br>b</td></tr></table>"))
	p := pdfFile(f, true)
	seed(".pdf", pdfFile(f, false))
	seed(".pdf", p)
	seed(".pdf", p[:len(p)/2])
	seed(".pdf", imagePDF(f))
	seed(".docx", docxFile(f))
	seed(".docx", zipFile(f, "readme.txt", "hello"))
	fixed := os.Getenv("EXTRACT_FUZZ_FORMAT")
	f.Fuzz(func(t *testing.T, pick uint8, data []byte) {
		ext := exts[int(pick)%len(exts)]
		if fixed != "" {
			ext = fixed
		}
		name := "fuzz" + ext
		// A hang is a failure too: the fuzzer reports a panic with the input that caused it.
		defer time.AfterFunc(10*time.Second, func() {
			panic(fmt.Sprintf("Bytes(%s) still running after 10s on %d bytes", name, len(data)))
		}).Stop()
		doc, err := Bytes(name, data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "extract "+name+": ") {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		if !utf8.ValidString(doc.Text) || strings.TrimSpace(doc.Text) == "" || strings.Contains(doc.Text, "\r") {
			t.Errorf("Bytes(%s).Text = %q: want non-blank UTF-8 with \\n line ends", name, doc.Text)
		}
		if doc.Format != formats[ext] || doc.Meta == nil {
			t.Errorf("Bytes(%s) = format %q, meta %v", name, doc.Format, doc.Meta)
		}
		if (ext == ".txt" || ext == ".md") && utf8.Valid(data) && !strings.HasPrefix(string(data), "\uFEFF") &&
			doc.Text != strings.ReplaceAll(strings.ReplaceAll(string(data), "\r\n", "\n"), "\r", "\n") {
			t.Errorf("Bytes(%s).Text = %q, want the input %q", name, doc.Text, data)
		}
	})
}
