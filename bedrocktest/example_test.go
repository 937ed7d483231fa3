package bedrocktest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/catalog"
)

// Start an emulator and call it with the real SDK: point BaseEndpoint at srv.URL.
func ExampleNewServer() {
	srv, err := bedrocktest.NewServer(bedrocktest.Options{
		TimeScale: 60, // one emulated minute per real second
	})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	client := bedrockruntime.New(bedrockruntime.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "secret", ""),
		Retryer:      aws.NopRetryer{},
	})
	out, err := client.Converse(context.Background(), &bedrockruntime.ConverseInput{
		ModelId: aws.String("us.anthropic.claude-sonnet-4-20250514-v1:0"),
		Messages: []types.Message{{Role: types.ConversationRoleUser,
			Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "Hello"}}}},
		InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(5)},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(out.StopReason, aws.ToInt32(out.Usage.OutputTokens))

	st := srv.Stats()
	fmt.Println("admitted:", st.Admitted, "throttled:", st.Throttled, "overshoot:", st.Overshoot)
	// Output:
	// max_tokens 5
	// admitted: 1 throttled: 0 overshoot: 0
}

// A model with a tiny quota: the first call reserves 1 + 1000 tokens of the 1500 and
// settles 1 + 1000 (every reply runs to max_tokens here), so the second call does not
// fit and is throttled, as Bedrock throttles, with a *types.ThrottlingException.
func ExampleOptions_throttle() {
	srv, err := bedrocktest.NewServer(bedrocktest.Options{
		OutputTokens: func(int, uint64) int { return 5000 },
		Latency:      bedrocktest.Latency{TimeToFirstToken: -1, PerOutputToken: -1},
		Models: []catalog.Model{{
			ID: "amazon.nova-lite-v1:0", MaxOutputTokens: 5000,
			Quotas: map[catalog.Scope]catalog.Quotas{catalog.OnDemand: {TPM: catalog.Quota{Default: 1500}}},
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	client := bedrockruntime.New(bedrockruntime.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Retryer: aws.NopRetryer{},
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""),
	})
	in := &bedrockruntime.ConverseInput{
		ModelId: aws.String("amazon.nova-lite-v1:0"),
		Messages: []types.Message{{Role: types.ConversationRoleUser,
			Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "Hello"}}}},
		InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(1000)},
	}
	for range 2 {
		_, err = client.Converse(context.Background(), in)
	}
	var te *types.ThrottlingException
	fmt.Println(errors.As(err, &te), te.ErrorMessage())
	// Output:
	// true Too many tokens, please wait before trying again.
}

// Mount the emulator in a server of your own, here an httptest.Server, and read its stats.
func ExampleNew() {
	h, err := bedrocktest.New(bedrocktest.Options{
		Latency: bedrocktest.Latency{TimeToFirstToken: -1, PerOutputToken: -1},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()
	ts := httptest.NewServer(h)
	defer ts.Close()

	client := bedrockruntime.New(bedrockruntime.Options{
		Region: "eu-west-1", BaseEndpoint: aws.String(ts.URL), Retryer: aws.NopRetryer{},
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
	})
	_, err = client.Converse(context.Background(), &bedrockruntime.ConverseInput{
		ModelId: aws.String("global.anthropic.claude-sonnet-4-20250514-v1:0"),
		Messages: []types.Message{{Role: types.ConversationRoleUser,
			Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "Hello"}}}},
	})
	if err != nil {
		log.Fatal(err)
	}
	// The stats endpoint has what each account's calls to each model, scope and region
	// did, with every limit's amount and peak usage.
	resp, err := http.Get(ts.URL + "/_tollgate/stats")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Series []struct {
			Account, Region, Model, Scope string
			Admitted                      int64
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		log.Fatal(err)
	}
	for _, s := range st.Series {
		fmt.Println(s.Account, s.Region, s.Model, s.Scope, s.Admitted)
	}
	// Output:
	// AKIDEXAMPLE eu-west-1 anthropic.claude-sonnet-4-20250514-v1:0 global 1
}

// Call the emulator in-process, with no socket: give the SDK the handler's Client. In a
// testing/synctest bubble (see the package doc) every wait then runs on the bubble's
// clock; here the latency model is turned off instead.
func ExampleHandler_Client() {
	h, err := bedrocktest.New(bedrocktest.Options{
		Latency: bedrocktest.Latency{TimeToFirstToken: -1, PerOutputToken: -1},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()

	client := bedrockruntime.New(bedrockruntime.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String("http://bedrocktest"), // never looked up
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "secret", ""),
		HTTPClient:   h.Client(),
	})
	out, err := client.Converse(context.Background(), &bedrockruntime.ConverseInput{
		ModelId: aws.String("us.anthropic.claude-sonnet-4-20250514-v1:0"),
		Messages: []types.Message{{Role: types.ConversationRoleUser,
			Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "Hello"}}}},
		InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(5)},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(out.StopReason, aws.ToInt32(out.Usage.OutputTokens))
	// Output: max_tokens 5
}
