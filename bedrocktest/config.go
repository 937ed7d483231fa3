package bedrocktest

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"

	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/quotatext"
	"github.com/tollgate-dev/tollgate/quota"
)

// ParseOptions reads Options from YAML, as `tollgate emulate --config` does: the keys are
// the yaml tags of Options and of the types of its fields, plus window ("bucket" or
// "clock", Options.Window), output_tokens (a positive N makes every reply N tokens long,
// Options.OutputTokens) and models (Options.Models), each entry
//
//   - id: example.my-model-v1:0
//     name: Example My Model        # as Service Quotas names it
//     burndown: 1
//     max_output_tokens: 8192
//     default_max_tokens: 0         # 0: max_output_tokens
//     context_window: 128000
//     count_tokens: false
//     requires_profile: false
//     limits:                       # per scope: on-demand, cross-region, global
//     on-demand: {tokens_per_minute: 500000, tokens_per_day: 0, requests_per_minute: 0,
//     tokens_per_day_doubled: false, codes: {tokens_per_minute: L-12345678}}
//
// where -1 is a zero quota, a tokens-per-minute quota left zero is 200,000, a tokens-per-day
// quota left zero TPM × 1440, and a requests-per-minute quota is enforced when given. A missing presets key means true. Unknown keys are errors, so that a
// misspelt setting is not silently ignored; New checks the values.
func ParseOptions(data []byte) (Options, error) {
	var f struct {
		Options      `yaml:",inline"`
		Window       string      `yaml:"window"`
		OutputTokens int         `yaml:"output_tokens"`
		Models       []yamlModel `yaml:"models"`
	}
	f.Presets = true
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return Options{}, fmt.Errorf("bedrocktest: config: %w", err)
	}
	o := f.Options
	o.Window = quota.TokenBucket
	if f.Window != "" {
		w, err := quotatext.ParseWindow(f.Window)
		if err != nil {
			return Options{}, fmt.Errorf("bedrocktest: config window: %w", err)
		}
		o.Window = w
	}
	if f.OutputTokens < 0 {
		return Options{}, fmt.Errorf("bedrocktest: config output_tokens %d: must not be negative", f.OutputTokens)
	}
	if n := f.OutputTokens; n > 0 {
		o.OutputTokens = func(int, uint64) int { return n }
	}
	if !o.Presets && len(f.Models) == 0 {
		return Options{}, errors.New("bedrocktest: config: no models: keep the presets or list models")
	}
	if f.Models != nil {
		o.Models = make([]catalog.Model, 0, len(f.Models))
	}
	for _, ym := range f.Models {
		m, limits := ym.model()
		o.Models = append(o.Models, m)
		for id, l := range limits {
			if o.Limits == nil {
				o.Limits = make(map[string]Limits)
			}
			o.Limits[id] = mergeLimits(l, o.Limits[id]) // the limits: section has the last word
		}
	}
	return o, nil
}

// yamlModel is a models entry of the YAML file.
type yamlModel struct {
	ID               string                       `yaml:"id"`
	Name             string                       `yaml:"name"`
	Burndown         float64                      `yaml:"burndown"`
	MaxOutputTokens  int                          `yaml:"max_output_tokens"`
	DefaultMaxTokens int                          `yaml:"default_max_tokens"`
	ContextWindow    int                          `yaml:"context_window"`
	CountTokens      bool                         `yaml:"count_tokens"`
	RequiresProfile  bool                         `yaml:"requires_profile"`
	Limits           map[catalog.Scope]yamlLimits `yaml:"limits"`
}

// yamlLimits are a models entry's quotas in one scope.
type yamlLimits struct {
	Limits              `yaml:",inline"`
	TokensPerDayDoubled bool `yaml:"tokens_per_day_doubled"`
	Codes               struct {
		TokensPerMinute   string `yaml:"tokens_per_minute"`
		TokensPerDay      string `yaml:"tokens_per_day"`
		RequestsPerMinute string `yaml:"requests_per_minute"`
	} `yaml:"codes"`
}

// model returns the catalog model of a models entry, and the Options.Limits, keyed by a
// model or profile id, that enforce its quotas as written: -1 is a zero quota, and a
// requests-per-minute quota is enforced without LegacyRPM.
func (y yamlModel) model() (catalog.Model, map[string]Limits) {
	m := catalog.Model{ID: y.ID, QuotaName: y.Name, OutputBurndown: y.Burndown,
		MaxOutputTokens: y.MaxOutputTokens, DefaultMaxTokens: y.DefaultMaxTokens, ContextWindow: y.ContextWindow,
		CountTokens: y.CountTokens, RequiresProfile: y.RequiresProfile}
	if y.Limits == nil {
		return m, nil
	}
	m.Quotas = make(map[catalog.Scope]catalog.Quotas, len(y.Limits))
	overrides := make(map[string]Limits, len(y.Limits))
	for s, l := range y.Limits {
		listed := func(v int64) int64 { return max(v, 0) }
		tpd := listed(l.TokensPerDay)
		doubled := l.TokensPerDayDoubled && s == catalog.CrossRegion
		if doubled {
			tpd /= 2
		}
		m.Quotas[s] = catalog.Quotas{
			TPM: catalog.Quota{Code: l.Codes.TokensPerMinute, Default: listed(l.TokensPerMinute)},
			TPD: catalog.Quota{Code: l.Codes.TokensPerDay, Default: tpd, CrossRegionDoubled: l.TokensPerDayDoubled},
			RPM: catalog.Quota{Code: l.Codes.RequestsPerMinute, Default: listed(l.RequestsPerMinute)},
		}
		// The overrides carry what the catalog's quotas do not say: zero quotas, an
		// enforced RPM, the exact TPD.
		overrides[catalog.CallID(y.ID, s)] = l.Limits
	}
	return m, overrides
}
