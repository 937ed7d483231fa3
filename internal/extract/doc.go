// Package extract turns the documents `tollgate run` is given into the UTF-8 text a model
// reads: plain text and markdown as they are, HTML as its visible text with its paragraph
// structure, PDF as the text of its pages, and docx as the text of its paragraphs.
//
// Every format comes out the same way: UTF-8, "\n" line ends, paragraphs separated by a
// blank line and headings on a line of their own (HTML headings become markdown "#"
// headings), because package chunk splits on exactly those boundaries. Plain text and
// markdown are returned unchanged apart from a stripped byte-order mark, UTF-16 decoding
// and newline normalisation, so offsets into Doc.Text match the file's own lines.
//
// PDF text comes from github.com/ledongthuc/pdf: it is pure Go (no cgo, no external
// tool), under a BSD licence, still maintained, and it exposes each glyph's position and
// size, from which this package rebuilds lines, word spaces and paragraph gaps (its own
// GetPlainText keeps none of them). The alternatives were pdfcpu, which extracts content
// streams but not text, and UniPDF, which is commercially licensed. The library panics on
// some malformed files; those panics are recovered at the single call into it and
// returned as errors. A PDF that is only scanned images has no text: Bytes returns
// ErrEmpty with a hint to run OCR first.
//
// docx text comes from estimate.OfficeText, the parser the token estimator already uses
// (it inflates at most 32 MB per part); the title and author come from docProps/core.xml.
//
// Nothing in this package keeps state: every function is safe for concurrent use.
package extract
