package analyze

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/quotatext"
	"github.com/tollgate-dev/tollgate/internal/results"
	"github.com/tollgate-dev/tollgate/quota"
)

// Request is one model call of a workload.
type Request struct {
	// Name is the document's path, with "#chunk3" or "#combine" for the calls of a chunked
	// document, or a request's id. The part before '#' names the document: a "#combine"
	// call starts only when every other call of its document has finished.
	Name string
	// Priority is the call's class.
	Priority quota.Priority
	// InputTokens is the call's input in the model's own count (an estimate already
	// corrected to the model's tokenizer, or the count the service reported).
	InputTokens int
	// MaxTokens is the max_tokens sent; 0 means unset, so Bedrock reserves the model's
	// default (catalog DefaultMaxTokens, else MaxOutputTokens).
	MaxTokens int
	// InputAddsParts, on a "#combine" request, adds to InputTokens the output of the
	// document's other requests listed before it: the combining call reads their
	// answers, whose length is known only once they are made (expected, when their
	// OutputTokens is 0, as Params.Output gives it).
	InputAddsParts bool
	// OutputTokens is the expected output length; 0 means unknown, and Params.Output
	// gives it. An output longer than the max_tokens in effect is produced by
	// continuations: the call stops at max_tokens and is sent again with its output so far
	// appended to the input, until the output is complete.
	OutputTokens int
}

// Workload is what analyze is asked about: the calls, the documents behind them, and
// where they came from.
type Workload struct {
	Requests []Request
	// Documents is the number of documents behind the requests (a chunked document has
	// several requests). Zero means one per distinct document name.
	Documents int
	// Source describes the workload for people: "folder examples/contracts",
	// "requests.jsonl", "results out.jsonl".
	Source string
}

// document returns the document a request belongs to: its name up to the first '#'.
func document(name string) string {
	if i := strings.IndexByte(name, '#'); i >= 0 {
		return name[:i]
	}
	return name
}

// isCombine reports whether a request combines the answers of its document's other calls.
func isCombine(name string) bool { return strings.HasSuffix(name, "#combine") }

// FromResults returns the workload a previous run's results describe, from the usage the
// service reported, so that analysing it replays the run exactly: one request per call
// of every done record (failed and skipped records did not run to the end and are left
// out), in the order of the file.
//
// A record's usage is the sum over its calls, so it is split evenly: a record of n calls
// of which c continued a reply cut at max_tokens (Continuations) has b = n − c base calls
// — its chunks and the call combining them ("#chunkK", "#combine"), or the one call —
// each with output O = output ÷ b. Each base call was sent with max_tokens M (the
// record's MaxTokens) and needed k = 1 + c/b calls, the j-th (from 0) with its input plus
// the j·M tokens produced before it, so the record's input is b·(k·in + M·k(k−1)/2) and
//
//	in = (input ÷ b − M·k(k−1)/2) ÷ k
//
// Analysis re-derives the continuations from O > M. Cache reads and writes count as input
// (they are reserved like it; only writes are charged, a difference left out).
func FromResults(recs []results.Record) Workload {
	var w Workload
	for _, r := range recs {
		if r.Status != results.Done {
			continue
		}
		w.Documents++
		p, err := quotatext.ParsePriority(r.Priority)
		if err != nil {
			p = quota.Normal
		}
		n := max(r.Calls, 1)
		c := min(max(r.Continuations, 0), n-1)
		b := n - c
		k := float64(n) / float64(b)
		input := float64(r.Usage.InputTokens + r.Usage.CacheReadTokens + r.Usage.CacheWriteTokens)
		in := (input/float64(b) - float64(r.MaxTokens)*k*(k-1)/2) / k
		out := int(math.Round(float64(r.Usage.OutputTokens) / float64(b)))
		for i := range b {
			name := r.Path
			switch {
			case b == 1:
			case r.Chunks > 0 && i == b-1:
				name += "#combine"
			case r.Chunks > 0:
				name += "#chunk" + strconv.Itoa(i+1)
			default:
				name += "#" + strconv.Itoa(i+1)
			}
			w.Requests = append(w.Requests, Request{Name: name, Priority: p,
				InputTokens: max(int(math.Round(in)), 1), MaxTokens: r.MaxTokens, OutputTokens: max(out, 1)})
		}
	}
	return w
}

