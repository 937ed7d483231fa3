package bedrocktest_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"

	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/emustats"
)

// wantAPIError checks that err is the modeled error T with a message containing msg.
func wantAPIError[T smithy.APIError](t *testing.T, err error, msg string) {
	t.Helper()
	var target T
	if !errors.As(err, &target) {
		t.Fatalf("error = %v (%T), want %T", err, err, target)
	}
	if !strings.Contains(target.ErrorMessage(), msg) {
		t.Errorf("message = %q, want it to contain %q", target.ErrorMessage(), msg)
	}
}

func TestValidationErrors(t *testing.T) {
	srv := startServer(t, quickOptions())
	client := runtimeClient(t, srv.URL)
	long := strings.Repeat("word ", 301)
	tests := []struct {
		name    string
		modelID string
		prompt  string
		max     *int32
		want    string
	}{
		{"unknown model", "anthropic.claude-unknown-v1:0", "hi", nil, "The provided model identifier is invalid."},
		{"malformed id", "not a model", "hi", nil, "The provided model identifier is invalid."},
		{"scope not served", "eu." + nova, "hi", nil, "The provided model identifier is invalid."},
		{"on demand needs a profile", sonnet, "hi", nil, "with on-demand throughput isn’t supported"},
		{"context window", nova, long, nil, "Input is too long for requested model."},
		{"input plus max_tokens over the window", nova, "hi there", aws.Int32(299), "exceed context limit: 2 + 299 > 300"},
		{"max_tokens over the model's cap", sonnetUS, "hi", aws.Int32(64_001), "exceeds the model limit of 64000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &bedrockruntime.ConverseInput{ModelId: aws.String(tt.modelID), Messages: userMessage(tt.prompt)}
			if tt.max != nil {
				in.InferenceConfig = &types.InferenceConfiguration{MaxTokens: tt.max}
			}
			_, err := client.Converse(ctxT(t), in)
			wantAPIError[*types.ValidationException](t, err, tt.want)
		})
	}
	t.Run("invoke body without max_tokens", func(t *testing.T) {
		_, err := client.InvokeModel(ctxT(t), &bedrockruntime.InvokeModelInput{
			ModelId: aws.String(sonnetUS), ContentType: aws.String("application/json"),
			Body: []byte(`{"anthropic_version":"bedrock-2023-05-31","messages":[{"role":"user","content":"hi"}]}`),
		})
		wantAPIError[*types.ValidationException](t, err, "required key [max_tokens] not found")
	})
	t.Run("invoke body not JSON", func(t *testing.T) {
		_, err := client.InvokeModel(ctxT(t), &bedrockruntime.InvokeModelInput{
			ModelId: aws.String(sonnetUS), ContentType: aws.String("application/json"), Body: []byte(`hello`),
		})
		wantAPIError[*types.ValidationException](t, err, "Malformed input request")
	})
	t.Run("count tokens unsupported", func(t *testing.T) {
		_, err := client.CountTokens(ctxT(t), &bedrockruntime.CountTokensInput{
			ModelId: aws.String(noCounter),
			Input:   &types.CountTokensInputMemberConverse{Value: types.ConverseTokensRequest{Messages: userMessage("hi")}},
		})
		wantAPIError[*types.ValidationException](t, err, "doesn't support counting tokens")
	})
	if st := emustats.Get(t, srv); len(st.Series) != 0 {
		t.Errorf("rejected calls were metered: %+v", st.Series)
	}
}

func TestThrottles(t *testing.T) {
	model := func(l bedrocktest.Limits) ([]catalog.Model, map[string]bedrocktest.Limits) {
		return []catalog.Model{{ID: nova, Quotas: map[catalog.Scope]catalog.Quotas{catalog.OnDemand: {}}}}, map[string]bedrocktest.Limits{nova: l}
	}
	tests := []struct {
		name   string
		limits bedrocktest.Limits
		reason string
		msg    string
	}{
		{"tokens per minute", bedrocktest.Limits{TokensPerMinute: 10}, emustats.TokensPerMinute, "Too many tokens, please wait before trying again."},
		{"tokens per day", bedrocktest.Limits{TokensPerMinute: 1000, TokensPerDay: -1}, emustats.TokensPerDay, "Too many tokens per day, please wait before trying again."},
		{"legacy requests per minute", bedrocktest.Limits{TokensPerMinute: 100_000, RequestsPerMinute: 1}, emustats.RequestsPerMinute, "Too many requests, please wait before trying again."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := quickOptions()
			opts.Models, opts.Limits = model(tt.limits)
			srv := startServer(t, opts)
			client := runtimeClient(t, srv.URL)
			in := &bedrockruntime.ConverseInput{ModelId: aws.String(nova), Messages: userMessage("hi"),
				InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(8)}}
			var err error
			for range 2 { // the RPM case admits one call first
				if _, err = client.Converse(ctxT(t), in); err != nil {
					break
				}
			}
			wantAPIError[*types.ThrottlingException](t, err, tt.msg)
			s, ok := emustats.Get(t, srv).Get(nova, "on-demand")
			if !ok || s.Throttled[tt.reason] != 1 {
				t.Errorf("stats = %+v, want one throttle for %s", s, tt.reason)
			}
		})
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name   string
		faults bedrocktest.Faults
		check  func(t *testing.T, err error)
	}{
		{"service unavailable", bedrocktest.Faults{ServiceUnavailable: 1}, func(t *testing.T, err error) {
			wantAPIError[*types.ServiceUnavailableException](t, err, "Bedrock is unable to process your request.")
		}},
		{"internal error", bedrocktest.Faults{InternalError: 1}, func(t *testing.T, err error) {
			wantAPIError[*types.InternalServerException](t, err, "internal error")
		}},
		{"model not ready", bedrocktest.Faults{ModelNotReady: 1}, func(t *testing.T, err error) {
			wantAPIError[*types.ModelNotReadyException](t, err, "not ready")
		}},
		{"dropped connection", bedrocktest.Faults{Drop: 1}, func(t *testing.T, err error) {
			var apiErr smithy.APIError
			if err == nil || errors.As(err, &apiErr) {
				t.Fatalf("error = %v, want a transport error", err)
			}
		}},
	}
	srv := startServer(t, quickOptions())
	client := runtimeClient(t, srv.URL)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := srv.SetFaults(tt.faults); err != nil {
				t.Fatal(err)
			}
			_, err := client.Converse(ctxT(t), &bedrockruntime.ConverseInput{ModelId: aws.String(nova), Messages: userMessage("hi")})
			tt.check(t, err)
		})
	}
	st := emustats.Get(t, srv)
	for _, k := range []string{"service-unavailable", "internal-error", "model-not-ready", "drop"} {
		if st.Faults[k] != 1 {
			t.Errorf("faults[%s] = %d, want 1 (%v)", k, st.Faults[k], st.Faults)
		}
	}
	// Only the dropped call was admitted; it was settled at its input.
	s, _ := st.Get(nova, "on-demand")
	if s.Admitted != 1 || s.InFlight != 0 || s.SettledTokens != 1 {
		t.Errorf("stats = %+v, want one admitted call settled at 1 input token", s)
	}
}

