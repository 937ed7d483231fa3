package analyze

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// Verdict is the report in one line: what binds, by how much, and how long the workload
// takes — "Binding: tokens per minute — demand is 3.2× the quota; 12m40s to process 60
// documents".
func (r *Report) Verdict() string {
	docs := plural(r.Documents, "document")
	took := fmt.Sprintf("%s to process %s", Human(r.Makespan), docs)
	c := r.constraint(r.Binding)
	switch r.Binding {
	case latencyKey:
		return fmt.Sprintf("Binding: nothing — the quotas admit the calls as fast as they are answered; %s", took)
	case concurrencyKey:
		return fmt.Sprintf("Binding: calls in flight — the cap of %d makes the work %s longer than the quotas would; %s", c.Cap, Times(r.Margin), took)
	case pendingKey:
		return fmt.Sprintf("Binding: documents handed over at once (pending) — the work takes %s longer than the quotas would; %s", Times(r.Margin), took)
	}
	behind := ""
	if r.Margin < 1.25 && r.Next != "" && r.Next != latencyKey {
		behind = fmt.Sprintf(", with %s close behind (%s)", r.nameOf(r.Next), Times(1/r.Margin))
	}
	return fmt.Sprintf("Binding: %s — demand is %s the quota%s; %s", c.Name, Times(r.Demand), behind, took)
}

