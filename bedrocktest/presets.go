package bedrocktest

import (
	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/estimate"
)

// PresetTokensPerMinute is the TPM a preset gets in a scope whose AWS default the catalog
// does not know: 200,000, the smallest documented cross-region default of the Claude 4
// models in Service Quotas.
const PresetTokensPerMinute = 200_000

// Presets returns every model of the built-in catalog as the emulator serves it, with
// the AWS default quotas of region in each scope the catalog lists: TPM (or
// PresetTokensPerMinute when unknown), TPD (doubled for cross-region calls where its
// name says so; TPM × 1440 when unknown) and, when legacyRPM is set, the requests-per-
// minute quota (not enforced otherwise, as Bedrock no longer enforces it).
func Presets(region string, legacyRPM bool) []Model {
	return PresetsFrom(catalog.Default(), region, legacyRPM)
}

// PresetsFrom is Presets for the models of catalog c (the built-in one extended by a
// catalog file, for instance).
func PresetsFrom(c *catalog.Catalog, region string, legacyRPM bool) []Model {
	ms := c.Models()
	out := make([]Model, 0, len(ms))
	for _, m := range ms {
		out = append(out, FromCatalog(m, region, legacyRPM))
	}
	return out
}

// FromCatalog returns the emulator's view of a catalog model, with quotas as Presets
// sets them.
func FromCatalog(m catalog.Model, region string, legacyRPM bool) Model {
	out := Model{
		ID: m.ID, Name: m.QuotaName, Burndown: m.OutputBurndown,
		MaxOutputTokens: m.MaxOutputTokens, DefaultMaxTokens: m.MaxTokensDefault(),
		ContextWindow: m.ContextWindow, CountTokens: m.CountTokens, RequiresProfile: m.RequiresProfile,
		Limits: make(map[catalog.Scope]Limits, len(m.Quotas)),
	}
	if out.Name == "" {
		out.Name = m.Provider + " " + m.Name
	}
	for s, q := range m.Quotas {
		l := Limits{
			TokensPerMinute: q.TPM.DefaultIn(region),
			TokensPerDay:    q.TPD.ForScope(q.TPD.DefaultIn(region), s),
			Codes:           QuotaCodes{TokensPerMinute: q.TPM.Code, TokensPerDay: q.TPD.Code},
			// ForScope doubled it exactly when this holds.
			TokensPerDayDoubled: q.TPD.CrossRegionDoubled && s == catalog.CrossRegion,
		}
		if l.TokensPerMinute == 0 {
			l.TokensPerMinute = PresetTokensPerMinute
		}
		if legacyRPM {
			l.RequestsPerMinute = q.RPM.DefaultIn(region)
			l.Codes.RequestsPerMinute = q.RPM.Code
		}
		out.Limits[s] = l
	}
	return out
}

// DefaultCounter returns the token counter the emulator counts prompts with by default:
// the estimate package's reference tokenizer, which differs from the base tokenizer a
// client estimates with by 15–30%, as a Claude tokenizer does — so a client's calibration
// has something realistic to learn.
func DefaultCounter() TokenCounter { return estimate.Reference() }
