package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/analyze"
	"github.com/tollgate-dev/tollgate/internal/batch"
	"github.com/tollgate-dev/tollgate/internal/discover"
	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/internal/quotatext"
	"github.com/tollgate-dev/tollgate/quota"
)

func init() { registered = append(registered, newRunCmd) }

// defaultRules are the priority rules in force when no --priority is given.
var defaultRules = []string{"urgent/**=high", "archive/**=low"}

// jobFlags are the flags that describe a job, shared by run and analyze.
type jobFlags struct {
	model, region, catalogFile        string
	include, exclude                  []string
	templateFile, system, combineFile string
	rules, deadlines                  []string
	defaultPriority                   string
	maxTokens, initialMaxTokens       int
	chunkTokens, overlapTokens        int
	tpm, tpd, rpm                     int64
	limits                            []string
	reserveBurndown                   bool
}

// register adds the job flags to fs.
func (f *jobFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.model, "model", batch.DefaultModel, "model or inference-profile id to call")
	fs.StringVar(&f.region, "region", "", "AWS region to call (default: the AWS configuration's, us-east-1 with --emulate)")
	fs.StringVar(&f.catalogFile, "catalog", "", "YAML catalog file adding or overriding models (see docs/catalog.md)")
	fs.StringArrayVar(&f.include, "include", nil, `glob of files to read in input folders, relative to the folder ("**/*.pdf"; repeatable; default: every supported format)`)
	fs.StringArrayVar(&f.exclude, "exclude", nil, `glob of files to leave out ("drafts/**"; repeatable; hidden files are always left out)`)
	fs.StringVar(&f.templateFile, "template", "", "prompt template file (Go text/template; default: the built-in contract review)")
	fs.StringVar(&f.system, "system", "", "system prompt, or @FILE to read it from a file (default: the built-in one with the built-in template)")
	fs.StringVar(&f.combineFile, "combine-template", "", "template that joins the answers of a chunked document (default: built in)")
	fs.StringArrayVar(&f.rules, "priority", nil, `priority rule GLOB=CLASS or meta:KEY=GLOB=CLASS, first match wins (repeatable; default: "urgent/**=high" and "archive/**=low"); a GLOB without "/" matches any file or folder name ('*urgent*=high'), a plain word any name containing it ('urgent=high')`)
	fs.StringVar(&f.defaultPriority, "default-priority", "normal", "class of documents no rule matches: critical, high, normal, low or background")
	fs.StringArrayVar(&f.deadlines, "deadline", nil, `CLASS=DURATION from the start by which a class should be done, e.g. high=10m (repeatable); lower classes get leaner prompts when it is at risk`)
	fs.IntVar(&f.maxTokens, "max-tokens", 0, "fix max_tokens (default: right-sized from the learned output length, with continuation)")
	fs.IntVar(&f.initialMaxTokens, "initial-max-tokens", batch.DefaultInitialMaxTokens, "max_tokens while the output length is being learned (the first 20 replies)")
	fs.IntVar(&f.chunkTokens, "chunk-tokens", 0, "most input tokens per call; longer documents are split (default: what the context window and quotas allow)")
	fs.IntVar(&f.overlapTokens, "overlap-tokens", batch.DefaultOverlapTokens, "tokens repeated between consecutive chunks")
	fs.Int64Var(&f.tpm, "tpm", 0, "tokens-per-minute quota (default: read with Service Quotas, else the AWS default)")
	fs.Int64Var(&f.tpd, "tpd", 0, "tokens-per-day quota (default: as --tpm)")
	fs.Int64Var(&f.rpm, "rpm", 0, "requests-per-minute quota (default: none; Bedrock stopped enforcing it in 2026)")
	fs.StringArrayVar(&f.limits, "limit", nil, `another limit, e.g. "input-tokens 100000/1m" (AMOUNT DIMENSION/PER; repeatable)`)
	fs.BoolVar(&f.reserveBurndown, "reserve-burndown", false, "reserve max_tokens × burndown (the safe reading of an undocumented Bedrock rule)")
}

