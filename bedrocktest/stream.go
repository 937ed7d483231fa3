package bedrocktest

import (
	"context"
	"net/http"
	"time"

	"github.com/tollgate-dev/tollgate/internal/wire"
)

// maxDeltas bounds the deltas of one streamed reply; a delta carries at least
// minDeltaTokens tokens.
const (
	maxDeltas      = 64
	minDeltaTokens = 4
)

// minFirstFrame is the least real time between reading a streaming request and sending
// the response, whatever the latency model and time scale. It stands for the network
// round trip of the real service, and keeps the emulator out of a client-side race in
// smithy-go v1.28.9: the SDK closes the request body as soon as the response headers
// arrive, and its closed body's WriteTo returns io.EOF, which net/http's transport — if
// it has not yet finished its post-body check — takes for a write error and closes the
// connection under the event stream being read ("use of closed network connection").
const minFirstFrame = 2 * time.Millisecond

// stream answers an admitted streaming call: the start events after the time to first
// token, then the text in deltas spaced by the per-token time, then the closing events.
// A stream fault ends it halfway with an exception frame; either way the reservation is
// settled at the output actually sent.
func (c *call) stream(ctx context.Context) {
	rc := http.NewResponseController(c.w)
	h := c.w.Header()
	h.Set("Content-Type", wire.ContentTypeEventStream)
	h.Set(wire.HeaderRequestID, c.id)
	if c.op == wire.InvokeModelWithResponseStream {
		h.Set(wire.HeaderStreamContentType, "application/json")
	}
	c.w.WriteHeader(http.StatusOK)
	ew := wire.NewEventWriter(c.w, rc.Flush)

	per := max(minDeltaTokens, (c.output+maxDeltas-1)/maxDeltas)
	pieces := splitWords(c.text, per)
	failAt := -1 // index of the delta before which a stream fault strikes
	if c.fault == faultStreamThrottle || c.fault == faultStreamUnavailable {
		failAt = len(pieces) / 2
	}
	sent := 0          // output tokens sent so far
	at := c.latency(1) // emulated time since admission: the first token's
	if err := c.h.clock.sleep(ctx, max(at, c.h.clock.emulated(minFirstFrame))); err != nil {
		c.settle(0)
		_ = ew.Exception(wire.ServiceUnavailableException, wire.MsgUnavailable) // closing
		return
	}
	if err := c.dialect.streamStart(c, ew); err != nil {
		c.settle(0)
		return
	}
	for i, piece := range pieces {
		if i == failAt {
			c.settle(sent)
			code, msg := wire.ThrottlingException, wire.MsgTooManyTokens
			if c.fault == faultStreamUnavailable {
				code, msg = wire.ServiceUnavailableException, wire.MsgUnavailable
			}
			_ = ew.Exception(code, msg) // the stream ends here either way
			return
		}
		n := min(per, c.output-sent)
		// A delta goes out when its last token is produced.
		if err := c.h.clock.sleep(ctx, c.latency(sent+n)-at); err != nil {
			c.settle(sent)
			_ = ew.Exception(wire.ServiceUnavailableException, wire.MsgUnavailable) // closing
			return
		}
		at = c.latency(sent + n)
		if err := c.dialect.streamDelta(c, ew, piece); err != nil {
			c.settle(sent)
			return
		}
		sent += n
	}
	c.settle(c.output)
	_ = c.dialect.streamEnd(c, ew) // settled already: the client may be gone
}