// Latency is a latency model: a call takes TimeToFirstToken, then PerOutputToken for
// each output token after the first.
type Latency struct {
	TimeToFirstToken time.Duration
	PerOutputToken   time.Duration
}

// Of returns the time a call producing out tokens takes.
func (l Latency) Of(out int) time.Duration {
	return l.TimeToFirstToken + time.Duration(max(out-1, 0))*l.PerOutputToken
}

// MeasureLatency fits a Latency to the done records of a run by least squares over
// their calls (in emulated time for a run against a time-scaled emulator): each record gives the mean time of its calls (LatencyMS ÷ Calls) against
// their mean output. It reports false when fewer than two records have a latency. When
// every call produced about the same output the slope cannot be told from the intercept:
// the per-token time is then kept at def's and only the first-token time is fitted.
// Negative fits are clamped to zero.
func MeasureLatency(recs []results.Record, def Latency) (Latency, bool) {
	var xs, ys []float64
	for _, r := range recs {
		if r.Status != results.Done || r.LatencyMS <= 0 {
			continue
		}
		n := float64(max(r.Calls, 1))
		xs = append(xs, max(float64(r.Usage.OutputTokens)/n-1, 0))
		ys = append(ys, float64(r.LatencyMS)*r.Scale()/n)
	}
	if len(xs) < 2 {
		return def, false
	}
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx /= float64(len(xs))
	my /= float64(len(xs))
	var sxx, sxy float64
	for i := range xs {
		sxx += (xs[i] - mx) * (xs[i] - mx)
		sxy += (xs[i] - mx) * (ys[i] - my)
	}
	perToken := float64(def.PerOutputToken) / float64(time.Millisecond)
	if sxx/float64(len(xs)) >= 100 { // outputs spread by at least ±10 tokens
		perToken = max(sxy/sxx, 0)
	}
	first := max(my-perToken*mx, 0)
	return Latency{
		TimeToFirstToken: time.Duration(first * float64(time.Millisecond)),
		PerOutputToken:   time.Duration(perToken * float64(time.Millisecond)),
	}, true
}

// ObservedMakespan returns how long the run that wrote recs took: from the first record's
// start to the last one's finish, over the done records, in the emulated time of a run
// against a time-scaled emulator (Record.TimeScale). It reports false when they carry no
// times.
func ObservedMakespan(recs []results.Record) (time.Duration, bool) {
	var first, last time.Time
	scale := 1.0
	for _, r := range recs {
		if r.Status == results.Done {
			scale = r.Scale()
		}
		if r.Status != results.Done || r.Started.IsZero() || r.Finished.IsZero() {
			continue
		}
		if first.IsZero() || r.Started.Before(first) {
			first = r.Started
		}
		if r.Finished.After(last) {
			last = r.Finished
		}
	}
	if first.IsZero() || !last.After(first) {
		return 0, false
	}
	return time.Duration(float64(last.Sub(first)) * scale), true
}

// documents returns the number of distinct documents of w's requests.
func (w Workload) documents() int {
	if w.Documents > 0 {
		return w.Documents
	}
	seen := map[string]bool{}
	for _, r := range w.Requests {
		seen[document(r.Name)] = true
	}
	return len(seen)
}

// quantile returns the q-quantile of xs (nearest rank, xs unsorted; 0 when empty).
func quantile(xs []int, q float64) int {
	if len(xs) == 0 {
		return 0
	}
	s := append([]int(nil), xs...)
	sort.Ints(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}