func TestFaultDrawsAreSeeded(t *testing.T) {
	run := func(seed uint64) []bool {
		opts := quickOptions()
		opts.Faults = bedrocktest.Faults{Seed: seed, ServiceUnavailable: 0.5}
		srv := startServer(t, opts)
		client := runtimeClient(t, srv.URL)
		var failed []bool
		for range 40 {
			_, err := client.Converse(ctxT(t), &bedrockruntime.ConverseInput{ModelId: aws.String(nova), Messages: userMessage("hi")})
			failed = append(failed, err != nil)
		}
		return failed
	}
	a, b, c := run(7), run(7), run(8)
	n := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, different faults at call %d", i)
		}
		if a[i] {
			n++
		}
	}
	if n < 8 || n > 32 {
		t.Errorf("%d of 40 calls failed at probability 0.5", n)
	}
	if slicesEqual(a, c) {
		t.Errorf("seeds 7 and 8 drew the same faults")
	}
}

func slicesEqual(a, b []bool) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

func TestMidStreamExceptions(t *testing.T) {
	opts := quickOptions()
	opts.OutputTokens = fixedOutput(200)
	srv := startServer(t, opts)
	client := runtimeClient(t, srv.URL)
	tests := []struct {
		name   string
		faults bedrocktest.Faults
		check  func(t *testing.T, err error)
	}{
		{"throttling frame", bedrocktest.Faults{StreamThrottle: 1}, func(t *testing.T, err error) {
			wantAPIError[*types.ThrottlingException](t, err, "Too many tokens")
		}},
		{"service unavailable frame", bedrocktest.Faults{StreamUnavailable: 1}, func(t *testing.T, err error) {
			wantAPIError[*types.ServiceUnavailableException](t, err, "Bedrock is unable")
		}},
	}
	for _, tt := range tests {
		if err := srv.SetFaults(tt.faults); err != nil {
			t.Fatal(err)
		}
		t.Run(tt.name+"/converse", func(t *testing.T) {
			out, err := client.ConverseStream(ctxT(t), &bedrockruntime.ConverseStreamInput{ModelId: aws.String(nova), Messages: userMessage("hi")})
			if err != nil {
				t.Fatalf("ConverseStream: %v", err)
			}
			stream := out.GetStream()
			deltas := 0
			for ev := range stream.Events() {
				if _, ok := ev.(*types.ConverseStreamOutputMemberContentBlockDelta); ok {
					deltas++
				}
			}
			stream.Close()
			if deltas == 0 {
				t.Errorf("no deltas before the exception")
			}
			tt.check(t, stream.Err())
		})
		t.Run(tt.name+"/invoke", func(t *testing.T) {
			out, err := client.InvokeModelWithResponseStream(ctxT(t), &bedrockruntime.InvokeModelWithResponseStreamInput{
				ModelId: aws.String(nova), ContentType: aws.String("application/json"), Body: anthropicBody(t, "hi", 250)})
			if err != nil {
				t.Fatalf("InvokeModelWithResponseStream: %v", err)
			}
			stream := out.GetStream()
			for range stream.Events() {
			}
			stream.Close()
			tt.check(t, stream.Err())
		})
	}
	// Each failed stream was settled at the output sent before the exception: fewer than
	// the 200 tokens of a whole reply, more than none.
	s, _ := emustats.Get(t, srv).Get(nova, "on-demand")
	if s.Admitted != 4 || s.InFlight != 0 {
		t.Fatalf("stats = %+v, want 4 admitted, none in flight", s)
	}
	if per := s.SettledTokens / 4; per <= 4 || per >= 200 {
		t.Errorf("settled %d tokens over 4 broken streams, want between input and a whole reply each", s.SettledTokens)
	}
}
