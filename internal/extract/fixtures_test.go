package extract

import (
	"archive/zip"
	"bytes"
	"testing"

	"github.com/go-pdf/fpdf"
)

// pdfParagraphs are the paragraphs of the generated PDF, page by page; each is long enough
// to wrap over several lines.
var pdfParagraphs = [][]string{
	{
		"1. TERM AND TERMINATION",
		"This Agreement begins on the Effective Date and continues for five years, unless either party ends it earlier as this Section allows.",
		"Either party may terminate this Agreement on ninety days written notice to the other party, for any reason or for no reason at all.",
	},
	{
		"2. PAYMENT",
		"The Distributor pays each invoice within thirty days of its date, in United States dollars, to the account the Company names in writing.",
	},
}

// pdfFile generates a PDF holding pdfParagraphs (one page per group, 11 pt Helvetica on
// 5 mm lines, a 4 mm gap after each paragraph), titled and authored, its content streams
// compressed or not.
func pdfFile(tb testing.TB, compress bool) []byte {
	tb.Helper()
	p := fpdf.New("P", "mm", "A4", "")
	p.SetCompression(compress)
	p.SetTitle("Distribution Agreement", true)
	p.SetAuthor("Acme Corp", true)
	p.SetFont("Helvetica", "", 11)
	for _, page := range pdfParagraphs {
		p.AddPage()
		for _, para := range page {
			p.MultiCell(120, 5, para, "", "L", false)
			p.Ln(4)
		}
	}
	return pdfOutput(tb, p)
}

// imagePDF generates a one-page PDF with shapes but no text, like a scanned page.
func imagePDF(tb testing.TB) []byte {
	tb.Helper()
	p := fpdf.New("P", "mm", "A4", "")
	p.AddPage()
	p.Rect(20, 20, 100, 50, "F")
	return pdfOutput(tb, p)
}

// pdfOutput renders p.
func pdfOutput(tb testing.TB, p *fpdf.Fpdf) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := p.Output(&buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// zipFile builds a zip archive of the given files, in order (name, content, name, ...).
func zipFile(tb testing.TB, files ...string) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i+1 < len(files); i += 2 {
		w, err := zw.Create(files[i])
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := w.Write([]byte(files[i+1])); err != nil {
			tb.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

const documentXML = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>
<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>ARTICLE 1</w:t></w:r></w:p>
<w:p><w:r><w:t>The term of this Agreement</w:t></w:r><w:r><w:t xml:space="preserve"> is five years.</w:t></w:r></w:p>
<w:p/>
<w:p><w:r><w:t>Either party may terminate.</w:t></w:r></w:p>
</w:body></w:document>`

const coreXML = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties"
 xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/">
<dc:title>Supply Agreement</dc:title><dc:creator>Jane  Doe</dc:creator>
<dcterms:created>2024-01-02T03:04:05Z</dcterms:created></cp:coreProperties>`

// docxFile builds a minimal docx: content types, document.xml and core.xml.
func docxFile(tb testing.TB) []byte {
	tb.Helper()
	return zipFile(tb,
		"[Content_Types].xml", `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`,
		"word/document.xml", documentXML,
		"docProps/core.xml", coreXML)
}

const pageHTML = `<!DOCTYPE html>
<html><head><title>  Master
 Services Agreement </title><meta name="author" content="Legal Team">
<style>p { color: red }</style><script>var x = "<p>not text</p>";</script></head>
<body>
<nav><ul><li>Home</li><li>About   us</li></ul></nav>
<h1>Master Services Agreement</h1>
<div><div><p>This   Agreement is made
  between <b>Acme</b> and <i>Beta</i>.</p>
<p>It has two<br>lines.</p></div></div>
<h2>1. Services</h2>
<section>Acme provides the <a href="#">services</a>.<script>alert(1)</script>
<table><tr><td>Fee</td><td>100</td></tr></table></section>
<pre>  indented
    code</pre>
<noscript>enable scripts</noscript>
</body></html>`
