package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/analyze"
	"github.com/tollgate-dev/tollgate/internal/analyze/chart"
	"github.com/tollgate-dev/tollgate/internal/batch"
	"github.com/tollgate-dev/tollgate/internal/results"
	"github.com/tollgate-dev/tollgate/quota"
)

func init() { registered = append(registered, newAnalyzeCmd) }

// analyzeFlags are the flags of "tollgate analyze" beyond the job's.
type analyzeFlags struct {
	job                           jobFlags
	configFile, endpoint, chartTo string
	json, paced                   bool
	maxInFlight, pending          int
	ttft, perToken                time.Duration
	quantile                      float64
	changed                       func(name string) bool
}

func newAnalyzeCmd() *cobra.Command {
	var f analyzeFlags
	cmd := &cobra.Command{
		Use:   "analyze [flags] FOLDER|FILE|REQUESTS.jsonl|RESULTS.jsonl...",
		Short: "Tell which quota binds a workload, the throughput possible, and what max_tokens and concurrency to use",
		Long: `Analyze tells, for a model's quotas and a workload, which limit binds and by how much, the
throughput ceiling in calls and documents per minute, how max_tokens changes it under
Bedrock's reservation rule (each call holds input + max_tokens of the tokens-per-minute
quota until it ends), the max_tokens and concurrency to use, and how long the workload
takes — by simulating how tollgate run admits it (no pacing; --paced for the library
client's default) (see docs/analyze.md).

The workload is what "tollgate run" would send for the same inputs — folders, files or a
JSONL of requests, read, templated, estimated and chunked as a run does (the same flags
apply) — or the results file of a previous run, whose actual usage (and, unless --ttft or
--per-token is given, latency) is replayed exactly.

The quotas come from --tpm/--tpd/--rpm/--limit, else from the config file's limits, else
the account's applied quotas read with Service Quotas as "tollgate quotas" does, falling
back to the AWS defaults with the reason.`,
		Example: `  tollgate analyze --tpm 200000 examples/contracts
  tollgate analyze --limit "400k tokens/min" --limit "50 requests/min" --chart analysis.png contracts/
  tollgate analyze --json tollgate-results.jsonl          # a previous run, from its actual usage
  tollgate analyze --config analyze.yaml --max-tokens 1024 contracts/`,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.changed = cmd.Flags().Changed
			return runAnalyze(cmd.Context(), cmd.OutOrStdout(), f, args)
		},
	}
	fl := cmd.Flags()
	f.job.register(fl)
	fl.StringVar(&f.configFile, "config", "", "YAML file with the model, limits, latency and settings (see docs/analyze.md); flags override it")
	fl.StringVar(&f.endpoint, "endpoint", "", "Service Quotas endpoint URL for discovery, e.g. an emulator (default: AWS, or AWS_ENDPOINT_URL_SERVICE_QUOTAS)")
	fl.StringVar(&f.chartTo, "chart", "", "also draw the analysis to this file, .png or .svg")
	fl.BoolVar(&f.json, "json", false, "print the report as JSON (field names in docs/analyze.md)")
	fl.IntVar(&f.maxInFlight, "max-in-flight", 0, "cap on calls in flight (default: none, as tollgate run)")
	fl.IntVar(&f.pending, "pending", batch.DefaultPending, "documents handed to the admission queue at once, as tollgate run's --pending; 0 = all")
	fl.DurationVar(&f.ttft, "ttft", 0, "time to the first token of a reply (default: 400ms, or measured from a results file)")
	fl.DurationVar(&f.perToken, "per-token", 0, "time per further output token (default: 15ms, or measured from a results file)")
	fl.BoolVar(&f.paced, "paced", false, "simulate the library client's default pacing (admissions spread at the rate, bursts of a sixth of the window) instead of tollgate run's none")
	fl.Float64Var(&f.quantile, "quantile", analyze.DefaultQuantile, "quantile of the expected outputs to recommend as max_tokens")
	return cmd
}

