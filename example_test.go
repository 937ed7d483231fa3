package tollgate_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/internal/quotatext"
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

// Priorities ride on the context: when a target is saturated, a High call waiting for it
// is admitted ahead of every Normal and Low one, even those that queued before it. Here
// the target takes one call at a time and an open stream holds that one place; two Low
// calls queue, then a High one, and all three are admitted when the stream ends.
func Example_priorities() {
	// Each call takes 6 emulated seconds (0.1 s here), so the calls served one at a time
	// end in the order they were admitted.
	srv, err := bedrocktest.NewServer(bedrocktest.Options{TimeScale: 60, Latency: bedrocktest.Latency{TimeToFirstToken: 6 * time.Second}})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	const model = "anthropic.claude-3-5-sonnet-20240620-v1:0"
	client, err := tollgate.New(context.Background(), tollgate.Config{AWS: exampleAWS, Targets: []tollgate.Target{
		{Model: model, Endpoint: srv.URL, MaxInFlight: 1},
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	// A stream holds its place until it is read to its end or closed.
	in := ask(model, "List the parties.")
	stream, err := client.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{ModelId: in.ModelId, Messages: in.Messages, InferenceConfig: in.InferenceConfig})
	if err != nil {
		log.Fatal(err)
	}

	var (
		mu    sync.Mutex
		order []string // calls in the order they were served (one at a time)
		wg    sync.WaitGroup
	)
	send := func(p tollgate.Priority, question string) {
		queued := make(chan struct{})
		c := client.With(tollgate.Call{Priority: p, Queued: func() { close(queued) }})
		wg.Go(func() {
			if _, err := c.Converse(context.Background(), ask(model, question)); err != nil {
				log.Fatal(err)
			}
			mu.Lock()
			order = append(order, p.String()+": "+question)
			mu.Unlock()
		})
		<-queued // in the queue before the next call is sent
	}
	send(tollgate.Low, "Summarise annex A.")
	send(tollgate.Low, "Summarise annex B.")
	send(tollgate.High, "Is clause 7 enforceable?")

	snap, err := client.Snapshot(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	for i, p := range quotatext.Priorities {
		if n := snap[0].Queued[i]; n > 0 {
			fmt.Printf("waiting %s: %d\n", p, n)
		}
	}

	for range stream.GetStream().Events() {
	}
	stream.GetStream().Close()
	wg.Wait()
	fmt.Println("served in this order:")
	for _, o := range order {
		fmt.Println(" ", o)
	}
	// Output:
	// waiting high: 1
	// waiting low: 2
	// served in this order:
	//   high: Is clause 7 enforceable?
	//   low: Summarise annex A.
	//   low: Summarise annex B.
}

// Two regions: calls for the model go to whichever target can admit them first, so the
// regions' quotas add up; a region that fails is taken out by its circuit breaker.
func Example_twoRegions() {
	srv := startEmulator()
	defer srv.Close()
	const model = "us.anthropic.claude-sonnet-4-20250514-v1:0"
	client, err := tollgate.New(context.Background(), tollgate.Config{AWS: exampleAWS, Targets: []tollgate.Target{
		{Region: "us-east-1", Model: model, Endpoint: srv.URL},
		{Region: "us-west-2", Model: model, Endpoint: srv.URL, Preference: 1},
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	for i := 0; i < 3; i++ {
		if _, err := client.Converse(context.Background(), ask(model, "Who are the parties?")); err != nil {
			log.Fatal(err)
		}
	}
	snap, _ := client.Snapshot(context.Background())
	for _, s := range snap {
		fmt.Println(s.Target, "limits from", s.Source)
	}
	// Output:
	// us-east-1/us.anthropic.claude-sonnet-4-20250514-v1:0 limits from catalog default
	// us-west-2/us.anthropic.claude-sonnet-4-20250514-v1:0 limits from catalog default
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