// catalog returns the catalog, extended by --catalog.
func (f *jobFlags) catalog() (*catalog.Catalog, error) {
	cat := catalog.Default()
	if f.catalogFile != "" {
		var err error
		if cat, err = cat.LoadFile(f.catalogFile); err != nil {
			return nil, usageError{err}
		}
	}
	return cat, nil
}

// explicitLimits returns the limits given by flags (nil: none given).
func (f *jobFlags) explicitLimits() ([]quota.Limit, error) {
	var ls []quota.Limit
	for _, q := range []struct {
		name string
		v    int64
		l    quota.Limit
	}{
		{"--tpm", f.tpm, quota.Limit{Dimension: quota.Tokens, Amount: f.tpm, Per: time.Minute}},
		{"--tpd", f.tpd, quota.Limit{Dimension: quota.Tokens, Amount: f.tpd, Per: 24 * time.Hour}},
		{"--rpm", f.rpm, quota.Limit{Dimension: quota.Requests, Amount: f.rpm, Per: time.Minute}},
	} {
		if q.v < 0 {
			return nil, usageError{fmt.Errorf("%s %d: a quota must be positive", q.name, q.v)}
		}
		if q.v > 0 {
			ls = append(ls, q.l)
		}
	}
	for _, s := range f.limits {
		l, err := quotatext.ParseLimit(s)
		if err != nil {
			return nil, usageError{fmt.Errorf("--limit %q: %w", s, err)}
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// config turns the flags into a batch configuration (without limits).
func (f *jobFlags) config(inputs []string) (batch.Config, error) {
	cfg := batch.Config{Inputs: inputs, Include: f.include, Exclude: f.exclude, Model: f.model, Region: f.region,
		MaxTokens: f.maxTokens, InitialMaxTokens: f.initialMaxTokens, ChunkTokens: f.chunkTokens,
		ReserveWithBurndown: f.reserveBurndown, OverlapTokens: f.overlapTokens}
	if f.overlapTokens == 0 {
		cfg.OverlapTokens = -1
	}
	var err error
	if cfg.Catalog, err = f.catalog(); err != nil {
		return cfg, err
	}
	if f.templateFile != "" {
		b, err := os.ReadFile(f.templateFile)
		if err != nil {
			return cfg, usageError{fmt.Errorf("--template: %w", err)}
		}
		cfg.Template, cfg.TemplateName = string(b), f.templateFile
	}
	if f.combineFile != "" {
		b, err := os.ReadFile(f.combineFile)
		if err != nil {
			return cfg, usageError{fmt.Errorf("--combine-template: %w", err)}
		}
		cfg.CombineTemplate = string(b)
	}
	if file, ok := strings.CutPrefix(f.system, "@"); ok {
		b, err := os.ReadFile(file)
		if err != nil {
			return cfg, usageError{fmt.Errorf("--system: %w", err)}
		}
		cfg.System = string(b)
	} else {
		cfg.System = f.system
	}
	rules := f.rules
	if len(rules) == 0 {
		rules = defaultRules
	}
	for _, s := range rules {
		r, err := batch.ParseRule(s)
		if err != nil {
			return cfg, usageError{fmt.Errorf("--priority: %w", err)}
		}
		cfg.Rules = append(cfg.Rules, r)
	}
	if cfg.DefaultPriority, err = quotatext.ParsePriority(f.defaultPriority); err != nil {
		return cfg, usageError{fmt.Errorf("--default-priority: %w", err)}
	}
	cfg.DefaultPrioritySet = true
	for _, s := range f.deadlines {
		c, d, ok := strings.Cut(s, "=")
		if !ok {
			return cfg, usageError{fmt.Errorf("--deadline %q: want CLASS=DURATION, e.g. high=10m", s)}
		}
		p, err := quotatext.ParsePriority(strings.TrimSpace(c))
		if err != nil {
			return cfg, usageError{fmt.Errorf("--deadline %q: %w", s, err)}
		}
		dur, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil || dur <= 0 {
			return cfg, usageError{fmt.Errorf("--deadline %q: %q is not a positive duration like 10m or 1h30m", s, d)}
		}
		if cfg.Deadlines == nil {
			cfg.Deadlines = map[quota.Priority]time.Duration{}
		}
		cfg.Deadlines[p] = dur
	}
	return cfg, nil
}

// runFlags are the flags of "tollgate run" beyond the job's.
type runFlags struct {
	job             jobFlags
	out             string
	emulate, dryRun bool
	timeScale       float64
	window          string
	pending         int
	grace           time.Duration
	attemptTimeout  time.Duration
	progress        string
	json            bool
	fleet           fleetFlags
}

func newRunCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run [flags] FOLDER|FILE|REQUESTS.jsonl...",
		Short: "Process documents through a Bedrock model at the highest rate the quotas allow",
		Long: `Run sends every document through a Bedrock model with Tollgate's admission: each call
waits until every quota (tokens per minute, tokens per day, requests) has room, in priority
order, so nothing is throttled or lost and the quotas stay full.

Inputs are folders (read recursively; --include/--exclude globs), files, or JSONL files of
ready requests, one per line: {"id": "a1", "prompt": "...", "system": "...",
"max_tokens": 500, "priority": "high", "metadata": {"client": "acme"}}. Documents may be
.txt, .md, .html, .pdf or .docx; a file that cannot be read (empty, binary, malformed,
unreadable) is reported and skipped, and the run goes on.

Each document is rendered through a prompt template (Go text/template with .Document,
.Name, .Path, .Meta and .Level; default: a built-in contract review). Templates may mark
sections with {{if level "standard"}} or {{if level "full"}}: when a class's deadline
(--deadline) is at risk, lower classes get leaner prompts, and richer ones again once the
pressure passes. Each record says which level a document got.

Priorities: --priority rules map paths (or metadata) to classes, first match wins; the
default rules put urgent/** first and archive/** last. Higher classes jump the queue.
A pattern without a slash is matched against every file and folder name along the path,
and a plain word matches every name containing it: --priority 'urgent=high' (or
'*urgent*=high') makes q3/urgent-memo.txt and everything under a folder urgent-2024 high.
A pattern with a slash is matched from the input folder ('clients/acme/**=high'); a
pattern matching a folder takes in everything in it.

max_tokens is right-sized by default: the 99th percentile of the output lengths learned
in this run, plus 20% (4096 until 20 replies are in), so that Bedrock's reservation of max_tokens
does not waste the quota; a reply cut at max_tokens is continued automatically. A
document too long for one call is split on its sections and paragraphs, with overlap,
reviewed part by part, and combined by a final call.

Results go to --out, one JSON record per document (path, content hash, status, output,
usage, attempts, latency, priority, verbosity, chunks), written as each finishes: a crash
loses at most the calls in flight, and running the same command again skips what is
done and does the rest exactly once. Ctrl-C stops admitting, lets calls in flight finish
(--grace), and says how to resume.

Without --emulate, run calls Amazon Bedrock with the AWS default credential chain and
region, and reads the account's quotas with Service Quotas (falling back to the AWS
defaults; override with --tpm/--tpd/--rpm). With --emulate it runs against an in-process
emulator with the model's default quotas, time-scaled so the example takes about a
minute, and says so. --dry-run makes no calls and prints the plan.

Several runs, gateways and services calling one account share its quota with --redis URL
(see docs/fleet.md); --endpoint points a run at another Bedrock Runtime endpoint, such as
one "tollgate emulate" that several runs share.`,
		Example: `  tollgate run --emulate examples/contracts
  tollgate run --emulate --dry-run examples/contracts
  tollgate run ./contracts --out review.jsonl --priority 'clients/acme/**=high' --deadline high=15m
  tollgate run requests.jsonl --model us.anthropic.claude-sonnet-4-20250514-v1:0 --region us-east-1 --max-tokens 800`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("no input: give a folder, files, or a JSONL file of requests (e.g. tollgate run --emulate examples/contracts)")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRun(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f, args)
		},
	}
	fl := cmd.Flags()
	f.job.register(fl)
	fl.StringVarP(&f.out, "out", "o", batch.DefaultOut, "results file (JSONL); an existing one is resumed")
	fl.BoolVar(&f.emulate, "emulate", false, "run against an in-process Bedrock emulator with the model's default quotas (no AWS account needed)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "make no calls: print the plan (documents, tokens, binding limit, ETA)")
	fl.Float64Var(&f.timeScale, "time-scale", 0, "with --emulate, or --endpoint of a time-scaled \"tollgate emulate\": emulated seconds per real second (default with --emulate: chosen so the run takes about a minute)")
	fl.StringVar(&f.window, "window", "bucket", `with --emulate: how the emulator reads quotas, "bucket" (token bucket) or "clock" (clock minutes)`)
	fl.IntVar(&f.pending, "pending", batch.DefaultPending, "documents handed to the admission queue at once")
	fl.DurationVar(&f.grace, "grace", 30*time.Second, "after Ctrl-C, how long calls in flight may finish before they are cancelled")
	fl.DurationVar(&f.attemptTimeout, "attempt-timeout", 0, "how long one attempt of a model call may wait for its reply before it is retried (default: 1m + 50ms per token of max_tokens)")
	fl.StringVar(&f.progress, "progress", "auto", `progress display: "bar" (live, for terminals), "log" (a line every few seconds), "none", or "auto" (bar on a terminal, log otherwise)`)
	fl.BoolVar(&f.json, "json", false, "print the final summary (or the --dry-run plan) as JSON")
	f.fleet.register(fl)
	return cmd
}

// session is what a run talks to: a client, its limits, and the emulator when emulating.
type session struct {
	client *pipeline.Client
	limits []quota.Limit
	scale  float64 // emulated seconds per real second; 1 for real Bedrock
	srv    *bedrocktest.Handler
	note   string
	// reading is how the provider meters the limits: the emulator's window mode, not
	// known for Bedrock.
	reading analyze.Reading
}

func (s *session) close() {
	if s.client != nil {
		s.client.Close()
	}
	if s.srv != nil {
		s.srv.Close()
	}
}

// emulatedDuration converts a real duration to emulated time.
func (s *session) emulatedDuration(d time.Duration) time.Duration {
	return time.Duration(float64(d) * s.scale)
}

// emulatorSession starts the in-process emulator with the model's default quotas and a
// client whose limits run on the emulator's clock, scale times faster than real time.
func emulatorSession(ctx context.Context, cfg batch.Config, f runFlags, explicit []quota.Limit, scale float64) (*session, error) {
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	m, ref, err := cfg.Catalog.Lookup(cfg.Model)
	if err != nil {
		return nil, usageError{fmt.Errorf("--model: %w", err)}
	}
	// The limits the plan split the documents by.
	limits, _, err := planLimits(cfg, explicit)
	if err != nil {
		return nil, err
	}
	var window quota.Meter
	switch f.window {
	case "bucket", "":
		window = quota.TokenBucket
	case "clock":
		window = quota.ClockWindow
	default:
		return nil, usageError{fmt.Errorf(`--window %q: use "bucket" or "clock"`, f.window)}
	}
	// The emulator enforces what the client is told: the limits given or the defaults.
	key, ls := emulatorLimits(ref, limits)
	// At a time scale other than 1 the emulator's minutes begin where a --limit "… clock"
	// of scaled minutes does. The client calls it in-process, with no socket.
	srv, err := bedrocktest.New(bedrocktest.Options{Models: []catalog.Model{m}, Limits: map[string]bedrocktest.Limits{key: ls},
		Window: window, TimeScale: scale, Region: region, Catalog: cfg.Catalog})
	if err != nil {
		return nil, err
	}
	scaled := make([]quota.Limit, len(limits))
	for i, l := range limits {
		l.Per = time.Duration(float64(l.Per) / scale)
		scaled[i] = l
	}
	awsCfg := aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider("AKIDTOLLGATEEMULATE", "emulated", ""), HTTPClient: srv.Client()}
	pc, err := batch.ClientConfig(cfg, pipeline.Config{AWS: awsCfg, Catalog: cfg.Catalog, ReserveWithBurndown: cfg.ReserveWithBurndown, Pacing: batch.ClientPacing, AttemptTimeout: f.attemptTimeout,
		Backoff: func(n int) time.Duration { return time.Duration(float64(pipeline.DefaultBackoff(n)) / scale) },
		Targets: []pipeline.TargetConfig{{Region: region, Model: cfg.Model, Endpoint: emulatorEndpoint, Limits: scaled}}})
	if err != nil {
		srv.Close()
		return nil, usageError{err}
	}
	client, err := pipeline.NewClient(ctx, pc, nil)
	if err != nil {
		srv.Close()
		return nil, err
	}
	var parts []string
	for _, l := range limits {
		parts = append(parts, group(l.Amount)+" "+analyze.LimitName(l))
	}
	mode := "token bucket"
	if window == quota.ClockWindow {
		mode = "clock minutes"
	}
	note := fmt.Sprintf("Emulating Bedrock in-process (no AWS account used): %s in %s with %s (%s), %s.\n", cfg.Model, region, strings.Join(parts, ", "), quotaSource(explicit), mode)
	if scale != 1 {
		note += fmt.Sprintf("Time runs %.3g× faster: an emulated minute lasts %v. Durations below are emulated time; a real account with these quotas takes as long.\n",
			scale, (time.Duration(float64(time.Minute) / scale)).Round(time.Millisecond*100))
	}
	reading := analyze.BucketReading
	if window == quota.ClockWindow {
		reading = analyze.ClockReading
	}
	return &session{client: client, limits: scaled, scale: scale, srv: srv, note: note, reading: reading}, nil
}

