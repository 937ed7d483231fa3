package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tollgate-dev/tollgate/internal/estimate"
)

// errConverseBody marks a Converse body the gateway cannot read.
var errConverseBody = errors.New("invalid Converse body")

// converseBody is the part of a Converse or ConverseStream body that costs tokens. Unknown
// members are ignored; the service validates the body.
type converseBody struct {
	// RequestMetadata may name the call's priority class (callPriority).
	RequestMetadata map[string]any `json:"requestMetadata"`
	Messages        []struct {
		Role    string            `json:"role"`
		Content []json.RawMessage `json:"content"`
	} `json:"messages"`
	System          []json.RawMessage `json:"system"`
	InferenceConfig *struct {
		MaxTokens *int `json:"maxTokens"`
	} `json:"inferenceConfig"`
	ToolConfig *struct {
		Tools []struct {
			ToolSpec *struct {
				Name        string `json:"name"`
				Description string `json:"description"`
				InputSchema struct {
					JSON json.RawMessage `json:"json"`
				} `json:"inputSchema"`
			} `json:"toolSpec"`
			CachePoint json.RawMessage `json:"cachePoint"`
		} `json:"tools"`
	} `json:"toolConfig"`
}

// converseBlock is one member of the ContentBlock or SystemContentBlock union.
type converseBlock struct {
	Text       *string         `json:"text"`
	CachePoint json.RawMessage `json:"cachePoint"`
	Image      *struct {
		Format string `json:"format"`
		Source struct {
			Bytes []byte `json:"bytes"`
		} `json:"source"`
	} `json:"image"`
	Document *struct {
		Format string `json:"format"`
		Name   string `json:"name"`
		Source struct {
			Bytes []byte `json:"bytes"`
			Text  string `json:"text"`
		} `json:"source"`
	} `json:"document"`
	ToolUse *struct {
		Name  string          `json:"name"`
		Input json.RawMessage `json:"input"`
	} `json:"toolUse"`
	ToolResult *struct {
		Content []json.RawMessage `json:"content"`
	} `json:"toolResult"`
	ReasoningContent *struct {
		ReasoningText *struct {
			Text string `json:"text"`
		} `json:"reasoningText"`
	} `json:"reasoningContent"`
}

// converseRequest reads a Converse or ConverseStream JSON body into the estimator's
// representation. Blocks it does not know are counted as their JSON text, which counts
// more rather than less.
func converseRequest(body []byte) (*estimate.Request, error) {
	var b converseBody
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, fmt.Errorf("%w: %v", errConverseBody, err)
	}
	return converseRequestOf(&b)
}

// converseRequestOf is converseRequest of a body already decoded.
func converseRequestOf(b *converseBody) (*estimate.Request, error) {
	if len(b.Messages) == 0 {
		return nil, fmt.Errorf("%w: no messages: a Converse request needs at least one message", errConverseBody)
	}
	r := &estimate.Request{}
	if b.InferenceConfig != nil && b.InferenceConfig.MaxTokens != nil {
		if *b.InferenceConfig.MaxTokens < 0 {
			return nil, fmt.Errorf("%w: inferenceConfig.maxTokens is negative", errConverseBody)
		}
		r.MaxTokens = *b.InferenceConfig.MaxTokens
	}
	var err error
	if r.System, err = converseBlocks(b.System, 0); err != nil {
		return nil, err
	}
	for _, m := range b.Messages {
		content, err := converseBlocks(m.Content, 0)
		if err != nil {
			return nil, err
		}
		r.Messages = append(r.Messages, estimate.Message{Role: m.Role, Content: content})
	}
	if b.ToolConfig != nil {
		for _, t := range b.ToolConfig.Tools {
			if len(t.CachePoint) > 0 {
				r.ToolsCachePoint = true
			}
			if t.ToolSpec != nil {
				r.Tools = append(r.Tools, estimate.Tool{Name: t.ToolSpec.Name, Description: t.ToolSpec.Description, Schema: string(t.ToolSpec.InputSchema.JSON)})
			}
		}
	}
	return r, nil
}

// converseBlocks converts content blocks; depth bounds the nesting of tool results.
func converseBlocks(raw []json.RawMessage, depth int) ([]estimate.Block, error) {
	var out []estimate.Block
	for _, rb := range raw {
		var cb converseBlock
		if err := json.Unmarshal(rb, &cb); err != nil {
			return nil, fmt.Errorf("%w: a content block: %v", errConverseBody, err)
		}
		switch {
		case cb.Text != nil:
			out = append(out, estimate.Block{Kind: estimate.Text, Text: *cb.Text})
		case len(cb.CachePoint) > 0:
			out = append(out, estimate.Block{Kind: estimate.CachePoint})
		case cb.Image != nil:
			out = append(out, estimate.Block{Kind: estimate.Image, Image: &estimate.ImageSrc{Format: cb.Image.Format, Data: cb.Image.Source.Bytes}})
		case cb.Document != nil:
			out = append(out, estimate.Block{Kind: estimate.Document, Document: &estimate.DocSrc{
				Format: cb.Document.Format, Name: cb.Document.Name, Text: cb.Document.Source.Text, Data: cb.Document.Source.Bytes}})
		case cb.ToolUse != nil:
			out = append(out, estimate.Block{Kind: estimate.ToolUse, Name: cb.ToolUse.Name, Text: string(cb.ToolUse.Input)})
		case cb.ToolResult != nil && depth < 4:
			inner, err := converseBlocks(cb.ToolResult.Content, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, estimate.Block{Kind: estimate.ToolResult, Content: inner})
		case cb.ReasoningContent != nil && cb.ReasoningContent.ReasoningText != nil:
			out = append(out, estimate.Block{Kind: estimate.Reasoning, Text: cb.ReasoningContent.ReasoningText.Text})
		default:
			out = append(out, estimate.Block{Kind: estimate.Text, Text: string(bytes.TrimSpace(rb))})
		}
	}
	return out, nil
}

// decodeChunkBytes returns the model JSON of an InvokeModelWithResponseStream chunk
// event's payload ({"bytes": base64}).
func decodeChunkBytes(payload []byte) ([]byte, bool) {
	var p struct {
		Bytes string `json:"bytes"`
	}
	if json.Unmarshal(payload, &p) != nil {
		return nil, false
	}
	b, err := base64.StdEncoding.DecodeString(p.Bytes)
	return b, err == nil
}
