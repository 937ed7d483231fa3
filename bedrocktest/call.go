package bedrocktest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/wire"
)

// unknownOperation is what AWS answers for a path that names no operation.
var unknownOperation = wire.ErrorCode{Name: "UnknownOperationException", Status: http.StatusNotFound}

// call is one inference call on its way through the emulator.
type call struct {
	h       *Handler
	w       http.ResponseWriter
	r       *http.Request
	seq     uint64
	id      string
	op      wire.Operation
	model   *model
	key     seriesKey
	dialect dialect
	prompt  prompt
	// maxTokens is the max_tokens in effect: the request's, or the model's default.
	maxTokens int

	// Set at admission.
	fault                   faultKind
	ticket                  ticket
	input, cacheRd, cacheWr int
	output                  int
	stopReason              string
	text                    string
	ttft, perToken          time.Duration // emulated
}

// dialect is the request and response format of an operation: Converse's or the
// Anthropic Messages body of InvokeModel.
type dialect interface {
	// parse decodes the body into the prompt and the max_tokens asked for (0: unset).
	parse(c *call, body []byte) (maxTokens int, err error)
	// respond writes the non-streaming answer.
	respond(c *call)
	// streamStart, streamDelta and streamEnd write the events of a streaming answer.
	streamStart(c *call, ew *wire.EventWriter) error
	streamDelta(c *call, ew *wire.EventWriter, text string) error
	streamEnd(c *call, ew *wire.EventWriter) error
}

// serveModel serves POST /model/{modelId}/{operation}.
func (h *Handler) serveModel(w http.ResponseWriter, r *http.Request) {
	c := &call{h: h, w: w, r: r, seq: h.seq.Add(1)}
	c.id = h.requestID(c.seq)
	modelID, op, err := wire.ParsePath(r.URL.EscapedPath())
	if err != nil || r.Method != http.MethodPost {
		wire.WriteError(w, unknownOperation, c.id, fmt.Sprintf("%s %s is not a Bedrock Runtime operation", r.Method, r.URL.EscapedPath()))
		return
	}
	c.op = op
	if !h.resolve(c, modelID) {
		return
	}
	bd := h.readBody(w, r, maxBodyBytes, c.fail)
	if bd == nil {
		return
	}
	body := bd.data
	if op == wire.CountTokens {
		h.countTokens(c, body)
		bd.release()
		return
	}
	if op == wire.Converse || op == wire.ConverseStream {
		c.dialect = &converseDialect{}
	} else {
		c.dialect = anthropicDialect{}
	}
	asked, err := c.dialect.parse(c, body)
	bd.release() // the call's reply may take minutes; the body is not needed past here
	if err != nil {
		c.fail(wire.ValidationException, validationMessage(err))
		return
	}
	if !c.checkSize(asked) {
		return
	}
	c.run()
}

// validationMessage words a body error as Bedrock does.
func validationMessage(err error) string {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, wire.ErrMalformed.Error()+": "); ok && errors.Is(err, wire.ErrMalformed) {
		return "Malformed input request: " + rest
	}
	return msg
}

// resolve finds the model and scope of modelID, or answers a ValidationException.
func (h *Handler) resolve(c *call, modelID string) bool {
	ref, err := catalog.Parse(modelID)
	if err == nil && ref.Kind == catalog.ApplicationProfileARN {
		_, ref, _ = h.opts.Catalog.Lookup(modelID) // sets ModelID and Scope if the profile is mapped
	}
	var m *model
	if err == nil {
		m = h.models[ref.ModelID]
	}
	if m == nil {
		c.fail(wire.ValidationException, wire.MsgInvalidModel)
		return false
	}
	if c.op == wire.CountTokens {
		// CountTokens takes a foundation-model id and meters nothing.
		if !m.CountTokens {
			c.fail(wire.ValidationException, fmt.Sprintf("The provided model %s doesn't support counting tokens.", m.ID))
			return false
		}
		c.model = m
		return true
	}
	if ref.Scope == catalog.OnDemand && m.RequiresProfile {
		c.fail(wire.ValidationException, fmt.Sprintf("Invocation of model ID %s with on-demand throughput isn’t supported. Retry your request with the ID or ARN of an inference profile that contains this model.", m.ID))
		return false
	}
	if _, ok := m.limits[ref.Scope]; !ok {
		c.fail(wire.ValidationException, wire.MsgInvalidModel)
		return false
	}
	region := h.opts.Region
	cred, _ := wire.ParseCredential(c.r.Header.Get("Authorization"))
	if cred.Region != "" {
		region = cred.Region
	}
	c.model = m
	c.key = seriesKey{Account: cred.AccessKeyID, Region: region, Model: m.ID, Scope: ref.Scope}
	return true
}

// checkSize applies the model's output cap and context window to the request.
func (c *call) checkSize(asked int) bool {
	m := c.model
	c.maxTokens = asked
	if asked == 0 {
		c.maxTokens = m.DefaultMaxTokens
	}
	switch {
	case asked > m.MaxOutputTokens:
		c.fail(wire.ValidationException, fmt.Sprintf("The maximum tokens you requested exceeds the model limit of %d. Try again with a maximum tokens value that is lower than %d.", m.MaxOutputTokens, m.MaxOutputTokens))
	case c.prompt.tokens > m.ContextWindow:
		c.fail(wire.ValidationException, wire.MsgInputTooLong)
	case asked > 0 && c.prompt.tokens+asked > m.ContextWindow:
		c.fail(wire.ValidationException, fmt.Sprintf("input length and `max_tokens` exceed context limit: %d + %d > %d, decrease input length or `max_tokens` and try again", c.prompt.tokens, c.maxTokens, m.ContextWindow))
	default:
		return true
	}
	return false
}