// emulatorLimits returns the emulator's quota override enforcing limits on the model and
// scope of ref, and the id it is keyed by (one that names both: the model may have been
// given as an application profile's ARN, which only the catalog resolves).
func emulatorLimits(ref catalog.Ref, limits []quota.Limit) (string, bedrocktest.Limits) {
	var ls bedrocktest.Limits
	for _, l := range limits {
		switch {
		case l.Dimension == quota.Tokens && l.Per == time.Minute:
			ls.TokensPerMinute = l.Amount
		case l.Dimension == quota.Tokens && l.Per == 24*time.Hour:
			ls.TokensPerDay = l.Amount
		case l.Dimension == quota.Requests && l.Per == time.Minute:
			ls.RequestsPerMinute = l.Amount
		}
	}
	return catalog.CallID(ref.ModelID, ref.Scope), ls
}

// emulatorEndpoint is the endpoint the client is given for the in-process emulator: its
// transport calls the handler directly, so the host is never looked up.
const emulatorEndpoint = "http://bedrocktest"

func quotaSource(explicit []quota.Limit) string {
	if explicit != nil {
		return "the quotas given"
	}
	return "the AWS default quotas"
}

// bedrockHTTPClient, when set, carries the requests of bedrockSession instead of the
// SDK's own client: the tests give it an in-process transport, to run inside a
// testing/synctest bubble.
var bedrockHTTPClient aws.HTTPClient

