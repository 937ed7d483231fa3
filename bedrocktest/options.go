package bedrocktest

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/estimate"
	"github.com/tollgate-dev/tollgate/quota"
)

// NoTokens is, as a Limits field, a quota of zero: every call is throttled. New AWS
// accounts often have a tokens-per-day quota of zero.
const NoTokens = -1

// Limits are the quotas of one model in one scope. Amounts are per account and region.
type Limits struct {
	// TokensPerMinute is the TPM quota in quota tokens (input + cache writes + output ×
	// burndown). Zero means not enforced; NoTokens means zero.
	TokensPerMinute int64 `yaml:"tokens_per_minute"`
	// TokensPerDay is the TPD quota in quota tokens. Zero means TokensPerMinute × 1440,
	// Bedrock's documented default; NoTokens means zero (every call fails with "Too many
	// tokens per day").
	TokensPerDay int64 `yaml:"tokens_per_day"`
	// RequestsPerMinute is the legacy RPM quota, no longer enforced by Bedrock since 2026.
	// Zero means not enforced.
	RequestsPerMinute int64 `yaml:"requests_per_minute"`
	// TokensPerDayDoubled reports that TokensPerDay is the doubled cross-region value of
	// a quota Service Quotas lists at half, "… (doubled for cross-region calls)", as AWS
	// lists it. The emulator enforces TokensPerDay and lists TokensPerDay/2.
	TokensPerDayDoubled bool `yaml:"tokens_per_day_doubled"`
	// Codes are the Service Quotas codes of the three quotas ("L-6E888CC2"). A quota
	// without a code is enforced but not listed by the Service Quotas API.
	Codes QuotaCodes `yaml:"codes"`
}

// QuotaCodes are the Service Quotas codes of one model's quotas in one scope; empty
// means none.
type QuotaCodes struct {
	TokensPerMinute   string `yaml:"tokens_per_minute"`
	TokensPerDay      string `yaml:"tokens_per_day"`
	RequestsPerMinute string `yaml:"requests_per_minute"`
}

// Model is one foundation model the emulator serves.
type Model struct {
	// ID is the base foundation-model id, "anthropic.claude-sonnet-4-20250514-v1:0".
	// Calls reach it by this id (OnDemand scope), by a profile id with a geography prefix
	// ("us.…": CrossRegion, "global.…": Global) or by the ARN of either.
	ID string `yaml:"id"`
	// Name is the display name Service Quotas uses in quota names ("Anthropic Claude
	// Sonnet 4 V1"). Empty means ID.
	Name string `yaml:"name"`
	// Burndown is how many quota tokens one output token costs: 5 for Claude 3.7 and
	// 4.x, 1 for other models. Zero means 1. Settlement rounds output × Burndown up.
	Burndown float64 `yaml:"burndown"`
	// MaxOutputTokens is the largest max_tokens the model accepts. Zero means 4096.
	MaxOutputTokens int `yaml:"max_output_tokens"`
	// DefaultMaxTokens is the max_tokens in effect, and reserved, when a request leaves
	// it unset. Zero means MaxOutputTokens.
	DefaultMaxTokens int `yaml:"default_max_tokens"`
	// ContextWindow is the most input plus max_tokens a request may ask for; larger
	// requests fail with a ValidationException. Zero means 200,000.
	ContextWindow int `yaml:"context_window"`
	// CountTokens reports whether the CountTokens operation serves the model.
	CountTokens bool `yaml:"count_tokens"`
	// RequiresProfile reports that the model has no on-demand throughput: calls by its
	// plain id fail with a ValidationException asking for an inference profile.
	RequiresProfile bool `yaml:"requires_profile"`
	// Limits holds the quotas of each scope the model is served in. A call in a scope
	// missing from the map fails with "The provided model identifier is invalid.".
	Limits map[catalog.Scope]Limits `yaml:"limits"`
}

