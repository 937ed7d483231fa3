package estimate

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/quota"
)

// Claude Sonnet 4 as catalog.Model describes it: burndown 5, 64,000 output tokens at most.
var sonnet4 = ModelParams{OutputBurndown: 5, MaxOutputTokens: 64_000}

func TestSettleCostDocumentedExamples(t *testing.T) {
	tests := []struct {
		name  string
		model ModelParams
		usage Usage
		want  quota.Cost
	}{
		// AWS, "Why Claude 4 API Hits Rate Limits: Token Burndown Explained": 10 input + 750
		// output on Claude Sonnet 4 = 3,760 quota tokens.
		{"sonnet 4: 10 in + 750 out", sonnet4, Usage{InputTokens: 10, OutputTokens: 750},
			quota.Cost{Requests: 1, Tokens: 3_760, InputTokens: 10, OutputTokens: 750}},
		// Burndown 1 (Nova, Llama, Claude 3.5): input + output.
		{"burndown 1", ModelParams{OutputBurndown: 1, MaxOutputTokens: 5_000}, Usage{InputTokens: 10, OutputTokens: 750},
			quota.Cost{Requests: 1, Tokens: 760, InputTokens: 10, OutputTokens: 750}},
		// Settlement: input + cache write + output × burndown; cache reads are free.
		{"cache read free, cache write charged", sonnet4, Usage{InputTokens: 100, CacheReadTokens: 5_000, CacheWriteTokens: 2_000, OutputTokens: 10},
			quota.Cost{Requests: 1, Tokens: 100 + 2_000 + 50, InputTokens: 2_100, OutputTokens: 10}},
		{"zero burndown means 1", ModelParams{}, Usage{InputTokens: 1, OutputTokens: 2},
			quota.Cost{Requests: 1, Tokens: 3, InputTokens: 1, OutputTokens: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SettleCost(tt.model, tt.usage)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("SettleCost = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestReserveCostDocumentedExamples(t *testing.T) {
	tests := []struct {
		name      string
		model     ModelParams
		in        Usage
		maxTokens int
		want      quota.Cost
	}{
		// AWS re:Post, "TPM & RPM Quota Monitoring Dashboard for Amazon Bedrock": a 1K-input
		// request with max_tokens unset on a 64K-output Claude Sonnet reserves about 65K.
		{"max_tokens unset reserves the model maximum", sonnet4, Usage{InputTokens: 1_000}, 0,
			quota.Cost{Requests: 1, Tokens: 65_000, InputTokens: 1_000, OutputTokens: 64_000}},
		{"DefaultMaxTokens wins over the maximum", ModelParams{OutputBurndown: 5, DefaultMaxTokens: 4_096, MaxOutputTokens: 64_000}, Usage{InputTokens: 1_000}, 0,
			quota.Cost{Requests: 1, Tokens: 5_096, InputTokens: 1_000, OutputTokens: 4_096}},
		// Reservation = input + cache read + cache write + max_tokens.
		{"cache reads and writes are reserved", sonnet4, Usage{InputTokens: 100, CacheReadTokens: 5_000, CacheWriteTokens: 2_000}, 1_000,
			quota.Cost{Requests: 1, Tokens: 8_100, InputTokens: 7_100, OutputTokens: 1_000}},
		{"reserve with burndown", ModelParams{OutputBurndown: 5, MaxOutputTokens: 64_000, ReserveWithBurndown: true}, Usage{InputTokens: 10}, 750,
			quota.Cost{Requests: 1, Tokens: 3_760, InputTokens: 10, OutputTokens: 750}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReserveCost(tt.model, tt.in, tt.maxTokens)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("ReserveCost = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCostErrors(t *testing.T) {
	tests := []struct {
		name      string
		model     ModelParams
		in        Usage
		maxTokens int
		wantErr   string
	}{
		{"above the model maximum", sonnet4, Usage{}, 100_000, "exceeds the model's maximum output of 64000"},
		{"negative max_tokens", sonnet4, Usage{}, -1, "negative"},
		{"unset with unknown limits", ModelParams{OutputBurndown: 1}, Usage{}, 0, "set max_tokens or the model's max output tokens"},
		{"negative burndown", ModelParams{OutputBurndown: -5}, Usage{}, 10, "must be positive"},
		{"negative usage", sonnet4, Usage{InputTokens: -1}, 10, "negative usage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReserveCost(tt.model, tt.in, tt.maxTokens)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ReserveCost error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	if _, err := SettleCost(sonnet4, Usage{OutputTokens: -3}); err == nil {
		t.Error("SettleCost accepted negative usage")
	}
}

func TestEstimatorReserve(t *testing.T) {
	e := newEstimator(t, Config{})
	req := &Request{Messages: []Message{{Role: "user", Content: []Block{{Kind: Text, Text: "Summarise the attached agreement."}}}}}
	got, in, err := e.Reserve("m", sonnet4, req)
	if err != nil {
		t.Fatal(err)
	}
	want := quota.Cost{Requests: 1, Tokens: int64(in.Tokens) + 64_000, InputTokens: int64(in.Tokens), OutputTokens: 64_000}
	if got != want || in.Tokens != Base().Count("Summarise the attached agreement.")+DefaultMessageTokens {
		t.Errorf("Reserve = %+v (input %+v), want %+v", got, in, want)
	}
	req.MaxTokens = 100_000
	if _, _, err := e.Reserve("m", sonnet4, req); err == nil {
		t.Error("Reserve accepted max_tokens above the model's maximum")
	}
}

// ExampleReserveCost reserves a call on Claude Sonnet 4 with max_tokens unset, then settles
// it against the usage Bedrock reported.
func ExampleReserveCost() {
	sonnet4 := ModelParams{OutputBurndown: 5, MaxOutputTokens: 64_000}
	reserve, _ := ReserveCost(sonnet4, Usage{InputTokens: 1_000}, 0)
	settle, _ := SettleCost(sonnet4, Usage{InputTokens: 1_000, OutputTokens: 300})
	fmt.Println(reserve.Tokens, settle.Tokens)
	// Output: 65000 2500
}
