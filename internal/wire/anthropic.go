package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// AnthropicRequest is an Anthropic Messages request body as InvokeModel and
// InvokeModelWithResponseStream take it for Claude models.
type AnthropicRequest struct {
	AnthropicVersion string             `json:"anthropic_version"`
	MaxTokens        *int               `json:"max_tokens"`
	Messages         []AnthropicMessage `json:"messages"`
	System           AnthropicContent   `json:"system,omitempty"`
	StopSequences    []string           `json:"stop_sequences,omitempty"`
	Temperature      *float64           `json:"temperature,omitempty"`
	Tools            json.RawMessage    `json:"tools,omitempty"`
}

// AnthropicMessage is one turn of an Anthropic Messages conversation.
type AnthropicMessage struct {
	Role    string           `json:"role"`
	Content AnthropicContent `json:"content"`
}

// AnthropicContent is message or system content: in JSON either a plain string or an
// array of blocks. A plain string decodes to one text block.
type AnthropicContent []AnthropicBlock

// UnmarshalJSON accepts a string or an array of blocks.
func (c *AnthropicContent) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = AnthropicContent{{Type: "text", Text: s}}
		return nil
	}
	var blocks []AnthropicBlock
	if err := json.Unmarshal(b, &blocks); err != nil {
		return err
	}
	*c = blocks
	return nil
}

// AnthropicBlock is one content block. Text is set for "text" blocks; CacheControl marks the
// end of a cacheable prefix; Raw keeps the whole block for sizing non-text content.
type AnthropicBlock struct {
	Type         string          `json:"type"`
	Text         string          `json:"text,omitempty"`
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
	Raw          json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes the block and keeps its raw JSON.
func (b *AnthropicBlock) UnmarshalJSON(data []byte) error {
	type plain AnthropicBlock
	var p plain
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	*b = AnthropicBlock(p)
	b.Raw = append(json.RawMessage(nil), data...)
	return nil
}

// ErrMalformed is wrapped by the errors of DecodeAnthropic and DecodeConverse: the body
// is not valid for the operation. Bedrock answers such bodies with a ValidationException.
var ErrMalformed = errors.New("malformed input request")

// DecodeAnthropic decodes and checks an Anthropic Messages body: it must be one JSON
// object with anthropic_version, max_tokens ≥ 1 and at least one message whose role is
// "user" or "assistant". The error wraps ErrMalformed and words the problem the way
// Bedrock does ("required key [max_tokens] not found").
func DecodeAnthropic(body []byte) (*AnthropicRequest, error) {
	var req AnthropicRequest
	if err := decodeStrict(body, &req); err != nil {
		return nil, err
	}
	switch {
	case req.AnthropicVersion == "":
		return nil, fmt.Errorf("%w: #: required key [anthropic_version] not found, please reformat your input and try again", ErrMalformed)
	case req.MaxTokens == nil:
		return nil, fmt.Errorf("%w: #: required key [max_tokens] not found, please reformat your input and try again", ErrMalformed)
	case *req.MaxTokens < 1:
		return nil, fmt.Errorf("%w: #/max_tokens: %d is not greater or equal to 1, please reformat your input and try again", ErrMalformed, *req.MaxTokens)
	case len(req.Messages) == 0:
		return nil, fmt.Errorf("%w: #/messages: expected minimum item count: 1, found: 0, please reformat your input and try again", ErrMalformed)
	}
	for i, m := range req.Messages {
		if m.Role != "user" && m.Role != "assistant" {
			return nil, fmt.Errorf("%w: #/messages/%d/role: %q is not a valid enum value (user, assistant), please reformat your input and try again", ErrMalformed, i, m.Role)
		}
	}
	return &req, nil
}

// DecodeConverse decodes and checks a Converse or ConverseStream body: at least one
// message, roles "user" or "assistant", and maxTokens ≥ 1 when set.
func DecodeConverse(body []byte) (*ConverseRequest, error) {
	var req ConverseRequest
	if err := decodeStrict(body, &req); err != nil {
		return nil, err
	}
	if err := checkConverse(&req); err != nil {
		return nil, err
	}
	return &req, nil
}

func checkConverse(req *ConverseRequest) error {
	if len(req.Messages) == 0 {
		return fmt.Errorf("%w: messages: the conversation must contain at least one message", ErrMalformed)
	}
	for i, m := range req.Messages {
		if m.Role != "user" && m.Role != "assistant" {
			return fmt.Errorf("%w: messages.%d.role: %q is not one of user, assistant", ErrMalformed, i, m.Role)
		}
	}
	if c := req.InferenceConfig; c != nil && c.MaxTokens != nil && *c.MaxTokens < 1 {
		return fmt.Errorf("%w: inferenceConfig.maxTokens: %d is less than the minimum 1", ErrMalformed, *c.MaxTokens)
	}
	return nil
}

// DecodeCountTokens decodes and checks a CountTokens body: exactly one of input.converse
// and input.invokeModel, each valid for its operation.
func DecodeCountTokens(body []byte) (*CountTokensRequest, error) {
	var req CountTokensRequest
	if err := decodeStrict(body, &req); err != nil {
		return nil, err
	}
	in := req.Input
	switch {
	case (in.Converse == nil) == (in.InvokeModel == nil):
		return nil, fmt.Errorf("%w: input: exactly one of converse and invokeModel must be set", ErrMalformed)
	case in.Converse != nil:
		if err := checkConverse(in.Converse); err != nil {
			return nil, err
		}
	}
	return &req, nil
}

// decodeStrict decodes one JSON object into v and rejects trailing data.
func decodeStrict(body []byte, v any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return fmt.Errorf("%w: the body must be a JSON object", ErrMalformed)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: data after the JSON object", ErrMalformed)
	}
	return nil
}

