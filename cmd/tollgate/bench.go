package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tollgate-dev/tollgate/internal/bench"
)

func init() { registered = append(registered, newBenchCmd) }

// benchFlags are the flags of "tollgate bench".
type benchFlags struct {
	scenarios, strategies, sets []string
	window, chartDir, documents string
	short, json, quiet          bool
	timeScale                   float64
}

func newBenchCmd() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench [--scenario NAME|FILE.yaml]... [--window bucket|clock|both] [--short] [--json]",
		Short: "Run the same workload through Tollgate and competing strategies on the emulator",
		Long: `Bench runs the same seeded workload through competing ways of calling Bedrock — Tollgate
and the strategies users would pick instead — each against a fresh local emulator through
the real AWS SDK client, and prints a table per scenario: makespan, the lower bound the
quotas allow (settled usage, less what the emulator lets through at once at the start,
÷ rate), quota efficiency (lower bound ÷ makespan, at most 1), throttled
attempts per 1,000 calls (the emulator's count), calls failed and lost, p50/p95 latency per
priority, tokens reserved and settled.

Strategies: tollgate (the client as a user configures it: the quotas' amounts known, not
how the provider meters them; sliding windows, safe under both readings), tollgate-told
(also told the reading: a token bucket or clock minutes), tollgate-adaptive (limits configured 2× too high),
tollgate-no-rightsize (max_tokens not right-sized; in max-tokens-unset), sdk-standard
(worker pool, SDK standard retries), sdk-adaptive (worker pool, SDK adaptive retry mode),
rpm-only (x/time/rate requests-per-minute limiter), dual-bucket (RPM + TPM buckets,
words × 1.3 + max_tokens, polling, no settlement), cookbook (OpenAI cookbook's parallel
processor). docs/benchmarks.md gives each one's source and tuning.

Scenarios are YAML files; the built-in ones are contracts, max-tokens-unset and bursty
(all by default). Write your own starting from internal/bench/scenarios/contracts.yaml
and pass its path. Documents are read from the directories the scenario lists, relative
to the working directory or a parent (run from the repository root), or --documents.
Tune a strategy with --set STRATEGY.SETTING=VALUE, e.g. --set sdk-standard.workers=8.

The full run takes several minutes; --short runs a few calls per scenario.`,
		Example: `  tollgate bench
  tollgate bench --short --json
  tollgate bench --scenario contracts --window both --chart docs/bench
  tollgate bench --scenario my-workload.yaml --set sdk-standard.workers=8`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unexpected argument %q: give scenarios with --scenario", args[0])}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBench(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVarP(&f.scenarios, "scenario", "s", nil, "built-in scenario name or YAML file (repeatable; default: every built-in scenario)")
	fl.StringVar(&f.window, "window", "", "emulator window mode: bucket, clock or both (default: each scenario's)")
	fl.StringSliceVar(&f.strategies, "strategy", nil, "run only these strategies (repeatable or comma-separated)")
	fl.StringArrayVar(&f.sets, "set", nil, "tune a strategy: STRATEGY.SETTING=VALUE, e.g. sdk-standard.workers=8 (repeatable)")
	fl.BoolVar(&f.short, "short", false, "run the short version of each scenario (a few calls)")
	fl.BoolVar(&f.json, "json", false, "print the report as JSON")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress lines on stderr")
	fl.StringVar(&f.chartDir, "chart", "", "write a throughput chart per scenario and window (PNG) into this directory")
	fl.StringVar(&f.documents, "documents", "", "directory of .txt documents for every scenario (default: the scenario's)")
	fl.Float64Var(&f.timeScale, "time-scale", 0, "emulated seconds per real second (default: the scenario's, 30)")
	return cmd
}

// runBench resolves the flags into bench.Options, runs and prints.
func runBench(cmd *cobra.Command, f benchFlags) error {
	opts := bench.Options{Short: f.short, TimeScale: f.timeScale, Documents: f.documents, Strategies: f.strategies}
	if !f.quiet {
		opts.Progress = cmd.ErrOrStderr()
	}
	switch f.window {
	case "":
	case "both":
		opts.Windows = []string{"bucket", "clock"}
	case "bucket", "clock":
		opts.Windows = []string{f.window}
	default:
		return usageError{fmt.Errorf("--window %q: use bucket, clock or both", f.window)}
	}
	if err := f.validate(); err != nil {
		return err
	}
	names := f.scenarios
	if len(names) == 0 {
		names = bench.Scenarios()
	}
	for _, n := range names {
		sc, err := bench.LoadScenario(n)
		if err != nil {
			return usageError{err}
		}
		opts.Scenarios = append(opts.Scenarios, sc)
	}
	known := bench.Strategies()
	for _, s := range f.strategies {
		if !contains(known, s) {
			return usageError{fmt.Errorf("--strategy %q: unknown; use one of %s", s, strings.Join(known, ", "))}
		}
	}
	for _, s := range f.sets {
		name, rest, ok1 := strings.Cut(s, ".")
		field, value, ok2 := strings.Cut(rest, "=")
		if !ok1 || !ok2 {
			return usageError{fmt.Errorf("--set %q: write STRATEGY.SETTING=VALUE, e.g. sdk-standard.workers=8", s)}
		}
		for _, sc := range opts.Scenarios {
			if err := sc.Set(name, field, value); err != nil {
				return usageError{fmt.Errorf("--set %q: %w", s, err)}
			}
		}
	}
	if f.documents != "" {
		if st, err := os.Stat(f.documents); err != nil || !st.IsDir() {
			return usageError{fmt.Errorf("--documents %q: not a directory of .txt files", f.documents)}
		}
	}
	rep, err := bench.Run(cmd.Context(), opts)
	if err != nil {
		if errors.Is(err, bench.ErrDocuments) {
			return usageError{err}
		}
		return err
	}
	if f.chartDir != "" {
		files, err := rep.WriteCharts(f.chartDir)
		if err != nil {
			return err
		}
		if !f.quiet {
			fmt.Fprintln(cmd.ErrOrStderr(), "charts:", strings.Join(files, ", "))
		}
	}
	return printBench(cmd.OutOrStdout(), rep, f.json)
}

func printBench(w io.Writer, rep *bench.Report, asJSON bool) error {
	if asJSON {
		return rep.WriteJSON(w)
	}
	return rep.WriteTable(w)
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
