package bedrocktest

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tollgate-dev/tollgate/catalog"
)

// WindowMode is the provider reading of a quota's window the emulator enforces. Bedrock
// does not document which it uses (one public experiment saw a tokens-per-minute quota
// refill at the clock minute), so both are offered.
type WindowMode uint8

// The window modes.
const (
	// TokenBucket meters each limit as a bucket of capacity Amount that refills
	// continuously at Amount per period. A call is admitted when the bucket holds its
	// whole reservation. Nearly 2× Amount can pass in one clock minute.
	TokenBucket WindowMode = iota
	// ClockMinute meters each limit over fixed clock windows (each UTC minute for the
	// per-minute limits, each UTC day for tokens per day): a call is admitted when the
	// window's usage plus its reservation stays within Amount.
	ClockMinute
)

var windowModeNames = [...]string{"bucket", "clock"}

// String returns "bucket" or "clock", the names ParseWindowMode reads.
func (m WindowMode) String() string {
	if int(m) < len(windowModeNames) {
		return windowModeNames[m]
	}
	return fmt.Sprintf("windowmode(%d)", uint8(m))
}

// ParseWindowMode reads "bucket" or "clock" (also "token-bucket" and "clock-minute").
func ParseWindowMode(s string) (WindowMode, error) {
	switch s {
	case "bucket", "token-bucket":
		return TokenBucket, nil
	case "clock", "clock-minute":
		return ClockMinute, nil
	}
	return 0, fmt.Errorf("unknown window mode %q: use \"bucket\" (token bucket) or \"clock\" (clock-minute windows)", s)
}

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
// MaxLatency.
type Latency struct {
	// TimeToFirstToken is the time from admission to the first output token. Zero
	// means 400ms; a negative value means none.
	TimeToFirstToken time.Duration `yaml:"time_to_first_token"`
	// PerOutputToken is the time per output token after the first. Zero means 15ms
	// (about 67 tokens a second); a negative value means none.
	PerOutputToken time.Duration `yaml:"per_output_token"`
}

// The bounds of the emulator's settings. Beyond them its durations would not fit a
// time.Duration (292 years) for long, or its token counts an int64: an emulated clock
// at 1000× passes 292 years in about 107 real days.
const (
	// MinTimeScale and MaxTimeScale bound Options.TimeScale.
	MinTimeScale = 0.001
	MaxTimeScale = 1000
	// MaxLatency bounds each field of Latency.
	MaxLatency = time.Hour
	// MaxSlowFactor bounds Faults.SlowFactor.
	MaxSlowFactor = 1000
	// MaxQuota bounds every quota of Limits, in tokens or requests per period.
	MaxQuota = 1_000_000_000_000_000
	// MaxBurndown bounds Model.Burndown.
	MaxBurndown = 1000
)