// WriteText writes the report for people: the verdict, then aligned sections.
func (r *Report) WriteText(w io.Writer) error {
	b := &strings.Builder{}
	fmt.Fprintln(b, r.Verdict())
	fmt.Fprintln(b)
	name := r.ModelID
	if r.ModelName != "" {
		name = r.ModelName
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Model\t%s (%s): output counts ×%g; an unset max_tokens reserves %s; context %s\n",
		r.Model, name, r.Burndown, Group(int64(r.DefaultMaxTokens)), Group(int64(r.ContextWindow)))
	src := r.Source
	if src == "" {
		src = "workload"
	}
	fmt.Fprintf(tw, "Workload\t%s: %s, %s; %s input + %s output tokens = %s quota tokens\n", src,
		plural(r.Documents, "document"), plural(r.Calls, "call"), Group(r.InputTokens), Group(r.OutputTokens), Group(r.QuotaTokens))
	if r.Chunked > 0 {
		fmt.Fprintf(tw, "Chunked\t%s too long for one call, split into %s: %s, then %s combining the answers\n",
			plural(r.Chunked, "document"), plural(r.ChunkCalls, "call"), plural(r.ChunkCalls-r.Chunked, "chunk"), plural(r.Chunked, "call"))
	}
	var limits []string
	for _, c := range r.Constraints {
		if c.Limit != "" {
			limits = append(limits, c.Limit)
		}
	}
	q := strings.Join(limits, ", ")
	if r.LimitsSource != "" {
		q += " (" + r.LimitsSource + ")"
	}
	fmt.Fprintf(tw, "Quotas\t%s\n", q)
	fmt.Fprintf(tw, "Latency\t%s to the first token + %s per output token: %s per call on average\n",
		Human(r.TTFT), Human(r.PerToken), Human(r.MeanLatency))
	tw.Flush()

	fmt.Fprintln(b)
	rows := [][]string{{"CONSTRAINT", "CAPACITY", "NEEDS", "÷ OTHERS", "USE AT PREDICTED RATE", "HELD BY RESERVATIONS", ""}}
	for _, c := range r.Constraints {
		capacity, held := "-", "-"
		switch {
		case c.Amount > 0:
			capacity = Group(c.Amount) + "/" + PerWord(c.Per)
		case c.Cap > 0:
			capacity = strconv.Itoa(c.Cap) + " at once"
		}
		if c.Settled+c.Held > 0 {
			held = fmt.Sprintf("%.0f%%", 100*float64(c.Held)/float64(c.Settled+c.Held))
		}
		mark := ""
		if c.Key == r.Binding {
			mark = "◀ binds"
		}
		rows = append(rows, []string{c.Name, capacity, Human(c.Need), Times(c.Ratio), fmt.Sprintf("%.0f%%", 100*c.Utilization), held, mark})
	}
	writeTable(b, rows)
	fmt.Fprintln(b, "  needs: how long each alone takes to let the workload through; ÷ others: needs ÷ the longest other (above 1× it binds)")

	fmt.Fprintln(b)
	tw = tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Ceiling\t%s calls/min, %s documents/min (sustained, at the binding constraint)\n", rate(r.CallsPerMinute), rate(r.DocumentsPerMinute))
	paced := "unpaced, as tollgate run"
	if r.Pacing > 0 {
		paced = "paced in bursts of " + Human(r.Pacing) + "'s worth"
	}
	fmt.Fprintf(tw, "Time to process\t%s (simulated admission: windows start empty, %s, plus the last answers); calls wait %s on average\n",
		Human(r.Makespan), paced, Human(r.MeanWait))
	for _, c := range r.Classes {
		fmt.Fprintf(tw, "  %s\t%s done by %s (on average by %s)\n", c.Priority, plural(c.Documents, "document"), Human(c.Done), Human(c.Mean))
	}
	if r.LowerBound > 0 {
		fmt.Fprintf(tw, "Quota efficiency\t%.2f: the quotas allow this work in %s at best, after what they let through at once at the start\n",
			r.Efficiency, Human(r.LowerBound))
	}
	mt := r.MaxTokens
	cur := Group(int64(mt.Current))
	if mt.Unset {
		cur += " (unset: the model's default)"
	}
	if mt.Keep {
		fmt.Fprintf(tw, "max_tokens\tnow %s; keep it: its reservations hold no more than the calls settle, and the %s of the expected outputs (%s) would be slower\n",
			cur, percentile(mt.Quantile), Group(int64(mt.OutputQuantile)))
	} else {
		fmt.Fprintf(tw, "max_tokens\tnow %s; recommended %s, the %s of the expected outputs (%s) rounded up\n",
			cur, Group(int64(mt.Recommended)), percentile(mt.Quantile), Group(int64(mt.OutputQuantile)))
	}
	if mt.Recommended != mt.Current {
		fmt.Fprintf(tw, "  with %s\t%s calls/min, %s documents/min; %s to process (binding: %s)\n", Group(int64(mt.Recommended)),
			rate(mt.CallsPerMinute), rate(mt.DocumentsPerMinute), Human(mt.Makespan), r.nameOf(mt.Binding))
	}
	if mt.Continued > 0 {
		fmt.Fprintf(tw, "  \t%s would stop at max_tokens and be continued (%s more, each resending input and output so far)\n",
			plural(mt.Continued, "request"), plural(mt.ExtraCalls, "call"))
	} else {
		fmt.Fprintf(tw, "  \tno reply expected to stop at it; one that does is continued: sent again with its output so far\n")
	}
	fmt.Fprintf(tw, "Concurrency\t%.1f calls in flight at the ceiling now; recommended %d (Little's law: rate × mean latency)\n",
		r.Concurrency.Current, r.Concurrency.Recommended)
	tw.Flush()
	if len(r.Notes) > 0 {
		fmt.Fprintln(b)
		for _, n := range r.Notes {
			fmt.Fprintln(b, "Note: "+n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeTable writes rows as columns two spaces apart: the first and last left-aligned,
// the others (numbers) right-aligned.
func writeTable(b *strings.Builder, rows [][]string) {
	width := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, cell := range row {
			width[i] = max(width[i], utf8.RuneCountInString(cell))
		}
	}
	for _, row := range rows {
		var line strings.Builder
		for i, cell := range row {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(cell))
			switch {
			case i == 0:
				line.WriteString(cell + pad)
			case i == len(row)-1:
				line.WriteString("  " + cell)
			default:
				line.WriteString("  " + pad + cell)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
}

// constraint returns the constraint with key k.
func (r *Report) constraint(k string) Constraint {
	for _, c := range r.Constraints {
		if c.Key == k {
			return c
		}
	}
	return Constraint{Key: k, Name: k}
}

// nameOf returns the name of the constraint with key k.
func (r *Report) nameOf(k string) string {
	if k == latencyKey {
		return "none, latency"
	}
	return r.constraint(k).Name
}

// Human writes a duration for people: 850ms, 9.4s, 12m40s, 3h05m, 2d04h.
func Human(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return strconv.FormatInt(d.Round(time.Millisecond).Milliseconds(), 10) + "ms"
	case d < 10*time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	case d < time.Minute:
		return strconv.Itoa(int(d.Round(time.Second).Seconds())) + "s"
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		d = d.Round(time.Minute)
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	d = d.Round(time.Hour)
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

// Group writes n with thousands separators: 1,000,000.
func Group(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Times writes a multiple for people: 3.2×, 0.41×, 120×.
func Times(x float64) string {
	switch {
	case math.IsInf(x, 0) || math.IsNaN(x):
		return "-"
	case x >= 100:
		return strconv.FormatFloat(x, 'f', 0, 64) + "×"
	case x >= 10:
		return strconv.FormatFloat(x, 'f', 1, 64) + "×"
	}
	return strconv.FormatFloat(x, 'f', 2, 64) + "×"
}

// rate writes a rate per minute with three significant digits.
func rate(x float64) string {
	switch {
	case x >= 100:
		return Group(int64(math.Round(x)))
	case x >= 10:
		return strconv.FormatFloat(x, 'f', 1, 64)
	}
	return strconv.FormatFloat(x, 'f', 2, 64)
}

// percentile writes a quantile as a percentile: "95th percentile".
func percentile(q float64) string {
	p := strconv.FormatFloat(q*100, 'f', -1, 64)
	suffix := "th"
	switch {
	case strings.HasSuffix(p, "1") && !strings.HasSuffix(p, "11"):
		suffix = "st"
	case strings.HasSuffix(p, "2") && !strings.HasSuffix(p, "12"):
		suffix = "nd"
	case strings.HasSuffix(p, "3") && !strings.HasSuffix(p, "13"):
		suffix = "rd"
	}
	return p + suffix + " percentile"
}

// plural writes "1 document", "60 documents".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return Group(int64(n)) + " " + noun + "s"
}
