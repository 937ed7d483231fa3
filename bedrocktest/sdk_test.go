package bedrocktest_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/tollgate-dev/tollgate/internal/emustats"
	"github.com/tollgate-dev/tollgate/internal/estimate"
)

func TestConverseRoundTrip(t *testing.T) {
	opts := quickOptions()
	opts.OutputTokens = fixedOutput(40)
	srv := startServer(t, opts)
	client := runtimeClient(t, srv.URL)

	tests := []struct {
		name       string
		modelID    string
		maxTokens  *int32
		wantOutput int
		wantStop   types.StopReason
	}{
		{"profile id, unset max_tokens", sonnetUS, nil, 40, types.StopReasonEndTurn},
		{"global profile, clamped", "global." + sonnet, aws.Int32(25), 25, types.StopReasonMaxTokens},
		{"profile ARN", "arn:aws:bedrock:us-east-1:123456789012:inference-profile/" + sonnetUS, aws.Int32(100), 40, types.StopReasonEndTurn},
		{"on-demand model id", nova, aws.Int32(40), 40, types.StopReasonMaxTokens},
		{"foundation-model ARN", "arn:aws:bedrock:us-east-1::foundation-model/" + nova, nil, 40, types.StopReasonEndTurn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &bedrockruntime.ConverseInput{
				ModelId:  aws.String(tt.modelID),
				Messages: userMessage("please summarise these seven words"),
				System:   []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: "be brief"}},
			}
			if tt.maxTokens != nil {
				in.InferenceConfig = &types.InferenceConfiguration{MaxTokens: tt.maxTokens}
			}
			out, err := client.Converse(ctxT(t), in)
			if err != nil {
				t.Fatalf("Converse: %v", err)
			}
			if got, want := aws.ToInt32(out.Usage.InputTokens), int32(5+2); got != want {
				t.Errorf("input tokens = %d, want %d", got, want)
			}
			if got, want := aws.ToInt32(out.Usage.OutputTokens), int32(tt.wantOutput); got != want {
				t.Errorf("output tokens = %d, want %d", got, want)
			}
			if got, want := aws.ToInt32(out.Usage.TotalTokens), int32(7+tt.wantOutput); got != want {
				t.Errorf("total tokens = %d, want %d", got, want)
			}
			if out.StopReason != tt.wantStop {
				t.Errorf("stop reason = %q, want %q", out.StopReason, tt.wantStop)
			}
			msg := out.Output.(*types.ConverseOutputMemberMessage).Value
			text := msg.Content[0].(*types.ContentBlockMemberText).Value
			if got := len(strings.Fields(text)); got != tt.wantOutput {
				t.Errorf("reply has %d words, want %d: %q", got, tt.wantOutput, text)
			}
			if id, ok := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata); !ok || id == "" {
				t.Errorf("no request id in the response")
			}
		})
	}
}

func TestConverseIsDeterministic(t *testing.T) {
	srv := startServer(t, quickOptions())
	client := runtimeClient(t, srv.URL)
	reply := func(prompt string) string {
		t.Helper()
		out, err := client.Converse(ctxT(t), &bedrockruntime.ConverseInput{ModelId: aws.String(nova), Messages: userMessage(prompt)})
		if err != nil {
			t.Fatalf("Converse: %v", err)
		}
		return out.Output.(*types.ConverseOutputMemberMessage).Value.Content[0].(*types.ContentBlockMemberText).Value
	}
	a, b, c := reply("one prompt"), reply("one prompt"), reply("another prompt entirely")
	if a != b {
		t.Errorf("equal prompts gave different replies:\n%q\n%q", a, b)
	}
	if a == c {
		t.Errorf("different prompts gave the same reply %q", a)
	}
}

