package catalog

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/quota"
)

// A Model is what Tollgate knows about one Bedrock foundation model. Token counts are
// tokens as the model's tokenizer counts them; quota values are quota tokens (after
// burndown) or requests. The zero Model is invalid: ID, OutputBurndown, MaxOutputTokens
// and ContextWindow are required (see Validate).
//
// The struct tags let a YAML or JSON configuration file define or override models; see
// Catalog.Load.
type Model struct {
	// ID is the base foundation-model id, without profile prefix or ARN:
	// "anthropic.claude-sonnet-4-20250514-v1:0".
	ID string `yaml:"id" json:"id"`
	// Name is a readable name, e.g. "Claude Sonnet 4".
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// Provider is the model's vendor as Bedrock names it: "Anthropic", "Amazon", "Meta", …
	Provider string `yaml:"provider,omitempty" json:"provider,omitempty"`
	// Family groups models that share a tokenizer and request format: "claude", "nova",
	// "llama", "mistral", "command".
	Family string `yaml:"family,omitempty" json:"family,omitempty"`
	// QuotaName is how Service Quotas names the model inside quota names (the ${model} of
	// "Cross-region model inference tokens per minute for ${model}"), e.g.
	// "Anthropic Claude Sonnet 4 V1". Discovery matches names against it when a quota has
	// no known code. Empty means unknown.
	QuotaName string `yaml:"quota_name,omitempty" json:"quota_name,omitempty"`
	// OutputBurndown is how many quota tokens one output token consumes: 5 for Anthropic
	// Claude 3.7 and 4.x, 1 for the others. Input tokens always count 1. Must be positive.
	OutputBurndown float64 `yaml:"output_burndown" json:"output_burndown"`
	// DefaultMaxTokens is the output cap Bedrock applies, and reserves against the token
	// quotas, when a request leaves max_tokens unset. Zero means MaxOutputTokens, which is
	// what Bedrock does for most models (the most common cause of surprise throttles).
	DefaultMaxTokens int `yaml:"default_max_tokens,omitempty" json:"default_max_tokens,omitempty"`
	// MaxOutputTokens is the largest max_tokens the model accepts. Must be positive.
	MaxOutputTokens int `yaml:"max_output_tokens" json:"max_output_tokens"`
	// ContextWindow is the most input plus output tokens one call may hold. Must be positive.
	ContextWindow int `yaml:"context_window" json:"context_window"`
	// CountTokens reports whether Bedrock's CountTokens API serves the model (in the
	// regions where it is offered), so input can be counted exactly before a call.
	CountTokens bool `yaml:"count_tokens,omitempty" json:"count_tokens,omitempty"`
	// RequiresProfile reports that the model cannot be invoked on demand by its plain id:
	// calls must go through an inference profile ("us.…", "global.…"), as for Claude 3.7
	// and 4.x. Bedrock answers a plain-id call with a ValidationException.
	RequiresProfile bool `yaml:"requires_profile,omitempty" json:"requires_profile,omitempty"`
	// Quotas holds the Service Quotas entries that meter the model, per scope. A scope
	// missing from the map has no known quotas; a model that RequiresProfile has no
	// OnDemand entry.
	Quotas map[Scope]Quotas `yaml:"quotas,omitempty" json:"quotas,omitempty"`
}

// Quotas are the Service Quotas entries metering one model in one scope.
type Quotas struct {
	// TPM is "… tokens per minute for ${model}": input + cache writes + output × burndown.
	TPM Quota `yaml:"tpm,omitempty" json:"tpm,omitempty"`
	// TPD is "Model invocation max tokens per day for ${model}" (or the global variant).
	TPD Quota `yaml:"tpd,omitempty" json:"tpd,omitempty"`
	// RPM is the legacy "… requests per minute for ${model}" quota. Bedrock stopped
	// enforcing RPM on bedrock-runtime in 2026; Tollgate applies it only when asked.
	RPM Quota `yaml:"rpm,omitempty" json:"rpm,omitempty"`
}

