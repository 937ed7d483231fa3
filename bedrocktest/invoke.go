package bedrocktest

import (
	"encoding/json"
	"strconv"

	"github.com/tollgate-dev/tollgate/internal/wire"
)

// anthropicDialect serves InvokeModel and InvokeModelWithResponseStream with Anthropic
// Messages bodies (the emulator takes that body shape for every model).
type anthropicDialect struct{}

func (anthropicDialect) parse(c *call, body []byte) (int, error) {
	req, err := wire.DecodeAnthropic(body)
	if err != nil {
		return 0, err
	}
	c.prompt = anthropicPrompt(c.h.opts.Counter, req)
	return *req.MaxTokens, nil
}

// anthropicPrompt counts an Anthropic Messages body's input: tools, system, messages.
// A block with cache_control ends the cacheable prefix.
func anthropicPrompt(counter tokenCounter, req *wire.AnthropicRequest) prompt {
	b := newPromptBuilder(counter)
	b.raw("tools", req.Tools)
	blocks := func(content wire.AnthropicContent) {
		for _, blk := range content {
			if blk.Type == "text" {
				b.text(blk.Text)
			} else {
				b.raw(blk.Type, blk.Raw)
			}
			if len(blk.CacheControl) > 0 && string(blk.CacheControl) != "null" {
				b.cachePoint()
			}
		}
	}
	blocks(req.System)
	for _, m := range req.Messages {
		blocks(m.Content)
	}
	return b.done()
}

func (c *call) anthropicUsage() wire.AnthropicUsage {
	return wire.AnthropicUsage{InputTokens: c.input, OutputTokens: c.output,
		CacheCreationInputTokens: c.cacheWr, CacheReadInputTokens: c.cacheRd}
}

func (c *call) anthropicMessage(content []wire.AnthropicBlock, stopReason string, usage wire.AnthropicUsage) wire.AnthropicResponse {
	return wire.AnthropicResponse{ID: "msg_bdrk_" + c.id, Type: "message", Role: "assistant", Model: c.model.ID,
		Content: content, StopReason: stopReason, Usage: usage}
}

func (anthropicDialect) respond(c *call) {
	h := c.w.Header()
	h.Set(wire.HeaderInputTokenCount, strconv.Itoa(c.input))
	h.Set(wire.HeaderOutputTokenCount, strconv.Itoa(c.output))
	h.Set(wire.HeaderInvocationLatency, strconv.FormatInt(c.latencyMs(), 10))
	if c.cacheRd > 0 || c.cacheWr > 0 {
		h.Set(wire.HeaderCacheReadTokenCount, strconv.Itoa(c.cacheRd))
		h.Set(wire.HeaderCacheWriteTokenCount, strconv.Itoa(c.cacheWr))
	}
	writeJSON(c.w, c.id, c.anthropicMessage([]wire.AnthropicBlock{{Type: "text", Text: c.text}}, c.stopReason, c.anthropicUsage()))
}

// chunk sends one native Anthropic stream event as an InvokeModelWithResponseStream chunk.
func chunk(ew *wire.EventWriter, event any) error {
	inner, err := json.Marshal(event)
	if err != nil {
		return err
	}
	return ew.Event(wire.EventChunk, wire.PayloadPart{Bytes: inner})
}

func (anthropicDialect) streamStart(c *call, ew *wire.EventWriter) error {
	u := c.anthropicUsage()
	u.OutputTokens = 1
	msg := c.anthropicMessage([]wire.AnthropicBlock{}, "", u)
	if err := chunk(ew, wire.AnthropicStreamEvent{Type: "message_start", Message: &msg}); err != nil {
		return err
	}
	return chunk(ew, wire.AnthropicStreamEvent{Type: "content_block_start", Index: new(int), ContentBlock: &wire.AnthropicBlock{Type: "text"}})
}

func (anthropicDialect) streamDelta(c *call, ew *wire.EventWriter, text string) error {
	return chunk(ew, wire.AnthropicStreamEvent{Type: "content_block_delta", Index: new(int), Delta: &wire.AnthropicDelta{Type: "text_delta", Text: text}})
}

func (anthropicDialect) streamEnd(c *call, ew *wire.EventWriter) error {
	if err := chunk(ew, wire.AnthropicStreamEvent{Type: "content_block_stop", Index: new(int)}); err != nil {
		return err
	}
	if err := chunk(ew, wire.AnthropicStreamEvent{Type: "message_delta",
		Delta: &wire.AnthropicDelta{StopReason: c.stopReason}, Usage: &wire.AnthropicUsage{OutputTokens: c.output}}); err != nil {
		return err
	}
	return chunk(ew, wire.AnthropicStreamEvent{Type: "message_stop", InvocationMetrics: &wire.InvocationMetrics{
		InputTokenCount: c.input, OutputTokenCount: c.output,
		InvocationLatency: c.latencyMs(), FirstByteLatency: c.ttft.Milliseconds(),
		CacheReadTokens: c.cacheRd, CacheWriteTokens: c.cacheWr,
	}})
}
