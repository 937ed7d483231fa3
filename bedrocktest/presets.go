package bedrocktest

import (
	"github.com/tollgate-dev/tollgate/catalog"
)

// presetTokensPerMinute is the TPM a preset gets in a scope whose AWS default the catalog
// does not know: 200,000, the smallest documented cross-region default of the Claude 4
// models in Service Quotas.
const presetTokensPerMinute = 200_000

// presets returns every model of c as the emulator serves it (see Options.Presets).
func presets(c *catalog.Catalog, region string, legacyRPM bool) []Model {
	ms := c.Models()
	out := make([]Model, 0, len(ms))
	for _, m := range ms {
		out = append(out, FromCatalog(m, region, legacyRPM))
	}
	return out
}

// FromCatalog returns the emulator's view of a catalog model, with quotas as Presets
// sets them (see Options.Presets).
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
			l.TokensPerMinute = presetTokensPerMinute
		}
		if legacyRPM {
			l.RequestsPerMinute = q.RPM.DefaultIn(region)
			l.Codes.RequestsPerMinute = q.RPM.Code
		}
		out.Limits[s] = l
	}
	return out
}
