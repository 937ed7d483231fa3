package bedrocktest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"

	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/catalog"
)

// Model ids the tests serve.
const (
	sonnet    = "anthropic.claude-sonnet-4-20250514-v1:0" // profile only, burndown 5
	sonnetUS  = "us." + sonnet
	nova      = "amazon.nova-lite-v1:0" // on demand, burndown 1
	noCounter = "meta.llama3-8b-instruct-v1:0"
)

// wordCounter counts whitespace-separated words: a token counter whose counts a test can
// work out by hand.
type wordCounter struct{}

func (wordCounter) Count(s string) int { return len(strings.Fields(s)) }

// testModels are small explicit models with generous limits. The nova model's
// requests-per-minute quota is enforced with Options.LegacyRPM.
func testModels() []catalog.Model {
	return []catalog.Model{
		{ID: sonnet, QuotaName: "Anthropic Claude Sonnet 4 V1", OutputBurndown: 5, MaxOutputTokens: 64_000, ContextWindow: 200_000,
			CountTokens: true, RequiresProfile: true,
			Quotas: map[catalog.Scope]catalog.Quotas{
				catalog.CrossRegion: {TPM: catalog.Quota{Code: "L-59759B4A", Default: 10_000_000}, TPD: catalog.Quota{Code: "L-22F701C5"}},
				catalog.Global:      {TPM: catalog.Quota{Code: "L-97E41E39", Default: 10_000_000}},
			}},
		{ID: nova, QuotaName: "Amazon Nova Lite", OutputBurndown: 1, MaxOutputTokens: 10_000, ContextWindow: 300,
			Quotas: map[catalog.Scope]catalog.Quotas{
				catalog.OnDemand: {TPM: catalog.Quota{Code: "L-70423BF8", Default: 10_000_000}, RPM: catalog.Quota{Code: "L-E386A278", Default: 1000}},
			}},
		{ID: noCounter, OutputBurndown: 1, MaxOutputTokens: 2048, ContextWindow: 8192,
			Quotas: map[catalog.Scope]catalog.Quotas{catalog.OnDemand: {TPM: catalog.Quota{Default: 1_000_000}}}},
	}
}

// fixedOutput makes every reply n tokens long (before max_tokens clamps it).
func fixedOutput(n int) func(int, uint64) int {
	return func(int, uint64) int { return n }
}

// startServer starts an emulator and closes it at the end of the test.
func startServer(t testing.TB, opts bedrocktest.Options) *bedrocktest.Server {
	t.Helper()
	srv, err := bedrocktest.NewServer(opts)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// quickOptions are options for round-trip tests: the test models, the word counter,
// no latency.
func quickOptions() bedrocktest.Options {
	return bedrocktest.Options{
		Models:    testModels(),
		LegacyRPM: true,
		Counter:   wordCounter{},
		Latency:   bedrocktest.Latency{TimeToFirstToken: -1, PerOutputToken: -1},
	}
}

// runtimeClient is the real SDK client pointed at the emulator, with retries off so that
// every error surfaces.
func runtimeClient(t testing.TB, url string) *bedrockruntime.Client {
	t.Helper()
	return runtimeClientAs(t, url, "AKIDTEST")
}

func runtimeClientAs(t testing.TB, url, accessKey string) *bedrockruntime.Client {
	t.Helper()
	return bedrockruntime.New(bedrockruntime.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider(accessKey, "secret", ""),
		Retryer:      aws.NopRetryer{},
	})
}

func quotasClient(t testing.TB, url string) *servicequotas.Client {
	t.Helper()
	return servicequotas.New(servicequotas.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		Retryer:      aws.NopRetryer{},
	})
}

// userMessage is a Converse input of one user text message.
func userMessage(text string) []types.Message {
	return []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: text}}}}
}

func ctxT(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
