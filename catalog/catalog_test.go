package catalog

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tollgate-dev/tollgate/internal/quotatext"
	"github.com/tollgate-dev/tollgate/quota"
)

const (
	sonnet35 = "anthropic.claude-3-5-sonnet-20240620-v1:0"
	sonnet4  = "anthropic.claude-sonnet-4-20250514-v1:0"
	appARN   = "arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/a1b2c3d4e5f6"
)

func TestDefaultCoversRequiredModels(t *testing.T) {
	// The models the catalog carries, with the output burndown AWS documents (5 for Claude ≥3.7).
	want := map[string]float64{
		"anthropic.claude-3-haiku-20240307-v1:0":   1,
		"anthropic.claude-3-5-haiku-20241022-v1:0": 1,
		sonnet35: 1,
		"anthropic.claude-3-5-sonnet-20241022-v2:0": 1,
		"anthropic.claude-3-7-sonnet-20250219-v1:0": 5,
		sonnet4: 5,
		"anthropic.claude-sonnet-4-5-20250929-v1:0": 5,
		"anthropic.claude-opus-4-20250514-v1:0":     5,
		"anthropic.claude-opus-4-1-20250805-v1:0":   5,
		"anthropic.claude-opus-4-5-20251101-v1:0":   5,
		"anthropic.claude-haiku-4-5-20251001-v1:0":  5,
		"amazon.nova-micro-v1:0":                    1,
		"amazon.nova-lite-v1:0":                     1,
		"amazon.nova-pro-v1:0":                      1,
		"amazon.nova-premier-v1:0":                  1,
		"meta.llama3-1-70b-instruct-v1:0":           1,
		"meta.llama3-3-70b-instruct-v1:0":           1,
		"mistral.mistral-large-2407-v1:0":           1,
		"cohere.command-r-v1:0":                     1,
		"cohere.command-r-plus-v1:0":                1,
	}
	for id, burndown := range want {
		m, ok := Default().Model(id)
		if !ok {
			t.Errorf("Default() has no %s", id)
			continue
		}
		if m.OutputBurndown != burndown {
			t.Errorf("%s: OutputBurndown = %v, want %v", id, m.OutputBurndown, burndown)
		}
		// Claude 3.7 / 4.x are served through inference profiles only: Bedrock refuses
		// their model ids "with on-demand throughput".
		if got, want := m.RequiresProfile, burndown == 5; m.Family == "claude" && got != want {
			t.Errorf("%s: RequiresProfile = %v, want %v", id, got, want)
		}
	}
}

func TestLookup(t *testing.T) {
	c, err := Default().WithProfile(appARN, "us."+sonnet4)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in                string
		wantModel, region string
		wantScope         Scope
	}{
		{sonnet35, sonnet35, "", OnDemand},
		{"us." + sonnet35, sonnet35, "", CrossRegion},
		{"global." + sonnet4, sonnet4, "", Global},
		{"arn:aws:bedrock:us-west-2::foundation-model/" + sonnet35, sonnet35, "us-west-2", OnDemand},
		{"arn:aws:bedrock:ap-northeast-1:123456789012:inference-profile/jp." + sonnet4, sonnet4, "ap-northeast-1", CrossRegion},
		{appARN, sonnet4, "eu-west-1", CrossRegion},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			m, r, err := c.Lookup(tt.in)
			if err != nil {
				t.Fatalf("Lookup(%q): %v", tt.in, err)
			}
			if m.ID != tt.wantModel || r.ModelID != tt.wantModel || r.Scope != tt.wantScope || r.Region != tt.region {
				t.Errorf("Lookup(%q) = model %s, ref %+v; want model %s, scope %v, region %q", tt.in, m.ID, r, tt.wantModel, tt.wantScope, tt.region)
			}
		})
	}
}

