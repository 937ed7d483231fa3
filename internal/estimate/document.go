package estimate

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"path"
	"strings"
	"unicode/utf8"
)

// document adds a document block's tokens to t: its name and text counted; text formats
// and the text inside docx and xlsx files counted; a PDF at PDFPageTokens a page; other
// binary formats (doc, xls, damaged files) at one token per BinaryBytesPerToken bytes.
func (e *Estimator) document(t *tally, d *DocSrc) {
	if d == nil {
		return
	}
	t.counted += e.counter.Count(d.Name) + e.counter.Count(d.Text)
	switch {
	case len(d.Data) == 0:
	case d.Format == "pdf":
		t.fixed += PDFPages(d.Data) * e.pdfPageTokens
	case isTextFormat(d.Format) && utf8.Valid(d.Data):
		t.counted += e.counter.Count(string(d.Data))
	default:
		if text, err := OfficeText(d.Format, d.Data); err == nil {
			t.counted += e.counter.Count(text)
			return
		}
		t.fixed += (len(d.Data) + BinaryBytesPerToken - 1) / BinaryBytesPerToken
	}
}

func isTextFormat(f string) bool {
	switch f {
	case "txt", "md", "csv", "html":
		return true
	}
	return false
}

// PDFPages returns the number of pages of a PDF: the count of its page objects
// ("/Type /Page", not "/Type /Pages"), and at least 1. It reads the bytes as they are and
// does not inflate compressed object streams, where a few PDFs hide their page objects;
// those count as one page per 3,000 bytes instead, a typical size of a text page.
func PDFPages(data []byte) int {
	n := 0
	for rest := data; ; {
		i := bytes.Index(rest, []byte("/Type"))
		if i < 0 {
			break
		}
		rest = bytes.TrimLeft(rest[i+len("/Type"):], " \t\r\n")
		if bytes.HasPrefix(rest, []byte("/Page")) && !bytes.HasPrefix(rest, []byte("/Pages")) {
			n++
		}
	}
	if n == 0 {
		n = len(data) / 3000
	}
	return max(n, 1)
}

// maxOfficeXML bounds how many bytes OfficeText inflates from one file, against zip bombs:
// 32 MB of XML is far more text than any model's context holds.
const maxOfficeXML = 32 << 20

// ErrOfficeTooLarge is OfficeText's error for a text part that inflates to more than the 32 MB
// of XML it reads (rather than the XML parser's "unexpected EOF" at the cut).
var ErrOfficeTooLarge = errors.New("inflates to more than 32 MB of XML, the most read")

// errNotOffice is returned by OfficeText for formats it does not read.
var errNotOffice = errors.New("estimate: only docx and xlsx text can be extracted")

// OfficeText returns the text a model reads from a docx or xlsx file: the text runs of
// word/document.xml (a newline after each paragraph), or the strings of
// xl/sharedStrings.xml and the cell values of the worksheets (a newline after each). It returns an error for other
// formats, for data that is not such a zip file, and for XML it cannot parse; it never
// inflates more than 32 MB per part.
func OfficeText(format string, data []byte) (string, error) {
	var parts func(name string) bool
	var breakAfter string
	switch format {
	case "docx":
		parts = func(name string) bool { return name == "word/document.xml" }
		breakAfter = "p"
	case "xlsx":
		parts = func(name string) bool {
			return name == "xl/sharedStrings.xml" || path.Dir(name) == "xl/worksheets" && path.Ext(name) == ".xml"
		}
		breakAfter = "c"
	default:
		return "", errNotOffice
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return "", err
	}
	var b strings.Builder
	found := false
	for _, f := range zr.File {
		if !parts(f.Name) {
			continue
		}
		found = true
		if err := xmlText(f, breakAfter, &b); err != nil {
			return "", err
		}
	}
	if !found {
		return "", errors.New("estimate: no text part in the " + format + " file")
	}
	return b.String(), nil
}

// cappedReader reads r up to left bytes, then fails with ErrOfficeTooLarge if r has more.
type cappedReader struct {
	r    io.Reader
	left int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		if n, _ := io.ReadFull(c.r, one[:]); n > 0 {
			return 0, ErrOfficeTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// xmlText appends the text of one zipped XML part to b: the character data inside text
// elements (<t>, and <v> cell values), with a newline after each element named breakAfter
// and after each shared string item (<si>).
func xmlText(f *zip.File, breakAfter string, b *strings.Builder) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	dec := xml.NewDecoder(&cappedReader{r: rc, left: maxOfficeXML})
	inText := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if tok.Name.Local == "t" || tok.Name.Local == "v" {
				inText++
			}
		case xml.CharData:
			if inText > 0 {
				b.Write(tok)
			}
		case xml.EndElement:
			switch tok.Name.Local {
			case "t", "v":
				inText = max(inText-1, 0)
			case breakAfter, "si":
				b.WriteByte('\n')
			}
		}
	}
}
