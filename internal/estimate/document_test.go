package estimate

import (
	"archive/zip"
	"bytes"
	"maps"
	"slices"
	"testing"
)

// zipFile builds a zip archive holding the given files (name → content), in name order.
func zipFile(tb testing.TB, files map[string]string) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range slices.Sorted(maps.Keys(files)) {
		content := files[name]
		w, err := zw.Create(name)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := w.Write([]byte(content)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

const docxXML = `<?xml version="1.0" encoding="UTF-8"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>
<w:p><w:r><w:t>The term of this Agreement</w:t></w:r><w:r><w:t xml:space="preserve"> is five years.</w:t></w:r></w:p>
<w:p><w:r><w:t>Either party may terminate.</w:t></w:r></w:p></w:body></w:document>`

func TestOfficeText(t *testing.T) {
	docx := zipFile(t, map[string]string{"word/document.xml": docxXML, "[Content_Types].xml": "<Types/>"})
	xlsx := zipFile(t, map[string]string{
		"xl/sharedStrings.xml":     `<sst><si><t>Party</t></si><si><t>Fee</t></si></sst>`,
		"xl/worksheets/sheet1.xml": `<worksheet><sheetData><row><c t="s"><v>0</v></c><c><v>1500</v></c></row></sheetData></worksheet>`,
	})
	tests := []struct {
		format string
		data   []byte
		want   string
	}{
		{"docx", docx, "The term of this Agreement is five years.\nEither party may terminate.\n"},
		{"xlsx", xlsx, "Party\nFee\n0\n1500\n"},
	}
	for _, tt := range tests {
		got, err := OfficeText(tt.format, tt.data)
		if err != nil {
			t.Fatalf("OfficeText(%s): %v", tt.format, err)
		}
		if got != tt.want {
			t.Errorf("OfficeText(%s) = %q, want %q", tt.format, got, tt.want)
		}
	}
	// The estimator counts the text of a docx, not its compressed bytes.
	e := newEstimator(t, Config{})
	in := e.Input("m", &Request{Messages: []Message{{Role: "user", Content: []Block{{Kind: Document, Document: &DocSrc{Format: "docx", Data: docx}}}}}})
	if want := Base().Count(tests[0].want); in.Counted != want || in.Fixed != DefaultMessageTokens {
		t.Errorf("Input of a docx = %+v, want Counted %d (its text) and only message framing fixed", in, want)
	}
}

func TestOfficeTextErrors(t *testing.T) {
	tests := []struct {
		name, format string
		data         []byte
	}{
		{"not a zip", "docx", []byte("PK but not really")},
		{"no text part", "docx", zipFile(t, map[string]string{"other.xml": "<a/>"})},
		{"broken XML", "docx", zipFile(t, map[string]string{"word/document.xml": "<w:p><w:t>x</w:p>"})},
		{"old binary format", "doc", []byte{0xd0, 0xcf, 0x11, 0xe0}},
	}
	for _, tt := range tests {
		if _, err := OfficeText(tt.format, tt.data); err == nil {
			t.Errorf("%s: OfficeText succeeded, want an error", tt.name)
		}
	}
}

func FuzzOfficeText(f *testing.F) {
	f.Add("docx", zipFile(f, map[string]string{"word/document.xml": docxXML}))
	f.Add("xlsx", zipFile(f, map[string]string{"xl/sharedStrings.xml": `<sst><si><t>x</t></si></sst>`}))
	f.Add("docx", []byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, format string, data []byte) {
		text, err := OfficeText(format, data)
		if err == nil && len(text) > maxOfficeXML*8 {
			t.Fatalf("OfficeText returned %d bytes from %d", len(text), len(data))
		}
	})
}

func TestPDFPages(t *testing.T) {
	tests := []struct {
		data string
		want int
	}{
		{"<</Type /Page>> <</Type /Page>> <</Type /Pages>>", 2},
		{"no page objects", 1},
		{string(make([]byte, 9000)), 3},
	}
	for _, tt := range tests {
		if got := PDFPages([]byte(tt.data)); got != tt.want {
			t.Errorf("PDFPages(%.30q) = %d, want %d", tt.data, got, tt.want)
		}
	}
}
