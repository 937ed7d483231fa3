package bedrocktest_test

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/emustats"
	"github.com/tollgate-dev/tollgate/quota"
)

// TestMeteringThroughSDK drives the metering arithmetic through the real SDK, with the
// emulator's clock moved by hand. Each call has 10 input tokens, max_tokens 1000 and
// 100 output tokens on a burndown-5 model: it reserves 10 + 1000 (10 + 5000 with
// ReserveBurndown) and settles 10 + 100×5 = 510.
func TestMeteringThroughSDK(t *testing.T) {
	tests := []struct {
		name            string
		mode            quota.Meter
		reserveBurndown bool
		wantFirst       int64 // calls admitted at the start
		wantAfter6s     int64 // more admitted 6 emulated seconds later
		wantPeak        int64 // highest TPM usage
	}{
		// 510k + 1010 ≤ 10000 ⇒ k ≤ 17: 18 calls. Clock: 6s later it is the same minute.
		{"clock", quota.ClockWindow, false, 18, 0, 17*510 + 1010},
		// Bucket: 10000 − 18×510 = 820 left; 6s refill 1000 more ⇒ 1820, which admits two
		// calls (1820 → 1310 → 800); the deepest draw is then 10000 − 300.
		{"bucket", quota.TokenBucket, false, 18, 2, 10_000 - 300},
		// 510k + 5010 ≤ 10000 ⇒ k ≤ 9: 10 calls.
		{"clock, reserve burndown", quota.ClockWindow, true, 10, 0, 9*510 + 5010},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// The bubble's clock starts on a UTC minute, as the test's windows do.
				opts := quickOptions()
				opts.Window, opts.ReserveBurndown = tt.mode, tt.reserveBurndown
				opts.OutputTokens = fixedOutput(100)
				opts.Models = []catalog.Model{{ID: sonnet, OutputBurndown: 5, MaxOutputTokens: 64_000, RequiresProfile: true,
					Quotas: map[catalog.Scope]catalog.Quotas{catalog.CrossRegion: {TPM: catalog.Quota{Default: 10_000}}}}}
				srv, err := bedrocktest.New(opts)
				if err != nil {
					t.Fatal(err)
				}
				defer srv.Close()
				client := inProcessClient(srv)
				in := &bedrockruntime.ConverseInput{ModelId: aws.String(sonnetUS),
					Messages:        userMessage("one two three four five six seven eight nine ten"),
					InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(1000)}}
				burst := func() int64 {
					var n int64
					for {
						_, err := client.Converse(t.Context(), in)
						var te *types.ThrottlingException
						if errors.As(err, &te) {
							return n
						}
						if err != nil {
							t.Fatalf("Converse: %v", err)
						}
						n++
					}
				}
				if got := burst(); got != tt.wantFirst {
					t.Errorf("admitted %d at the start, want %d", got, tt.wantFirst)
				}
				time.Sleep(6 * time.Second)
				if got := burst(); got != tt.wantAfter6s {
					t.Errorf("admitted %d more 6s later, want %d", got, tt.wantAfter6s)
				}
				time.Sleep(60 * time.Second)
				if got := burst(); got < tt.wantFirst-1 {
					t.Errorf("admitted %d a minute later, want about %d", got, tt.wantFirst)
				}
				s, ok := emustats.Get(t, srv).Get(sonnet, "cross-region")
				if !ok {
					t.Fatal("no stats")
				}
				reservation := map[bool]int64{false: 1010, true: 5010}[tt.reserveBurndown]
				if s.ReservedTokens != s.Admitted*reservation || s.SettledTokens != s.Admitted*510 {
					t.Errorf("reserved %d, settled %d for %d calls; want %d and %d each", s.ReservedTokens, s.SettledTokens, s.Admitted, reservation, 510)
				}
				if s.Throttled[emustats.TokensPerMinute] != 3 {
					t.Errorf("throttled = %v, want 3 tokens-per-minute throttles", s.Throttled)
				}
				tpm, _ := s.Limit(emustats.TokensPerMinute)
				if tpm.Peak != tt.wantPeak || tpm.Peak > tpm.Amount {
					t.Errorf("TPM peak = %d, want %d (≤ %d)", tpm.Peak, tt.wantPeak, tpm.Amount)
				}
				if _, ok := s.Limit(emustats.RequestsPerMinute); ok {
					t.Errorf("RPM enforced without being configured")
				}
			})
		})
	}
}

