package estimate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrInvokeBody is wrapped by every error ParseInvokeBody returns.
var ErrInvokeBody = errors.New("estimate: invalid InvokeModel body")

// anthropicBody is the part of an Anthropic Messages request body
// (https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages.html)
// that costs input tokens.
type anthropicBody struct {
	MaxTokens *int            `json:"max_tokens"`
	System    json.RawMessage `json:"system"`
	Messages  []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Tools []struct {
		Name         string          `json:"name"`
		Description  string          `json:"description"`
		InputSchema  json.RawMessage `json:"input_schema"`
		CacheControl json.RawMessage `json:"cache_control"`
	} `json:"tools"`
}

// anthropicBlock is one content block; which fields are set depends on Type.
type anthropicBlock struct {
	Type         string          `json:"type"`
	Text         string          `json:"text"`
	Thinking     string          `json:"thinking"`
	Name         string          `json:"name"`
	Input        json.RawMessage `json:"input"`
	Content      json.RawMessage `json:"content"`
	Source       *anthropicSrc   `json:"source"`
	Title        string          `json:"title"`
	CacheControl json.RawMessage `json:"cache_control"`
}

type anthropicSrc struct {
	Type      string          `json:"type"` // "base64", "text", "content", "url"
	MediaType string          `json:"media_type"`
	Data      string          `json:"data"`
	Content   json.RawMessage `json:"content"` // for "content": a string or text blocks
}

// ParseInvokeBody reads an InvokeModel body in the Anthropic Messages format
// ({"anthropic_version": …, "max_tokens": …, "system": …, "messages": […], "tools": […]})
// into a Request. Fields that cost no input tokens (temperature, tool_choice, …) are
// ignored; unknown block types are counted as their JSON text. A body that is not such
// JSON gives an error wrapping ErrInvokeBody that names the problem; it never panics.
func ParseInvokeBody(body []byte) (*Request, error) {
	var b anthropicBody
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("%w: %v: send the model's native JSON, e.g. {\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":1024,\"messages\":[{\"role\":\"user\",\"content\":\"…\"}]}", ErrInvokeBody, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the JSON object: send exactly one JSON object", ErrInvokeBody)
	}
	if len(b.Messages) == 0 {
		return nil, fmt.Errorf("%w: no \"messages\": an Anthropic Messages body needs at least one message", ErrInvokeBody)
	}
	r := &Request{}
	if b.MaxTokens != nil {
		if *b.MaxTokens < 0 {
			return nil, fmt.Errorf("%w: \"max_tokens\" is %d: it must be positive", ErrInvokeBody, *b.MaxTokens)
		}
		r.MaxTokens = *b.MaxTokens
	}
	var err error
	if r.System, err = parseContent(b.System, "system"); err != nil {
		return nil, err
	}
	for i, m := range b.Messages {
		if m.Role != "user" && m.Role != "assistant" {
			return nil, fmt.Errorf("%w: messages[%d].role is %q: use \"user\" or \"assistant\"", ErrInvokeBody, i, m.Role)
		}
		content, err := parseContent(m.Content, fmt.Sprintf("messages[%d].content", i))
		if err != nil {
			return nil, err
		}
		r.Messages = append(r.Messages, Message{Role: m.Role, Content: content})
	}
	for _, t := range b.Tools {
		r.Tools = append(r.Tools, Tool{Name: t.Name, Description: t.Description, Schema: string(t.InputSchema)})
		r.ToolsCachePoint = r.ToolsCachePoint || isSet(t.CacheControl)
	}
	return r, nil
}

// parseContent reads a content value: absent, a string, or an array of blocks.
func parseContent(raw json.RawMessage, where string) ([]Block, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvokeBody, where, err)
		}
		return []Block{{Kind: Text, Text: s}}, nil
	}
	var blocks []anthropicBlock
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return nil, fmt.Errorf("%w: %s must be a string or an array of content blocks: %v", ErrInvokeBody, where, err)
	}
	var out []Block
	for i, ab := range blocks {
		b, err := convertBlock(ab, fmt.Sprintf("%s[%d]", where, i))
		if err != nil {
			return nil, err
		}
		out = append(out, b)
		if isSet(ab.CacheControl) {
			out = append(out, Block{Kind: CachePoint})
		}
	}
	return out, nil
}

// isSet reports whether an optional JSON member is present and not null.
func isSet(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && !bytes.Equal(raw, []byte("null"))
}

// convertBlock turns one Anthropic block into a Block.
func convertBlock(ab anthropicBlock, where string) (Block, error) {
	switch ab.Type {
	case "text":
		return Block{Kind: Text, Text: ab.Text}, nil
	case "thinking":
		return Block{Kind: Reasoning, Text: ab.Thinking}, nil
	case "tool_use":
		return Block{Kind: ToolUse, Name: ab.Name, Text: string(ab.Input)}, nil
	case "tool_result":
		content, err := parseContent(ab.Content, where+".content")
		return Block{Kind: ToolResult, Content: content}, err
	case "image":
		img := &ImageSrc{}
		if ab.Source != nil {
			img.Format = strings.TrimPrefix(ab.Source.MediaType, "image/")
			if ab.Source.Type == "base64" {
				data, err := base64.StdEncoding.DecodeString(ab.Source.Data)
				if err != nil {
					return Block{}, fmt.Errorf("%w: %s.source.data is not base64: %v", ErrInvokeBody, where, err)
				}
				img.Data = data
			}
		}
		return Block{Kind: Image, Image: img}, nil
	case "document":
		doc := &DocSrc{Name: ab.Title}
		if s := ab.Source; s != nil {
			switch s.Type {
			case "text":
				doc.Format, doc.Text = "txt", s.Data
			case "content":
				blocks, err := parseContent(s.Content, where+".source.content")
				if err != nil {
					return Block{}, err
				}
				for _, b := range blocks {
					doc.Text += b.Text
				}
			case "base64":
				data, err := base64.StdEncoding.DecodeString(s.Data)
				if err != nil {
					return Block{}, fmt.Errorf("%w: %s.source.data is not base64: %v", ErrInvokeBody, where, err)
				}
				doc.Format, doc.Data = mediaFormat(s.MediaType), data
			}
		}
		return Block{Kind: Document, Document: doc}, nil
	}
	raw, _ := json.Marshal(ab) // a decoded struct always marshals
	return Block{Kind: Text, Text: string(raw)}, nil
}

// mediaFormat maps a document media type to a Converse document format.
func mediaFormat(mediaType string) string {
	switch mediaType {
	case "application/pdf":
		return "pdf"
	case "text/plain":
		return "txt"
	case "text/csv":
		return "csv"
	case "text/html":
		return "html"
	case "text/markdown":
		return "md"
	case "application/vnd.openxmlformats-officedocument.wordprocessingml.document":
		return "docx"
	case "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
		return "xlsx"
	}
	return mediaType
}
