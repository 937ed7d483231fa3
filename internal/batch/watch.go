package batch

import (
	"context"
	"strings"
	"unicode/utf8"
)

// countSegment is the most text the planner's tokenizer counts at once when it watches a
// context: counting a megabyte takes a few tens of milliseconds, so a cancelled context
// is noticed that quickly even in a document of tens of megabytes.
const countSegment = 1 << 20

// prepare turns an item into a job (see prepareJob), and stops early when ctx ends:
// then it returns ctx's cause. Counting tokens and splitting a long document take
// seconds per tens of megabytes; an interrupted run must not wait for them.
func (p *planner) prepare(ctx context.Context, it *item) (*job, error) {
	j, err := p.watching(ctx).prepareJob(it)
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	return j, err
}

// watching returns a copy of p whose token count counts long texts a segment at a time
// and counts nothing once ctx has ended, so that the work built on it ends quickly.
func (p *planner) watching(ctx context.Context) *planner {
	w := *p
	w.stopped = func() bool { return ctx.Err() != nil }
	count := p.count
	w.count = func(text string) int {
		n := 0
		for len(text) > 0 {
			if ctx.Err() != nil {
				return n
			}
			seg := text[:segmentEnd(text, countSegment)]
			n += count(seg)
			text = text[len(seg):]
		}
		return n
	}
	return &w
}

// segmentEnd returns where the first segment of text of at most size bytes ends: after
// the last line break or space within size, else at a character boundary, so that a
// word is rarely and a character never cut.
func segmentEnd(text string, size int) int {
	if len(text) <= size {
		return len(text)
	}
	if i := strings.LastIndexAny(text[:size], "\n "); i > size/2 {
		return i + 1
	}
	end := size
	for end > 0 && !utf8.RuneStart(text[end]) {
		end--
	}
	if end == 0 {
		return size
	}
	return end
}