// A Quota identifies one Service Quotas entry and its default value. Every field is
// optional: a zero Code means the code is not known (discovery then matches by name), a
// zero Default means the default value is not known (never "no quota").
type Quota struct {
	// Code is the Service Quotas code, "L-" and 8 characters, e.g. "L-6E888CC2".
	Code string `yaml:"code,omitempty" json:"code,omitempty"`
	// Name is the quota's name as Service Quotas lists it, when known.
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// Default is the AWS default value (tokens or requests per period, as Service Quotas
	// lists it) in every region RegionDefaults does not name — what AWS's quota table calls
	// "each of the other supported Regions". Zero means unknown.
	Default int64 `yaml:"default,omitempty" json:"default,omitempty"`
	// RegionDefaults holds the default of each region where it differs from Default,
	// keyed by region name ("us-east-1").
	RegionDefaults map[string]int64 `yaml:"region_defaults,omitempty" json:"region_defaults,omitempty"`
	// CrossRegionDoubled reports that the quota's value applies doubled to cross-region
	// calls, as for TPD quotas named "… (doubled for cross-region calls)".
	CrossRegionDoubled bool `yaml:"cross_region_doubled,omitempty" json:"cross_region_doubled,omitempty"`
	// Derived reports that Default is computed from a documented rule (TPD = TPM × 1440)
	// rather than listed by AWS.
	Derived bool `yaml:"derived,omitempty" json:"derived,omitempty"`
}

// DefaultIn returns the quota's default value in region: RegionDefaults[region] when set,
// else Default. Zero means unknown.
func (q Quota) DefaultIn(region string) int64 {
	if v, ok := q.RegionDefaults[region]; ok {
		return v
	}
	return q.Default
}

// ForScope returns the amount a quota value allows to calls in scope s: value × 2 for a
// CrossRegionDoubled quota and a CrossRegion call, value otherwise.
func (q Quota) ForScope(value int64, s Scope) int64 {
	if q.CrossRegionDoubled && s == CrossRegion {
		return 2 * value
	}
	return value
}

// IsZero reports whether nothing is known about the quota.
func (q Quota) IsZero() bool {
	return q.Code == "" && q.Name == "" && q.Default == 0 && len(q.RegionDefaults) == 0
}

// MaxTokensDefault returns the output cap Bedrock reserves when max_tokens is unset:
// DefaultMaxTokens, or MaxOutputTokens when that is zero.
func (m Model) MaxTokensDefault() int {
	if m.DefaultMaxTokens > 0 {
		return m.DefaultMaxTokens
	}
	return m.MaxOutputTokens
}

// ErrNoQuotas is wrapped by Model.Limits when the catalog knows no default TPM for the
// model in the scope asked.
var ErrNoQuotas = errors.New("no default quotas known")

// ErrProfileRequired is wrapped by errors about calling, on demand, a model that can only
// be invoked through an inference profile.
var ErrProfileRequired = errors.New("model requires an inference profile")

// Limits turns the model's default quotas for calls in scope s from region into limits
// for package quota: TPM as Tokens per minute, TPD as Tokens per 24 hours (doubled for
// cross-region calls when the quota says so) and, only when legacyRPM is true, RPM as
// Requests per minute. Unknown values are left out. It is the fallback when the account's
// applied quotas cannot be read; it fails, wrapping ErrNoQuotas, when not even the TPM is
// known, and wrapping ErrProfileRequired for an on-demand call to a profile-only model.
func (m Model) Limits(s Scope, region string, legacyRPM bool) ([]quota.Limit, error) {
	if s == OnDemand && m.RequiresProfile {
		return nil, fmt.Errorf("catalog: %s: %w: call it through a profile id such as %q", m.ID, ErrProfileRequired, "us."+m.ID)
	}
	q := m.Quotas[s]
	tpm := q.TPM.DefaultIn(region)
	if tpm <= 0 {
		return nil, fmt.Errorf("catalog: %s (%s): %w: give the account's tokens per minute explicitly (quotas.%s.tpm.default in the catalog file, or a limit)", m.ID, s, ErrNoQuotas, s)
	}
	limits := []quota.Limit{{Dimension: quota.Tokens, Amount: q.TPM.ForScope(tpm, s), Per: time.Minute}}
	if tpd := q.TPD.DefaultIn(region); tpd > 0 {
		limits = append(limits, quota.Limit{Dimension: quota.Tokens, Amount: q.TPD.ForScope(tpd, s), Per: 24 * time.Hour})
	}
	if rpm := q.RPM.DefaultIn(region); legacyRPM && rpm > 0 {
		limits = append(limits, quota.Limit{Dimension: quota.Requests, Amount: q.RPM.ForScope(rpm, s), Per: time.Minute})
	}
	return limits, nil
}

