package estimate

// Request is one model call described without any SDK type: what Estimator.Input counts.
// Package estimate/converse builds one from a *bedrockruntime.ConverseInput, and
// ParseInvokeBody from an InvokeModel body in the Anthropic Messages format. The zero
// Request is empty and counts 0 tokens.
type Request struct {
	// System holds the system prompt blocks, in order.
	System []Block
	// Messages holds the conversation, oldest first.
	Messages []Message
	// Tools holds the tool specifications the model may call.
	Tools []Tool
	// ToolsCachePoint marks a cache point after the tool specifications (Converse's
	// cachePoint among toolConfig.tools, or cache_control on a tool).
	ToolsCachePoint bool
	// MaxTokens is the output cap the request sends (max_tokens, maxTokens); 0 means unset,
	// and Bedrock then applies and reserves the model's default (see ReserveCost).
	MaxTokens int
}

// Message is one turn of a conversation.
type Message struct {
	// Role is "user" or "assistant".
	Role string
	// Content holds the message's blocks, in order.
	Content []Block
}

// BlockKind says what a Block holds and so how it is counted.
type BlockKind uint8

// The kinds of content block. Text-like kinds are counted with the tokenizer; images and
// binary documents by formula; cache points add nothing.
const (
	// Text is plain text (Block.Text).
	Text BlockKind = iota
	// Image is a picture (Block.Image), counted as width × height / 750 tokens.
	Image
	// Document is an attached file (Block.Document).
	Document
	// ToolUse is a call the assistant made: the tool's name in Block.Name, its input JSON in
	// Block.Text.
	ToolUse
	// ToolResult is what a tool returned: its blocks in Block.Content.
	ToolResult
	// Reasoning is the model's earlier reasoning text, sent back in Block.Text.
	Reasoning
	// CachePoint marks the end of a prompt prefix to cache. It adds no tokens; the tokens
	// before the last cache point are reported as Input.Cacheable.
	CachePoint
)

// Block is one content block of a message or system prompt. Which fields matter depends
// on Kind; the others are ignored.
type Block struct {
	Kind     BlockKind
	Text     string    // Text, Reasoning: the text; ToolUse: the input as JSON
	Name     string    // ToolUse: the tool's name
	Image    *ImageSrc // Image
	Document *DocSrc   // Document
	Content  []Block   // ToolResult: what the tool returned
}

// ImageSrc is an image block's content. Width and Height, when positive, are used as given;
// otherwise they are read from Data's header (PNG, JPEG, GIF or WebP). An image whose size
// cannot be known (an S3 location, an unreadable header) is counted at the most an image
// can cost, MaxImageTokens.
type ImageSrc struct {
	Format string // "png", "jpeg", "gif" or "webp"
	Data   []byte // the encoded image; may be nil when Width and Height are given
	Width  int    // pixels; 0 means read it from Data
	Height int    // pixels; 0 means read it from Data
}

// DocSrc is a document block's content: either its text (Text), or its bytes (Data) in
// the given Format. Text formats ("txt", "md", "csv", "html") in Data are counted as text;
// PDFs by their page count; other binary formats by their size (see docs/estimation.md).
type DocSrc struct {
	Format string // "pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt" or "md"
	Name   string // the document's name, which the model also reads
	Text   string // the document's text, when given as text
	Data   []byte // the document's bytes
}

// Tool is a tool specification offered to the model.
type Tool struct {
	// Name is the tool's name.
	Name string
	// Description is the tool's description, as the model reads it.
	Description string
	// Schema is the tool's input JSON schema, as sent.
	Schema string
}
