// Package batch is the document pipeline behind `tollgate run`: it lists and reads the
// documents, renders the prompt for each at the verbosity the load allows, splits what is
// too long for one call, sends every call through a pipeline.Client in priority order,
// continues replies cut at max_tokens, and writes one record per document to a results
// file that survives crashes and lets a second run resume.
package batch

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/analyze"
	"github.com/tollgate-dev/tollgate/internal/estimate"
	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/quota"
)

// Defaults of Config.
const (
	// DefaultModel is the model `tollgate run` calls when none is given: Claude Sonnet 4
	// through the US cross-region inference profile.
	DefaultModel = "us.anthropic.claude-sonnet-4-20250514-v1:0"
	// DefaultOut is the results file when Config.Out is empty.
	DefaultOut = "tollgate-results.jsonl"
	// DefaultInitialMaxTokens is the max_tokens sent while the task's output length is
	// still being learned (fewer than RightSizeLearners replies seen).
	DefaultInitialMaxTokens = 4096
	// RightSizeLearners is how many replies of a task a run's client learns from before
	// it right-sizes max_tokens (pipeline.Config.Learners): a run's calls go out at
	// InitialMaxTokens meanwhile, all at once, so it can afford to wait for more replies
	// than the library's default before trusting the 99th percentile.
	RightSizeLearners = estimate.DefaultMinObservations
	// DefaultOverlapTokens is how many tokens of a chunk's end are repeated at the start
	// of the next.
	DefaultOverlapTokens = 200
	// DefaultPending is how many documents are handed to the client's admission queue at
	// once.
	DefaultPending = 64
	// DefaultMaxContinuations bounds the calls that continue one reply cut at max_tokens.
	DefaultMaxContinuations = 3
	// ClientPacing is the pipeline.Config.Pacing of a run's client, and what its plan
	// assumes: none. A run hands its documents to the client at once, in priority order
	// (each once the one before is queued), so its admissions follow the client's sliding
	// windows alone: a window's whole quota at the start and as each window frees, what
	// both readings of a provider's window allow. The client's default pacing spreads
	// admissions at the limit's rate so that calls of a higher class arriving at any time
	// need not wait behind a lump of lower work; a run has no such late arrivals, and
	// pacing would hold its first window to a sixth of the quota.
	ClientPacing = -1
)