// Latency is the latency model, in emulated time: a reply's first token comes after
// TimeToFirstToken, each further output token PerOutputToken later. Neither may exceed
// an hour.
type Latency struct {
	// TimeToFirstToken is the time from admission to the first output token. Zero
	// means 400ms; a negative value means none.
	TimeToFirstToken time.Duration `yaml:"time_to_first_token"`
	// PerOutputToken is the time per output token after the first. Zero means 15ms
	// (about 67 tokens a second); a negative value means none.
	PerOutputToken time.Duration `yaml:"per_output_token"`
}

// The bounds of the time scale. Beyond them the emulator's durations would not fit a
// time.Duration (292 years) for long: an emulated clock at 1000× passes 292 years in
// about 107 real days.
const (
	// MinTimeScale and MaxTimeScale bound Options.TimeScale.
	MinTimeScale = 0.001
	MaxTimeScale = 1000
)

// The bounds of the other settings, for the same reason; their fields' docs state them.
const (
	maxLatency    = time.Hour             // each field of Latency
	maxSlowFactor = 1000                  // Faults.SlowFactor
	maxQuota      = 1_000_000_000_000_000 // every quota of Limits, per period
	maxBurndown   = 1000                  // Model.Burndown
)

// Options configure an emulator; they are also the YAML file `tollgate emulate --config`
// reads (ParseOptions), with the keys of the yaml tags. The zero Options serve the
// catalog's models with their default quotas, metered as token buckets, in real time.
type Options struct {
	// Models are the models served. Nil means the presets (see Presets).
	Models []Model `yaml:"models"`
	// Presets serves, beside Models, every model of Catalog with the AWS default quotas
	// of Region in each scope the catalog lists (tokens per minute, or 200,000 when the
	// catalog does not know it; tokens per day, doubled for cross-region calls where AWS
	// names it so, TPM × 1440 when unknown). A model of Models with a preset's id
	// replaces it. The presets are served when Models is nil whatever Presets says; in a
	// YAML file, a missing presets key means true.
	Presets bool `yaml:"presets"`
	// LegacyRPM gives the presets their legacy requests-per-minute quotas, which
	// Bedrock no longer enforces (so neither do the presets without it).
	LegacyRPM bool `yaml:"legacy_rpm"`
	// Limits override the quotas of served models in single scopes, keyed by a model or
	// inference-profile id: "us.anthropic.claude-sonnet-4-20250514-v1:0" sets the
	// cross-region quotas of that model. Fields left zero keep the model's value; use
	// NoTokens (-1) for a zero quota. Nil overrides nothing.
	Limits map[string]Limits `yaml:"limits"`
	// Window is how every limit is metered: quota.TokenBucket (the zero value
	// quota.Sliding means it too) or quota.ClockWindow, clock minutes and days. Bedrock
	// does not document which it uses (one public experiment saw a tokens-per-minute
	// quota refill at the clock minute), so both are offered. In YAML: "bucket" or
	// "clock".
	Window quota.Meter `yaml:"-"`
	// ReserveBurndown makes the reservation charge max_tokens × burndown rather than
	// max_tokens. Bedrock does not document which it does: its published formula is
	// input + max_tokens.
	ReserveBurndown bool `yaml:"reserve_burndown"`
	// TimeScale is how many emulated seconds pass per real second, for windows and
	// latency alike: 60 makes an emulated minute last one real second. Zero means 1;
	// otherwise it must be between MinTimeScale and MaxTimeScale. The emulated clock
	// starts at the time New is called; windows are aligned on UTC minutes and days of
	// emulated time. Inside a testing/synctest bubble, use Client and leave it at 1: the
	// bubble's clock makes every wait instant.
	TimeScale float64 `yaml:"time_scale"`
	// Latency is the latency model, in emulated time.
	Latency Latency `yaml:"latency"`
	// OutputTokens decides how many tokens a reply has before max_tokens clamps it
	// (results below 1 count as 1). It is called concurrently. Nil means
	// DefaultOutputTokens. In YAML, output_tokens: N makes every reply N tokens long.
	OutputTokens func(ReplyRequest) int `yaml:"-"`
	// Counter counts the tokens of prompt text; it is called concurrently. Nil means the
	// estimate package's reference tokenizer, which differs from the base tokenizer a
	// client estimates with by 15–30%, as a Claude tokenizer does — so a client's
	// calibration has something realistic to learn.
	Counter TokenCounter `yaml:"-"`
	// Faults are the injected faults; the zero value injects none. SetFaults changes
	// them on a running emulator.
	Faults Faults `yaml:"faults"`
	// CacheTTL is how long, in emulated time, a prompt prefix marked by a cache point
	// stays cached. Zero means 5 minutes; at most 24 hours.
	CacheTTL time.Duration `yaml:"cache_ttl"`
	// Catalog is the catalog the presets come from, and resolves application-inference-
	// profile ARNs to the model and scope they wrap (see catalog.Catalog.WithProfile and
	// the profiles of a catalog file); their calls share that model's quotas. Nil means
	// catalog.Default(), which maps none. It is set from Go (tollgate emulate --catalog),
	// not from YAML.
	Catalog *catalog.Catalog `yaml:"-"`
	// Region is the region of the presets' quotas, the one assumed for requests whose
	// signature names none, and the one Service Quotas ARNs name. Empty means
	// "us-east-1".
	Region string `yaml:"region"`
	// Logger receives one debug line per call and warnings; nil discards them.
	Logger *slog.Logger `yaml:"-"`
	// BodyTimeout is how long, in real time, a request body may take to arrive (and to
	// wait for room under MaxBodyBytesInFlight) after its headers; a body still arriving
	// then gets HTTP 408 RequestTimeoutException and its connection is closed. Zero means
	// 30 seconds; a negative value means no limit.
	BodyTimeout time.Duration `yaml:"-"`
	// MaxBodyBytesInFlight bounds the bytes of request bodies being read or decoded at
	// once, over all connections: a body that does not fit waits, up to BodyTimeout, then
	// gets HTTP 503 ServiceUnavailableException (which the SDKs retry). One body may be
	// at most this large. Zero means 64 MiB.
	MaxBodyBytesInFlight int64 `yaml:"-"`
}