func TestConverseStreamRoundTrip(t *testing.T) {
	opts := quickOptions()
	opts.OutputTokens = fixedOutput(300)
	srv := startServer(t, opts)
	client := runtimeClient(t, srv.URL)

	ctx := ctxT(t)
	out, err := client.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{
		ModelId: aws.String(sonnetUS), Messages: userMessage("stream me a long answer please"),
	})
	if err != nil {
		t.Fatalf("ConverseStream: %v", err)
	}
	stream := out.GetStream()
	defer stream.Close()
	var kinds []string
	var text strings.Builder
	var usage *types.TokenUsage
	deltas := 0
	for ev := range stream.Events() {
		switch v := ev.(type) {
		case *types.ConverseStreamOutputMemberMessageStart:
			kinds = append(kinds, "start:"+string(v.Value.Role))
		case *types.ConverseStreamOutputMemberContentBlockDelta:
			deltas++
			text.WriteString(v.Value.Delta.(*types.ContentBlockDeltaMemberText).Value)
		case *types.ConverseStreamOutputMemberContentBlockStop:
			kinds = append(kinds, "blockstop")
		case *types.ConverseStreamOutputMemberMessageStop:
			kinds = append(kinds, "stop:"+string(v.Value.StopReason))
		case *types.ConverseStreamOutputMemberMetadata:
			kinds = append(kinds, "metadata")
			usage = v.Value.Usage
		default:
			t.Errorf("unexpected event %T", v)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if got, want := strings.Join(kinds, ","), "start:assistant,blockstop,stop:end_turn,metadata"; got != want {
		t.Errorf("events = %s, want %s", got, want)
	}
	if deltas < 2 {
		t.Errorf("%d deltas, want the text spread over several", deltas)
	}
	if got := len(strings.Fields(text.String())); got != 300 {
		t.Errorf("streamed %d words, want 300", got)
	}
	if usage == nil || aws.ToInt32(usage.OutputTokens) != 300 || aws.ToInt32(usage.InputTokens) != 6 {
		t.Errorf("metadata usage = %+v, want 6 in, 300 out", usage)
	}
}

// anthropicBody is an Anthropic Messages body for InvokeModel.
func anthropicBody(t testing.TB, prompt string, maxTokens int) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"anthropic_version": "bedrock-2023-05-31",
		"max_tokens":        maxTokens,
		"system":            "you are terse",
		"messages":          []map[string]any{{"role": "user", "content": []map[string]any{{"type": "text", "text": prompt}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestInvokeModelRoundTrip(t *testing.T) {
	opts := quickOptions()
	opts.OutputTokens = fixedOutput(30)
	srv := startServer(t, opts)
	client := runtimeClient(t, srv.URL)

	out, err := client.InvokeModel(ctxT(t), &bedrockruntime.InvokeModelInput{
		ModelId: aws.String(sonnetUS), ContentType: aws.String("application/json"),
		Body: anthropicBody(t, "four words of prompt", 20),
	})
	if err != nil {
		t.Fatalf("InvokeModel: %v", err)
	}
	var resp struct {
		Type       string `json:"type"`
		Role       string `json:"role"`
		StopReason string `json:"stop_reason"`
		Content    []struct{ Type, Text string }
		Usage      struct {
			InputTokens  int `json:"input_tokens"`
			OutputTokens int `json:"output_tokens"`
		}
	}
	if err := json.Unmarshal(out.Body, &resp); err != nil {
		t.Fatalf("decoding the body %s: %v", out.Body, err)
	}
	if resp.Type != "message" || resp.Role != "assistant" || resp.StopReason != "max_tokens" ||
		resp.Usage.InputTokens != 3+4 || resp.Usage.OutputTokens != 20 || len(strings.Fields(resp.Content[0].Text)) != 20 {
		t.Errorf("body = %+v, want a max_tokens message of 20 words, usage 7 in / 20 out", resp)
	}
	raw := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response)
	for header, want := range map[string]string{
		"X-Amzn-Bedrock-Input-Token-Count":  "7",
		"X-Amzn-Bedrock-Output-Token-Count": "20",
		"X-Amzn-Bedrock-Invocation-Latency": "0",
	} {
		if got := raw.Header.Get(header); got != want {
			t.Errorf("%s = %q, want %q", header, got, want)
		}
	}
	if got := aws.ToString(out.ContentType); got != "application/json" {
		t.Errorf("content type = %q", got)
	}
}

func TestInvokeModelWithResponseStreamRoundTrip(t *testing.T) {
	opts := quickOptions()
	opts.OutputTokens = fixedOutput(120)
	srv := startServer(t, opts)
	client := runtimeClient(t, srv.URL)

	out, err := client.InvokeModelWithResponseStream(ctxT(t), &bedrockruntime.InvokeModelWithResponseStreamInput{
		ModelId: aws.String(sonnetUS), ContentType: aws.String("application/json"),
		Body: anthropicBody(t, "tell me a story", 1000),
	})
	if err != nil {
		t.Fatalf("InvokeModelWithResponseStream: %v", err)
	}
	stream := out.GetStream()
	defer stream.Close()
	var types_ []string
	var text strings.Builder
	var metrics map[string]any
	for ev := range stream.Events() {
		chunk, ok := ev.(*types.ResponseStreamMemberChunk)
		if !ok {
			t.Fatalf("unexpected event %T", ev)
		}
		var inner map[string]any
		if err := json.Unmarshal(chunk.Value.Bytes, &inner); err != nil {
			t.Fatalf("chunk %s: %v", chunk.Value.Bytes, err)
		}
		typ := inner["type"].(string)
		types_ = append(types_, typ)
		if typ == "content_block_delta" {
			text.WriteString(inner["delta"].(map[string]any)["text"].(string))
		}
		if m, ok := inner["amazon-bedrock-invocationMetrics"].(map[string]any); ok {
			metrics = m
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if types_[0] != "message_start" || types_[1] != "content_block_start" || types_[len(types_)-1] != "message_stop" {
		t.Errorf("event types = %v", types_)
	}
	if got := len(strings.Fields(text.String())); got != 120 {
		t.Errorf("streamed %d words, want 120", got)
	}
	if metrics == nil || metrics["inputTokenCount"] != float64(3+4) || metrics["outputTokenCount"] != float64(120) {
		t.Errorf("invocation metrics = %v, want 7 in, 120 out", metrics)
	}
}

func TestCountTokensRoundTrip(t *testing.T) {
	srv := startServer(t, quickOptions())
	client := runtimeClient(t, srv.URL)
	ctx := ctxT(t)

	conv, err := client.CountTokens(ctx, &bedrockruntime.CountTokensInput{
		ModelId: aws.String(sonnet),
		Input: &types.CountTokensInputMemberConverse{Value: types.ConverseTokensRequest{
			Messages: userMessage("count these five words"),
			System:   []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: "and two"}},
		}},
	})
	if err != nil {
		t.Fatalf("CountTokens(converse): %v", err)
	}
	if got := aws.ToInt32(conv.InputTokens); got != 6 {
		t.Errorf("converse input tokens = %d, want 6", got)
	}
	inv, err := client.CountTokens(ctx, &bedrockruntime.CountTokensInput{
		ModelId: aws.String(sonnet),
		Input:   &types.CountTokensInputMemberInvokeModel{Value: types.InvokeModelTokensRequest{Body: anthropicBody(t, "one two three", 10)}},
	})
	if err != nil {
		t.Fatalf("CountTokens(invokeModel): %v", err)
	}
	if got := aws.ToInt32(inv.InputTokens); got != 3+3 {
		t.Errorf("invokeModel input tokens = %d, want 6", got)
	}
	// Counting is free: nothing was metered.
	if st := emustats.Get(t, srv); len(st.Series) != 0 {
		t.Errorf("CountTokens was metered: %+v", st.Series)
	}
}

// TestUsageMatchesCounter checks the default counter end to end: the input Converse
// reports is what the reference tokenizer counts.
func TestUsageMatchesCounter(t *testing.T) {
	opts := quickOptions()
	opts.Counter = nil // the default: estimate's reference tokenizer
	srv := startServer(t, opts)
	client := runtimeClient(t, srv.URL)
	prompt := "The Licensee shall indemnify the Licensor against all claims arising from the use of the Software."
	out, err := client.Converse(ctxT(t), &bedrockruntime.ConverseInput{ModelId: aws.String(nova), Messages: userMessage(prompt)})
	if err != nil {
		t.Fatalf("Converse: %v", err)
	}
	want := estimate.Reference().Count(prompt)
	if got := int(aws.ToInt32(out.Usage.InputTokens)); got != want || want == 0 {
		t.Errorf("input tokens = %d, want %d (the reference tokenizer's count)", got, want)
	}
}

func TestRequestIDAndErrorHeaders(t *testing.T) {
	srv := startServer(t, quickOptions())
	resp, err := http.Post(srv.URL+"/model/"+strings.ReplaceAll(nova, ":", "%3A")+"/converse", "application/json", strings.NewReader("{not json"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 400 || !strings.HasPrefix(resp.Header.Get("X-Amzn-ErrorType"), "ValidationException:") ||
		resp.Header.Get("X-Amzn-RequestId") == "" || !strings.HasPrefix(body["message"], "Malformed input request") {
		t.Errorf("got %d %v %v, want 400 ValidationException with a request id and a message", resp.StatusCode, resp.Header, body)
	}
	if n, _ := strconv.Atoi(resp.Header.Get("Content-Length")); n == 0 {
		t.Errorf("no Content-Length")
	}
}
