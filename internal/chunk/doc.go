// Package chunk splits a long document into pieces that each fit a model's token budget,
// cutting where the document's own structure allows.
//
// Split prefers, in order: section headings (markdown "#" headings; "ARTICLE 5",
// "Article V.", "SECTION 3", "Section 3.1", "5. TERM AND TERMINATION"; a short ALL-CAPS
// line), blank-line paragraph boundaries, line breaks, sentence ends, and only as a last
// resort a hard cut inside a run of text with none of these. Packing is greedy and
// hierarchical: a chunk takes as many whole sections as fit; a section too large for a
// chunk of its own starts a new chunk and is packed paragraph by paragraph, a paragraph too
// large line by line, and so on down. So chunk boundaries fall on headings wherever the
// sections allow it.
//
// Each chunk after the first may repeat the end of the previous one (Config.OverlapTokens):
// its trailing whole paragraphs, or, when not even its last paragraph fits, its trailing
// lines or sentences. The non-overlapping parts tile the text: Chunk.Start and Chunk.End
// of consecutive chunks meet, and text[c.Start:c.End] concatenated over the chunks is the
// text, byte for byte.
//
// Token counts come from Config.Count, called once per structural unit (not once per
// step on the remaining text), once more on each finished chunk to check it, and a
// logarithmic number of times on the prefixes of a hard cut: Split is O(n log n) in the
// text's length for counters that are linear.
package chunk