// Options configure an emulator. The zero Options serve the catalog's models with their
// default quotas, in token-bucket mode, in real time.
type Options struct {
	// Models are the models served. Nil means Presets(Region, false): every model of the catalog
	// with its default quotas.
	Models []Model
	// Window is how every limit's window is read. The zero value is TokenBucket.
	Window WindowMode
	// ReserveBurndown makes the reservation charge max_tokens × burndown rather than
	// max_tokens. Bedrock does not document which it does: its published formula is
	// input + max_tokens.
	ReserveBurndown bool
	// TimeScale is how many emulated seconds pass per real second, for windows and
	// latency alike: 60 makes an emulated minute last one real second. Zero means 1;
	// otherwise it must be between MinTimeScale and MaxTimeScale.
	TimeScale float64
	// Clock returns the real time the emulated clock is scaled from. Nil means time.Now.
	Clock func() time.Time
	// Start is the emulated time at the first reading of the clock. The zero value means
	// the real time then. Windows are aligned on UTC minutes and days of emulated time.
	Start time.Time
	// AlignStart, instead of Start, starts the emulated clock so that its UTC minutes and
	// days begin when real time is a multiple of a scaled minute or day since the Unix
	// epoch: where a client counting quota.ClockWindow limits of the scaled periods (a
	// minute ÷ TimeScale) sees them begin, as a real provider's UTC minutes and an
	// NTP-synchronised client's agree. Where the first reading falls within a minute stays
	// as random as the moment it is taken. The emulated date is then in 2026-01-01.
	AlignStart bool
	// Latency is the latency model, in emulated time.
	Latency Latency
	// OutputTokens decides how many tokens a reply has before max_tokens clamps it
	// (results below 1 count as 1). It is called concurrently. Nil means
	// DefaultOutputTokens.
	OutputTokens func(ReplyRequest) int
	// Counter counts the tokens of prompt text; it is called concurrently. Nil means
	// DefaultCounter().
	Counter TokenCounter
	// Faults are the injected faults; the zero value injects none. SetFaults changes
	// them on a running emulator.
	Faults Faults
	// CacheTTL is how long, in emulated time, a prompt prefix marked by a cache point
	// stays cached. Zero means 5 minutes.
	CacheTTL time.Duration
	// Catalog resolves application-inference-profile ARNs to the model and scope they
	// wrap (see catalog.Catalog.WithProfile and the profiles of a catalog file); their
	// calls share that model's quotas. Nil means catalog.Default(), which maps none. The
	// models served are Models, not the catalog's.
	Catalog *catalog.Catalog
	// Region is the region assumed for requests whose signature names none, and the one
	// Service Quotas ARNs name. Empty means "us-east-1".
	Region string
	// Logger receives one debug line per call and warnings; nil discards them.
	Logger *slog.Logger
	// BodyTimeout is how long, in real time, a request body may take to arrive (and to
	// wait for room under MaxBodyBytesInFlight) after its headers; a body still arriving
	// then gets HTTP 408 RequestTimeoutException and its connection is closed. Zero means
	// 30 seconds; a negative value means no limit.
	BodyTimeout time.Duration
	// MaxBodyBytesInFlight bounds the bytes of request bodies being read or decoded at
	// once, over all connections: a body that does not fit waits, up to BodyTimeout, then
	// gets HTTP 503 ServiceUnavailableException (which the SDKs retry). One body may be
	// at most this large. Zero means 64 MiB.
	MaxBodyBytesInFlight int64
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
	if o.Models == nil {
		o.Models = Presets(o.Region, false)
	}
	if len(o.Models) == 0 {
		return o, errors.New("bedrocktest: no models: set Options.Models, or leave it nil for the catalog presets")
	}
	if o.Window != TokenBucket && o.Window != ClockMinute {
		return o, fmt.Errorf("bedrocktest: Options.Window %v: use TokenBucket or ClockMinute", o.Window)
	}
	switch {
	case o.TimeScale == 0:
		o.TimeScale = 1
	case !(o.TimeScale >= MinTimeScale && o.TimeScale <= MaxTimeScale): // also NaN
		return o, fmt.Errorf("bedrocktest: Options.TimeScale %v: use %g to %g emulated seconds per real second (0 means 1)", o.TimeScale, float64(MinTimeScale), float64(MaxTimeScale))
	}
	if o.Latency.TimeToFirstToken > MaxLatency || o.Latency.PerOutputToken > MaxLatency {
		return o, fmt.Errorf("bedrocktest: Options.Latency {%v, %v}: each must be at most %v (negative means none, 0 the default)", o.Latency.TimeToFirstToken, o.Latency.PerOutputToken, MaxLatency)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	o.Latency.TimeToFirstToken = durationDefault(o.Latency.TimeToFirstToken, defaultTTFT)
	o.Latency.PerOutputToken = durationDefault(o.Latency.PerOutputToken, defaultPerToken)
	if o.OutputTokens == nil {
		o.OutputTokens = DefaultOutputTokens
	}
	if o.Counter == nil {
		o.Counter = DefaultCounter()
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
	if o.Catalog == nil {
		o.Catalog = catalog.Default()
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
	models := make([]Model, len(o.Models))
	seen := make(map[string]bool, len(o.Models))
	for i, m := range o.Models {
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
	return o, nil
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
	case !(m.Burndown >= 1 && m.Burndown <= MaxBurndown):
		return m, fmt.Errorf("bedrocktest: model %q: burndown %v must be a number from 1 to %d (0 means 1)", m.ID, m.Burndown, MaxBurndown)
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
			l.TokensPerMinute > MaxQuota || l.TokensPerDay > MaxQuota || l.RequestsPerMinute > MaxQuota {
			return m, fmt.Errorf("bedrocktest: model %q, %v: a quota must be positive and at most %d, 0 (not enforced; for tokens per day: TPM × 1440) or NoTokens (-1, zero quota)", m.ID, s, int64(MaxQuota))
		}
		if l.TokensPerDay == 0 && l.TokensPerMinute > 0 {
			l.TokensPerDay = l.TokensPerMinute * minutesPerDay
		}
		limits[s] = l
	}
	m.Limits = limits
	return m, nil
}
