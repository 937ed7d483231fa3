package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/smithy-go"

	"github.com/tollgate-dev/tollgate/internal/invoke"
	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/internal/wire"
)

// Bounds on what the gateway reads from the upstream.
const (
	// maxAnswerBytes bounds a non-streaming answer: an InvokeModel answer of the largest
	// models (images, long outputs) stays far below it.
	maxAnswerBytes = 64 << 20
	// maxErrorBytes bounds an error answer's body.
	maxErrorBytes = 1 << 20
	// maxFrameBytes bounds one event-stream frame (the SDKs' own decoders accept up to
	// 16 MiB).
	maxFrameBytes = 16 << 20
	// signingService is the SigV4 service name of Bedrock Runtime.
	signingService = "bedrock"
	// upstreamIdlePerHost is how many idle connections the gateway keeps to each
	// upstream host: enough for a busy gateway's calls to reuse connections rather than
	// open one per call (net/http keeps 2 by default, the AWS SDK 10).
	upstreamIdlePerHost = 256
)

// upstreamSigner signs every upstream request. One signer for all of them keeps its
// cache of derived signing keys, which change once a day per credentials, region and
// service; the signer is safe for concurrent use.
var upstreamSigner = v4.NewSigner()

// upstreamHTTPClient is c (nil: the AWS SDK's default client) keeping at least
// upstreamIdlePerHost idle connections per host. A client of another kind is used as it
// is.
func upstreamHTTPClient(c aws.HTTPClient) aws.HTTPClient {
	more := func(t *http.Transport) {
		if t.MaxIdleConnsPerHost < upstreamIdlePerHost {
			t.MaxIdleConnsPerHost = upstreamIdlePerHost
		}
		if t.MaxIdleConns != 0 && t.MaxIdleConns < upstreamIdlePerHost {
			t.MaxIdleConns = upstreamIdlePerHost
		}
	}
	switch hc := c.(type) {
	case nil:
		return awshttp.NewBuildableClient().WithTransportOptions(more)
	case *awshttp.BuildableClient:
		return hc.WithTransportOptions(more)
	case *http.Client:
		var t *http.Transport
		switch rt := hc.Transport.(type) {
		case nil:
			t = http.DefaultTransport.(*http.Transport)
		case *http.Transport:
			t = rt
		default:
			return c
		}
		if t.MaxIdleConnsPerHost >= upstreamIdlePerHost {
			return c
		}
		copied := *hc
		t = t.Clone()
		more(t)
		copied.Transport = t
		return &copied
	}
	return c
}

// upstream is one answer of the upstream: a whole one, or a stream still open.
type upstream struct {
	status int
	header http.Header
	body   []byte        // a whole answer
	stream io.ReadCloser // a stream's body, read by pump
	usage  invoke.Usage  // a whole answer's usage
	took   time.Duration // from sending to the answer's headers (a whole answer: its end)
	end    func(invoke.StreamEnd)
	done   func() // releases the attempt's context
}

// upstreamError is an error answer of the upstream, kept whole to relay to the caller;
// it is a smithy.APIError, so the pipeline classifies it by the service's error code.
type upstreamError struct {
	status  int
	header  http.Header
	body    []byte
	code    string
	message string
}

func (e *upstreamError) Error() string {
	return fmt.Sprintf("upstream answered %d %s: %s", e.status, e.code, e.message)
}
func (e *upstreamError) ErrorCode() string             { return e.code }
func (e *upstreamError) ErrorMessage() string          { return e.message }
func (e *upstreamError) ErrorFault() smithy.ErrorFault { return smithy.FaultServer }

var _ smithy.APIError = (*upstreamError)(nil)

// write relays the error to the caller as the upstream answered it.
func (e *upstreamError) write(w http.ResponseWriter, c *Call) {
	h := w.Header()
	copyAnswerHeaders(h, e.header, c)
	if h.Get(wire.HeaderErrorType) == "" {
		h.Set(wire.HeaderErrorType, e.code+wire.ErrorTypeSuffix)
	}
	h.Set("Content-Length", strconv.Itoa(len(e.body)))
	w.WriteHeader(e.status)
	_, _ = w.Write(e.body)
}