// Config configures a run (and the plan of `tollgate analyze`). Zero fields take the
// documented defaults.
type Config struct {
	// Inputs are folders (read recursively), files, and JSONL files of requests (one JSON
	// object per line: {"id", "prompt", "system", "max_tokens", "priority", "metadata"}).
	Inputs []string
	// Include and Exclude are globs on paths relative to an input folder ("**/*.pdf",
	// "drafts/**"). Empty Include means every supported format; Exclude always holds
	// hidden files and folders and the results file.
	Include, Exclude []string

	// Model is the model or inference-profile id to call. Empty means DefaultModel.
	Model string
	// Region is where the model is called, for the default quotas and the records.
	Region string
	// Catalog describes the models; nil means catalog.Default().
	Catalog *catalog.Catalog

	// Template is the prompt template's text (see ParseTemplate); empty means
	// DefaultTemplate. System is the system prompt; empty means DefaultSystem when the
	// template is the default one, none otherwise. CombineTemplate joins the answers of a
	// chunked document; empty means DefaultCombineTemplate.
	Template, System, CombineTemplate string
	// TemplateName names the template in errors and the learned output lengths.
	TemplateName string

	// Rules map documents to classes; the first match wins. DefaultPriority is the class
	// of documents no rule matches (the zero value is Critical, so New sets Normal when
	// DefaultPrioritySet is false).
	Rules              []Rule
	DefaultPriority    quota.Priority
	DefaultPrioritySet bool
	// Deadlines give classes a time, from the start of the run, by which their documents
	// should be done. When the forecast completion of a class passes its deadline, the
	// documents of that class and lower ones are rendered at leaner verbosity levels, and
	// at richer ones again when the pressure passes.
	Deadlines map[quota.Priority]time.Duration

	// MaxTokens fixes max_tokens. Zero means right-sized by the client (ClientConfig):
	// the learned 99th percentile of this task's output length per call, plus 20%;
	// InitialMaxTokens until RightSizeLearners replies have been seen; with a
	// continuation when a reply stops at max_tokens.
	MaxTokens int
	// InitialMaxTokens is the max_tokens sent while learning. Zero means
	// DefaultInitialMaxTokens.
	InitialMaxTokens int
	// MaxContinuations bounds the continuations of one reply. Zero means
	// DefaultMaxContinuations; negative means none.
	MaxContinuations int

	// ChunkTokens is the most input tokens one call may hold; a longer document is split.
	// Zero means what the model's context window and the tightest token limit allow.
	ChunkTokens int
	// OverlapTokens is the overlap between chunks. Zero means DefaultOverlapTokens;
	// negative means none.
	OverlapTokens int
	// InputFactor converts the offline tokenizer's count (cl100k_base) to the model's own,
	// for planning and chunking before usage is reported. Zero means
	// estimate.ReferenceOffset (1.219, measured on legal text; Claude's tokenizer counts
	// about that much more).
	InputFactor float64
	// Limits are the quotas calls are admitted under, used to size chunks and plan; the
	// client enforces its own copy.
	Limits []quota.Limit
	// Reading is how the provider meters Limits, for the run's lower bound and quota
	// efficiency (analyze.LowerBound). The zero value, analyze.AnyReading, is a provider
	// whose reading is not known, such as Bedrock.
	Reading analyze.Reading
	// ReserveWithBurndown mirrors the client's setting, for planning.
	ReserveWithBurndown bool

	// Out is the results file. Empty means DefaultOut.
	Out string
	// Pending is how many documents are handed to the client at once. Zero means
	// DefaultPending.
	Pending int
	// Grace is how long an interrupted run lets calls in flight finish before cancelling
	// them. Zero means 30 seconds.
	Grace time.Duration
	// Warn, when set, is told what the reading of the inputs noticed that is not an error
	// of one document: a file named twice by the inputs, read once. Nil means discard.
	Warn func(msg string)
	// TimeScale is recorded in every record when the run is against an emulator whose
	// time runs faster than real time (see results.Record.TimeScale); 0 means real time.
	TimeScale float64
}

// ClientConfig returns pc with the right-sizing a run of cfg expects of its client: on,
// learning RightSizeLearners replies of a task before sizing its calls, which send
// cfg.InitialMaxTokens meanwhile. The client right-sizes the calls a run leaves
// max_tokens unset on (neither Config.MaxTokens nor a request's own); a continuation
// sends its own, twice the cut call's. Build the client given to New with it.
func ClientConfig(cfg Config, pc pipeline.Config) (pipeline.Config, error) {
	if cfg.Model == "" {
		cfg.Model = DefaultModel
	}
	if cfg.Catalog == nil {
		cfg.Catalog = catalog.Default()
	}
	m, _, err := cfg.Catalog.Lookup(cfg.Model)
	if err != nil {
		return pc, fmt.Errorf("model %s: %w", cfg.Model, err)
	}
	initial, err := cfg.initialMaxTokens(m)
	if err != nil {
		return pc, err
	}
	pc.RightSize, pc.Learners, pc.InitialMaxTokens = true, RightSizeLearners, initial
	return pc, nil
}

// initialMaxTokens is Config.InitialMaxTokens with its default, within m's maximum.
func (cfg Config) initialMaxTokens(m catalog.Model) (int, error) {
	n := cfg.InitialMaxTokens
	if n == 0 {
		n = DefaultInitialMaxTokens
	}
	n = min(n, m.MaxOutputTokens)
	if n < 1 {
		return 0, fmt.Errorf("initial max_tokens %d: must be positive", n)
	}
	return n, nil
}