// TokenCounter counts the tokens of a text. *estimate.Tokenizer satisfies it.
type TokenCounter interface {
	Count(text string) int
}

// ReplyRequest describes a call to OutputTokens.
type ReplyRequest struct {
	// Model is the base model id.
	Model string
	// InputTokens is the call's input, cached tokens included.
	InputTokens int
	// MaxTokens is the max_tokens in effect (the model's maximum when unset).
	MaxTokens int
	// Seed is a hash of the request's prompt: equal prompts give equal seeds.
	Seed uint64
}

// DefaultOutputTokens is the default output-length distribution: deterministic in the
// prompt, uniform between 0.5× and 1.5× of a mean of 64 + InputTokens/4 tokens, with the
// mean capped at 1,024. max_tokens clamps the result afterwards.
func DefaultOutputTokens(r ReplyRequest) int {
	mean := min(64+r.InputTokens/4, 1024)
	u := float64(r.Seed>>11) / (1 << 53) // [0,1)
	return max(1, int(float64(mean)*(0.5+u)))
}

// defaults and validation

const (
	defaultMaxOutput     = 4096
	defaultContextWindow = 200_000
	defaultTTFT          = 400 * time.Millisecond
	defaultPerToken      = 15 * time.Millisecond
	defaultCacheTTL      = 5 * time.Minute
	defaultRegion        = "us-east-1"
	minutesPerDay        = 24 * 60
	// maxTokenCount bounds a model's token sizes: ten times the largest context window
	// of any model today, far below where int arithmetic on them could overflow.
	maxTokenCount = 100_000_000
)

