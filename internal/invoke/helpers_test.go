package invoke_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/invoke"
)

// nova is an on-demand model with burndown 1, served by the test emulators.
const nova = "amazon.nova-lite-v1:0"

// wordCounter counts whitespace-separated words, so that token counts are plain.
type wordCounter struct{}

func (wordCounter) Count(s string) int { return len(strings.Fields(s)) }

// emulator is a bedrocktest handler behind an httptest server that counts the HTTP
// requests it receives.
type emulator struct {
	*bedrocktest.Handler
	URL      string
	requests atomic.Int64
}

// Requests returns how many HTTP requests reached the emulator.
func (e *emulator) Requests() int64 { return e.requests.Load() }

// options are emulator options for tests: one model (nova) with the given TPM, the word
// counter, replies of n tokens and no latency.
func options(tpm int64, n int) bedrocktest.Options {
	return bedrocktest.Options{
		Models: []catalog.Model{{ID: nova, OutputBurndown: 1, MaxOutputTokens: 10_000, ContextWindow: 300_000,
			Quotas: map[catalog.Scope]catalog.Quotas{catalog.OnDemand: {TPM: catalog.Quota{Default: tpm}}}}},
		Counter:      wordCounter{},
		Latency:      bedrocktest.Latency{TimeToFirstToken: -1, PerOutputToken: -1},
		OutputTokens: func(int, uint64) int { return n },
	}
}

// startEmulator starts an emulator with opts; it is closed at the end of the test.
func startEmulator(t testing.TB, opts bedrocktest.Options) *emulator {
	t.Helper()
	h, err := bedrocktest.New(opts)
	if err != nil {
		t.Fatalf("bedrocktest.New: %v", err)
	}
	e := &emulator{Handler: h}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.requests.Add(1)
		h.ServeHTTP(w, r)
	}))
	e.URL = srv.URL
	t.Cleanup(func() {
		h.Close()
		srv.Close()
	})
	return e
}

// newClient is a client from NewClient for url with static credentials.
func newClient(t testing.TB, url string) *bedrockruntime.Client {
	t.Helper()
	return invoke.NewClient(aws.Config{}, "us-east-1", url,
		credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""))
}

func ctxT(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// userMessage is a Converse input of one user text message.
func userMessage(text string) []types.Message {
	return []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: text}}}}
}

func converseInput(prompt string, maxTokens int32) *bedrockruntime.ConverseInput {
	return &bedrockruntime.ConverseInput{ModelId: aws.String(nova), Messages: userMessage(prompt),
		InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(maxTokens)}}
}

func converseStreamInput(prompt string, maxTokens int32) *bedrockruntime.ConverseStreamInput {
	return &bedrockruntime.ConverseStreamInput{ModelId: aws.String(nova), Messages: userMessage(prompt),
		InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(maxTokens)}}
}

// anthropicBody is an Anthropic Messages body for InvokeModel.
func anthropicBody(t testing.TB, prompt string, maxTokens int) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"anthropic_version": "bedrock-2023-05-31",
		"max_tokens":        maxTokens,
		"messages":          []map[string]any{{"role": "user", "content": []map[string]any{{"type": "text", "text": prompt}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// endRecorder records the StreamEnds a watcher reports.
type endRecorder struct {
	calls atomic.Int64
	end   atomic.Pointer[invoke.StreamEnd]
}

func (r *endRecorder) done(e invoke.StreamEnd) {
	r.calls.Add(1)
	r.end.Store(&e)
}

// only returns the single StreamEnd reported, failing the test unless there was exactly one.
func (r *endRecorder) only(t testing.TB) invoke.StreamEnd {
	t.Helper()
	if n := r.calls.Load(); n != 1 {
		t.Fatalf("done called %d times, want 1", n)
	}
	return *r.end.Load()
}