// forward makes one attempt of a call on tg: the caller's body, sent to model as op,
// re-signed with the target's credentials. attemptCtx carries the pipeline's attempt
// timeout and deadline; the request itself ends only when callerCtx does (the caller
// left), when the attempt timeout passes before the answer begins, or when the answer
// has been read, so that the wait's deadline never cuts an answer short.
func forward(attemptCtx, callerCtx context.Context, tg *pipeline.Target, model string, op wire.Operation, in http.Header, body []byte) (*upstream, error) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(attemptCtx))
	stop := context.AfterFunc(callerCtx, cancel)
	done := func() { stop(); cancel() }
	up, err := send(ctx, tg, model, op, in, body)
	if err != nil || up.stream == nil {
		done()
		return up, err
	}
	up.done = done
	return up, nil
}

// send signs and sends the request and reads the answer (a stream's only up to its
// headers).
func send(ctx context.Context, tg *pipeline.Target, model string, op wire.Operation, in http.Header, body []byte) (*upstream, error) {
	opts := tg.SDK.Options()
	base, err := endpointOf(ctx, opts, tg.Region)
	if err != nil {
		return nil, err
	}
	u := *base
	escaped := "/model/" + escapeSegment(model) + "/" + string(op)
	u.Path = strings.TrimSuffix(u.Path, "/") + "/model/" + model + "/" + string(op)
	u.RawPath = strings.TrimSuffix(base.EscapedPath(), "/") + escaped
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.URL = &u
	for name, vs := range in {
		if headerIsBedrock(name) || name == "Content-Type" || name == "Accept" {
			req.Header[name] = vs
		}
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if tg.AWS.Credentials == nil {
		return nil, errors.New("the gateway has no AWS credentials to sign with")
	}
	creds, err := tg.AWS.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("the gateway's AWS credentials: %w", err)
	}
	sum := sha256.Sum256(body)
	if err := upstreamSigner.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), signingService, tg.Region, time.Now()); err != nil {
		return nil, fmt.Errorf("signing the upstream request: %w", err)
	}
	began := time.Now()
	resp, err := opts.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	up := &upstream{status: resp.StatusCode, header: resp.Header}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
		return nil, newUpstreamError(resp.StatusCode, resp.Header, data)
	}
	if op.Streaming() {
		up.stream = resp.Body
		up.took = time.Since(began)
		return up, nil
	}
	defer resp.Body.Close()
	up.body, err = io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return nil, err
	}
	if len(up.body) > maxAnswerBytes {
		return nil, fmt.Errorf("the upstream's answer is longer than %d bytes", maxAnswerBytes)
	}
	up.took = time.Since(began)
	switch op {
	case wire.Converse:
		up.usage = converseUsage(up.body)
	case wire.InvokeModel:
		up.usage = headerUsage(resp.Header)
	}
	return up, nil
}

// endpointOf is the Bedrock Runtime endpoint of the target's SDK client: its
// BaseEndpoint when set, else the SDK's resolution for region.
func endpointOf(ctx context.Context, opts bedrockruntime.Options, region string) (*url.URL, error) {
	if opts.BaseEndpoint != nil {
		u, err := url.Parse(*opts.BaseEndpoint)
		if err != nil {
			return nil, fmt.Errorf("the target's endpoint %q: %w", *opts.BaseEndpoint, err)
		}
		return u, nil
	}
	ep, err := opts.EndpointResolverV2.ResolveEndpoint(ctx, bedrockruntime.EndpointParameters{Region: aws.String(region)})
	if err != nil {
		return nil, fmt.Errorf("resolving the Bedrock Runtime endpoint of %s: %w", region, err)
	}
	return &ep.URI, nil
}

