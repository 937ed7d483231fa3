package extract

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/tollgate-dev/tollgate/internal/results"
)

// Doc is a document's text and what the pipeline records about it.
type Doc struct {
	// Text is the extracted text: UTF-8, with "\n" line ends, never empty or only
	// whitespace.
	Text string
	// Format is the format the file was read as: "txt", "md", "html", "pdf" or "docx".
	Format string
	// Meta holds the metadata found in the file, keyed "title" (the HTML <title>, the
	// PDF Info Title, docx dc:title), "author" (HTML meta author, PDF Info Author, docx
	// dc:creator) and "pages" (PDF page count, decimal). It is never nil but may be empty.
	Meta map[string]string
}

// MaxFileSize is the largest file, in bytes, that File reads: 64 MiB, far more text than
// any model's context holds.
const MaxFileSize = 64 << 20

// maxFileSize is the limit File applies; tests lower it.
var maxFileSize int64 = MaxFileSize

var (
	// ErrEmpty means the file holds no text: it is empty, only whitespace, or (PDF) only
	// images. The wrapping error says which and what to do.
	ErrEmpty = errors.New("no text found")
	// ErrBinary means a text, markdown or HTML file holds NUL bytes or is not valid UTF-8
	// (or UTF-16 with a byte-order mark).
	ErrBinary = errors.New("binary content (NUL bytes or invalid UTF-8)")
	// ErrUnsupported means the file's extension is not one of Formats.
	ErrUnsupported = errors.New("unsupported format")
	// ErrTooLarge means File refused a file larger than MaxFileSize, or a docx whose
	// text part inflates past the most that is read.
	ErrTooLarge = errors.New("file too large")
	// ErrNotRegular means ReadFile refused a device, a FIFO, a socket or a folder.
	ErrNotRegular = errors.New("not a regular file")
)

// formats maps each handled extension to its Doc.Format.
var formats = map[string]string{
	".txt": "txt", ".md": "md", ".markdown": "md",
	".html": "html", ".htm": "html", ".pdf": "pdf", ".docx": "docx",
}

// Formats lists the file extensions handled, lowercase with their dot: ".txt", ".md",
// ".markdown", ".html", ".htm", ".pdf", ".docx".
func Formats() []string {
	return []string{".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"}
}

// Supported reports whether the extension of the file name is one of Formats, ignoring
// case.
func Supported(name string) bool {
	_, ok := formats[strings.ToLower(filepath.Ext(name))]
	return ok
}

// Bytes extracts the text of data, read from a file named name; the name's extension
// (any case) picks the format. Errors start with "extract <name>: ", wrap ErrEmpty,
// ErrBinary or ErrUnsupported where one applies, and say what to do about the file.
// Bytes never panics, whatever data holds.
func Bytes(name string, data []byte) (Doc, error) {
	ext := strings.ToLower(filepath.Ext(name))
	format, ok := formats[ext]
	if !ok {
		return Doc{}, fmt.Errorf("extract %s: %w %q (convert it to one of %s)",
			name, ErrUnsupported, ext, strings.Join(Formats(), ", "))
	}
	if len(data) == 0 {
		return Doc{}, fmt.Errorf("extract %s: %w (the file is empty)", name, ErrEmpty)
	}
	doc := Doc{Format: format, Meta: map[string]string{}}
	var err error
	switch format {
	case "txt", "md":
		doc.Text, err = decodeText(data)
	case "html":
		doc.Text, err = htmlText(data, doc.Meta)
	case "pdf":
		doc.Text, err = pdfText(data, doc.Meta)
	case "docx":
		doc.Text, err = docxText(data, doc.Meta)
	}
	if err != nil {
		return Doc{}, fmt.Errorf("extract %s: %w", name, err)
	}
	if strings.TrimSpace(doc.Text) == "" {
		return Doc{}, fmt.Errorf("extract %s: %w (%s)", name, ErrEmpty, emptyHint[format])
	}
	return doc, nil
}

// emptyHint says, per format, why a file may have no text.
var emptyHint = map[string]string{
	"txt":  "the file holds only whitespace",
	"md":   "the file holds only whitespace",
	"html": "the page has no visible text",
	"pdf":  "a scanned PDF? run OCR on it first",
	"docx": "the document has no text paragraphs",
}

// File reads the file at path with ReadFile and extracts its text with Bytes.
func File(path string) (Doc, error) {
	data, err := ReadFile(path)
	if err != nil {
		return Doc{}, err
	}
	return Bytes(path, data)
}

// ReadFile reads the file at path, following symbolic links. It refuses, with
// ErrNotRegular, anything that is not a regular file (a device such as /dev/zero would
// never end, a FIFO could block for ever: it is opened without blocking and refused
// unread), and, with ErrTooLarge, files larger than MaxFileSize. Errors start with
// "extract <path>: ".
func ReadFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		if fi, serr := os.Stat(path); serr == nil && !fi.Mode().IsRegular() {
			return nil, notRegular(path, fi.Mode()) // a socket cannot be opened at all
		}
		return nil, fmt.Errorf("extract %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("extract %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, notRegular(path, fi.Mode())
	}
	if fi.Size() > maxFileSize {
		return nil, tooLarge(path, fi.Size())
	}
	// Read at most one byte past the limit, in case the file grew since Stat.
	// Sized from Stat, so a long file is read into one buffer, not a doubling series.
	buf := bytes.NewBuffer(make([]byte, 0, fi.Size()+bytes.MinRead))
	_, err = buf.ReadFrom(io.LimitReader(f, maxFileSize+1))
	data := buf.Bytes()
	if err != nil {
		return nil, fmt.Errorf("extract %s: %w", path, err)
	}
	if int64(len(data)) > maxFileSize {
		return nil, tooLarge(path, int64(len(data)))
	}
	return data, nil
}

// notRegular is ReadFile's error for a file of mode that is not a regular file.
func notRegular(path string, mode os.FileMode) error {
	return fmt.Errorf("extract %s: %w: it is %s (only files are read)", path, ErrNotRegular, results.Kind(mode))
}

// tooLarge is File's error for a file of size bytes over the limit.
func tooLarge(path string, size int64) error {
	return fmt.Errorf("extract %s: %w: %d bytes, over the %d-byte limit (split the document or extract its text first)",
		path, ErrTooLarge, size, maxFileSize)
}

// decodeText returns text data as UTF-8 with "\n" line ends: a UTF-8 byte-order mark is
// dropped, UTF-16 with a byte-order mark is decoded, and NUL bytes or invalid UTF-8 are
// ErrBinary.
func decodeText(data []byte) (string, error) {
	var s string
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		s = string(data[3:])
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}), bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		if len(data)%2 != 0 {
			return "", fmt.Errorf("%w: odd length for UTF-16: not a text file", ErrBinary)
		}
		u := make([]uint16, 0, len(data)/2-1)
		for i := 2; i < len(data); i += 2 {
			if data[0] == 0xFF {
				u = append(u, uint16(data[i])|uint16(data[i+1])<<8)
			} else {
				u = append(u, uint16(data[i])<<8|uint16(data[i+1]))
			}
		}
		s = string(utf16.Decode(u))
	default:
		s = string(data)
	}
	if strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: not a text file (save it as UTF-8 text)", ErrBinary)
	}
	return normalizeNewlines(s), nil
}

// normalizeNewlines turns "\r\n" and lone "\r" into "\n".
func normalizeNewlines(s string) string {
	if strings.IndexByte(s, '\r') < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}