// runAnalyze resolves the flags, builds the workload and the limits, analyses and prints.
func runAnalyze(ctx context.Context, out io.Writer, f analyzeFlags, args []string) error {
	if f.changed == nil {
		f.changed = func(string) bool { return false }
	}
	if len(args) == 0 {
		return usageError{errors.New(`nothing to analyze: give folders, files, a JSONL of requests or a results file (see "tollgate analyze --help")`)}
	}
	for _, a := range args {
		if _, err := os.Stat(a); err != nil {
			return usageError{fmt.Errorf("input %s: %w", a, err)}
		}
	}
	if f.chartTo != "" {
		if _, err := chart.Format(f.chartTo); err != nil {
			return usageError{fmt.Errorf("--chart: %w", err)}
		}
	}
	var file analyze.File
	if f.configFile != "" {
		b, err := os.ReadFile(f.configFile)
		if err != nil {
			return usageError{fmt.Errorf("--config: %w", err)}
		}
		if file, err = analyze.ParseFile(b); err != nil {
			return usageError{fmt.Errorf("--config %s: %w", f.configFile, err)}
		}
	}
	f.applyFile(file)
	if err := f.validate(); err != nil {
		return err
	}

	var recs []results.Record
	if len(args) == 1 && isResultsFile(args[0]) {
		var err error
		if recs, err = results.Load(args[0]); err != nil {
			return usageError{fmt.Errorf("results file %s: %w", args[0], err)}
		}
		for _, r := range recs { // a previous run says what it called
			if r.Status == results.Done && r.Model != "" && !f.changed("model") && file.Model == "" {
				f.job.model = r.Model
			}
			if r.Status == results.Done && r.Region != "" && !f.changed("region") && file.Region == "" {
				f.job.region = r.Region
			}
		}
	}
	if strings.TrimSpace(f.job.model) == "" {
		return usageError{errors.New(`--model is required: give the model id, profile id or ARN the workload is sent to (e.g. --model us.anthropic.claude-sonnet-4-20250514-v1:0)`)}
	}
	cat, err := f.job.catalog()
	if err != nil {
		return err
	}
	model, _, err := cat.Lookup(f.job.model)
	if err != nil {
		return usageError{fmt.Errorf("--model: %w", err)}
	}
	limits, err := f.job.explicitLimits()
	if err != nil {
		return err
	}
	if limits == nil && file.Limits != nil {
		limits = file.Limits
	}

	source := "given"
	if limits == nil {
		if limits, source, err = f.discover(ctx); err != nil {
			return err
		}
	}
	w, notes, params, err := f.workload(ctx, args, recs, cat, limits)
	if err != nil {
		return err
	}
	rep, err := analyze.New(analyze.Config{Model: model, ModelID: f.job.model, Limits: limits, LimitsSource: source,
		Workload: w, Params: params})
	if err != nil {
		return usageError{err}
	}
	rep.Notes = append(rep.Notes, notes...)
	if f.chartTo != "" {
		if err := chart.WriteFile(f.chartTo, rep); err != nil {
			return err
		}
	}
	if f.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	if err := rep.WriteText(out); err != nil {
		return err
	}
	if f.chartTo != "" {
		fmt.Fprintf(out, "\nChart: %s\n", f.chartTo)
	}
	return nil
}

// applyFile takes the settings of the config file that no flag overrides.
func (f *analyzeFlags) applyFile(file analyze.File) {
	set := func(name string, apply func()) {
		if !f.changed(name) {
			apply()
		}
	}
	if file.Model != "" {
		set("model", func() { f.job.model = file.Model })
	}
	if file.Region != "" {
		set("region", func() { f.job.region = file.Region })
	}
	if file.MaxInFlight != 0 {
		set("max-in-flight", func() { f.maxInFlight = file.MaxInFlight })
	}
	if file.Latency.TimeToFirstToken != 0 {
		set("ttft", func() { f.ttft = file.Latency.TimeToFirstToken })
	}
	if file.Latency.PerOutputToken != 0 {
		set("per-token", func() { f.perToken = file.Latency.PerOutputToken })
	}
	if file.ReserveBurndown {
		set("reserve-burndown", func() { f.job.reserveBurndown = true })
	}
	if file.Quantile != 0 {
		set("quantile", func() { f.quantile = file.Quantile })
	}
	if file.Pending != 0 {
		set("pending", func() { f.pending = file.Pending })
	}
}