// withDefaults validates cfg and fills its defaults.
func (cfg Config) withDefaults() (Config, *catalog.Model, error) {
	if len(cfg.Inputs) == 0 {
		return cfg, nil, errors.New("no input: give a folder, files, or a JSONL file of requests")
	}
	if cfg.Model == "" {
		cfg.Model = DefaultModel
	}
	if cfg.Catalog == nil {
		cfg.Catalog = catalog.Default()
	}
	m, ref, err := cfg.Catalog.Lookup(cfg.Model)
	if err != nil {
		return cfg, nil, fmt.Errorf("model %s: %w", cfg.Model, err)
	}
	if !cfg.DefaultPrioritySet {
		cfg.DefaultPriority = quota.Normal
	}
	if cfg.Template == "" {
		cfg.Template = DefaultTemplate
		if cfg.System == "" {
			cfg.System = DefaultSystem
		}
		if cfg.TemplateName == "" {
			cfg.TemplateName = "contract-review"
		}
	}
	if cfg.TemplateName == "" {
		cfg.TemplateName = "template"
	}
	if cfg.CombineTemplate == "" {
		cfg.CombineTemplate = DefaultCombineTemplate
	}
	switch {
	case cfg.MaxTokens < 0:
		return cfg, nil, fmt.Errorf("max_tokens %d: must be positive, or 0 to right-size it", cfg.MaxTokens)
	case cfg.MaxTokens > m.MaxOutputTokens:
		return cfg, nil, fmt.Errorf("max_tokens %d: %s accepts at most %d", cfg.MaxTokens, m.ID, m.MaxOutputTokens)
	}
	if cfg.InitialMaxTokens, err = cfg.initialMaxTokens(m); err != nil {
		return cfg, nil, err
	}
	if cfg.MaxContinuations == 0 {
		cfg.MaxContinuations = DefaultMaxContinuations
	}
	if cfg.OverlapTokens == 0 {
		cfg.OverlapTokens = DefaultOverlapTokens
	}
	if cfg.OverlapTokens < 0 {
		cfg.OverlapTokens = 0
	}
	if cfg.ChunkTokens < 0 {
		return cfg, nil, fmt.Errorf("chunk tokens %d: must be positive, or 0 for what the model and quotas allow", cfg.ChunkTokens)
	}
	if cfg.InputFactor == 0 {
		cfg.InputFactor = estimate.ReferenceOffset
	}
	if cfg.InputFactor < 0.5 || cfg.InputFactor > 3 {
		return cfg, nil, fmt.Errorf("input factor %g: must be between 0.5 and 3", cfg.InputFactor)
	}
	if cfg.Out == "" {
		cfg.Out = DefaultOut
	}
	if cfg.Pending == 0 {
		cfg.Pending = DefaultPending
	}
	if cfg.Pending < 1 {
		return cfg, nil, fmt.Errorf("pending %d: must be positive", cfg.Pending)
	}
	if cfg.Grace == 0 {
		cfg.Grace = 30 * time.Second
	}
	for p, d := range cfg.Deadlines {
		if d <= 0 {
			return cfg, nil, fmt.Errorf("deadline of %s: %v must be positive", p, d)
		}
	}
	if len(cfg.Limits) == 0 {
		if l, err := m.Limits(ref.Scope, cfg.Region, false); err == nil {
			cfg.Limits = l
		}
	}
	if err := cfg.checkRoom(m); err != nil {
		return cfg, nil, err
	}
	return cfg, &m, nil
}

// minRoom is the fewest input tokens a call must be able to carry beside max_tokens
// under every token limit for a run to be worth starting.
const minRoom = 1024

// checkRoom refuses limits that cannot admit a call: each call reserves its input plus
// max_tokens (× burndown when so reserved) of every token limit, so a limit below that
// would leave every document skipped. The room is reckoned as the planner does (90% of
// the limit, the input with the client's initial margin of 1.35).
func (cfg Config) checkRoom(m catalog.Model) error {
	maxTok := cfg.InitialMaxTokens
	if cfg.MaxTokens > 0 {
		maxTok = cfg.MaxTokens
	}
	burn := 1.0
	if cfg.ReserveWithBurndown {
		burn = m.OutputBurndown
	}
	for _, l := range cfg.Limits {
		if l.Dimension != quota.Tokens && l.Dimension != quota.InputTokens {
			continue
		}
		if room := (0.9*float64(l.Amount) - float64(maxTok)*burn) / 1.35; room < minRoom {
			need := int64(math.Ceil((minRoom*1.35 + float64(maxTok)*burn) / 0.9))
			return fmt.Errorf("the limit %s cannot admit a call: a call reserves its input plus max_tokens (%d) of it, and needs at least %d: raise the limit (--tpm, --tpd or --limit) or lower max_tokens (--max-tokens, --initial-max-tokens)",
				l, maxTok, need)
		}
	}
	return nil
}
