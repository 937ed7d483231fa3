package extract

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/ledongthuc/pdf"
)

// maxPageNodes bounds how many nodes of a PDF's page tree pdfText visits: a damaged or
// hostile tree (a cycle, a huge /Count) must not loop for ever. A million pages is far
// past any real contract.
const maxPageNodes = 1 << 20

// maxPageDepth bounds the nesting of the page tree; real trees are a few levels deep.
const maxPageDepth = 64

// pdfText returns the text of a PDF, page after page with a blank line between pages,
// and records its page count (meta["pages"]) and its Info title and author.
//
// Lines, word spaces and paragraphs are rebuilt from glyph positions (see pageText),
// because the PDF content stream holds positioned strings, not lines or paragraphs.
func pdfText(data []byte, meta map[string]string) (text string, err error) {
	// Last line of defence: github.com/ledongthuc/pdf panics on some malformed input
	// (index out of range, bad operators, nil maps) instead of returning an error.
	defer func() {
		if r := recover(); r != nil {
			text, err = "", fmt.Errorf("not a readable PDF (%v): is the file damaged or truncated?", r)
		}
	}()
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if errors.Is(err, pdf.ErrInvalidPassword) {
		return "", errors.New("the PDF is encrypted: remove its password first")
	}
	if err != nil {
		return "", fmt.Errorf("not a valid PDF (%w): is the file damaged or truncated?", err)
	}
	info := r.Trailer().Key("Info")
	for key, field := range map[string]string{"title": "Title", "author": "Author"} {
		if v := strings.TrimSpace(cleanText(info.Key(field).Text())); v != "" {
			meta[key] = v
		}
	}
	pages := pageList(r.Trailer().Key("Root").Key("Pages"))
	meta["pages"] = strconv.Itoa(len(pages))
	var b strings.Builder
	for _, p := range pages {
		t := pageText(p.Content().Text)
		if t == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(t)
	}
	return b.String(), nil
}

// pageList returns the pages of a page tree in order, visiting at most maxPageNodes nodes
// no deeper than maxPageDepth. A node with Kids is an inner node; any other dictionary is a
// page.
func pageList(root pdf.Value) []pdf.Page {
	var pages []pdf.Page
	budget := maxPageNodes
	var walk func(v pdf.Value, depth int)
	walk = func(v pdf.Value, depth int) {
		if budget <= 0 || depth > maxPageDepth || v.Kind() != pdf.Dict {
			return
		}
		budget--
		kids := v.Key("Kids")
		if kids.Kind() != pdf.Array {
			if v.Key("Type").Name() != "Pages" {
				pages = append(pages, pdf.Page{V: v})
			}
			return
		}
		for i := 0; i < kids.Len() && budget > 0; i++ {
			walk(kids.Index(i), depth+1)
		}
	}
	walk(root, 0)
	return pages
}

// textLine is one line of a page being rebuilt from its glyphs.
type textLine struct {
	y, size float64 // baseline height and largest font size, in points
	endX    float64 // where the last glyph ends, in points
	b       strings.Builder
}

// pageText rebuilds the text of a page from its glyphs, in content-stream order:
//
//   - a glyph more than half its font size above or below the current baseline starts a
//     new line;
//   - on the same line, a gap wider than 0.2 × the font size between the end of the
//     previous glyph (X + W, or X + size/2 when the font has no widths) and the next
//     becomes one space, unless either side already is one;
//   - between lines, a drop of more than 1.3 × the page's leading, or any move up the page
//     (a new column), becomes a blank line: a paragraph break. The leading is the median
//     drop between consecutive lines, or 1.2 × the median font size when that median is
//     over 1.6 × the size (a page where every line stands apart).
func pageText(glyphs []pdf.Text) string {
	var lines []*textLine
	var cur *textLine
	for _, g := range glyphs {
		s := cleanText(g.S)
		if s == "" {
			continue
		}
		size := math.Abs(g.FontSize)
		if !(size > 0.5 && size < 1000) {
			size = 10
		}
		if cur == nil || !(math.Abs(g.Y-cur.y) <= size/2) {
			cur = &textLine{y: g.Y, size: size, endX: g.X}
			lines = append(lines, cur)
		}
		cur.size = max(cur.size, size)
		gap := g.X - cur.endX
		if cur.b.Len() > 0 && (gap > 0.2*size || gap < -size) && !strings.HasSuffix(cur.b.String(), " ") && !strings.HasPrefix(s, " ") {
			cur.b.WriteByte(' ')
		}
		cur.b.WriteString(s)
		w := g.W
		if !(w > 0 && w < 10*size) {
			w = size / 2 * float64(len([]rune(s)))
		}
		cur.endX = g.X + w
	}
	if len(lines) == 0 {
		return ""
	}
	leading := pageLeading(lines)
	var b strings.Builder
	var prev *textLine
	for _, l := range lines {
		t := strings.TrimSpace(l.b.String())
		if t == "" {
			continue
		}
		if prev != nil {
			drop := prev.y - l.y
			if drop > 1.3*leading || drop < -l.size {
				b.WriteString("\n\n")
			} else {
				b.WriteByte('\n')
			}
		}
		b.WriteString(t)
		prev = l
	}
	return b.String()
}

// pageLeading returns the distance between consecutive lines of body text on a page, in
// points, as pageText defines it.
func pageLeading(lines []*textLine) float64 {
	var drops, sizes []float64
	for i, l := range lines {
		sizes = append(sizes, l.size)
		if i > 0 {
			if d := lines[i-1].y - l.y; d > 0 {
				drops = append(drops, d)
			}
		}
	}
	size := median(sizes)
	if len(drops) == 0 {
		return 1.2 * size
	}
	if m := median(drops); m <= 1.6*size {
		return m
	}
	return 1.2 * size
}

// median returns the median of xs (the upper one of an even count); xs is not empty.
func median(xs []float64) float64 {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	return xs[len(xs)/2]
}

// cleanText returns s as valid UTF-8 without control characters, a tab as a space. The
// PDF library decodes a TJ array's end as a "\n" glyph, which this drops too.
func cleanText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t':
			return ' '
		case unicode.IsControl(r):
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
}
