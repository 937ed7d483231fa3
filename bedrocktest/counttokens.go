package bedrocktest

import (
	"github.com/tollgate-dev/tollgate/internal/wire"
)

// countTokens answers CountTokens with the input tokens the same request would be charged,
// cached tokens included. It is free: nothing is metered.
func (h *Handler) countTokens(c *call, body []byte) {
	req, err := wire.DecodeCountTokens(body)
	if err != nil {
		c.fail(wire.ValidationException, validationMessage(err))
		return
	}
	var p prompt
	if req.Input.Converse != nil {
		p = conversePrompt(h.opts.Counter, req.Input.Converse)
	} else {
		areq, err := wire.DecodeAnthropic(req.Input.InvokeModel.Body)
		if err != nil {
			c.fail(wire.ValidationException, validationMessage(err))
			return
		}
		p = anthropicPrompt(h.opts.Counter, areq)
	}
	writeJSON(c.w, c.id, wire.CountTokensResponse{InputTokens: p.tokens})
}
