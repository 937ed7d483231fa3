package converse

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/png"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/tollgate-dev/tollgate/internal/estimate"
)

func pngBytes(tb testing.TB, w, h int) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// TestConverseMatchesInvokeBody sends the same conversation as a ConverseInput and as an
// Anthropic Messages InvokeModel body: both must estimate to the same tokens.
func TestConverseMatchesInvokeBody(t *testing.T) {
	img := pngBytes(t, 400, 300)
	in := &bedrockruntime.ConverseInput{
		ModelId:         aws.String("anthropic.claude-sonnet-4-20250514-v1:0"),
		InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(700)},
		System: []types.SystemContentBlock{
			&types.SystemContentBlockMemberText{Value: "You are terse."},
			&types.SystemContentBlockMemberCachePoint{Value: types.CachePointBlock{Type: types.CachePointTypeDefault}},
		},
		ToolConfig: &types.ToolConfiguration{Tools: []types.Tool{&types.ToolMemberToolSpec{Value: types.ToolSpecification{
			Name:        aws.String("lookup"),
			Description: aws.String("Finds a clause."),
			InputSchema: &types.ToolInputSchemaMemberJson{Value: document.NewLazyDocument(map[string]any{"type": "object"})},
		}}, &types.ToolMemberCachePoint{Value: types.CachePointBlock{Type: types.CachePointTypeDefault}}}},
		Messages: []types.Message{
			{Role: types.ConversationRoleUser, Content: []types.ContentBlock{
				&types.ContentBlockMemberText{Value: "What does clause 4 say?"},
				&types.ContentBlockMemberImage{Value: types.ImageBlock{Format: types.ImageFormatPng, Source: &types.ImageSourceMemberBytes{Value: img}}},
				&types.ContentBlockMemberDocument{Value: types.DocumentBlock{Name: aws.String("deal"), Format: types.DocumentFormatTxt,
					Source: &types.DocumentSourceMemberText{Value: "The term is five years."}}},
			}},
			{Role: types.ConversationRoleAssistant, Content: []types.ContentBlock{
				&types.ContentBlockMemberToolUse{Value: types.ToolUseBlock{Name: aws.String("lookup"), ToolUseId: aws.String("t1"),
					Input: document.NewLazyDocument(map[string]any{"clause": 4})}},
			}},
			{Role: types.ConversationRoleUser, Content: []types.ContentBlock{
				&types.ContentBlockMemberToolResult{Value: types.ToolResultBlock{ToolUseId: aws.String("t1"), Content: []types.ToolResultContentBlock{
					&types.ToolResultContentBlockMemberText{Value: "Net 30."},
				}}},
			}},
		},
	}
	body := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":700,
	  "system":[{"type":"text","text":"You are terse.","cache_control":{"type":"ephemeral"}}],
	  "tools":[{"name":"lookup","description":"Finds a clause.","input_schema":{"type":"object"},"cache_control":{"type":"ephemeral"}}],
	  "messages":[
	    {"role":"user","content":[{"type":"text","text":"What does clause 4 say?"},
	      {"type":"image","source":{"type":"base64","media_type":"image/png","data":"` + base64.StdEncoding.EncodeToString(img) + `"}},
	      {"type":"document","title":"deal","source":{"type":"text","media_type":"text/plain","data":"The term is five years."}}]},
	    {"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"lookup","input":{"clause":4}}]},
	    {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"Net 30."}]}]}]}`

	fromConverse, err := Request(in)
	if err != nil {
		t.Fatal(err)
	}
	fromInvoke, err := estimate.ParseInvokeBody([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	e, err := estimate.New(estimate.Config{})
	if err != nil {
		t.Fatal(err)
	}
	got, want := e.Input("m", fromConverse), e.Input("m", fromInvoke)
	if got != want {
		t.Errorf("Converse estimate %+v, InvokeModel estimate %+v: want equal", got, want)
	}
	if fromConverse.MaxTokens != 700 || !fromConverse.ToolsCachePoint || got.Cacheable == 0 || got.Fixed < estimate.ImageTokens(400, 300) {
		t.Errorf("Request = %+v, estimate %+v: want max_tokens 700, a cacheable prefix and the image counted", fromConverse, got)
	}
}

func TestRequestNil(t *testing.T) {
	if _, err := Request(nil); err == nil {
		t.Error("Request(nil) succeeded, want an error")
	}
}
