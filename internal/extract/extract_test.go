package extract

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBytes(t *testing.T) {
	pdfText := strings.Join([]string{
		"1. TERM AND TERMINATION",
		"This Agreement begins on the Effective Date and continues for five\nyears, unless either party ends it earlier as this Section allows.",
		"Either party may terminate this Agreement on ninety days written\nnotice to the other party, for any reason or for no reason at all.",
		"2. PAYMENT",
		"The Distributor pays each invoice within thirty days of its date, in\nUnited States dollars, to the account the Company names in writing.",
	}, "\n\n")
	tests := []struct {
		name string // file name
		data []byte
		want Doc
	}{
		{"a.txt", []byte("Line one\r\nline two\rline three\n"),
			Doc{Text: "Line one\nline two\nline three\n", Format: "txt", Meta: map[string]string{}}},
		{"bom.TXT", []byte("\xEF\xBB\xBFcafé\n"),
			Doc{Text: "café\n", Format: "txt", Meta: map[string]string{}}},
		{"utf16le.txt", []byte{0xFF, 0xFE, 'h', 0, 'i', 0, 0xE9, 0, '\n', 0},
			Doc{Text: "hié\n", Format: "txt", Meta: map[string]string{}}},
		{"utf16be.txt", []byte{0xFE, 0xFF, 0, 'h', 0, 'i', 0xD8, 0x3D, 0xDE, 0x00},
			Doc{Text: "hi😀", Format: "txt", Meta: map[string]string{}}},
		{"notes.md", []byte("# Title\n\nSome *markdown*.\n"),
			Doc{Text: "# Title\n\nSome *markdown*.\n", Format: "md", Meta: map[string]string{}}},
		{"notes.markdown", []byte("text"),
			Doc{Text: "text", Format: "md", Meta: map[string]string{}}},
		{"page.html", []byte(pageHTML), Doc{
			Text: strings.Join([]string{
				"- Home", "- About us", "# Master Services Agreement",
				"This Agreement is made between Acme and Beta.", "It has two\nlines.",
				"## 1. Services", "Acme provides the services.", "Fee 100", "  indented\n    code",
			}, "\n\n"),
			Format: "html",
			Meta:   map[string]string{"title": "Master Services Agreement", "author": "Legal Team"},
		}},
		{"untitled.HTM", []byte("<title>Terms</title><p>Be nice.</p>"), Doc{
			Text: "# Terms\n\nBe nice.", Format: "html", Meta: map[string]string{"title": "Terms"},
		}},
		{"contract.pdf", pdfFile(t, true), Doc{
			Text: pdfText, Format: "pdf",
			Meta: map[string]string{"title": "Distribution Agreement", "author": "Acme Corp", "pages": "2"},
		}},
		{"uncompressed.PDF", pdfFile(t, false), Doc{
			Text: pdfText, Format: "pdf",
			Meta: map[string]string{"title": "Distribution Agreement", "author": "Acme Corp", "pages": "2"},
		}},
		{"supply.docx", docxFile(t), Doc{
			Text:   "ARTICLE 1\n\nThe term of this Agreement is five years.\n\nEither party may terminate.",
			Format: "docx",
			Meta:   map[string]string{"title": "Supply Agreement", "author": "Jane Doe"},
		}},
		{"bare.docx", zipFile(t, "word/document.xml", documentXML), Doc{
			Text:   "ARTICLE 1\n\nThe term of this Agreement is five years.\n\nEither party may terminate.",
			Format: "docx", Meta: map[string]string{},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Bytes(tt.name, tt.data)
			if err != nil {
				t.Fatalf("Bytes: %v", err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("Bytes (-got +want):\n%s", diff)
			}
		})
	}
}

func TestBytesErrors(t *testing.T) {
	pdf := pdfFile(t, true)
	tests := []struct {
		name    string
		data    []byte
		is      error  // the sentinel the error wraps, nil for none
		message string // what the error says
	}{
		{"empty.txt", nil, ErrEmpty, "extract empty.txt: no text found (the file is empty)"},
		{"blank.md", []byte(" \n\t\r\n"), ErrEmpty, "extract blank.md: no text found (the file holds only whitespace)"},
		{"nul.txt", []byte("text\x00more"), ErrBinary, "extract nul.txt: binary content (NUL bytes or invalid UTF-8): not a text file (save it as UTF-8 text)"},
		{"latin1.txt", []byte("caf\xe9"), ErrBinary, "extract latin1.txt: binary content (NUL bytes or invalid UTF-8): not a text file (save it as UTF-8 text)"},
		{"odd16.txt", []byte{0xFF, 0xFE, 'a'}, ErrBinary, "extract odd16.txt: binary content (NUL bytes or invalid UTF-8): odd length for UTF-16: not a text file"},
		{"nul.html", []byte("<p>a\x00b</p>"), ErrBinary, "extract nul.html: binary content (NUL bytes or invalid UTF-8): not a text file (save it as UTF-8 text)"},
		{"script.html", []byte("<script>x()</script><style>p{}</style>"), ErrEmpty, "extract script.html: no text found (the page has no visible text)"},
		{"deal.rtf", []byte("{\\rtf1}"), ErrUnsupported, `extract deal.rtf: unsupported format ".rtf" (convert it to one of .txt, .md, .markdown, .html, .htm, .pdf, .docx)`},
		{"noext", []byte("text"), ErrUnsupported, `extract noext: unsupported format "" (convert it to one of .txt, .md, .markdown, .html, .htm, .pdf, .docx)`},
		{"scan.pdf", imagePDF(t), ErrEmpty, "extract scan.pdf: no text found (a scanned PDF? run OCR on it first)"},
		{"truncated.pdf", pdf[:len(pdf)/2], nil, "extract truncated.pdf: not a valid PDF (not a PDF file: missing %%EOF): is the file damaged or truncated?"},
		{"badxref.pdf", append(pdf[:len(pdf)-200:len(pdf)-200], "\nstartxref\n10\n%%EOF\n"...), nil, "extract badxref.pdf: not a valid PDF (malformed PDF: cross-reference table not found: 0): is the file damaged or truncated?"},
		{"text.pdf", []byte("just some text"), nil, "extract text.pdf: not a valid PDF (not a PDF file: invalid header): is the file damaged or truncated?"},
		{"old.docx", []byte("\xD0\xCF\x11\xE0 an OLE2 .doc"), nil, "extract old.docx: not a valid docx (zip): zip: not a valid zip file (is the file damaged, or an old .doc renamed?)"},
		{"other.docx", zipFile(t, "readme.txt", "hello"), nil, "extract other.docx: not a valid docx: the zip has no word/document.xml (is it another kind of zip file?)"},
		{"badxml.docx", zipFile(t, "word/document.xml", "<w:document><w:p>"), nil, "extract badxml.docx: not a valid docx: XML syntax error on line 1: unexpected EOF (is the file damaged?)"},
		{"nopara.docx", zipFile(t, "word/document.xml", "<w:document><w:body><w:p/></w:body></w:document>"), ErrEmpty, "extract nopara.docx: no text found (the document has no text paragraphs)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Bytes(tt.name, tt.data)
			if err == nil {
				t.Fatalf("Bytes = %+v, want an error", got)
			}
			if err.Error() != tt.message {
				t.Errorf("error = %q, want %q", err, tt.message)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v does not wrap %v", err, tt.is)
			}
		})
	}
}

