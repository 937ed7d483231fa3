// Package bench runs the same seeded workload through competing strategies for calling
// Amazon Bedrock — Tollgate and what users would pick instead — each against a fresh
// emulator (bedrocktest) through the real AWS SDK client, and measures each with the
// emulator as referee: makespan, the lower bound and quota efficiency (analyze.LowerBound),
// throttled attempts, failed and lost calls, latency per priority, tokens reserved and
// settled. Scenarios are YAML files (scenarios/*.yaml are built in); `tollgate bench` is
// the command. docs/benchmarks.md describes every strategy with its source and tuning.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/emustats"
	"github.com/tollgate-dev/tollgate/internal/quotatext"
	"github.com/tollgate-dev/tollgate/quota"
)

// Options configure Run.
type Options struct {
	// Scenarios are run in order; each in every window mode it lists.
	Scenarios []*Scenario
	// Windows, when set, replaces every scenario's window modes ("bucket", "clock").
	Windows []string
	// Strategies, when set, runs only these strategies (of those each scenario lists).
	Strategies []string
	// Short runs each scenario's short version (ShortCalls calls).
	Short bool
	// TimeScale, when positive, replaces every scenario's time scale.
	TimeScale float64
	// Documents, when set, is the directory of documents (subdirectories included) for
	// every scenario.
	Documents string
	// Progress receives one line per strategy run; nil means none.
	Progress io.Writer
	// Jitter is the real-time scheduling jitter Tollgate's window margin allows for
	// (see env.windowMargin). Zero means DefaultJitter; tests under the race detector,
	// which slows everything down, give more.
	Jitter time.Duration
}

// runTimeout bounds one strategy's run, in emulated time: a strategy that has not
// finished by then is stopped and its unfinished calls are lost.
const runTimeout = 3 * time.Hour

// Run runs every scenario × window × strategy and returns the report. It fails only on
// bad options or an emulator that cannot start; a strategy's failures are in its Result.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if len(opts.Scenarios) == 0 {
		return nil, errors.New("bench: no scenario to run")
	}
	for _, w := range opts.Windows {
		if _, err := quotatext.ParseWindow(w); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
	}
	for _, n := range opts.Strategies {
		if _, ok := strategies[n]; !ok {
			return nil, fmt.Errorf("bench: unknown strategy %q (known: %v)", n, Strategies())
		}
	}
	rep := &Report{Short: opts.Short, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH, CPUs: runtime.NumCPU(), Started: time.Now().UTC()}
	for _, sc := range opts.Scenarios {
		dirs := []string{opts.Documents}
		if opts.Documents == "" {
			var err error
			if dirs, err = sc.documentDirs(); err != nil {
				return nil, err
			}
		}
		docs, err := loadDocuments(dirs, sc.MaxDocumentChars)
		if err != nil {
			return nil, err
		}
		jobs := workload(sc, docs, sc.calls(opts.Short))
		windows := opts.Windows
		if len(windows) == 0 {
			windows = sc.Windows
		}
		if len(windows) == 0 {
			windows = []string{"bucket"}
		}
		for _, w := range windows {
			mode, _ := quotatext.ParseWindow(w)
			scale := sc.timeScale()
			if opts.TimeScale > 0 {
				scale = opts.TimeScale
			}
			sr := ScenarioRun{Scenario: sc.Name, Window: quotatext.MeterName(mode), TimeScale: scale, Calls: len(jobs), Documents: strings.Join(relative(dirs), ", "), DocumentCount: len(docs), Model: sc.Model}
			for _, cfg := range sc.strategyConfigs() {
				if len(opts.Strategies) > 0 && !slices.Contains(opts.Strategies, cfg.Name) {
					continue
				}
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				start := time.Now()
				res, quotas, err := runStrategy(ctx, sc, mode, scale, cfg, jobs, opts.Jitter)
				if err != nil {
					return nil, err
				}
				res.RealSeconds = time.Since(start).Seconds()
				sr.Quotas = quotas
				sr.Results = append(sr.Results, res)
				if opts.Progress != nil {
					fmt.Fprintf(opts.Progress, "%s/%s %-22s efficiency %.3f, %d throttled, %d failed, %d lost (%.0fs)\n",
						sc.Name, sr.Window, cfg.Name, res.Efficiency, res.ThrottledAttempts, res.Failed, res.Lost, res.RealSeconds)
				}
			}
			sr.RightSizing, sr.Ratios = rightSizing(sr.Results), ratios(sr.Results)
			rep.Runs = append(rep.Runs, sr)
		}
	}
	rep.ElapsedSeconds = time.Since(rep.Started).Seconds()
	return rep, nil
}

