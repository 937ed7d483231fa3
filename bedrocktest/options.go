package bedrocktest

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/estimate"
	"github.com/tollgate-dev/tollgate/internal/reply"
	"github.com/tollgate-dev/tollgate/quota"
)

// Limits override the quotas of one model in one scope (see Options.Limits). Amounts are
// per account and region; a field left zero keeps the model's value, and -1 makes the
// quota zero: every call is throttled (new AWS accounts often have a tokens-per-day
// quota of zero).
type Limits struct {
	// TokensPerMinute is the TPM quota in quota tokens (input + cache writes + output ×
	// burndown).
	TokensPerMinute int64 `yaml:"tokens_per_minute"`
	// TokensPerDay is the TPD quota in quota tokens, as enforced (for a cross-region
	// quota "doubled for cross-region calls", the doubled value).
	TokensPerDay int64 `yaml:"tokens_per_day"`
	// RequestsPerMinute is the legacy RPM quota, no longer enforced by Bedrock since
	// 2026; setting it enforces it.
	RequestsPerMinute int64 `yaml:"requests_per_minute"`
}

// noTokens is, as a Limits field, a quota of zero.
const noTokens = -1

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
	minTimeScale = 0.001
	maxTimeScale = 1000
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
	// Models are the models served, described as the catalog describes them: id,
	// burndown, output and context sizes, and per scope the quotas enforced in Region
	// (the Default of each catalog.Quota, or its RegionDefaults entry, and its Code for
	// the Service Quotas API). A model is served in the scopes its Quotas list; a call in
	// another scope fails with "The provided model identifier is invalid.". An unknown
	// (zero) tokens-per-minute default means 200,000, the smallest documented
	// cross-region default of the Claude 4 models; an unknown tokens-per-day default
	// means TPM × 1440; the legacy requests-per-minute quota is enforced only with
	// LegacyRPM. Zero OutputBurndown means 1, zero MaxOutputTokens 4096, zero
	// ContextWindow 200,000. Nil means the models of Catalog (the presets).
	Models []catalog.Model `yaml:"-"`
	// Presets serves, beside Models, every model of Catalog; a model of Models with a
	// preset's id replaces it. The presets are served when Models is nil whatever
	// Presets says; in a YAML file, a missing presets key means true.
	Presets bool `yaml:"presets"`
	// LegacyRPM enforces the models' legacy requests-per-minute quotas, which Bedrock no
	// longer enforces (so neither does the emulator without it, unless Limits set one).
	LegacyRPM bool `yaml:"legacy_rpm"`
	// Limits override the quotas of served models in single scopes, keyed by a model or
	// inference-profile id: "us.anthropic.claude-sonnet-4-20250514-v1:0" sets the
	// cross-region quotas of that model. Nil overrides nothing.
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
	// otherwise it must be between 0.001 and 1000 (beyond, emulated durations would
	// overflow a time.Duration within days). The emulated clock starts at the time New
	// is called; windows are aligned on UTC minutes and days of emulated time. Inside a
	// testing/synctest bubble, use Client and leave it at 1: the bubble's clock makes
	// every wait instant.
	TimeScale float64 `yaml:"time_scale"`
	// Latency is the latency model, in emulated time.
	Latency Latency `yaml:"latency"`
	// OutputTokens decides how many tokens a reply has before max_tokens clamps it
	// (results below 1 count as 1), from the call's input tokens (cached ones included)
	// and seed, a hash of its prompt: equal prompts give equal seeds. It is called
	// concurrently. Nil means uniform between 0.5× and 1.5× of a mean of 64 + input/4
	// tokens, the mean capped at 1,024, deterministic in the seed. In YAML,
	// output_tokens: N makes every reply N tokens long.
	OutputTokens func(inputTokens int, seed uint64) int `yaml:"-"`
	// Counter counts the tokens of prompt text; it is called concurrently.
	// *estimate.Tokenizer satisfies it. Nil means the estimate package's reference
	// tokenizer, which differs from the base tokenizer a client estimates with by
	// 15–30%, as a Claude tokenizer does — so a client's calibration has something
	// realistic to learn.
	Counter interface{ Count(text string) int } `yaml:"-"`
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
	// Region is the region whose quota defaults are enforced, the one assumed for
	// requests whose signature names none, and the one Service Quotas ARNs name. Empty
	// means "us-east-1".
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

// model is a served model with its defaults filled in and its limits resolved.
type model struct {
	catalog.Model                          // defaults filled in; Quotas as given
	name          string                   // as Service Quotas names it in quota names
	limits        map[catalog.Scope]limits // the scopes served
}

