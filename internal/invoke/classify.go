package invoke

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Kind classifies the outcome of one SDK attempt. The zero value is OK.
type Kind int

// The kinds of outcome.
const (
	// OK is a successful attempt.
	OK Kind = iota
	// Throttle is a ThrottlingException (HTTP 429 or a mid-stream frame).
	Throttle
	// ServerError is a server fault: HTTP 500, 502, 503 or 504,
	// ServiceUnavailableException or InternalServerException.
	ServerError
	// ModelNotReady is a ModelNotReadyException: the model is loading.
	ModelNotReady
	// Timeout is a ModelTimeoutException, a RequestTimeout (HTTP 408), a network
	// timeout, or a context deadline. A deadline is Timeout whether it was the
	// attempt's or the caller's: the caller tells them apart by its own ctx.Err().
	Timeout
	// ClientError is an error the same request would meet again: validation, access
	// denied, resource not found, service quota exceeded, model errors.
	ClientError
	// Canceled means the caller's context was canceled, or the caller closed a stream
	// before its end (ErrStreamClosed).
	Canceled
	// Connection is a transport failure: refused or reset connection, unexpected EOF,
	// a connection closed under a stream.
	Connection
	// Other is an error no rule recognises; it is not retried.
	Other
)

// Retryable reports whether another attempt may succeed: true for Throttle,
// ServerError, ModelNotReady, Timeout and Connection.
func (k Kind) Retryable() bool {
	switch k {
	case Throttle, ServerError, ModelNotReady, Timeout, Connection:
		return true
	}
	return false
}