// bedrockSession makes a client for real Bedrock: the default credential chain and region,
// quotas from the flags, else Service Quotas, else the catalog's defaults.
func bedrockSession(ctx context.Context, cfg batch.Config, explicit []quota.Limit, f runFlags, stderr io.Writer) (*session, error) {
	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, usageError{fmt.Errorf("loading the AWS configuration: %w", err)}
	}
	if bedrockHTTPClient != nil {
		awsCfg.HTTPClient = bedrockHTTPClient
	}
	if awsCfg.Region == "" {
		return nil, usageError{errors.New("no AWS region: pass --region (e.g. --region us-east-1) or set AWS_REGION; or try --emulate to run on the built-in emulator")}
	}
	if _, err := awsCfg.Credentials.Retrieve(ctx); err != nil {
		return nil, usageError{fmt.Errorf("no usable AWS credentials (%v): set AWS_PROFILE, run \"aws configure\" or \"aws sso login\", or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; or try --emulate to run on the built-in emulator", err)}
	}
	tc, err := batch.ClientConfig(cfg, pipeline.Config{AWS: awsCfg, Catalog: cfg.Catalog, ReserveWithBurndown: cfg.ReserveWithBurndown, DiscoverQuotas: explicit == nil, Pacing: batch.ClientPacing,
		AttemptTimeout: f.attemptTimeout, Targets: []pipeline.TargetConfig{{Region: cfg.Region, Model: cfg.Model, Limits: explicit}}})
	if err != nil {
		return nil, usageError{err}
	}
	scale := 1.0
	if f.timeScale > 0 {
		scale = f.timeScale
	}
	f.fleet.apply(&tc, scale, func() *slog.Logger { return slog.New(redisLines{slog.NewTextHandler(stderr, nil)}) })
	client, err := pipeline.NewClient(ctx, tc, nil)
	if errors.Is(err, discover.ErrTimeout) {
		return nil, fmt.Errorf("reading the quotas: %w: give them with --tpm and --tpd to skip Service Quotas, or check AWS_ENDPOINT_URL_SERVICE_QUOTAS", err)
	}
	if err != nil {
		return nil, fmt.Errorf("connecting to Bedrock: %w", err)
	}
	snaps, err := client.Snapshot(ctx)
	if err != nil || len(snaps) == 0 {
		client.Close()
		return nil, fmt.Errorf("reading the limits: %v", err)
	}
	var limits []quota.Limit
	for _, l := range snaps[0].Limits {
		limits = append(limits, l.Limit)
	}
	note := fmt.Sprintf("Calling Amazon Bedrock: %s (%s); quotas: %s.\n", cfg.Model, snaps[0].Target, snaps[0].Source)
	note += f.fleet.note(scale)
	return &session{client: client, limits: limits, scale: scale, note: note}, nil
}