// workload returns the workload of the inputs, notes about it, and the analysis
// parameters (with the latency measured from a results file unless given). Documents
// are split into chunks by limits, as a run under them splits them.
func (f *analyzeFlags) workload(ctx context.Context, args []string, recs []results.Record, cat *catalog.Catalog, limits []quota.Limit) (analyze.Workload, []string, analyze.Params, error) {
	p := analyze.Params{Latency: analyze.Latency{TimeToFirstToken: f.ttft, PerOutputToken: f.perToken},
		ReserveBurndown: f.job.reserveBurndown, MaxInFlight: f.maxInFlight, Quantile: f.quantile, Pending: f.pending, Pacing: batch.ClientPacing}
	if f.paced {
		p.Pacing = 0 // the client's default
	}
	if p.MaxInFlight < 0 || p.Pending < 0 {
		return analyze.Workload{}, nil, p, usageError{errors.New("--max-in-flight and --pending must not be negative")}
	}
	if !(p.Quantile > 0 && p.Quantile <= 1) {
		return analyze.Workload{}, nil, p, usageError{fmt.Errorf("--quantile %v: give a quantile in (0, 1], e.g. 0.95", p.Quantile)}
	}
	var notes []string
	if recs != nil {
		w := analyze.FromResults(recs)
		w.Source = "results " + args[0]
		if len(w.Requests) == 0 {
			return w, nil, p, usageError{fmt.Errorf("results file %s has no done record to analyze", args[0])}
		}
		if f.ttft == 0 && f.perToken == 0 {
			def := analyze.Latency{TimeToFirstToken: analyze.DefaultTimeToFirstToken, PerOutputToken: analyze.DefaultPerOutputToken}
			if l, ok := analyze.MeasureLatency(recs, def); ok {
				p.Latency = analyze.Latency{TimeToFirstToken: max(l.TimeToFirstToken, -1), PerOutputToken: max(l.PerOutputToken, -1)}
				if l.TimeToFirstToken == 0 {
					p.Latency.TimeToFirstToken = -1
				}
				if l.PerOutputToken == 0 {
					p.Latency.PerOutputToken = -1
				}
				notes = append(notes, fmt.Sprintf("latency measured from the results: %s to the first token + %s per output token",
					analyze.Human(l.TimeToFirstToken), analyze.Human(l.PerOutputToken)))
			}
		}
		if d, ok := analyze.ObservedMakespan(recs); ok {
			notes = append(notes, fmt.Sprintf("the run that wrote the results took %s", analyze.Human(d)))
		}
		return w, notes, p, nil
	}
	cfg, err := f.job.config(args)
	if err != nil {
		return analyze.Workload{}, nil, p, err
	}
	cfg.Catalog, cfg.Pending = cat, f.pending
	w, skipped, err := planWorkload(ctx, cfg, limits)
	if err != nil {
		return w, nil, p, err
	}
	if len(skipped) > 0 {
		notes = append(notes, fmt.Sprintf("%d file(s) would be skipped (unreadable, empty or unsupported), e.g. %s: %s",
			len(skipped), batch.Quote(skipped[0].Path), batch.Escape(skipped[0].Error)))
	}
	if len(w.Requests) == 0 {
		return w, notes, p, usageError{fmt.Errorf("nothing to analyze: no readable document in %s", strings.Join(args, ", "))}
	}
	return w, notes, p, nil
}

// discover reads the model's quotas as "tollgate quotas" does (Service Quotas, with the
// catalog's defaults as the fallback) and says where they came from.
func (f *analyzeFlags) discover(ctx context.Context) ([]quota.Limit, string, error) {
	r, err := discoverQuotas(ctx, quotasFlags{model: f.job.model, region: f.job.region, endpoint: f.endpoint,
		catalogFile: f.job.catalogFile})
	if r == nil {
		if err == nil {
			err = errors.New("no quotas found")
		}
		var ue usageError
		if errors.As(err, &ue) {
			return nil, "", err
		}
		return nil, "", fmt.Errorf("reading the quotas: %w (or give them: --tpm, --limit)", err)
	}
	if err != nil || len(r.Limits) == 0 {
		return nil, "", usageError{fmt.Errorf("reading the quotas of %s: %v: give them with --tpm or --limit", f.job.model, err)}
	}
	var parts []string
	for _, v := range r.Values {
		if v.Limit.Amount > 0 {
			parts = append(parts, v.Kind+" "+v.Source.String())
		}
	}
	source := r.Region + ": " + strings.Join(parts, ", ")
	if r.Fallback != "" {
		source += " (" + firstClause(r.Fallback) + ")"
	}
	return r.Limits, source, nil
}

// firstClause shortens a fallback reason to what precedes its first parenthesis or colon.
func firstClause(s string) string {
	if i := strings.IndexAny(s, "(:"); i > 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// isResultsFile reports whether path is the results file of a run: a .jsonl whose first
// record has "status" and "hash".
func isResultsFile(path string) bool {
	if !strings.EqualFold(filepath.Ext(path), ".jsonl") {
		return false
	}
	fh, err := os.Open(path)
	if err != nil {
		return false
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 0, 64*1024), 64<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(line, &m) != nil {
			return false
		}
		_, status := m["status"]
		_, hash := m["hash"]
		return status && hash
	}
	return false
}