// runStrategy runs one strategy on a fresh emulator and measures it.
func runStrategy(ctx context.Context, sc *Scenario, mode quota.Meter, scale float64, cfg StrategyConfig, jobs []job, jitter time.Duration) (Result, Quotas, error) {
	ref, err := catalog.Parse(sc.Model)
	if err != nil {
		return Result{}, Quotas{}, fmt.Errorf("bench: scenario %q: %w", sc.Name, err)
	}
	// At a time scale other than 1 the emulator's UTC minutes begin where the client's
	// quota.ClockWindow limits of scaled minutes do.
	eo := bedrocktest.Options{Window: mode, TimeScale: scale, Region: sc.Region, Latency: sc.Latency,
		Limits:       map[string]bedrocktest.Limits{sc.Model: {TokensPerMinute: sc.TokensPerMinute, TokensPerDay: sc.TokensPerDay, RequestsPerMinute: sc.RequestsPerMinute}},
		OutputTokens: sc.Output.outputTokens(sc.Seed)}
	srv, err := bedrocktest.New(eo)
	if err != nil {
		return Result{}, Quotas{}, fmt.Errorf("bench: emulator for %q: %w", sc.Name, err)
	}
	defer srv.Close()
	if jitter <= 0 {
		jitter = DefaultJitter
	}
	e := &env{sc: sc, cfg: cfg, srv: srv, scale: scale, region: sc.Region, jitter: jitter, mode: mode}
	if e.region == "" {
		e.region = "us-east-1"
	}
	for _, m := range srv.Models() {
		if m.ID != ref.ModelID {
			continue
		}
		q := m.Quotas[ref.Scope]
		e.tpm, e.tpd, e.rpm = q.TPM.Default, q.TPD.ForScope(q.TPD.Default, ref.Scope), q.RPM.Default
		e.defaultMaxTokens, e.burndown = m.MaxTokensDefault(), m.OutputBurndown
	}
	if e.tpm <= 0 {
		return Result{}, Quotas{}, fmt.Errorf("bench: scenario %q: the emulator enforces no tokens-per-minute quota on %s", sc.Name, sc.Model)
	}
	quotas := Quotas{TokensPerMinute: e.tpm, TokensPerDay: e.tpd, RequestsPerMinute: e.rpm, Burndown: e.burndown, DefaultMaxTokens: e.defaultMaxTokens}

	calls := make([]*call, len(jobs))
	for i, j := range jobs {
		calls[i] = &call{job: j, in: sc.request(j), now: srv.Now}
	}
	ctx, cancel := context.WithTimeout(ctx, e.real(runTimeout))
	defer cancel()
	in := make(chan *call, len(calls))
	t0 := srv.Now()
	start := time.Now()
	feederDone := make(chan struct{})
	go func() { // arrivals on schedule, in real time
		defer close(feederDone)
		defer close(in)
		for _, c := range calls {
			if d := time.Until(start.Add(e.real(c.arrival))); d > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(d):
				}
			}
			in <- c
		}
	}()
	strategies[cfg.Name].run(ctx, e, in)
	<-feederDone
	snap, err := emustats.Read(srv)
	if err != nil {
		return Result{}, Quotas{}, fmt.Errorf("bench: %w", err)
	}
	st, _ := snap.Get(ref.ModelID, ref.Scope.String())
	if os.Getenv("TOLLGATE_BENCH_TRACE") != "" {
		trace(os.Stderr, e, t0, calls)
	}
	return measure(cfg, e, t0, calls, st), quotas, nil
}

// relative returns dirs relative to the working directory where they lie under it, so
// that a report names the repository's folders, not where it was checked out.
func relative(dirs []string) []string {
	wd, err := os.Getwd()
	out := make([]string, len(dirs))
	for i, d := range dirs {
		out[i] = d
		if err != nil {
			continue
		}
		if r, err := filepath.Rel(wd, d); err == nil && filepath.IsLocal(r) {
			out[i] = r
		}
	}
	return out
}
