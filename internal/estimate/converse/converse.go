// Package converse turns a Bedrock Runtime ConverseInput (aws-sdk-go-v2) into the neutral
// estimate.Request that package estimate counts, so that the estimator itself stays free
// of the AWS SDK.
package converse

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/tollgate-dev/tollgate/internal/estimate"
)

// Request converts in into an estimate.Request: its system prompt, messages, tool
// specifications (each with its JSON schema), cache points and inferenceConfig.maxTokens.
// Content that costs input tokens in ways the estimator cannot see (audio, video) is
// left out; guard content is counted as text. A nil input gives an error; a JSON document
// (tool input or schema) that will not marshal gives an error naming it.
func Request(in *bedrockruntime.ConverseInput) (*estimate.Request, error) {
	if in == nil {
		return nil, fmt.Errorf("converse: nil ConverseInput: pass the input you would send to Converse")
	}
	return Parts(in.System, in.Messages, in.ToolConfig, in.InferenceConfig)
}

// Parts converts the parts of a Converse or ConverseStream input that cost tokens, as
// Request does: both inputs carry them in fields of the same types.
func Parts(system []types.SystemContentBlock, messages []types.Message, tools *types.ToolConfiguration, inf *types.InferenceConfiguration) (*estimate.Request, error) {
	r := &estimate.Request{}
	if inf != nil && inf.MaxTokens != nil {
		r.MaxTokens = int(*inf.MaxTokens)
	}
	for _, sb := range system {
		switch v := sb.(type) {
		case *types.SystemContentBlockMemberText:
			r.System = append(r.System, estimate.Block{Kind: estimate.Text, Text: v.Value})
		case *types.SystemContentBlockMemberCachePoint:
			r.System = append(r.System, estimate.Block{Kind: estimate.CachePoint})
		case *types.SystemContentBlockMemberGuardContent:
			r.System = append(r.System, guardText(v.Value))
		}
	}
	if tools != nil {
		for i, t := range tools.Tools {
			if _, ok := t.(*types.ToolMemberCachePoint); ok {
				r.ToolsCachePoint = true
				continue
			}
			spec, ok := t.(*types.ToolMemberToolSpec)
			if !ok {
				continue
			}
			var schema string
			if js, ok := spec.Value.InputSchema.(*types.ToolInputSchemaMemberJson); ok {
				s, err := marshal(js.Value, fmt.Sprintf("toolConfig.tools[%d].inputSchema", i))
				if err != nil {
					return nil, err
				}
				schema = s
			}
			r.Tools = append(r.Tools, estimate.Tool{Name: str(spec.Value.Name), Description: str(spec.Value.Description), Schema: schema})
		}
	}
	for i, m := range messages {
		content, err := blocks(m.Content, fmt.Sprintf("messages[%d]", i))
		if err != nil {
			return nil, err
		}
		r.Messages = append(r.Messages, estimate.Message{Role: string(m.Role), Content: content})
	}
	return r, nil
}

// blocks converts a message's content blocks.
func blocks(cbs []types.ContentBlock, where string) ([]estimate.Block, error) {
	var out []estimate.Block
	for j, cb := range cbs {
		at := fmt.Sprintf("%s.content[%d]", where, j)
		switch v := cb.(type) {
		case *types.ContentBlockMemberText:
			out = append(out, estimate.Block{Kind: estimate.Text, Text: v.Value})
		case *types.ContentBlockMemberImage:
			out = append(out, imageBlock(v.Value))
		case *types.ContentBlockMemberDocument:
			out = append(out, docBlock(v.Value))
		case *types.ContentBlockMemberCachePoint:
			out = append(out, estimate.Block{Kind: estimate.CachePoint})
		case *types.ContentBlockMemberGuardContent:
			out = append(out, guardText(v.Value))
		case *types.ContentBlockMemberReasoningContent:
			if rt, ok := v.Value.(*types.ReasoningContentBlockMemberReasoningText); ok {
				out = append(out, estimate.Block{Kind: estimate.Reasoning, Text: str(rt.Value.Text)})
			}
		case *types.ContentBlockMemberCitationsContent:
			for _, c := range v.Value.Content {
				if t, ok := c.(*types.CitationGeneratedContentMemberText); ok {
					out = append(out, estimate.Block{Kind: estimate.Text, Text: t.Value})
				}
			}
		case *types.ContentBlockMemberToolUse:
			input, err := marshal(v.Value.Input, at+".toolUse.input")
			if err != nil {
				return nil, err
			}
			out = append(out, estimate.Block{Kind: estimate.ToolUse, Name: str(v.Value.Name), Text: input})
		case *types.ContentBlockMemberToolResult:
			res, err := toolResult(v.Value.Content, at+".toolResult")
			if err != nil {
				return nil, err
			}
			out = append(out, estimate.Block{Kind: estimate.ToolResult, Content: res})
		}
	}
	return out, nil
}

// toolResult converts the content of a tool result.
func toolResult(cbs []types.ToolResultContentBlock, where string) ([]estimate.Block, error) {
	var out []estimate.Block
	for k, cb := range cbs {
		switch v := cb.(type) {
		case *types.ToolResultContentBlockMemberText:
			out = append(out, estimate.Block{Kind: estimate.Text, Text: v.Value})
		case *types.ToolResultContentBlockMemberJson:
			s, err := marshal(v.Value, fmt.Sprintf("%s.content[%d].json", where, k))
			if err != nil {
				return nil, err
			}
			out = append(out, estimate.Block{Kind: estimate.Text, Text: s})
		case *types.ToolResultContentBlockMemberImage:
			out = append(out, imageBlock(v.Value))
		case *types.ToolResultContentBlockMemberDocument:
			out = append(out, docBlock(v.Value))
		}
	}
	return out, nil
}

func imageBlock(b types.ImageBlock) estimate.Block {
	img := &estimate.ImageSrc{Format: string(b.Format)}
	if src, ok := b.Source.(*types.ImageSourceMemberBytes); ok {
		img.Data = src.Value
	}
	return estimate.Block{Kind: estimate.Image, Image: img}
}

func docBlock(b types.DocumentBlock) estimate.Block {
	d := &estimate.DocSrc{Format: string(b.Format), Name: str(b.Name)}
	switch src := b.Source.(type) {
	case *types.DocumentSourceMemberBytes:
		d.Data = src.Value
	case *types.DocumentSourceMemberText:
		d.Text = src.Value
	case *types.DocumentSourceMemberContent:
		for _, c := range src.Value {
			if t, ok := c.(*types.DocumentContentBlockMemberText); ok {
				d.Text += t.Value
			}
		}
	}
	return estimate.Block{Kind: estimate.Document, Document: d}
}

func guardText(g types.GuardrailConverseContentBlock) estimate.Block {
	if t, ok := g.(*types.GuardrailConverseContentBlockMemberText); ok {
		return estimate.Block{Kind: estimate.Text, Text: str(t.Value.Text)}
	}
	return estimate.Block{Kind: estimate.Text}
}

// marshal renders a JSON document as the text the model reads.
func marshal(d document.Interface, where string) (string, error) {
	if d == nil {
		return "", nil
	}
	b, err := d.MarshalSmithyDocument()
	if err != nil {
		return "", fmt.Errorf("converse: %s is not a JSON document: %w", where, err)
	}
	return string(b), nil
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