// escapeSegment escapes a path segment as the AWS SDKs do: every byte outside
// A-Za-z0-9-._~ (so a model id's ':' and an ARN's '/').
func escapeSegment(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// newUpstreamError reads an error answer: its code from x-amzn-ErrorType (or the body's
// __type), else from its status; its message from the body.
func newUpstreamError(status int, h http.Header, body []byte) *upstreamError {
	e := &upstreamError{status: status, header: h, body: body}
	var b struct {
		Message  string `json:"message"`
		MessageU string `json:"Message"`
		Type     string `json:"__type"`
	}
	_ = json.Unmarshal(body, &b)
	e.message = b.Message
	if e.message == "" {
		e.message = b.MessageU
	}
	code := h.Get(wire.HeaderErrorType)
	if code == "" {
		code = b.Type
	}
	if i := strings.IndexAny(code, ":#"); i >= 0 {
		if strings.Contains(code, "#") {
			code = code[strings.LastIndex(code, "#")+1:]
		} else {
			code = code[:i]
		}
	}
	if code == "" {
		switch {
		case status == http.StatusTooManyRequests:
			code = wire.ThrottlingException.Name
		case status == http.StatusRequestTimeout:
			code = "RequestTimeoutException"
		case status >= 500:
			code = wire.ServiceUnavailableException.Name
		default:
			code = wire.ValidationException.Name
		}
	}
	e.code = code
	if e.message == "" {
		e.message = http.StatusText(status)
	}
	if len(e.body) == 0 {
		e.body, _ = json.Marshal(wire.ErrorBody{Message: e.message})
		e.header = h.Clone()
		e.header.Set("Content-Type", "application/json")
	}
	return e
}

// copyAnswerHeaders copies the upstream's headers a caller sees: the content type,
// Bedrock's X-Amzn-Bedrock-* headers and its request id (the gateway's when it has none).
func copyAnswerHeaders(dst, src http.Header, c *Call) {
	for name, vs := range src {
		if headerIsBedrock(name) || name == "Content-Type" || name == wire.HeaderErrorType {
			dst[name] = vs
		}
	}
	id := src.Get(wire.HeaderRequestID)
	if id == "" {
		id = c.RequestID
	}
	dst.Set(wire.HeaderRequestID, id)
}

// writeHeader writes the answer's status and headers.
func (up *upstream) writeHeader(w http.ResponseWriter, c *Call) {
	h := w.Header()
	copyAnswerHeaders(h, up.header, c)
	if up.stream == nil {
		h.Set("Content-Length", strconv.Itoa(len(up.body)))
	}
	w.WriteHeader(up.status)
	if up.stream != nil {
		_ = http.NewResponseController(w).Flush()
	}
}

// pump passes the stream's frames to the caller as they arrive, flushing each, and
// decodes them on the side for the output text and the final usage. It returns how the
// stream ended; a stream that breaks after it began ends with an exception frame.
func (up *upstream) pump(w http.ResponseWriter, op wire.Operation) invoke.StreamEnd {
	defer up.done()
	defer up.stream.Close()
	rc := http.NewResponseController(w)
	var end invoke.StreamEnd
	var text strings.Builder
	defer func() { end.OutputText = text.String() }()
	for {
		frame, err := readFrame(up.stream)
		if err != nil {
			if end.Usage.Known && errors.Is(err, io.EOF) {
				end.Outcome = invoke.Outcome{Kind: invoke.OK}
				return end
			}
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF // ended without its final usage
			}
			end.Outcome = invoke.Classify(err)
			msg := "Tollgate: the upstream stream broke before its end: " + err.Error()
			_ = wire.NewEventWriter(w, rc.Flush).Exception(wire.ServiceUnavailableException, msg)
			return end
		}
		if _, err := w.Write(frame); err != nil {
			end.Outcome = invoke.Classify(invoke.ErrStreamClosed)
			return end
		}
		if err := rc.Flush(); err != nil {
			end.Outcome = invoke.Classify(invoke.ErrStreamClosed)
			return end
		}
		msg, err := eventstream.NewDecoder().Decode(bytes.NewReader(frame), nil)
		if err != nil {
			continue // passed through as it came; the caller's SDK judges it
		}
		if kind := headerString(msg, ":message-type"); kind == "exception" || kind == "error" {
			var b wire.ErrorBody
			_ = json.Unmarshal(msg.Payload, &b)
			code := upperFirst(headerString(msg, ":exception-type"))
			if code == "" {
				code = headerString(msg, ":error-code")
			}
			end.Outcome = invoke.Classify(&smithy.GenericAPIError{Code: code, Message: b.Message})
			return end
		}
		observeFrame(op, headerString(msg, ":event-type"), msg.Payload, &end, &text)
	}
}

