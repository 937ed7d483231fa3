package bedrocktest_test

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/emustats"
	"github.com/tollgate-dev/tollgate/internal/quotatext"
	"github.com/tollgate-dev/tollgate/quota"
)

// TestStatsTotals checks Handler.Stats against the endpoint's series, in both window
// modes: a call that reserves 2 + 100 tokens of a 300-token TPM and settles 2 + 100 × 5
// overshoots by 502 − 300 = 202 (a clock minute holds 502; a bucket is drawn 502 deep),
// and the next call is throttled.
func TestStatsTotals(t *testing.T) {
	for _, mode := range []quota.Meter{quota.ClockWindow, quota.TokenBucket} {
		t.Run(quotatext.MeterName(mode), func(t *testing.T) {
			opts := quickOptions()
			opts.Window = mode
			opts.OutputTokens = fixedOutput(100)
			opts.Limits = map[string]bedrocktest.Limits{sonnetUS: {TokensPerMinute: 300}}
			srv := startServer(t, opts)
			client := runtimeClient(t, srv.URL)
			in := &bedrockruntime.ConverseInput{ModelId: aws.String(sonnetUS), Messages: userMessage("x y"),
				InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(100)}}
			if _, err := client.Converse(ctxT(t), in); err != nil {
				t.Fatal(err)
			}
			var te *types.ThrottlingException
			if _, err := client.Converse(ctxT(t), in); !errors.As(err, &te) {
				t.Fatalf("second call: %v, want a ThrottlingException", err)
			}
			if got, want := srv.Stats(), (bedrocktest.Stats{Admitted: 1, Throttled: 1, Overshoot: 202}); got != want {
				t.Errorf("Stats() = %+v, want %+v", got, want)
			}
			s, _ := emustats.Get(t, srv).Get(sonnet, "cross-region")
			tpm, _ := s.Limit(emustats.TokensPerMinute)
			if s.Admitted != 1 || s.Throttled[emustats.TokensPerMinute] != 1 || tpm.Peak != 502 || tpm.Amount != 300 {
				t.Errorf("series = %+v, want 1 admitted, 1 throttled, TPM peak 502 of 300", s)
			}
			srv.Reset()
			if got := srv.Stats(); got != (bedrocktest.Stats{}) {
				t.Errorf("after Reset: %+v", got)
			}
		})
	}
}

// TestYAMLModelLimits checks that a models entry of the configuration file is enforced
// as written: its requests-per-minute quota without legacy_rpm, -1 as a zero quota, and
// its codes listed.
func TestYAMLModelLimits(t *testing.T) {
	o, err := bedrocktest.ParseOptions([]byte(`
presets: false
latency: {time_to_first_token: -1ns, per_output_token: -1ns}
models:
  - id: example.tiny-model-v1:0
    name: Example Tiny
    max_output_tokens: 1000
    limits:
      on-demand: {tokens_per_minute: 10000, requests_per_minute: 1, codes: {tokens_per_minute: L-12345678}}
      cross-region: {tokens_per_minute: 10000, tokens_per_day: -1}
`))
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, o)
	client := runtimeClient(t, srv.URL)
	call := func(id string) error {
		_, err := client.Converse(ctxT(t), &bedrockruntime.ConverseInput{ModelId: aws.String(id), Messages: userMessage("hi"),
			InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(10)}})
		return err
	}
	var te *types.ThrottlingException
	if err := call("example.tiny-model-v1:0"); err != nil {
		t.Fatal(err)
	}
	if err := call("example.tiny-model-v1:0"); !errors.As(err, &te) || te.ErrorMessage() != "Too many requests, please wait before trying again." {
		t.Errorf("second on-demand call: %v, want the RPM throttle", err)
	}
	if err := call("us.example.tiny-model-v1:0"); !errors.As(err, &te) || te.ErrorMessage() != "Too many tokens per day, please wait before trying again." {
		t.Errorf("cross-region call: %v, want the zero TPD throttle", err)
	}
	q := srv.Models()[0].Quotas
	if od := q[catalog.OnDemand]; od.TPM.Code != "L-12345678" || od.TPM.Default != 10_000 || od.RPM.Default != 1 || od.TPD.Default != 10_000*1440 {
		t.Errorf("on-demand quotas = %+v", od)
	}
}