// String returns the kind's name in lower case ("throttle", "server_error", …).
func (k Kind) String() string {
	switch k {
	case OK:
		return "ok"
	case Throttle:
		return "throttle"
	case ServerError:
		return "server_error"
	case ModelNotReady:
		return "model_not_ready"
	case Timeout:
		return "timeout"
	case ClientError:
		return "client_error"
	case Canceled:
		return "canceled"
	case Connection:
		return "connection"
	case Other:
		return "other"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Reason is what a throttle's message says was exceeded. Bedrock's message is not a
// reliable guide to the quota that refused (a tokens-per-minute throttle has been seen
// answered "Too many requests"); it is a hint. The zero value is Unknown.
type Reason int

// The throttle reasons.
const (
	// Unknown is a throttle whose message names no quota, or not a throttle.
	Unknown Reason = iota
	// Tokens is "Too many tokens, please wait before trying again.".
	Tokens
	// Requests is "Too many requests, please wait before trying again.".
	Requests
	// TokensPerDay is "Too many tokens per day, please wait before trying again.".
	TokensPerDay
)

// String returns "tokens", "requests", "tokens_per_day" or "unknown".
func (r Reason) String() string {
	switch r {
	case Tokens:
		return "tokens"
	case Requests:
		return "requests"
	case TokensPerDay:
		return "tokens_per_day"
	}
	return "unknown"
}

// ParseReason reads the reason of a throttle from its message, case-insensitively.
func ParseReason(message string) Reason {
	m := strings.ToLower(message)
	switch {
	case strings.Contains(m, "too many tokens per day"):
		return TokensPerDay
	case strings.Contains(m, "too many tokens"):
		return Tokens
	case strings.Contains(m, "too many requests"):
		return Requests
	}
	return Unknown
}

// Outcome is the classified result of one attempt.
type Outcome struct {
	// Kind is the class of the outcome.
	Kind Kind
	// Reason is the throttle's reason; Unknown for other kinds.
	Reason Reason
	// Code is the service's error code ("ThrottlingException"), empty when the error
	// did not come from the service.
	Code string
	// Message is the service's error message, or the error's text for other errors.
	Message string
	// Status is the HTTP status of the response, 0 when there was none (transport
	// errors, mid-stream exceptions).
	Status int
	// RequestID is the service's request id, when known.
	RequestID string
	// Err is the error classified; nil for OK.
	Err error
}

// ErrStreamClosed is the error a stream watcher reports when the caller closed the
// stream before its end. Classify gives it the kind Canceled.
var ErrStreamClosed = errors.New("invoke: stream closed before its end")

// Classify classifies the error of one SDK attempt, or of a stream's Err(): nil is OK.
// It looks, in order, at context cancellation, the modeled Bedrock exceptions (from
// an HTTP response or a mid-stream exception frame), any smithy.APIError code, the
// HTTP status, the attempt's deadline, and transport errors.
func Classify(err error) Outcome {
	if err == nil {
		return Outcome{Kind: OK}
	}
	o := Outcome{Err: err, Message: err.Error()}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		o.Status = re.HTTPStatusCode()
		o.RequestID = re.ServiceRequestID()
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		o.Code = api.ErrorCode()
		o.Message = api.ErrorMessage()
	}
	o.Kind = kindOf(err, o.Code, o.Status)
	if o.Kind == Throttle {
		o.Reason = ParseReason(o.Message)
	}
	return o
}

func kindOf(err error, code string, status int) Kind {
	if errors.Is(err, context.Canceled) || errors.Is(err, ErrStreamClosed) {
		return Canceled
	}
	switch {
	case is[*types.ThrottlingException](err):
		return Throttle
	case is[*types.ModelNotReadyException](err):
		return ModelNotReady
	case is[*types.ServiceUnavailableException](err), is[*types.InternalServerException](err):
		return ServerError
	case is[*types.ModelTimeoutException](err):
		return Timeout
	case is[*types.ValidationException](err), is[*types.AccessDeniedException](err),
		is[*types.ResourceNotFoundException](err), is[*types.ServiceQuotaExceededException](err),
		is[*types.ModelErrorException](err), is[*types.ModelStreamErrorException](err),
		is[*types.ConflictException](err):
		return ClientError
	}
	if k, ok := kindOfCode(code); ok {
		return k
	}
	switch {
	case status == 429:
		return Throttle
	case status == 408:
		return Timeout
	case status == 500 || status == 502 || status == 503 || status == 504:
		return ServerError
	case status >= 500:
		return ServerError
	case status >= 400:
		return ClientError
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return Timeout
	}
	if isConnection(err) {
		return Connection
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return Timeout
	}
	if code != "" {
		return ClientError
	}
	return Other
}

// is reports whether err's chain holds an error of type T.
func is[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

// kindOfCode classifies an error code that no modeled type matched.
func kindOfCode(code string) (Kind, bool) {
	switch code {
	case "":
		return 0, false
	case "ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException",
		"RequestThrottledException", "RequestLimitExceeded", "SlowDown":
		return Throttle, true
	case "ModelNotReadyException":
		return ModelNotReady, true
	case "ServiceUnavailableException", "ServiceUnavailable", "InternalServerException",
		"InternalServerError", "InternalFailure", "InternalError":
		return ServerError, true
	case "RequestTimeout", "RequestTimeoutException", "ModelTimeoutException":
		return Timeout, true
	case "ValidationException", "AccessDeniedException", "ResourceNotFoundException",
		"ServiceQuotaExceededException", "ModelErrorException", "ModelStreamErrorException",
		"UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException":
		return ClientError, true
	}
	return 0, false
}

// isConnection reports transport failures: refused, reset or closed connections,
// unexpected EOFs and failures to send the request.
func isConnection(err error) bool {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, net.ErrClosed), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return !op.Timeout()
	}
	var send *smithyhttp.RequestSendError
	return errors.As(err, &send)
}

// Class names the kind of failure err is, so that a caller can tell the same failure
// met again from a different one: two errors have the same class when they would be
// fixed the same way. The text of an SDK error cannot serve, since each carries the
// request id of its own attempt. The class is, in order: the service's error code
// and HTTP status ("ResourceNotFoundException (HTTP 404)"), the HTTP status alone, the
// outcome's kind for transport failures, timeouts and cancellations ("connection"),
// and for an error no rule recognises the text of the innermost error it wraps (a
// prefix that names the document or chunk is left out). Class(nil) is "".
func Class(err error) string {
	if err == nil {
		return ""
	}
	o := Classify(err)
	switch {
	case o.Code != "" && o.Status != 0:
		return o.Code + " (HTTP " + strconv.Itoa(o.Status) + ")"
	case o.Code != "":
		return o.Code
	case o.Status != 0:
		return "HTTP " + strconv.Itoa(o.Status)
	case o.Kind != Other:
		return o.Kind.String()
	}
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}