// fail answers an error.
func (c *call) fail(code wire.ErrorCode, message string) {
	wire.WriteError(c.w, code, c.id, message)
}

// run draws the call's fault, admits it, waits out its latency and answers.
func (c *call) run() {
	h := c.h
	faults := h.faults.Load()
	c.fault = faults.draw(h.draws.Add(1))
	if c.fault != faultNone {
		h.faultCounts[c.fault].Add(1)
	}
	switch c.fault {
	case faultUnavailable:
		c.fail(wire.ServiceUnavailableException, wire.MsgUnavailable)
		return
	case faultInternal:
		c.fail(wire.InternalServerException, "The server encountered an internal error while processing the request.")
		return
	case faultNotReady:
		c.fail(wire.ModelNotReadyException, "Model is not ready to serve inference requests. The AWS SDK will automatically retry the operation up to 5 times. For information about configuring automatic retries, see Retry behavior in the AWS SDKs and Tools reference guide.")
		return
	}
	if !c.admit() {
		return
	}
	o := h.opts
	c.ttft, c.perToken = o.Latency.TimeToFirstToken, o.Latency.PerOutputToken
	if c.fault == faultSlow {
		f := faults.slowFactor()
		c.ttft = scaleDuration(c.ttft, f)
		c.perToken = scaleDuration(c.perToken, f)
	}
	n := o.OutputTokens(c.prompt.tokens, c.prompt.seed)
	c.output, c.stopReason = max(n, 1), wire.StopEndTurn
	if c.output >= c.maxTokens {
		c.output, c.stopReason = c.maxTokens, wire.StopMaxTokens
	}
	c.text = replyText(c.prompt.seed, c.output)
	if c.fault == faultDrop {
		c.settle(0)
		c.drop()
		return
	}
	ctx, cancel := context.WithCancel(c.r.Context())
	defer cancel()
	stop := context.AfterFunc(h.ctx, cancel)
	defer stop()
	if c.op.Streaming() {
		c.stream(ctx)
		return
	}
	if err := h.clock.sleep(ctx, c.latency(c.output)); err != nil {
		// The client left (the answer goes nowhere) or the emulator is closing.
		c.settle(0)
		c.fail(wire.ServiceUnavailableException, wire.MsgUnavailable)
		return
	}
	c.settle(c.output)
	c.dialect.respond(c)
}

// admit reserves the call's quota or answers a ThrottlingException.
func (c *call) admit() bool {
	h, m := c.h, c.model
	now := h.clock.now()
	c.cacheRd, c.cacheWr = h.cache.peek(now, c.key.Account, m.ID, c.prompt)
	c.input = c.prompt.tokens - c.cacheRd - c.cacheWr
	// Reservation = input + cache read + cache write + max_tokens (× burndown if set).
	out := int64(c.maxTokens)
	if h.opts.ReserveBurndown {
		out = int64(math.Ceil(float64(out) * m.OutputBurndown))
	}
	reserve := int64(c.prompt.tokens) + out
	t, refused, ok := h.meter.reserveAt(now, c.key, m.limits[c.key.Scope].Limits, reserve)
	if !ok {
		c.fail(wire.ThrottlingException, limitMessages[refused])
		h.opts.Logger.Debug("bedrocktest: throttled", "model", m.ID, "scope", c.key.Scope, "limit", limitNames[refused], "reserve", reserve)
		return false
	}
	h.cache.store(now, c.key.Account, m.ID, c.prompt)
	c.ticket = t
	return true
}

// settle ends the reservation with what the call used, having produced output tokens:
// input + cache write + output × burndown.
func (c *call) settle(output int) {
	actual := int64(c.input+c.cacheWr) + int64(math.Ceil(float64(output)*c.model.OutputBurndown))
	c.h.meter.settleAt(c.h.clock.now(), c.ticket, actual)
	c.h.opts.Logger.Debug("bedrocktest: settled", "model", c.model.ID, "scope", c.key.Scope, "reserved", c.ticket.reserved, "settled", actual)
}

// latency is the emulated time to produce n output tokens.
func (c *call) latency(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	return min(scaleDuration(c.perToken, float64(n-1)), math.MaxInt64-c.ttft) + c.ttft
}

// latencyMs is the latency reported for the whole reply, in milliseconds.
func (c *call) latencyMs() int64 { return c.latency(c.output).Milliseconds() }

// usage is the call's Converse usage.
func (c *call) usage() wire.TokenUsage {
	u := wire.TokenUsage{InputTokens: c.input, OutputTokens: c.output,
		TotalTokens: c.input + c.cacheRd + c.cacheWr + c.output}
	if c.cacheRd > 0 || c.cacheWr > 0 {
		rd, wr := c.cacheRd, c.cacheWr
		u.CacheReadInputTokens, u.CacheWriteInputTokens = &rd, &wr
	}
	return u
}

// drop closes the connection without an answer.
func (c *call) drop() {
	conn, _, err := http.NewResponseController(c.w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2): abort the handler, which resets the stream.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}