func runRun(ctx context.Context, stdout, stderr io.Writer, f runFlags, args []string) error {
	if err := f.validate(); err != nil {
		return err
	}
	cfg, err := f.job.config(args)
	if err != nil {
		return err
	}
	cfg.Out, cfg.Pending, cfg.Grace = f.out, f.pending, f.grace
	if f.grace == 0 {
		cfg.Grace = time.Nanosecond // the flag's 0 is no grace; the Config's zero is the default
	}
	explicit, err := f.job.explicitLimits()
	if err != nil {
		return err
	}
	switch f.progress {
	case "auto", "bar", "log", "none":
	default:
		return usageError{fmt.Errorf(`--progress %q: use auto, bar, log or none`, f.progress)}
	}
	if f.timeScale < 0 {
		return usageError{fmt.Errorf("--time-scale %g: must be positive", f.timeScale)}
	}
	if !f.emulate && f.window != "bucket" {
		return usageError{errors.New("--window only applies with --emulate")}
	}
	if err := f.fleet.validate(f.emulate, f.timeScale, explicit != nil); err != nil {
		return err
	}
	if f.dryRun {
		cfg.Warn = warnTo(stderr)
		return dryRun(ctx, stdout, cfg, f, explicit)
	}
	var s *session
	if f.emulate {
		_, _, scale, err := planReport(ctx, cfg, explicit, true, f.timeScale)
		if err != nil {
			return err
		}
		s, err = emulatorSession(ctx, cfg, f, explicit, scale)
		if err != nil {
			return err
		}
	} else {
		s, err = bedrockSession(ctx, cfg, explicit, f, stderr)
		if err != nil {
			return err
		}
	}
	defer s.close()
	cfg.Limits, cfg.TimeScale, cfg.Reading = s.limits, s.scale, s.reading
	cfg.Warn = warnTo(stderr)
	fmt.Fprint(stderr, s.note)
	r, err := batch.New(cfg, s.client)
	if err != nil {
		return usageError{err}
	}
	stopProgress := startProgress(ctx, stderr, f.progress, r, s)
	sum, err := r.Run(ctx)
	stopProgress()
	if sum.Total > 0 || err == nil {
		if f.json {
			if perr := printSummaryJSON(stdout, sum, s); perr != nil {
				return perr
			}
		} else {
			printSummary(stdout, sum, s, args)
		}
	}
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return usageError{err}
		}
		return err
	}
	if sum.Interrupted {
		return errInterrupted
	}
	if sum.Stopped != "" {
		return errors.New("stopped: " + sum.Stopped)
	}
	if sum.Failed > 0 {
		return fmt.Errorf("%d document(s) failed (see %s)", sum.Failed, sum.Out)
	}
	return nil
}

// warnTo writes the run's warnings to w, one line each.
func warnTo(w io.Writer) func(string) {
	return func(msg string) { fmt.Fprintln(w, "warning:", msg) }
}
