package catalog

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	const file = `
models:
  - id: anthropic.claude-3-5-sonnet-20240620-v1:0
    max_output_tokens: 4096
    quotas:
      on-demand:
        tpm: {default: 50000}
  - id: acme.custom-model-v1:0
    provider: Acme
    output_burndown: 2
    max_output_tokens: 4096
    context_window: 32000
    quotas:
      cross-region:
        tpm: {code: L-0123ABCD, default: 100000}
        tpd: {default: 1000000}
profiles:
  arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/a1b2c3d4e5f6: us.acme.custom-model-v1:0
`
	c, err := Default().Load(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := c.Model(sonnet35)
	if s.MaxOutputTokens != 4096 || s.Name != "Claude 3.5 Sonnet" || !s.CountTokens {
		t.Errorf("overridden model = %+v: want max_output_tokens changed and the other fields kept", s)
	}
	od := s.Quotas[OnDemand]
	if od.TPM.DefaultIn("us-east-1") != 50000 || od.TPM.Code != "L-A50569E5" || od.RPM.DefaultIn("us-east-1") != 50 {
		t.Errorf("on-demand quotas = %+v: want TPM default 50000 in every region, with its code, and RPM kept", od)
	}
	if got, want := od.TPD.Default, int64(50000*1440); got != want {
		t.Errorf("derived TPD after TPM override = %d, want TPM × 1440 = %d", got, want)
	}
	if s.Quotas[CrossRegion].TPM.DefaultIn("us-west-2") != 4_000_000 {
		t.Errorf("cross-region quotas changed: %+v", s.Quotas[CrossRegion])
	}
	m, r, err := c.Lookup("arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/a1b2c3d4e5f6")
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != "acme.custom-model-v1:0" || r.Scope != CrossRegion || r.Region != "eu-west-1" {
		t.Errorf("Lookup(app profile) = %s %+v", m.ID, r)
	}
	limits, err := m.Limits(CrossRegion, r.Region, false)
	if err != nil || len(limits) != 2 || limits[0].Amount != 100000 || limits[1].Amount != 1000000 {
		t.Errorf("Limits = %v, %v; want the configured 100000 TPM and 1000000 TPD", limits, err)
	}
	// The default catalog is unchanged.
	if d, _ := Default().Model(sonnet35); d.MaxOutputTokens == 4096 {
		t.Error("Load changed Default()")
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct{ name, file, wantMsg string }{
		{"typo", "models:\n  - id: a.b\n    max_ouput_tokens: 5\n", "max_ouput_tokens"},
		{"unknown top-level", "model: []\n", "field model not found"},
		{"no id", "models:\n  - max_output_tokens: 5\n", "has no id"},
		{"new model incomplete", "models:\n  - id: acme.new-v1:0\n    output_burndown: 1\n", "max_output_tokens is 0"},
		{"bad scope", "models:\n  - id: anthropic.claude-3-5-sonnet-20240620-v1:0\n    quotas:\n      everywhere: {tpm: {default: 5}}\n", "unknown scope"},
		{"bad quota field", "models:\n  - id: anthropic.claude-3-5-sonnet-20240620-v1:0\n    quotas:\n      on-demand: {tpm: {deflt: 5}}\n", "deflt"},
		{"quotas not a mapping", "models:\n  - id: anthropic.claude-3-5-sonnet-20240620-v1:0\n    quotas: [1]\n", "line 3: cannot unmarshal"},
		{"bad profile", "profiles:\n  us.anthropic.x-v1:0: anthropic.x-v1:0\n", "only application-inference-profile ARNs"},
		{"not yaml", "models: [\n", "configuration"},
		{"model not mapping", "models:\n  - 5\n", "line 2: cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Default().Load(strings.NewReader(tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Load error = %v, want one mentioning %q", err, tt.wantMsg)
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.yaml")
	if err := os.WriteFile(path, []byte("models:\n  - id: acme.x-v1:0\n    output_burndown: 1\n    max_output_tokens: 10\n    context_window: 100\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Default().LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Lookup("acme.x-v1:0"); err != nil {
		t.Errorf("Lookup after LoadFile: %v", err)
	}
	if _, err := Default().LoadFile(filepath.Join(t.TempDir(), "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadFile(missing) = %v, want os.ErrNotExist", err)
	}
	if c, err := Default().Load(strings.NewReader("")); err != nil || len(c.Models()) != len(Default().Models()) {
		t.Errorf("Load(empty) = %v: want the catalog unchanged", err)
	}
}

func FuzzLoad(f *testing.F) {
	f.Add("models:\n  - id: a.b\n    output_burndown: 1\n    max_output_tokens: 1\n    context_window: 1\n")
	f.Add("models:\n  - id: anthropic.claude-3-5-sonnet-20240620-v1:0\n    quotas: {on-demand: {tpm: {default: 1}}}\n")
	f.Add("profiles: {a: b}\n")
	f.Fuzz(func(t *testing.T, file string) {
		c, err := Default().Load(strings.NewReader(file))
		if err != nil {
			return
		}
		for _, m := range c.Models() {
			if err := m.Validate(); err != nil {
				t.Fatalf("Load accepted an invalid model: %v", err)
			}
		}
	})
}
