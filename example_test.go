package tollgate_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/quota"
)

// startEmulator stands in for Bedrock in the examples: a local emulator at 60× speed.
func startEmulator() *bedrocktest.Server {
	srv, err := bedrocktest.NewServer(bedrocktest.Options{TimeScale: 60})
	if err != nil {
		log.Fatal(err)
	}
	return srv
}

// exampleAWS is what aws-sdk-go-v2's config.LoadDefaultConfig would give a user; the
// examples use static credentials so that they run anywhere.
var exampleAWS = &aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")}

func ask(model, text string) *bedrockruntime.ConverseInput {
	return &bedrockruntime.ConverseInput{
		ModelId:         aws.String(model),
		Messages:        []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: text}}}},
		InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(200)},
	}
}

// Drop-in use: the same Converse call as with *bedrockruntime.Client, admitted only when
// the model's quotas have room and settled against the usage Bedrock reports.
func Example() {
	srv := startEmulator()
	defer srv.Close()

	client, err := tollgate.New(context.Background(), tollgate.Config{
		AWS: exampleAWS, // nil: the AWS default credential chain and region
		Targets: []tollgate.Target{{
			Region:   "us-east-1",
			Model:    "us.anthropic.claude-sonnet-4-20250514-v1:0",
			Endpoint: srv.URL, // omit for the real Bedrock
			Limits:   []quota.Limit{{Dimension: quota.Tokens, Amount: 200_000, Per: time.Minute}},
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	out, err := client.Converse(context.Background(), ask("us.anthropic.claude-sonnet-4-20250514-v1:0", "Summarise the termination clause."))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("stop reason:", out.StopReason)
	// Output: stop reason: end_turn
}

// Two regions: calls for the model go to whichever target can admit them first, so the
// regions' quotas add up; a region that fails is taken out by its circuit breaker. Of
// targets that can admit a call equally soon, the one listed first takes it.
func Example_twoRegions() {
	srv := startEmulator()
	defer srv.Close()
	const model = "us.anthropic.claude-sonnet-4-20250514-v1:0"
	client, err := tollgate.New(context.Background(), tollgate.Config{AWS: exampleAWS, Targets: []tollgate.Target{
		{Region: "us-east-1", Model: model, Endpoint: srv.URL},
		{Region: "us-west-2", Model: model, Endpoint: srv.URL},
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	// Both targets admit at once: the first listed takes the calls.
	for i := 0; i < 3; i++ {
		out, err := client.Converse(context.Background(), ask(model, "Who are the parties?"))
		if err != nil {
			log.Fatal(err)
		}
		res, _ := tollgate.ResultOf(out.ResultMetadata)
		fmt.Println(res.Target, "after", res.Attempts, "attempt")
	}
	// Output:
	// us-east-1/us.anthropic.claude-sonnet-4-20250514-v1:0 after 1 attempt
	// us-east-1/us.anthropic.claude-sonnet-4-20250514-v1:0 after 1 attempt
	// us-east-1/us.anthropic.claude-sonnet-4-20250514-v1:0 after 1 attempt
}

// Streaming: the stream is read as with the SDK; Tollgate settles it from its final
// metadata event.
func Example_streaming() {
	srv := startEmulator()
	defer srv.Close()
	const model = "anthropic.claude-3-5-sonnet-20240620-v1:0"
	client, err := tollgate.New(context.Background(), tollgate.Config{AWS: exampleAWS, Targets: []tollgate.Target{{Model: model, Endpoint: srv.URL}}})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	in := ask(model, "List the parties.")
	out, err := client.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{ModelId: in.ModelId, Messages: in.Messages, InferenceConfig: in.InferenceConfig})
	if err != nil {
		log.Fatal(err)
	}
	var text strings.Builder
	for ev := range out.GetStream().Events() {
		if d, ok := ev.(*types.ConverseStreamOutputMemberContentBlockDelta); ok {
			if t, ok := d.Value.Delta.(*types.ContentBlockDeltaMemberText); ok {
				text.WriteString(t.Value)
			}
		}
	}
	out.GetStream().Close()
	fmt.Println("received text:", text.Len() > 0, "error:", out.GetStream().Err())
	// Output: received text: true error: <nil>
}