// limits are what a model's series enforce in one scope, and how Service Quotas lists
// them.
type limits struct {
	Limits // 0: not enforced; noTokens: a zero quota
	// doubled reports that TokensPerDay is the doubled cross-region value of a quota
	// Service Quotas lists at half, "… (doubled for cross-region calls)".
	doubled bool
	// codes are the Service Quotas codes, by limitKind; empty means not listed.
	codes [numLimits]string
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

// normalize checks o and returns a copy with every zero field replaced by its default,
// and the models served.
func (o Options) normalize() (Options, []model, error) {
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
		return o, nil, fmt.Errorf("bedrocktest: Options.Window %v: use quota.TokenBucket or quota.ClockWindow", o.Window)
	}
	switch {
	case o.TimeScale == 0:
		o.TimeScale = 1
	case !(o.TimeScale >= minTimeScale && o.TimeScale <= maxTimeScale): // also NaN
		return o, nil, fmt.Errorf("bedrocktest: Options.TimeScale %v: use %g to %g emulated seconds per real second (0 means 1)", o.TimeScale, float64(minTimeScale), float64(maxTimeScale))
	}
	if o.Latency.TimeToFirstToken > maxLatency || o.Latency.PerOutputToken > maxLatency {
		return o, nil, fmt.Errorf("bedrocktest: Options.Latency {%v, %v}: each must be at most %v (negative means none, 0 the default)", o.Latency.TimeToFirstToken, o.Latency.PerOutputToken, maxLatency)
	}
	o.Latency.TimeToFirstToken = durationDefault(o.Latency.TimeToFirstToken, defaultTTFT)
	o.Latency.PerOutputToken = durationDefault(o.Latency.PerOutputToken, defaultPerToken)
	if o.OutputTokens == nil {
		o.OutputTokens = reply.Tokens
	}
	if o.Counter == nil {
		o.Counter = estimate.Reference()
	}
	if err := o.Faults.validate(); err != nil {
		return o, nil, err
	}
	switch {
	case o.CacheTTL == 0:
		o.CacheTTL = defaultCacheTTL
	case o.CacheTTL < 0 || o.CacheTTL > 24*time.Hour:
		return o, nil, fmt.Errorf("bedrocktest: Options.CacheTTL %v: use a duration up to 24h (0 means 5 minutes)", o.CacheTTL)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.BodyTimeout = durationDefault(o.BodyTimeout, defaultBodyTimeout)
	switch {
	case o.MaxBodyBytesInFlight == 0:
		o.MaxBodyBytesInFlight = defaultMaxBodyBytesInFlight
	case o.MaxBodyBytesInFlight < 0:
		return o, nil, fmt.Errorf("bedrocktest: Options.MaxBodyBytesInFlight %d: must not be negative (0 means 64 MiB)", o.MaxBodyBytesInFlight)
	}
	served, err := o.served()
	if err != nil {
		return o, nil, err
	}
	models := make([]model, 0, len(served))
	seen := make(map[string]bool, len(served))
	for _, m := range served {
		nm, err := o.resolve(m)
		if err != nil {
			return o, nil, err
		}
		if seen[nm.ID] {
			return o, nil, fmt.Errorf("bedrocktest: model %q is configured twice", nm.ID)
		}
		seen[nm.ID] = true
		models = append(models, nm)
	}
	for id, l := range o.Limits {
		ref, err := catalog.Parse(id)
		if err != nil {
			return o, nil, fmt.Errorf("bedrocktest: limits: %w", err)
		}
		i := slices.IndexFunc(models, func(m model) bool { return m.ID == ref.ModelID })
		if i < 0 {
			return o, nil, fmt.Errorf("bedrocktest: limits: model %q is not served: add it under models (id, burndown, max_output_tokens, context_window, limits)", ref.ModelID)
		}
		if err := checkLimits(ref.ModelID, ref.Scope, l); err != nil {
			return o, nil, err
		}
		cur := models[i].limits[ref.Scope] // a scope the model lacks is added
		cur.Limits = mergeLimits(cur.Limits, l)
		models[i].limits[ref.Scope] = cur
	}
	for i := range models {
		for s, l := range models[i].limits {
			if l.TokensPerDay == 0 && l.TokensPerMinute > 0 {
				l.TokensPerDay = l.TokensPerMinute * minutesPerDay
			}
			models[i].limits[s] = l
		}
	}
	return o, models, nil
}

// served returns the models o serves: the presets (when Models is nil or Presets is
// set) with Models replacing or added to them.
func (o Options) served() ([]catalog.Model, error) {
	var models []catalog.Model
	if o.Models == nil || o.Presets {
		models = o.Catalog.Models()
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
	return Limits{
		TokensPerMinute:   pick(base.TokensPerMinute, override.TokensPerMinute),
		TokensPerDay:      pick(base.TokensPerDay, override.TokensPerDay),
		RequestsPerMinute: pick(base.RequestsPerMinute, override.RequestsPerMinute),
	}
}

// checkLimits checks the amounts of l.
func checkLimits(id string, s catalog.Scope, l Limits) error {
	for _, v := range []int64{l.TokensPerMinute, l.TokensPerDay, l.RequestsPerMinute} {
		if v < noTokens || v > maxQuota {
			return fmt.Errorf("bedrocktest: model %q, %v: a quota must be positive and at most %d, 0 (keep the model's) or -1 (zero quota)", id, s, int64(maxQuota))
		}
	}
	return nil
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

// resolve checks a catalog model, fills in its defaults and resolves its limits in each
// scope it lists, as o enforces them before Limits apply.
func (o Options) resolve(m catalog.Model) (model, error) {
	out := model{Model: m}
	ref, err := catalog.Parse(m.ID)
	if err != nil {
		return out, fmt.Errorf("bedrocktest: model %q: %w", m.ID, err)
	}
	if ref.Kind != catalog.ModelID {
		return out, fmt.Errorf("bedrocktest: model %q: give the base model id (%q), not a %s; scopes are set in Quotas", m.ID, ref.ModelID, ref.Kind)
	}
	out.name = m.QuotaName
	if out.name == "" && m.Name != "" {
		out.name = strings.TrimSpace(m.Provider + " " + m.Name)
	}
	if out.name == "" {
		out.name = m.ID
	}
	switch {
	case m.OutputBurndown == 0:
		out.OutputBurndown = 1
	case !(m.OutputBurndown >= 1 && m.OutputBurndown <= maxBurndown):
		return out, fmt.Errorf("bedrocktest: model %q: burndown %v must be a number from 1 to %d (0 means 1)", m.ID, m.OutputBurndown, maxBurndown)
	}
	if out.MaxOutputTokens == 0 {
		out.MaxOutputTokens = defaultMaxOutput
	}
	if out.DefaultMaxTokens == 0 {
		out.DefaultMaxTokens = out.MaxOutputTokens
	}
	if out.DefaultMaxTokens > out.MaxOutputTokens || out.DefaultMaxTokens < 0 {
		return out, fmt.Errorf("bedrocktest: model %q: default max tokens %d must be from 0 to max output tokens %d", m.ID, out.DefaultMaxTokens, out.MaxOutputTokens)
	}
	if out.ContextWindow == 0 {
		out.ContextWindow = defaultContextWindow
	}
	if out.MaxOutputTokens < 0 || out.ContextWindow < 0 || out.MaxOutputTokens > maxTokenCount || out.ContextWindow > maxTokenCount {
		return out, fmt.Errorf("bedrocktest: model %q: max output tokens %d and context window %d must be from 0 (the default) to %d", m.ID, m.MaxOutputTokens, m.ContextWindow, maxTokenCount)
	}
	if len(m.Quotas) == 0 {
		return out, fmt.Errorf("bedrocktest: model %q has no Quotas: give the quotas of at least one scope (on-demand, cross-region, global)", m.ID)
	}
	out.limits = make(map[catalog.Scope]limits, len(m.Quotas))
	for s, q := range m.Quotas {
		if s != catalog.OnDemand && s != catalog.CrossRegion && s != catalog.Global {
			return out, fmt.Errorf("bedrocktest: model %q: scope %v: use on-demand, cross-region or global", m.ID, s)
		}
		tpm, tpd, rpm := q.TPM.DefaultIn(o.Region), q.TPD.DefaultIn(o.Region), q.RPM.DefaultIn(o.Region)
		for _, v := range []int64{tpm, tpd, rpm} {
			if v < 0 || v > maxQuota {
				return out, fmt.Errorf("bedrocktest: model %q, %v: a quota default must be positive and at most %d, or 0 (unknown)", m.ID, s, int64(maxQuota))
			}
		}
		l := limits{doubled: q.TPD.CrossRegionDoubled && s == catalog.CrossRegion}
		l.TokensPerMinute = tpm
		if tpm == 0 {
			l.TokensPerMinute = unknownTokensPerMinute
		}
		l.TokensPerDay = q.TPD.ForScope(tpd, s) // 0 (unknown): TPM × 1440, once Limits apply
		l.codes[limitTPM], l.codes[limitTPD] = q.TPM.Code, q.TPD.Code
		if o.LegacyRPM {
			l.RequestsPerMinute = rpm
			l.codes[limitRPM] = q.RPM.Code
		}
		out.limits[s] = l
	}
	return out, nil
}