// observeFrame reads an event's output text and usage.
func observeFrame(op wire.Operation, eventType string, payload []byte, end *invoke.StreamEnd, text *strings.Builder) {
	switch {
	case op == wire.ConverseStream && eventType == "contentBlockDelta":
		var e struct {
			Delta struct {
				Text    string `json:"text"`
				ToolUse *struct {
					Input string `json:"input"`
				} `json:"toolUse"`
				ReasoningContent *struct {
					Text string `json:"text"`
				} `json:"reasoningContent"`
			} `json:"delta"`
		}
		if json.Unmarshal(payload, &e) == nil {
			text.WriteString(e.Delta.Text)
			if e.Delta.ToolUse != nil {
				text.WriteString(e.Delta.ToolUse.Input)
			}
			if e.Delta.ReasoningContent != nil {
				text.WriteString(e.Delta.ReasoningContent.Text)
			}
		}
	case op == wire.ConverseStream && eventType == "metadata":
		var e struct {
			Usage *wire.TokenUsage `json:"usage"`
		}
		if json.Unmarshal(payload, &e) == nil && e.Usage != nil {
			end.Usage = tokenUsage(e.Usage)
		}
	case op == wire.InvokeModelWithResponseStream && eventType == "chunk":
		data, ok := decodeChunkBytes(payload)
		if !ok {
			return
		}
		if u, ok := invoke.AnthropicChunk(data, text); ok {
			end.Usage = u
		}
	}
}

// readFrame reads one event-stream frame, whole: its 4-byte total length comes first.
func readFrame(r io.Reader) ([]byte, error) {
	var prelude [12]byte
	if _, err := io.ReadFull(r, prelude[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, err
		}
		return nil, err // io.EOF: the stream ended between frames
	}
	total := binary.BigEndian.Uint32(prelude[:4])
	if total < 16 || total > maxFrameBytes {
		return nil, fmt.Errorf("an event-stream frame of %d bytes", total)
	}
	frame := make([]byte, total)
	copy(frame, prelude[:])
	if _, err := io.ReadFull(r, frame[12:]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return frame, nil
}

func headerString(m eventstream.Message, name string) string {
	v := m.Headers.Get(name)
	if v == nil {
		return ""
	}
	return v.String()
}

func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

// converseUsage reads the usage of a Converse answer.
func converseUsage(body []byte) invoke.Usage {
	var b struct {
		Usage *wire.TokenUsage `json:"usage"`
	}
	if json.Unmarshal(body, &b) != nil || b.Usage == nil {
		return invoke.Usage{}
	}
	return tokenUsage(b.Usage)
}

func tokenUsage(u *wire.TokenUsage) invoke.Usage {
	deref := func(p *int) int64 {
		if p == nil {
			return 0
		}
		return int64(max(*p, 0))
	}
	return invoke.Usage{Input: int64(max(u.InputTokens, 0)), Output: int64(max(u.OutputTokens, 0)),
		CacheRead: deref(u.CacheReadInputTokens), CacheWrite: deref(u.CacheWriteInputTokens), Known: true}
}

// headerUsage reads InvokeModel's usage headers.
func headerUsage(h http.Header) invoke.Usage {
	count := func(name string) (int64, bool) {
		n, err := strconv.ParseInt(strings.TrimSpace(h.Get(name)), 10, 64)
		return n, err == nil && n >= 0
	}
	in, okIn := count(wire.HeaderInputTokenCount)
	out, okOut := count(wire.HeaderOutputTokenCount)
	if !okIn || !okOut {
		return invoke.Usage{}
	}
	read, _ := count(wire.HeaderCacheReadTokenCount)
	write, _ := count(wire.HeaderCacheWriteTokenCount)
	return invoke.Usage{Input: in, Output: out, CacheRead: read, CacheWrite: write, Known: true}
}
