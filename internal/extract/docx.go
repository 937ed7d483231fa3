package extract

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tollgate-dev/tollgate/internal/estimate"
)

// maxCoreXML bounds how much of docProps/core.xml docxText inflates: the part holds a few
// short fields.
const maxCoreXML = 1 << 20

// docxText returns the paragraphs of a docx file (estimate.OfficeText) with a blank line
// between them, empty paragraphs dropped, and records the title and author of
// docProps/core.xml.
func docxText(data []byte, meta map[string]string) (string, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return "", fmt.Errorf("not a valid docx (zip): %w (is the file damaged, or an old .doc renamed?)", err)
	}
	var body, core *zip.File
	for _, f := range zr.File {
		switch f.Name {
		case "word/document.xml":
			body = f
		case "docProps/core.xml":
			core = f
		}
	}
	if body == nil {
		return "", errors.New("not a valid docx: the zip has no word/document.xml (is it another kind of zip file?)")
	}
	text, err := estimate.OfficeText("docx", data)
	if errors.Is(err, estimate.ErrOfficeTooLarge) {
		return "", fmt.Errorf("%w: word/document.xml %w (split the document, or save its text as .txt)", ErrTooLarge, err)
	}
	if err != nil {
		return "", fmt.Errorf("not a valid docx: %w (is the file damaged?)", err)
	}
	var paras []string
	for line := range strings.Lines(normalizeNewlines(text)) {
		if line = strings.TrimSpace(line); line != "" {
			paras = append(paras, line)
		}
	}
	if core != nil {
		coreMeta(core, meta) // metadata is optional: a damaged core.xml only loses it
	}
	return strings.Join(paras, "\n\n"), nil
}

// coreMeta records dc:title as meta["title"] and dc:creator as meta["author"] from a
// docx's docProps/core.xml. It stops silently at the first XML error.
func coreMeta(f *zip.File, meta map[string]string) {
	rc, err := f.Open()
	if err != nil {
		return
	}
	defer rc.Close()
	keys := map[string]string{"title": "title", "creator": "author"}
	dec := xml.NewDecoder(io.LimitReader(rc, maxCoreXML))
	var key string
	var b strings.Builder
	for {
		tok, err := dec.Token()
		if err != nil {
			return
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			key = keys[tok.Name.Local]
			b.Reset()
		case xml.CharData:
			if key != "" {
				b.Write(tok)
			}
		case xml.EndElement:
			if v := collapse(b.String()); key != "" && v != "" {
				meta[key] = cleanText(v)
			}
			key = ""
		}
	}
}
