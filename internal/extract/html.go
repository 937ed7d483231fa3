package extract

import (
	"slices"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// skipped are the elements whose content is never visible text.
var skipped = map[atom.Atom]bool{
	atom.Head: true, atom.Script: true, atom.Style: true, atom.Noscript: true,
	atom.Template: true, atom.Svg: true, atom.Math: true, atom.Iframe: true, atom.Object: true,
}

// blocks are the elements that start and end a paragraph.
var blocks = map[atom.Atom]bool{
	atom.Address: true, atom.Article: true, atom.Aside: true, atom.Blockquote: true,
	atom.Body: true, atom.Caption: true, atom.Dd: true, atom.Details: true, atom.Dialog: true,
	atom.Div: true, atom.Dl: true, atom.Dt: true, atom.Fieldset: true, atom.Figcaption: true,
	atom.Figure: true, atom.Footer: true, atom.Form: true, atom.Header: true, atom.Hr: true,
	atom.Li: true, atom.Main: true, atom.Nav: true, atom.Ol: true, atom.P: true,
	atom.Section: true, atom.Summary: true, atom.Table: true, atom.Tbody: true,
	atom.Thead: true, atom.Tfoot: true, atom.Tr: true, atom.Ul: true,
}

// headingLevel is the markdown level of each heading element.
var headingLevel = map[atom.Atom]int{
	atom.H1: 1, atom.H2: 2, atom.H3: 3, atom.H4: 4, atom.H5: 5, atom.H6: 6,
}

// htmlText returns the visible text of an HTML page, one paragraph per block element with
// a blank line between paragraphs, whitespace collapsed inside each line, <br> kept as a
// line break, <pre> kept verbatim, headings as markdown "#" headings and list items
// prefixed "- ". The <title> becomes a leading "# " heading (unless a heading of the page
// repeats it) and meta["title"]; <meta name="author"> becomes meta["author"].
func htmlText(data []byte, meta map[string]string) (string, error) {
	text, err := decodeText(data)
	if err != nil {
		return "", err
	}
	root, err := html.Parse(strings.NewReader(text))
	if err != nil {
		return "", err
	}
	w := &htmlWriter{}
	w.walk(root)
	w.flush()
	if t := collapse(w.title.String()); t != "" {
		meta["title"] = t
		if !slices.ContainsFunc(w.paras, func(p string) bool { return strings.HasPrefix(p, "#") && strings.TrimLeft(p, "# ") == t }) {
			w.paras = append([]string{"# " + t}, w.paras...)
		}
	}
	if w.author != "" {
		meta["author"] = w.author
	}
	return strings.Join(w.paras, "\n\n"), nil
}

// htmlWriter accumulates the paragraphs of a page as htmlText walks it.
type htmlWriter struct {
	paras  []string        // finished paragraphs
	lines  []string        // finished lines of the paragraph being built
	line   strings.Builder // the line being built, whitespace not yet collapsed
	prefix string          // what the paragraph being built starts with ("## ", "- ")
	title  strings.Builder
	author string
}

// walk appends the visible text under n.
func (w *htmlWriter) walk(n *html.Node) {
	switch n.Type {
	case html.TextNode:
		w.line.WriteString(n.Data)
		return
	case html.ElementNode:
		switch {
		case n.DataAtom == atom.Title:
			if w.title.Len() == 0 {
				textContent(n, &w.title)
			}
			return
		case n.DataAtom == atom.Meta:
			if strings.EqualFold(attr(n, "name"), "author") {
				w.author = collapse(attr(n, "content"))
			}
			return
		case n.DataAtom == atom.Head:
			// Only the title and meta author are read from the head.
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				if c.Type == html.ElementNode && (c.DataAtom == atom.Title || c.DataAtom == atom.Meta) {
					w.walk(c)
				}
			}
			return
		case skipped[n.DataAtom]:
			return
		case n.DataAtom == atom.Br:
			w.breakLine()
			return
		case n.DataAtom == atom.Pre:
			w.flush()
			var b strings.Builder
			textContent(n, &b)
			if s := strings.Trim(b.String(), "\n"); strings.TrimSpace(s) != "" {
				w.paras = append(w.paras, s)
			}
			return
		case n.DataAtom == atom.Td || n.DataAtom == atom.Th:
			w.line.WriteByte(' ')
		}
		if level, ok := headingLevel[n.DataAtom]; ok {
			w.flush()
			w.prefix = strings.Repeat("#", level) + " "
			w.children(n)
			w.flush()
			return
		}
		if blocks[n.DataAtom] {
			w.flush()
			if n.DataAtom == atom.Li {
				w.prefix = "- "
			}
			w.children(n)
			w.flush()
			return
		}
	}
	w.children(n)
}

// children walks the children of n.
func (w *htmlWriter) children(n *html.Node) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		w.walk(c)
	}
}

// breakLine ends the current line of the paragraph being built.
func (w *htmlWriter) breakLine() {
	if s := collapse(w.line.String()); s != "" {
		w.lines = append(w.lines, s)
	}
	w.line.Reset()
}

// flush ends the paragraph being built, if it has any text.
func (w *htmlWriter) flush() {
	w.breakLine()
	if len(w.lines) > 0 {
		w.paras = append(w.paras, w.prefix+strings.Join(w.lines, "\n"))
	}
	w.lines = w.lines[:0]
	w.prefix = ""
}

// textContent appends the text of every text node under n to b.
func textContent(n *html.Node, b *strings.Builder) {
	if n.Type == html.TextNode {
		b.WriteString(n.Data)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		textContent(c, b)
	}
}

// attr returns the value of n's attribute key, "" if it has none.
func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val
		}
	}
	return ""
}

// collapse replaces each run of whitespace (including no-break spaces) in s by one space
// and trims both ends.
func collapse(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\u00a0", " ")), " ")
}