// TestPromptCaching checks cache writes, reads and what they reserve and settle: the
// first call writes the 4-token system prefix, the second reads it.
func TestPromptCaching(t *testing.T) {
	opts := quickOptions()
	opts.OutputTokens = fixedOutput(10)
	srv := startServer(t, opts)
	client := runtimeClient(t, srv.URL)
	in := &bedrockruntime.ConverseInput{
		ModelId:  aws.String(sonnetUS),
		Messages: userMessage("x y"),
		System: []types.SystemContentBlock{
			&types.SystemContentBlockMemberText{Value: "a b c d"},
			&types.SystemContentBlockMemberCachePoint{Value: types.CachePointBlock{Type: types.CachePointTypeDefault}},
		},
		InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(100)},
	}
	type counts struct{ in, rd, wr int32 }
	var got []counts
	for range 2 {
		out, err := client.Converse(ctxT(t), in)
		if err != nil {
			t.Fatalf("Converse: %v", err)
		}
		u := out.Usage
		got = append(got, counts{aws.ToInt32(u.InputTokens), aws.ToInt32(u.CacheReadInputTokens), aws.ToInt32(u.CacheWriteInputTokens)})
	}
	if want := []counts{{2, 0, 4}, {2, 4, 0}}; got[0] != want[0] || got[1] != want[1] {
		t.Errorf("usage (input, cache read, cache write) = %v, want %v", got, want)
	}
	s, _ := emustats.Get(t, srv).Get(sonnet, "cross-region")
	// Reserve input + cache read + cache write + max_tokens = 6 + 100, twice; settle
	// input + cache write + output × 5: (2 + 4 + 50) + (2 + 0 + 50).
	if s.ReservedTokens != 2*106 || s.SettledTokens != 56+52 {
		t.Errorf("reserved %d, settled %d; want %d and %d", s.ReservedTokens, s.SettledTokens, 2*106, 56+52)
	}
}

// TestAccountsAreSeparate checks that two access keys have their own quotas.
func TestAccountsAreSeparate(t *testing.T) {
	opts := quickOptions()
	opts.OutputTokens = fixedOutput(10) // each call settles 1 + 10 of the 15
	opts.Models = []catalog.Model{{ID: nova, Quotas: map[catalog.Scope]catalog.Quotas{catalog.OnDemand: {TPM: catalog.Quota{Default: 15}}}}}
	srv := startServer(t, opts)
	in := &bedrockruntime.ConverseInput{ModelId: aws.String(nova), Messages: userMessage("hi"),
		InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(10)}}
	for _, key := range []string{"AKIDONE", "AKIDTWO"} {
		if _, err := runtimeClientAs(t, srv.URL, key).Converse(ctxT(t), in); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
	}
	if _, err := runtimeClientAs(t, srv.URL, "AKIDONE").Converse(ctxT(t), in); err == nil {
		t.Errorf("AKIDONE's second call was admitted past its quota")
	}
	st := emustats.Get(t, srv)
	if len(st.Series) != 2 || st.Series[0].Account != "AKIDONE" || st.Series[1].Account != "AKIDTWO" {
		t.Errorf("series = %+v, want one per account", st.Series)
	}
	sum, _ := st.Get(nova, "on-demand")
	tpm, _ := sum.Limit(emustats.TokensPerMinute)
	if sum.Admitted != 2 || sum.Throttled[emustats.TokensPerMinute] != 1 || sum.SettledTokens != 22 || tpm.Peak != 11 {
		t.Errorf("summed stats = %+v, want 2 admitted, 1 throttled, 22 settled, peak 11", sum)
	}
}

// TestApplicationProfile checks that a mapped application inference profile is served
// and metered as the profile it wraps.
func TestApplicationProfile(t *testing.T) {
	const arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6"
	cat, err := catalog.Default().WithProfile(arn, sonnetUS)
	if err != nil {
		t.Fatal(err)
	}
	opts := quickOptions()
	opts.Catalog = cat
	srv := startServer(t, opts)
	client := runtimeClient(t, srv.URL)
	if _, err := client.Converse(ctxT(t), &bedrockruntime.ConverseInput{ModelId: aws.String(arn), Messages: userMessage("hi")}); err != nil {
		t.Fatalf("Converse through the application profile: %v", err)
	}
	if s, ok := emustats.Get(t, srv).Get(sonnet, "cross-region"); !ok || s.Admitted != 1 {
		t.Errorf("stats = %+v, want the call metered as %s cross-region", s, sonnet)
	}
	const unmapped = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/ffffffffffff"
	_, err = client.Converse(ctxT(t), &bedrockruntime.ConverseInput{ModelId: aws.String(unmapped), Messages: userMessage("hi")})
	var ve *types.ValidationException
	if !errors.As(err, &ve) {
		t.Errorf("unmapped profile: error = %v, want a ValidationException", err)
	}
}
