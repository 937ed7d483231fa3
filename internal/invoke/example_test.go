package invoke_test

import (
	"context"
	"fmt"
	"log"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/internal/invoke"
)

// A client for one target, one ConverseStream watched to the end, and an error
// classified.
func Example() {
	srv, err := bedrocktest.NewServer(bedrocktest.Options{
		Latency:      bedrocktest.Latency{TimeToFirstToken: -1, PerOutputToken: -1},
		OutputTokens: func(int, uint64) int { return 12 },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	client := invoke.NewClient(aws.Config{}, "us-east-1", srv.URL,
		credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""))
	ctx := context.Background()

	out, err := client.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{
		ModelId: aws.String("amazon.nova-lite-v1:0"),
		Messages: []types.Message{{Role: types.ConversationRoleUser,
			Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "hello"}}}},
		InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(100)},
	})
	if err != nil {
		log.Fatal(err)
	}
	invoke.WatchConverseStream(out, func(end invoke.StreamEnd) {
		fmt.Println("outcome:", end.Outcome.Kind, "output tokens:", end.Usage.Output, "known:", end.Usage.Known)
	})
	stream := out.GetStream()
	for range stream.Events() { // the caller reads the events unchanged
	}
	stream.Close()

	// A max_tokens above the model's limit is a client error: not worth retrying.
	_, err = client.Converse(ctx, &bedrockruntime.ConverseInput{
		ModelId: aws.String("amazon.nova-lite-v1:0"),
		Messages: []types.Message{{Role: types.ConversationRoleUser,
			Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "hello"}}}},
		InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(1_000_000)},
	})
	o := invoke.Classify(err)
	fmt.Println(o.Kind, o.Code, o.Status, o.Kind.Retryable())
	// Output:
	// outcome: ok output tokens: 12 known: true
	// client_error ValidationException 400 false
}