func TestLookupErrors(t *testing.T) {
	tests := []struct {
		in      string
		wantIs  error
		wantMsg []string
	}{
		{"acme.mystery-v1:0", ErrUnknownModel, []string{`"acme.mystery-v1:0"`, "output_burndown", "max_output_tokens", "context_window", "quotas", "models:", "docs/catalog.md", "Catalog.With"}},
		{"us.acme.mystery-v1:0", ErrUnknownModel, []string{`model "acme.mystery-v1:0"`}},
		{appARN, ErrUnknownModel, []string{"does not reveal the model", "profiles:", "get-inference-profile", "WithProfile"}},
		{sonnet4, ErrProfileRequired, []string{`"us.` + sonnet4 + `"`, `"global.` + sonnet4 + `"`}},
		{"not an id", ErrInvalidID, []string{"not allowed"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, _, err := Default().Lookup(tt.in)
			if !errors.Is(err, tt.wantIs) {
				t.Fatalf("Lookup(%q) error = %v, want one matching %v", tt.in, err, tt.wantIs)
			}
			for _, w := range tt.wantMsg {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Lookup(%q) error %q does not mention %q", tt.in, err, w)
				}
			}
		})
	}
	var ue *UnknownModelError
	if _, _, err := Default().Lookup("us.acme.mystery-v1:0"); !errors.As(err, &ue) || ue.Ref.Scope != CrossRegion {
		t.Errorf("Lookup error %v: want an *UnknownModelError carrying the parsed ref", err)
	}
	var nilCatalog *Catalog
	if _, _, err := nilCatalog.Lookup(appARN); !errors.Is(err, ErrUnknownModel) {
		t.Errorf("nil catalog Lookup(app profile) = %v, want ErrUnknownModel", err)
	}
}

func TestWith(t *testing.T) {
	custom := Model{ID: "acme.mystery-v1:0", OutputBurndown: 2, MaxOutputTokens: 1000, ContextWindow: 8000,
		Quotas: map[Scope]Quotas{OnDemand: {TPM: Quota{Default: 90_000}}}}
	c, err := Default().With(custom)
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := c.Lookup("acme.mystery-v1:0")
	if err != nil {
		t.Fatalf("Lookup after With: %v", err)
	}
	if diff := cmp.Diff(custom, m); diff != "" {
		t.Errorf("model after With (-want +got):\n%s", diff)
	}
	if got, want := m.MaxTokensDefault(), 1000; got != want {
		t.Errorf("MaxTokensDefault() = %d, want %d (MaxOutputTokens when DefaultMaxTokens is 0)", got, want)
	}
	// With leaves the receiver unchanged, and callers cannot change a catalog through copies.
	if _, ok := Default().Model("acme.mystery-v1:0"); ok {
		t.Error("With changed Default()")
	}
	m.Quotas[OnDemand] = Quotas{}
	if again, _ := c.Model("acme.mystery-v1:0"); again.Quotas[OnDemand].TPM.Default != 90_000 {
		t.Error("changing a returned model's quotas changed the catalog")
	}
	// Replacing a known model.
	s, _ := Default().Model(sonnet35)
	s.MaxOutputTokens = 4096
	c, err = Default().With(s)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Model(sonnet35); got.MaxOutputTokens != 4096 {
		t.Errorf("MaxOutputTokens after With = %d, want 4096", got.MaxOutputTokens)
	}
}