// normalize checks o and returns a copy with every zero field replaced by its default.
func (o Options) normalize() (Options, error) {
	if o.Region == "" {
		o.Region = defaultRegion
	}
	if o.Catalog == nil {
		o.Catalog = catalog.Default()
	}
	if o.Window == quota.Sliding {
		o.Window = quota.TokenBucket
	}
	if o.Window != quota.TokenBucket && o.Window != quota.ClockWindow {
		return o, fmt.Errorf("bedrocktest: Options.Window %v: use quota.TokenBucket or quota.ClockWindow", o.Window)
	}
	switch {
	case o.TimeScale == 0:
		o.TimeScale = 1
	case !(o.TimeScale >= MinTimeScale && o.TimeScale <= MaxTimeScale): // also NaN
		return o, fmt.Errorf("bedrocktest: Options.TimeScale %v: use %g to %g emulated seconds per real second (0 means 1)", o.TimeScale, float64(MinTimeScale), float64(MaxTimeScale))
	}
	if o.Latency.TimeToFirstToken > maxLatency || o.Latency.PerOutputToken > maxLatency {
		return o, fmt.Errorf("bedrocktest: Options.Latency {%v, %v}: each must be at most %v (negative means none, 0 the default)", o.Latency.TimeToFirstToken, o.Latency.PerOutputToken, maxLatency)
	}
	o.Latency.TimeToFirstToken = durationDefault(o.Latency.TimeToFirstToken, defaultTTFT)
	o.Latency.PerOutputToken = durationDefault(o.Latency.PerOutputToken, defaultPerToken)
	if o.OutputTokens == nil {
		o.OutputTokens = DefaultOutputTokens
	}
	if o.Counter == nil {
		o.Counter = estimate.Reference()
	}
	if err := o.Faults.validate(); err != nil {
		return o, err
	}
	switch {
	case o.CacheTTL == 0:
		o.CacheTTL = defaultCacheTTL
	case o.CacheTTL < 0 || o.CacheTTL > 24*time.Hour:
		return o, fmt.Errorf("bedrocktest: Options.CacheTTL %v: use a duration up to 24h (0 means 5 minutes)", o.CacheTTL)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.BodyTimeout = durationDefault(o.BodyTimeout, defaultBodyTimeout)
	switch {
	case o.MaxBodyBytesInFlight == 0:
		o.MaxBodyBytesInFlight = defaultMaxBodyBytesInFlight
	case o.MaxBodyBytesInFlight < 0:
		return o, fmt.Errorf("bedrocktest: Options.MaxBodyBytesInFlight %d: must not be negative (0 means 64 MiB)", o.MaxBodyBytesInFlight)
	}
	served, err := o.served()
	if err != nil {
		return o, err
	}
	models := make([]Model, len(served))
	seen := make(map[string]bool, len(served))
	for i, m := range served {
		nm, err := m.normalize()
		if err != nil {
			return o, err
		}
		if seen[nm.ID] {
			return o, fmt.Errorf("bedrocktest: model %q is configured twice", nm.ID)
		}
		seen[nm.ID] = true
		models[i] = nm
	}
	o.Models = models
	o.Presets, o.LegacyRPM, o.Limits = false, false, nil // resolved into Models
	return o, nil
}

// served returns the models o serves: the presets (when Models is nil or Presets is
// set) with Models replacing or added to them, and Limits applied.
func (o Options) served() ([]Model, error) {
	var models []Model
	if o.Models == nil || o.Presets {
		models = presets(o.Catalog, o.Region, o.LegacyRPM)
	}
	nPresets := len(models)
	for _, m := range o.Models {
		replaced := false
		for i := range models[:nPresets] { // a model given twice is an error, found later
			if models[i].ID == m.ID {
				models[i], replaced = m, true
			}
		}
		if !replaced {
			models = append(models, m)
		}
	}
	for id, l := range o.Limits {
		ref, err := catalog.Parse(id)
		if err != nil {
			return nil, fmt.Errorf("bedrocktest: limits: %w", err)
		}
		found := false
		for i := range models {
			if models[i].ID == ref.ModelID {
				// A copy: the caller's maps are not changed.
				lim := maps.Clone(models[i].Limits)
				if lim == nil {
					lim = make(map[catalog.Scope]Limits, 1)
				}
				lim[ref.Scope] = mergeLimits(lim[ref.Scope], l)
				models[i].Limits, found = lim, true
			}
		}
		if !found {
			return nil, fmt.Errorf("bedrocktest: limits: model %q is not served: add it under models (id, burndown, max_output_tokens, context_window, limits)", ref.ModelID)
		}
	}
	if len(models) == 0 {
		return nil, errors.New("bedrocktest: no models: keep the presets (leave Models nil, or set Presets) or list models")
	}
	return models, nil
}

// mergeLimits returns base with the non-zero fields of override.
func mergeLimits(base, override Limits) Limits {
	pick := func(b, o int64) int64 {
		if o != 0 {
			return o
		}
		return b
	}
	pickCode := func(b, o string) string {
		if o != "" {
			return o
		}
		return b
	}
	return Limits{
		TokensPerMinute:   pick(base.TokensPerMinute, override.TokensPerMinute),
		TokensPerDay:      pick(base.TokensPerDay, override.TokensPerDay),
		RequestsPerMinute: pick(base.RequestsPerMinute, override.RequestsPerMinute),
		Codes: QuotaCodes{
			TokensPerMinute:   pickCode(base.Codes.TokensPerMinute, override.Codes.TokensPerMinute),
			TokensPerDay:      pickCode(base.Codes.TokensPerDay, override.Codes.TokensPerDay),
			RequestsPerMinute: pickCode(base.Codes.RequestsPerMinute, override.Codes.RequestsPerMinute),
		},
	}
}

// durationDefault maps zero to def and negative to none.
func durationDefault(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

func (m Model) normalize() (Model, error) {
	ref, err := catalog.Parse(m.ID)
	if err != nil {
		return m, fmt.Errorf("bedrocktest: model %q: %w", m.ID, err)
	}
	if ref.Kind != catalog.ModelID {
		return m, fmt.Errorf("bedrocktest: model %q: give the base model id (%q), not a %s; scopes are set in Limits", m.ID, ref.ModelID, ref.Kind)
	}
	if m.Name == "" {
		m.Name = m.ID
	}
	switch {
	case m.Burndown == 0:
		m.Burndown = 1
	case !(m.Burndown >= 1 && m.Burndown <= maxBurndown):
		return m, fmt.Errorf("bedrocktest: model %q: burndown %v must be a number from 1 to %d (0 means 1)", m.ID, m.Burndown, maxBurndown)
	}
	if m.MaxOutputTokens == 0 {
		m.MaxOutputTokens = defaultMaxOutput
	}
	if m.DefaultMaxTokens == 0 {
		m.DefaultMaxTokens = m.MaxOutputTokens
	}
	if m.DefaultMaxTokens > m.MaxOutputTokens {
		return m, fmt.Errorf("bedrocktest: model %q: default max tokens %d exceeds max output tokens %d", m.ID, m.DefaultMaxTokens, m.MaxOutputTokens)
	}
	if m.ContextWindow == 0 {
		m.ContextWindow = defaultContextWindow
	}
	if m.MaxOutputTokens < 0 || m.ContextWindow < 0 || m.MaxOutputTokens > maxTokenCount || m.ContextWindow > maxTokenCount {
		return m, fmt.Errorf("bedrocktest: model %q: max output tokens %d and context window %d must be from 0 (the default) to %d", m.ID, m.MaxOutputTokens, m.ContextWindow, maxTokenCount)
	}
	if len(m.Limits) == 0 {
		return m, fmt.Errorf("bedrocktest: model %q has no Limits: give the quotas of at least one scope (on-demand, cross-region, global)", m.ID)
	}
	limits := make(map[catalog.Scope]Limits, len(m.Limits))
	for s, l := range m.Limits {
		if s != catalog.OnDemand && s != catalog.CrossRegion && s != catalog.Global {
			return m, fmt.Errorf("bedrocktest: model %q: scope %v: use on-demand, cross-region or global", m.ID, s)
		}
		if l.TokensPerMinute < NoTokens || l.TokensPerDay < NoTokens || l.RequestsPerMinute < NoTokens ||
			l.TokensPerMinute > maxQuota || l.TokensPerDay > maxQuota || l.RequestsPerMinute > maxQuota {
			return m, fmt.Errorf("bedrocktest: model %q, %v: a quota must be positive and at most %d, 0 (not enforced; for tokens per day: TPM × 1440) or NoTokens (-1, zero quota)", m.ID, s, int64(maxQuota))
		}
		if l.TokensPerDay == 0 && l.TokensPerMinute > 0 {
			l.TokensPerDay = l.TokensPerMinute * minutesPerDay
		}
		limits[s] = l
	}
	m.Limits = limits
	return m, nil
}
