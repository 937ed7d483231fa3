package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/tollgate-dev/tollgate/internal/analyze"
	"github.com/tollgate-dev/tollgate/internal/batch"
	"github.com/tollgate-dev/tollgate/internal/results"
	"github.com/tollgate-dev/tollgate/quota"
)

// progressEvery is how often the display refreshes: the bar, and the ETA forecast.
const progressEvery = 500 * time.Millisecond

// logEvery is how often the plain display writes a line.
const logEvery = 5 * time.Second

// startProgress shows the run's progress on w until the returned function is called: a
// live bar on a terminal ("bar"), a line every few seconds otherwise ("log").
func startProgress(ctx context.Context, w io.Writer, mode string, r *batch.Runner, s *session) func() {
	if mode == "auto" {
		mode = "log"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			mode = "bar"
		}
	}
	if mode == "none" {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var bar *progressbar.ProgressBar
		tick := time.NewTicker(progressEvery)
		defer tick.Stop()
		var lastLog time.Time
		for {
			select {
			case <-done:
				if bar != nil {
					// The run is over: the bar's last state is the final status, without
					// the ETA of the last forecast.
					st := r.Status()
					st.ETA = 0
					bar.Describe(progressLine(st, s))
					_ = bar.Set(st.Done + st.Failed + st.Skipped + st.Resumed)
					_ = bar.Finish()
					fmt.Fprintln(w)
				}
				return
			case <-tick.C:
			}
			r.Forecast(context.WithoutCancel(ctx))
			st := r.Status()
			if st.Total == 0 {
				continue
			}
			finished := st.Done + st.Failed + st.Skipped + st.Resumed
			line := progressLine(st, s)
			if mode == "bar" {
				if bar == nil {
					bar = progressbar.NewOptions(st.Total, progressbar.OptionSetWriter(w), progressbar.OptionShowCount(),
						progressbar.OptionSetWidth(24), progressbar.OptionSetPredictTime(false), progressbar.OptionThrottle(100*time.Millisecond),
						progressbar.OptionSetDescription("documents"))
				}
				_ = bar.Set(finished)
				bar.Describe(line)
				continue
			}
			if time.Since(lastLog) >= logEvery || finished == st.Total {
				lastLog = time.Now()
				fmt.Fprintf(w, "%s %d/%d documents · %s\n", time.Now().Format("15:04:05"), finished, st.Total, line)
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// progressLine is the status shown beside the bar. The ETA is shown only while documents
// are open: the last forecast was made before the last one finished.
func progressLine(st batch.Status, s *session) string {
	parts := []string{fmt.Sprintf("%s in / %s out tokens", compact(st.InputTokens), compact(st.OutputTokens))}
	if st.Bottleneck.Amount > 0 {
		parts = append(parts, "binds: "+s.limitLabel(st.Bottleneck))
	}
	parts = append(parts, fmt.Sprintf("%d throttled", st.Throttles))
	if st.Failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", st.Failed))
	}
	if st.Interrupted {
		parts = append(parts, "interrupted: finishing calls in flight")
	} else if st.ETA > 0 && st.Done+st.Failed+st.Skipped+st.Resumed < st.Total {
		parts = append(parts, "ETA "+roundDuration(s.emulatedDuration(st.ETA)))
	}
	return strings.Join(parts, " · ")
}

// compact writes a count in three significant figures at most: 950, 12.3k, 4.5M.
func compact(n int64) string {
	switch {
	case n >= 1_000_000:
		return fmt.Sprintf("%.3gM", float64(n)/1e6)
	case n >= 1_000:
		return fmt.Sprintf("%.3gk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

func roundDuration(d time.Duration) string {
	switch {
	case d >= time.Hour:
		return d.Round(time.Minute).String()
	case d >= time.Minute:
		return d.Round(time.Second).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

// printSummary writes the final summary of a run for people.
func printSummary(w io.Writer, sum batch.Summary, s *session, args []string) {
	unit := ""
	if s.scale != 1 {
		unit = " (emulated time)"
	}
	fmt.Fprintf(w, "\nDone: %d of %d documents in %s%s; %d failed, %d skipped, %d already done by an earlier run.\n",
		sum.Done, sum.Total, roundDuration(s.emulatedDuration(sum.Elapsed)), unit, sum.Failed, sum.Skipped, sum.Resumed)
	fmt.Fprintf(w, "Tokens: %s in, %s out; %s quota tokens settled.\n", group(sum.InputTokens), group(sum.OutputTokens), group(sum.QuotaTokens))
	fmt.Fprintf(w, "Calls: %d (%d attempts, %d throttled).\n", sum.Calls, sum.Attempts, sum.Throttles)
	if sum.LowerBound > 0 {
		fmt.Fprintf(w, "Quota efficiency: %.2f — the quotas allow this much work in %s at best (%s binds, after what it lets through at once at the start); it took %s.\n",
			sum.Efficiency, roundDuration(s.emulatedDuration(sum.LowerBound)), s.limitLabel(sum.Binding), roundDuration(s.emulatedDuration(sum.Elapsed)))
	}
	if len(sum.Levels) > 0 {
		var ls []string
		for k, v := range sum.Levels {
			ls = append(ls, fmt.Sprintf("%s %d", k, v))
		}
		sort.Strings(ls)
		fmt.Fprintf(w, "Verbosity: %s.\n", strings.Join(ls, ", "))
	}
	if len(sum.Failures) > 0 {
		fmt.Fprintln(w, "Not done:")
		for _, f := range sum.Failures {
			fmt.Fprintf(w, "  %s (%s): %s\n", batch.Quote(f.Path), f.Status, batch.Escape(f.Error))
		}
	}
	if len(sum.Unsaved) > 0 {
		fmt.Fprintln(w, "Not saved (processed, but the results file could not be written; a second run does them again):")
		for _, p := range sum.Unsaved {
			fmt.Fprintf(w, "  %s\n", batch.Quote(p))
		}
	}
	fmt.Fprintf(w, "Results: %s\n", sum.Out)
	if sum.Stopped != "" {
		fmt.Fprintf(w, "Stopped: %s\nFix the cause, then run the same command again: done documents are skipped, the rest are done.\n", batch.Escape(sum.Stopped))
	}
	if sum.Interrupted {
		fmt.Fprintf(w, "Interrupted: %d documents have no record yet. Run the same command again to do them (done ones are skipped):\n  %s\n",
			sum.Total-sum.Done-sum.Failed-sum.Skipped-sum.Resumed, resumeCommand())
	}
}

// limitLabel names a limit of the session's clock for people: "tokens per minute".
func (s *session) limitLabel(l quota.Limit) string {
	l.Per = s.emulatedDuration(l.Per)
	return analyze.LimitName(l)
}

// resumeCommand is the command line that started this process.
func resumeCommand() string {
	parts := []string{"tollgate"}
	for _, a := range os.Args[1:] {
		if strings.ContainsAny(a, " '\"*$") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// summaryJSON is the --json form of the summary.
type summaryJSON struct {
	Total             int              `json:"total"`
	Done              int              `json:"done"`
	Failed            int              `json:"failed"`
	Skipped           int              `json:"skipped"`
	Resumed           int              `json:"resumed"`
	Calls             int              `json:"calls"`
	Attempts          int              `json:"attempts"`
	Throttles         int              `json:"throttles"`
	InputTokens       int64            `json:"input_tokens"`
	OutputTokens      int64            `json:"output_tokens"`
	QuotaTokens       int64            `json:"quota_tokens"`
	ElapsedSeconds    float64          `json:"elapsed_seconds"`
	LowerBoundSeconds float64          `json:"lower_bound_seconds"`
	Efficiency        float64          `json:"efficiency"`
	Binding           string           `json:"binding,omitempty"`
	Levels            map[string]int   `json:"levels"`
	Interrupted       bool             `json:"interrupted"`
	Stopped           string           `json:"stopped,omitempty"`
	Emulated          bool             `json:"emulated"`
	TimeScale         float64          `json:"time_scale"`
	Out               string           `json:"out"`
	Failures          []results.Record `json:"failures,omitempty"`
	Unsaved           []string         `json:"unsaved,omitempty"`
}

func printSummaryJSON(w io.Writer, sum batch.Summary, s *session) error {
	j := summaryJSON{Total: sum.Total, Done: sum.Done, Failed: sum.Failed, Skipped: sum.Skipped, Resumed: sum.Resumed,
		Calls: sum.Calls, Attempts: sum.Attempts, Throttles: sum.Throttles,
		InputTokens: sum.InputTokens, OutputTokens: sum.OutputTokens, QuotaTokens: sum.QuotaTokens,
		ElapsedSeconds: s.emulatedDuration(sum.Elapsed).Seconds(), LowerBoundSeconds: s.emulatedDuration(sum.LowerBound).Seconds(),
		Efficiency: sum.Efficiency, Levels: sum.Levels, Interrupted: sum.Interrupted, Stopped: sum.Stopped, Emulated: s.srv != nil, TimeScale: s.scale,
		Out: sum.Out, Failures: sum.Failures, Unsaved: sum.Unsaved}
	if sum.LowerBound > 0 {
		j.Binding = s.limitLabel(sum.Binding)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(j)
}
