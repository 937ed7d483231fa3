package wire

import "encoding/json"

// ConverseRequest is the body of Converse and ConverseStream. Members Tollgate does not
// use (guardrails, prompt variables, …) are kept raw or ignored.
type ConverseRequest struct {
	Messages                     []Message          `json:"messages"`
	System                       []SystemBlock      `json:"system,omitempty"`
	InferenceConfig              *InferenceConfig   `json:"inferenceConfig,omitempty"`
	ToolConfig                   json.RawMessage    `json:"toolConfig,omitempty"`
	AdditionalModelRequestFields json.RawMessage    `json:"additionalModelRequestFields,omitempty"`
	PerformanceConfig            *PerformanceConfig `json:"performanceConfig,omitempty"`
	ServiceTier                  *ServiceTier       `json:"serviceTier,omitempty"`
}

// Message is one turn of a conversation: a role ("user" or "assistant") and its content.
type Message struct {
	Role    string         `json:"role"`
	Content []ContentBlock `json:"content"`
}

// ContentBlock is one member of the ContentBlock union. Text and CachePoint are decoded;
// the other members are kept as raw JSON so that their size can be counted.
type ContentBlock struct {
	Text             *string         `json:"text,omitempty"`
	CachePoint       *CachePoint     `json:"cachePoint,omitempty"`
	Image            json.RawMessage `json:"image,omitempty"`
	Document         json.RawMessage `json:"document,omitempty"`
	Video            json.RawMessage `json:"video,omitempty"`
	ToolUse          json.RawMessage `json:"toolUse,omitempty"`
	ToolResult       json.RawMessage `json:"toolResult,omitempty"`
	GuardContent     json.RawMessage `json:"guardContent,omitempty"`
	ReasoningContent json.RawMessage `json:"reasoningContent,omitempty"`
}

// SystemBlock is one member of the SystemContentBlock union.
type SystemBlock struct {
	Text         *string         `json:"text,omitempty"`
	CachePoint   *CachePoint     `json:"cachePoint,omitempty"`
	GuardContent json.RawMessage `json:"guardContent,omitempty"`
}

// CachePoint marks the end of a cacheable prompt prefix. Type is "default".
type CachePoint struct {
	Type string `json:"type"`
	TTL  string `json:"ttl,omitempty"`
}

// InferenceConfig holds the common inference parameters. A nil MaxTokens means the model's
// maximum output.
type InferenceConfig struct {
	MaxTokens     *int     `json:"maxTokens,omitempty"`
	Temperature   *float64 `json:"temperature,omitempty"`
	TopP          *float64 `json:"topP,omitempty"`
	StopSequences []string `json:"stopSequences,omitempty"`
}

// PerformanceConfig selects standard or latency-optimized inference; Latency is
// "standard" or "optimized".
type PerformanceConfig struct {
	Latency string `json:"latency"`
}

// ServiceTier selects the processing tier: "priority", "default", "flex" or "reserved".
type ServiceTier struct {
	Type string `json:"type"`
}

// ConverseResponse is the body of a successful Converse call.
type ConverseResponse struct {
	Output            ConverseOutput     `json:"output"`
	StopReason        string             `json:"stopReason"`
	Usage             TokenUsage         `json:"usage"`
	Metrics           Metrics            `json:"metrics"`
	PerformanceConfig *PerformanceConfig `json:"performanceConfig,omitempty"`
	ServiceTier       *ServiceTier       `json:"serviceTier,omitempty"`
}

// ConverseOutput is the ConverseOutput union; only the message member exists.
type ConverseOutput struct {
	Message Message `json:"message"`
}

// TokenUsage is the usage Converse reports. InputTokens excludes the cached tokens, which
// are reported apart; TotalTokens is the sum of all four counts.
type TokenUsage struct {
	InputTokens           int  `json:"inputTokens"`
	OutputTokens          int  `json:"outputTokens"`
	TotalTokens           int  `json:"totalTokens"`
	CacheReadInputTokens  *int `json:"cacheReadInputTokens,omitempty"`
	CacheWriteInputTokens *int `json:"cacheWriteInputTokens,omitempty"`
}

// Metrics carries the call's latency in milliseconds.
type Metrics struct {
	LatencyMs int64 `json:"latencyMs"`
}

// Stop reasons Bedrock reports in Converse, ConverseStream and (lower case, the same
// words) Anthropic Messages bodies.
const (
	StopEndTurn   = "end_turn"
	StopMaxTokens = "max_tokens"
)

// The ConverseStream event payloads, sent in this order: MessageStartEvent, then for
// each content block ContentBlockDeltaEvents and a ContentBlockStopEvent, then
// MessageStopEvent and last MetadataEvent.
type (
	// MessageStartEvent opens the assistant's message.
	MessageStartEvent struct {
		Role string `json:"role"`
	}
	// ContentBlockDeltaEvent carries the next piece of a content block.
	ContentBlockDeltaEvent struct {
		ContentBlockIndex int       `json:"contentBlockIndex"`
		Delta             TextDelta `json:"delta"`
	}
	// TextDelta is the text member of the ContentBlockDelta union.
	TextDelta struct {
		Text string `json:"text"`
	}
	// ContentBlockStopEvent closes a content block.
	ContentBlockStopEvent struct {
		ContentBlockIndex int `json:"contentBlockIndex"`
	}
	// MessageStopEvent closes the message with its stop reason.
	MessageStopEvent struct {
		StopReason string `json:"stopReason"`
	}
	// MetadataEvent is the last event: the usage and the latency of the call.
	MetadataEvent struct {
		Usage   TokenUsage `json:"usage"`
		Metrics Metrics    `json:"metrics"`
	}
)

// The ConverseStream event types (the :event-type header of each frame).
const (
	EventMessageStart      = "messageStart"
	EventContentBlockDelta = "contentBlockDelta"
	EventContentBlockStop  = "contentBlockStop"
	EventMessageStop       = "messageStop"
	EventMetadata          = "metadata"
	// EventChunk is InvokeModelWithResponseStream's only event type.
	EventChunk = "chunk"
)

// CountTokensRequest is the body of CountTokens: exactly one of Input.Converse and
// Input.InvokeModel is set.
type CountTokensRequest struct {
	Input CountTokensInput `json:"input"`
}

// CountTokensInput is the CountTokensInput union.
type CountTokensInput struct {
	Converse    *ConverseRequest   `json:"converse,omitempty"`
	InvokeModel *InvokeModelTokens `json:"invokeModel,omitempty"`
}

// InvokeModelTokens wraps an InvokeModel body for CountTokens. Body is the native request
// JSON; as a blob it is base64 on the wire, which encoding/json does for []byte.
type InvokeModelTokens struct {
	Body []byte `json:"body"`
}

// CountTokensResponse is the answer of CountTokens.
type CountTokensResponse struct {
	InputTokens int `json:"inputTokens"`
}
