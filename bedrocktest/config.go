package bedrocktest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tollgate-dev/tollgate/catalog"
)

// Config is the emulator's configuration file (YAML), as `tollgate emulate --config`
// reads it. Every field is optional; see docs/emulator.md for an example.
type Config struct {
	// Window is "bucket" (default) or "clock".
	Window string `yaml:"window"`
	// TimeScale is emulated seconds per real second; 0 means 1.
	TimeScale float64 `yaml:"time_scale"`
	// ReserveBurndown reserves max_tokens × burndown instead of max_tokens.
	ReserveBurndown bool `yaml:"reserve_burndown"`
	// Region is the region of the preset quotas and of unsigned calls; "" is us-east-1.
	Region string `yaml:"region"`
	// Presets, when not false, starts from the catalog's models with their default
	// quotas; Models then override or add to them. Nil means true.
	Presets *bool `yaml:"presets"`
	// Catalog is the catalog the presets come from and application-inference-profile
	// ARNs are resolved with; nil means catalog.Default(). It is set from Go (tollgate
	// emulate --catalog), not from the YAML file.
	Catalog *catalog.Catalog `yaml:"-"`
	// LegacyRPM enforces the presets' legacy requests-per-minute quotas.
	LegacyRPM bool `yaml:"legacy_rpm"`
	// Models are served beside (or instead of) the presets; a model with a preset's id
	// replaces it.
	Models []Model `yaml:"models"`
	// Limits override the quotas of served models in single scopes, keyed by a model or
	// inference-profile id: "us.anthropic.claude-sonnet-4-20250514-v1:0" sets the
	// cross-region quotas of that model. Fields left zero keep the model's value; use -1
	// for a zero quota.
	Limits map[string]Limits `yaml:"limits"`
	// Latency is the latency model; zero fields take the defaults.
	Latency Latency `yaml:"latency"`
	// OutputTokens, when positive, makes every reply that long (before max_tokens).
	OutputTokens int `yaml:"output_tokens"`
	// Faults are the injected faults.
	Faults Faults `yaml:"faults"`
	// CacheTTL is the prompt cache's lifetime in emulated time; 0 means 5 minutes.
	CacheTTL time.Duration `yaml:"cache_ttl"`
}

// ParseConfig reads a YAML configuration. Unknown keys are errors, so that a misspelt
// setting is not silently ignored.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("bedrocktest: config: %w", err)
	}
	return c, nil
}

// Options turns the configuration into Options, resolving presets and limit overrides.
// The result is checked by New; errors here name the setting at fault.
func (c Config) Options() (Options, error) {
	o := Options{
		ReserveBurndown: c.ReserveBurndown, TimeScale: c.TimeScale, Region: c.Region,
		Latency: c.Latency, Faults: c.Faults, CacheTTL: c.CacheTTL, Catalog: c.Catalog,
	}
	if c.Window != "" {
		w, err := ParseWindowMode(c.Window)
		if err != nil {
			return o, fmt.Errorf("bedrocktest: config window: %w", err)
		}
		o.Window = w
	}
	region := c.Region
	if region == "" {
		region = defaultRegion
	}
	var models []Model
	if c.Presets == nil || *c.Presets {
		cat := c.Catalog
		if cat == nil {
			cat = catalog.Default()
		}
		models = PresetsFrom(cat, region, c.LegacyRPM)
	}
	for _, m := range c.Models {
		replaced := false
		for i := range models {
			if models[i].ID == m.ID {
				models[i], replaced = m, true
			}
		}
		if !replaced {
			models = append(models, m)
		}
	}
	for id, l := range c.Limits {
		ref, err := catalog.Parse(id)
		if err != nil {
			return o, fmt.Errorf("bedrocktest: config limits: %w", err)
		}
		found := false
		for i := range models {
			if models[i].ID == ref.ModelID {
				// A copy: the presets' maps must not be shared between models.
				lim := make(map[catalog.Scope]Limits, len(models[i].Limits)+1)
				for s, v := range models[i].Limits {
					lim[s] = v
				}
				lim[ref.Scope] = mergeLimits(lim[ref.Scope], l)
				models[i].Limits, found = lim, true
			}
		}
		if !found {
			return o, fmt.Errorf("bedrocktest: config limits: model %q is not served: add it under models (id, burndown, max_output_tokens, context_window, limits)", ref.ModelID)
		}
	}
	if len(models) == 0 {
		return o, errors.New("bedrocktest: config: no models: keep the presets or list models")
	}
	o.Models = models
	if c.OutputTokens < 0 {
		return o, fmt.Errorf("bedrocktest: config output_tokens %d: must not be negative", c.OutputTokens)
	}
	if n := c.OutputTokens; n > 0 {
		o.OutputTokens = func(ReplyRequest) int { return n }
	}
	return o, nil
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