func TestWithRejectsBadModels(t *testing.T) {
	tests := []struct {
		name    string
		m       Model
		wantMsg []string
	}{
		{"empty", Model{}, []string{"id is missing", "output_burndown", "max_output_tokens", "context_window"}},
		{"profile id", Model{ID: "us." + sonnet4, OutputBurndown: 5, MaxOutputTokens: 1, ContextWindow: 1}, []string{`use "` + sonnet4 + `"`}},
		{"bad id", Model{ID: "nodot", OutputBurndown: 1, MaxOutputTokens: 1, ContextWindow: 1}, []string{"no provider"}},
		{"default above max", Model{ID: "a.b", OutputBurndown: 1, MaxOutputTokens: 10, DefaultMaxTokens: 11, ContextWindow: 100}, []string{"default_max_tokens is 11"}},
		{"bad code", Model{ID: "a.b", OutputBurndown: 1, MaxOutputTokens: 10, ContextWindow: 100,
			Quotas: map[Scope]Quotas{CrossRegion: {TPM: Quota{Code: "L-123"}}}}, []string{`quotas.cross-region.tpm.code "L-123"`}},
		{"negative default", Model{ID: "a.b", OutputBurndown: 1, MaxOutputTokens: 10, ContextWindow: 100,
			Quotas: map[Scope]Quotas{OnDemand: {TPD: Quota{Default: -1}}}}, []string{"quotas.on-demand.tpd.default is -1"}},
		{"bad region", Model{ID: "a.b", OutputBurndown: 1, MaxOutputTokens: 10, ContextWindow: 100,
			Quotas: map[Scope]Quotas{OnDemand: {TPM: Quota{RegionDefaults: map[string]int64{"Mars": 5}}}}}, []string{`region_defaults["Mars"]`}},
		{"unknown scope", Model{ID: "a.b", OutputBurndown: 1, MaxOutputTokens: 10, ContextWindow: 100,
			Quotas: map[Scope]Quotas{UnknownScope: {}}}, []string{"scope unknown is not"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Default().With(tt.m)
			if err == nil {
				t.Fatalf("With(%+v) succeeded, want an error", tt.m)
			}
			for _, w := range tt.wantMsg {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestWithProfileErrors(t *testing.T) {
	for _, tt := range []struct{ arn, target, wantMsg string }{
		{"us." + sonnet4, sonnet4, "only application-inference-profile ARNs"},
		{appARN, "bad target", "target of"},
		{appARN, appARN, "another application profile"},
		{"nonsense", sonnet4, "no provider"},
	} {
		if _, err := Default().WithProfile(tt.arn, tt.target); err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
			t.Errorf("WithProfile(%q, %q) error = %v, want one mentioning %q", tt.arn, tt.target, err, tt.wantMsg)
		}
	}
}

func TestLimits(t *testing.T) {
	const day = 24 * time.Hour
	tokens := func(n int64, per time.Duration) quota.Limit {
		return quota.Limit{Dimension: quota.Tokens, Amount: n, Per: per}
	}
	requests := func(n int64) quota.Limit { return quota.Limit{Dimension: quota.Requests, Amount: n, Per: time.Minute} }
	tests := []struct {
		id     string
		scope  Scope
		region string
		rpm    bool
		want   []quota.Limit
	}{
		// 400,000 TPM on demand in us-east-1, TPD = TPM × 1440 (quotas-runtime.html).
		{sonnet35, OnDemand, "us-east-1", false, []quota.Limit{tokens(400_000, time.Minute), tokens(576_000_000, day)}},
		{sonnet35, OnDemand, "us-west-2", true, []quota.Limit{tokens(2_000_000, time.Minute), tokens(2_880_000_000, day), requests(250)}},
		// Cross-region: 800,000 TPM; the TPD quota (listed at half) is doubled for cross-region calls.
		{sonnet35, CrossRegion, "us-east-1", true, []quota.Limit{tokens(800_000, time.Minute), tokens(1_152_000_000, day), requests(100)}},
		{sonnet4, CrossRegion, "eu-west-1", false, []quota.Limit{tokens(200_000, time.Minute), tokens(288_000_000, day)}},
	}
	for _, tt := range tests {
		t.Run(tt.id+"/"+tt.scope.String()+"/"+tt.region, func(t *testing.T) {
			m, _ := Default().Model(tt.id)
			got, err := m.Limits(tt.scope, tt.region, tt.rpm)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Limits (-want +got):\n%s", diff)
			}
			for _, l := range got {
				if err := quotatext.Validate(l); err != nil {
					t.Error(err)
				}
			}
		})
	}
	m, _ := Default().Model(sonnet4)
	if _, err := m.Limits(OnDemand, "us-east-1", false); !errors.Is(err, ErrProfileRequired) {
		t.Errorf("Limits(OnDemand) for Sonnet 4 = %v, want ErrProfileRequired", err)
	}
	if _, err := m.Limits(Global, "us-east-1", false); !errors.Is(err, ErrNoQuotas) || !strings.Contains(err.Error(), "quotas.global.tpm.default") {
		t.Errorf("Limits(Global) for Sonnet 4 = %v, want ErrNoQuotas naming the setting", err)
	}
}

func TestBuiltinQuotaDataIsConsistent(t *testing.T) {
	for _, m := range Default().Models() {
		for s, q := range m.Quotas {
			if s == OnDemand && m.RequiresProfile {
				t.Errorf("%s requires a profile but has on-demand quotas", m.ID)
			}
			// A derived TPD follows the documented rule exactly.
			if q.TPD.Derived {
				per := int64(1440)
				if q.TPD.CrossRegionDoubled {
					per = 720
				}
				if got, want := q.TPD.Default, q.TPM.Default*per; got != want {
					t.Errorf("%s %v: derived TPD %d, want TPM × %d = %d", m.ID, s, got, per, want)
				}
			}
			if q.TPD.CrossRegionDoubled && s != CrossRegion {
				t.Errorf("%s %v: only cross-region TPD is doubled", m.ID, s)
			}
		}
	}
}