func TestSupported(t *testing.T) {
	for _, ext := range Formats() {
		for _, name := range []string{"a" + ext, "dir.x/A" + strings.ToUpper(ext)} {
			if !Supported(name) {
				t.Errorf("Supported(%q) = false, want true", name)
			}
		}
	}
	for _, name := range []string{"a.doc", "a.rtf", "a", "a.txt.gz", ".txt/a", "a.pdfx"} {
		if Supported(name) {
			t.Errorf("Supported(%q) = true, want false", name)
		}
	}
}

// writeFile writes data to name in a fresh temporary directory and returns its path.
func writeFile(tb testing.TB, name string, data []byte) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

func TestFile(t *testing.T) {
	path := writeFile(t, "c.pdf", pdfFile(t, true))
	got, err := File(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Format != "pdf" || got.Meta["pages"] != "2" || !strings.Contains(got.Text, "2. PAYMENT") {
		t.Errorf("File(%s) = %+v, want the generated PDF's text", path, got)
	}
}

func TestFileErrors(t *testing.T) {
	dir := t.TempDir()
	t.Run("too large", func(t *testing.T) {
		old := maxFileSize
		maxFileSize = 10
		t.Cleanup(func() { maxFileSize = old })
		path := writeFile(t, "big.txt", []byte("eleven byte"))
		_, err := File(path)
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("File = %v, want ErrTooLarge", err)
		}
		if want := "extract " + path + ": file too large: 11 bytes, over the 10-byte limit (split the document or extract its text first)"; err.Error() != want {
			t.Errorf("error = %q, want %q", err, want)
		}
	})
	t.Run("sparse over the real limit", func(t *testing.T) {
		path := filepath.Join(dir, "sparse.txt")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(MaxFileSize + 1); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if _, err := File(path); !errors.Is(err, ErrTooLarge) {
			t.Errorf("File = %v, want ErrTooLarge", err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		if _, err := File(filepath.Join(dir, "nope.txt")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("File = %v, want os.ErrNotExist", err)
		}
	})
	t.Run("directory", func(t *testing.T) {
		sub := filepath.Join(dir, "sub.txt")
		if err := os.Mkdir(sub, 0o700); err != nil {
			t.Fatal(err)
		}
		_, err := File(sub)
		if want := "extract " + sub + ": not a regular file: it is a folder (only files are read)"; err == nil || err.Error() != want {
			t.Errorf("File = %v, want %q", err, want)
		}
	})
	t.Run("unreadable", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root reads files whatever their mode")
		}
		path := writeFile(t, "locked.txt", []byte("secret"))
		if err := os.Chmod(path, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := File(path); !errors.Is(err, os.ErrPermission) {
			t.Errorf("File = %v, want os.ErrPermission", err)
		}
	})
}

// TestContracts extracts the sample contracts, which are plain UTF-8 text: the text comes
// back unchanged but for line ends.
func TestContracts(t *testing.T) {
	paths, err := filepath.Glob("../estimate/testdata/contracts/*.txt")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no sample contracts: %v", err)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := File(path)
			if err != nil {
				t.Fatal(err)
			}
			want := strings.TrimPrefix(strings.ReplaceAll(string(raw), "\r\n", "\n"), "\uFEFF")
			if got.Text != want {
				t.Errorf("File(%s).Text differs from the file", path)
			}
		})
	}
}