// AnthropicResponse is the InvokeModel answer for Claude models.
type AnthropicResponse struct {
	ID           string           `json:"id"`
	Type         string           `json:"type"`
	Role         string           `json:"role"`
	Model        string           `json:"model"`
	Content      []AnthropicBlock `json:"content"`
	StopReason   string           `json:"stop_reason"`
	StopSequence *string          `json:"stop_sequence"`
	Usage        AnthropicUsage   `json:"usage"`
}

// AnthropicUsage is the usage member of an Anthropic Messages response and of the
// message_start and message_delta stream events.
type AnthropicUsage struct {
	InputTokens              int `json:"input_tokens"`
	OutputTokens             int `json:"output_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
}

// InvocationMetrics is the "amazon-bedrock-invocationMetrics" member Bedrock adds to the
// last chunk of InvokeModelWithResponseStream. Latencies are in milliseconds.
type InvocationMetrics struct {
	InputTokenCount   int   `json:"inputTokenCount"`
	OutputTokenCount  int   `json:"outputTokenCount"`
	InvocationLatency int64 `json:"invocationLatency"`
	FirstByteLatency  int64 `json:"firstByteLatency"`
	CacheReadTokens   int   `json:"cacheReadInputTokenCount"`
	CacheWriteTokens  int   `json:"cacheWriteInputTokenCount"`
}

// PayloadPart is the payload of an InvokeModelWithResponseStream chunk event: a piece of
// the model's native response stream, base64 on the wire.
type PayloadPart struct {
	Bytes []byte `json:"bytes"`
}

// AnthropicStreamEvent is one event of an Anthropic Messages stream, the JSON inside an
// InvokeModelWithResponseStream chunk. Type is message_start, content_block_start,
// content_block_delta, content_block_stop, message_delta or message_stop; the members
// each type uses are set, the others omitted.
type AnthropicStreamEvent struct {
	Type              string             `json:"type"`
	Message           *AnthropicResponse `json:"message,omitempty"`
	Index             *int               `json:"index,omitempty"`
	ContentBlock      *AnthropicBlock    `json:"content_block,omitempty"`
	Delta             *AnthropicDelta    `json:"delta,omitempty"`
	Usage             *AnthropicUsage    `json:"usage,omitempty"`
	InvocationMetrics *InvocationMetrics `json:"amazon-bedrock-invocationMetrics,omitempty"`
}

// AnthropicDelta is the delta of a content_block_delta event (Type "text_delta" and Text)
// or of a message_delta event (StopReason).
type AnthropicDelta struct {
	Type       string `json:"type,omitempty"`
	Text       string `json:"text,omitempty"`
	StopReason string `json:"stop_reason,omitempty"`
}
