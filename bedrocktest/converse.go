package bedrocktest

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/tollgate-dev/tollgate/internal/wire"
)

// converseDialect serves Converse and ConverseStream.
type converseDialect struct {
	req *wire.ConverseRequest
}

func (d *converseDialect) parse(c *call, body []byte) (int, error) {
	req, err := wire.DecodeConverse(body)
	if err != nil {
		return 0, err
	}
	d.req = req
	c.prompt = conversePrompt(c.h.opts.Counter, req)
	if ic := req.InferenceConfig; ic != nil && ic.MaxTokens != nil {
		return *ic.MaxTokens, nil
	}
	return 0, nil
}

// conversePrompt counts a Converse request's input in the order the model sees it: tool
// definitions, system prompt, messages. Cache points end the cacheable prefix.
func conversePrompt(counter tokenCounter, req *wire.ConverseRequest) prompt {
	b := newPromptBuilder(counter)
	b.raw("toolConfig", req.ToolConfig)
	for _, s := range req.System {
		if s.Text != nil {
			b.text(*s.Text)
		}
		b.raw("guardContent", s.GuardContent)
		if s.CachePoint != nil {
			b.cachePoint()
		}
	}
	for _, m := range req.Messages {
		for _, blk := range m.Content {
			if blk.Text != nil {
				b.text(*blk.Text)
			}
			b.raw("image", blk.Image)
			b.raw("video", blk.Video)
			b.raw("document", blk.Document)
			b.raw("toolUse", blk.ToolUse)
			b.raw("toolResult", blk.ToolResult)
			b.raw("guardContent", blk.GuardContent)
			b.raw("reasoningContent", blk.ReasoningContent)
			if blk.CachePoint != nil {
				b.cachePoint()
			}
		}
	}
	return b.done()
}

func (d *converseDialect) respond(c *call) {
	text := c.text
	writeJSON(c.w, c.id, wire.ConverseResponse{
		Output: wire.ConverseOutput{Message: wire.Message{
			Role: "assistant", Content: []wire.ContentBlock{{Text: &text}},
		}},
		StopReason:        c.stopReason,
		Usage:             c.usage(),
		Metrics:           wire.Metrics{LatencyMs: c.latencyMs()},
		PerformanceConfig: d.req.PerformanceConfig,
		ServiceTier:       d.req.ServiceTier,
	})
}

func (d *converseDialect) streamStart(c *call, ew *wire.EventWriter) error {
	return ew.Event(wire.EventMessageStart, wire.MessageStartEvent{Role: "assistant"})
}

func (d *converseDialect) streamDelta(c *call, ew *wire.EventWriter, text string) error {
	return ew.Event(wire.EventContentBlockDelta, wire.ContentBlockDeltaEvent{Delta: wire.TextDelta{Text: text}})
}

func (d *converseDialect) streamEnd(c *call, ew *wire.EventWriter) error {
	if err := ew.Event(wire.EventContentBlockStop, wire.ContentBlockStopEvent{}); err != nil {
		return err
	}
	if err := ew.Event(wire.EventMessageStop, wire.MessageStopEvent{StopReason: c.stopReason}); err != nil {
		return err
	}
	return ew.Event(wire.EventMetadata, wire.MetadataEvent{Usage: c.usage(), Metrics: wire.Metrics{LatencyMs: c.latencyMs()}})
}

// writeJSON answers 200 with v as JSON and the request id; extra headers are set first.
func writeJSON(w http.ResponseWriter, requestID string, v any) {
	body, err := json.Marshal(v)
	if err != nil { // the emulator's own shapes always marshal
		wire.WriteError(w, wire.InternalServerException, requestID, "encoding the response: "+err.Error())
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set(wire.HeaderRequestID, requestID)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body) // the client may be gone
}
