package bedrocktest_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/quota"
)

const sampleConfig = `
window: clock
time_scale: 60
reserve_burndown: true
legacy_rpm: true
latency:
  time_to_first_token: 200ms
  per_output_token: 5ms
faults:
  seed: 3
  service_unavailable: 0.01
  stream_throttle: 0.02
limits:
  us.anthropic.claude-sonnet-4-20250514-v1:0:
    tokens_per_minute: 50000
    tokens_per_day: 2000000
models:
  - id: example.tiny-model-v1:0
    name: Example Tiny
    burndown: 2
    max_output_tokens: 1000
    context_window: 8000
    limits:
      on-demand: {tokens_per_minute: 10000, codes: {tokens_per_minute: L-12345678}}
`

func TestConfig(t *testing.T) {
	o, err := bedrocktest.ParseOptions([]byte(sampleConfig))
	if err != nil {
		t.Fatal(err)
	}
	if o.Window != quota.ClockWindow || o.TimeScale != 60 || !o.ReserveBurndown ||
		o.Latency.TimeToFirstToken != 200*time.Millisecond || o.Faults.Seed != 3 || o.Faults.StreamThrottle != 0.02 {
		t.Errorf("options = %+v", o)
	}
	h, err := bedrocktest.New(o)
	if err != nil {
		t.Fatalf("New rejects the sample configuration: %v", err)
	}
	defer h.Close()
	var sonnetQuotas, tiny catalog.Quotas
	for _, m := range h.Models() {
		switch m.ID {
		case sonnet:
			sonnetQuotas = m.Quotas[catalog.CrossRegion]
		case "example.tiny-model-v1:0":
			tiny = m.Quotas[catalog.OnDemand]
		}
	}
	if sonnetQuotas.TPM.Default != 50_000 || sonnetQuotas.TPD.ForScope(sonnetQuotas.TPD.Default, catalog.CrossRegion) != 2_000_000 || sonnetQuotas.TPM.Code != "L-59759B4A" {
		t.Errorf("sonnet cross-region quotas = %+v, want the override with the preset's codes", sonnetQuotas)
	}
	if tiny.TPM.Default != 10_000 || tiny.TPM.Code != "L-12345678" {
		t.Errorf("added model quotas = %+v", tiny)
	}
	// The presets themselves are untouched.
	presets, err := bedrocktest.New(bedrocktest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer presets.Close()
	for _, m := range presets.Models() {
		if m.ID == sonnet && m.Quotas[catalog.CrossRegion].TPM.Default != 200_000 {
			t.Errorf("presets changed: %+v", m.Quotas)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"unknown key", "windwo: clock", "field windwo not found"},
		{"bad window", "window: sliding", `unknown window mode "sliding"`},
		{"unknown model in limits", "limits:\n  us.example.nothing-v1:0: {tokens_per_minute: 5}", "is not served"},
		{"bad model id", "limits:\n  'not an id': {tokens_per_minute: 5}", "invalid model id"},
		{"no models", "presets: false", "no models"},
		{"bad scope", "presets: false\nmodels:\n  - id: a.b\n    limits: {nowhere: {tokens_per_minute: 1}}", "nowhere"},
		{"negative output", "output_tokens: -1", "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := bedrocktest.ParseOptions([]byte(tt.yaml))
			if err == nil {
				var h *bedrocktest.Handler
				if h, err = bedrocktest.New(o); err == nil {
					h.Close()
				}
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestOptionsErrors(t *testing.T) {
	good := func() bedrocktest.Options { return quickOptions() }
	tests := []struct {
		name   string
		modify func(*bedrocktest.Options)
		want   string
	}{
		{"no models", func(o *bedrocktest.Options) { o.Models = []catalog.Model{} }, "no models"},
		{"negative time scale", func(o *bedrocktest.Options) { o.TimeScale = -1 }, "TimeScale"},
		{"fault probability", func(o *bedrocktest.Options) { o.Faults.Drop = 2 }, "between 0 and 1"},
		{"faults over 1", func(o *bedrocktest.Options) { o.Faults.Drop, o.Faults.Slow = 0.6, 0.6 }, "add up"},
		{"profile as model id", func(o *bedrocktest.Options) { o.Models[0].ID = sonnetUS }, "give the base model id"},
		{"duplicate", func(o *bedrocktest.Options) { o.Models[1].ID = o.Models[0].ID }, "twice"},
		{"no quotas", func(o *bedrocktest.Options) { o.Models[0].Quotas = nil }, "has no Quotas"},
		{"bad burndown", func(o *bedrocktest.Options) { o.Models[0].OutputBurndown = 0.5 }, "burndown"},
		{"negative quota", func(o *bedrocktest.Options) {
			o.Models[2].Quotas = map[catalog.Scope]catalog.Quotas{catalog.OnDemand: {TPM: catalog.Quota{Default: -5}}}
		}, "must be positive"},
		{"negative override", func(o *bedrocktest.Options) {
			o.Limits = map[string]bedrocktest.Limits{noCounter: {TokensPerMinute: -5}}
		}, "must be positive"},
		{"huge time scale", func(o *bedrocktest.Options) { o.TimeScale = 1e308 }, "use 0.001 to 1000"},
		{"tiny time scale", func(o *bedrocktest.Options) { o.TimeScale = 0.000001 }, "use 0.001 to 1000"},
		{"NaN time scale", func(o *bedrocktest.Options) { o.TimeScale = math.NaN() }, "TimeScale NaN"},
		{"infinite time scale", func(o *bedrocktest.Options) { o.TimeScale = math.Inf(1) }, "TimeScale +Inf"},
		{"huge per-token latency", func(o *bedrocktest.Options) { o.Latency.PerOutputToken = 1_000_000 * time.Hour }, "at most 1h0m0s"},
		{"huge time to first token", func(o *bedrocktest.Options) { o.Latency.TimeToFirstToken = 2 * time.Hour }, "at most 1h0m0s"},
		{"NaN slow factor", func(o *bedrocktest.Options) { o.Faults.SlowFactor = math.NaN() }, "slow factor NaN"},
		{"huge slow factor", func(o *bedrocktest.Options) { o.Faults.SlowFactor = 1e9 }, "use 1 to 1000"},
		{"NaN burndown", func(o *bedrocktest.Options) { o.Models[0].OutputBurndown = math.NaN() }, "burndown NaN"},
		{"huge quota", func(o *bedrocktest.Options) {
			o.Models[2].Quotas = map[catalog.Scope]catalog.Quotas{catalog.OnDemand: {TPM: catalog.Quota{Default: math.MaxInt64}}}
		}, "at most 1000000000000000"},
		{"huge override", func(o *bedrocktest.Options) {
			o.Limits = map[string]bedrocktest.Limits{noCounter: {TokensPerDay: math.MaxInt64}}
		}, "at most 1000000000000000"},
		{"huge context window", func(o *bedrocktest.Options) { o.Models[0].ContextWindow = math.MaxInt }, "context window"},
		{"huge cache TTL", func(o *bedrocktest.Options) { o.CacheTTL = math.MaxInt64 }, "CacheTTL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := good()
			tt.modify(&o)
			_, err := bedrocktest.New(o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}