// quotaCode matches a Service Quotas code.
var quotaCode = regexp.MustCompile(`^L-[0-9A-Z]{8}$`)

// Validate reports everything wrong with m at once, naming each setting to fix.
func (m Model) Validate() error {
	var problems []string
	add := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	if m.ID == "" {
		add("id is missing (the base model id, e.g. %q)", "anthropic.claude-sonnet-4-20250514-v1:0")
	} else if r, err := Parse(m.ID); err != nil {
		add("id: %v", err)
	} else if r.Kind != ModelID {
		add("id %q must be a plain model id, without profile prefix or ARN (use %q)", m.ID, r.ModelID)
	}
	if !(m.OutputBurndown > 0 && m.OutputBurndown <= 100) {
		add("output_burndown is %v: set the quota tokens one output token consumes (5 for Claude 3.7/4.x, else 1)", m.OutputBurndown)
	}
	if m.MaxOutputTokens <= 0 {
		add("max_output_tokens is %d: set the largest max_tokens the model accepts", m.MaxOutputTokens)
	}
	if m.ContextWindow <= 0 {
		add("context_window is %d: set the model's context window in tokens", m.ContextWindow)
	}
	if m.DefaultMaxTokens < 0 || m.MaxOutputTokens > 0 && m.DefaultMaxTokens > m.MaxOutputTokens {
		add("default_max_tokens is %d: it must be between 0 (meaning max_output_tokens) and max_output_tokens (%d)", m.DefaultMaxTokens, m.MaxOutputTokens)
	}
	for _, s := range sortedScopes(m.Quotas) {
		if s == UnknownScope || s > Global {
			add("quotas: scope %v is not on-demand, cross-region or global", s)
			continue
		}
		q := m.Quotas[s]
		for _, e := range []struct {
			name string
			q    Quota
		}{{"tpm", q.TPM}, {"tpd", q.TPD}, {"rpm", q.RPM}} {
			if e.q.Code != "" && !quotaCode.MatchString(e.q.Code) {
				add("quotas.%s.%s.code %q is not a Service Quotas code (L- and 8 characters, e.g. L-6E888CC2)", s, e.name, e.q.Code)
			}
			if e.q.Default < 0 {
				add("quotas.%s.%s.default is %d: use a positive value, or 0 for unknown", s, e.name, e.q.Default)
			}
			for r, v := range e.q.RegionDefaults {
				if v < 0 || !isRegion(r) {
					add("quotas.%s.%s.region_defaults[%q] = %d: use a region name like us-west-2 and a positive value", s, e.name, r, v)
				}
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	id := m.ID
	if id == "" {
		id = "(no id)"
	}
	return fmt.Errorf("catalog: model %s: %s", id, strings.Join(problems, "; "))
}

// sortedScopes returns the keys of qs in order.
func sortedScopes(qs map[Scope]Quotas) []Scope { return slices.Sorted(maps.Keys(qs)) }

// clone returns a deep copy of m, so that callers cannot change a Catalog's data.
func (m Model) clone() Model {
	if m.Quotas == nil {
		return m
	}
	qs := make(map[Scope]Quotas, len(m.Quotas))
	for s, q := range m.Quotas {
		q.TPM.RegionDefaults = maps.Clone(q.TPM.RegionDefaults)
		q.TPD.RegionDefaults = maps.Clone(q.TPD.RegionDefaults)
		q.RPM.RegionDefaults = maps.Clone(q.RPM.RegionDefaults)
		qs[s] = q
	}
	m.Quotas = qs
	return m
}
