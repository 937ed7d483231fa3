package wire

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// The response headers Bedrock sets on every call and on InvokeModel.
const (
	// HeaderRequestID carries the request id of every response.
	HeaderRequestID = "X-Amzn-Requestid"
	// HeaderErrorType names the error of a failed call, followed by a namespace URI
	// that the SDK strips (see ErrorTypeSuffix).
	HeaderErrorType = "X-Amzn-Errortype"
	// HeaderInputTokenCount, HeaderOutputTokenCount and HeaderInvocationLatency (in
	// milliseconds) carry InvokeModel's usage. They are not in the Smithy model; SDK
	// users read them from the raw HTTP response.
	HeaderInputTokenCount   = "X-Amzn-Bedrock-Input-Token-Count"
	HeaderOutputTokenCount  = "X-Amzn-Bedrock-Output-Token-Count"
	HeaderInvocationLatency = "X-Amzn-Bedrock-Invocation-Latency"
	// HeaderCacheReadTokenCount and HeaderCacheWriteTokenCount carry the cached input
	// tokens of an InvokeModel call (reported by third parties; see docs/emulator.md).
	HeaderCacheReadTokenCount  = "X-Amzn-Bedrock-Cache-Read-Input-Token-Count"
	HeaderCacheWriteTokenCount = "X-Amzn-Bedrock-Cache-Write-Input-Token-Count"
	// HeaderStreamContentType is the content type of the chunks of
	// InvokeModelWithResponseStream.
	HeaderStreamContentType = "X-Amzn-Bedrock-Content-Type"
	// ContentTypeEventStream is the content type of event-stream responses.
	ContentTypeEventStream = "application/vnd.amazon.eventstream"
)

// ErrorTypeSuffix follows the error name in the x-amzn-ErrorType header, as captured from
// the real service.
const ErrorTypeSuffix = ":http://internal.amazon.com/coral/com.amazon.bedrock/"

// An ErrorCode is a Bedrock Runtime error shape with its HTTP status.
type ErrorCode struct {
	// Name is the shape's name, as the x-amzn-ErrorType header carries it.
	Name string
	// Status is the HTTP status of the error's @httpError trait.
	Status int
}

// The error shapes of Bedrock Runtime, with their HTTP statuses.
var (
	ThrottlingException           = ErrorCode{"ThrottlingException", http.StatusTooManyRequests}
	ModelNotReadyException        = ErrorCode{"ModelNotReadyException", http.StatusTooManyRequests}
	ServiceUnavailableException   = ErrorCode{"ServiceUnavailableException", http.StatusServiceUnavailable}
	InternalServerException       = ErrorCode{"InternalServerException", http.StatusInternalServerError}
	ValidationException           = ErrorCode{"ValidationException", http.StatusBadRequest}
	AccessDeniedException         = ErrorCode{"AccessDeniedException", http.StatusForbidden}
	ResourceNotFoundException     = ErrorCode{"ResourceNotFoundException", http.StatusNotFound}
	ModelTimeoutException         = ErrorCode{"ModelTimeoutException", http.StatusRequestTimeout}
	ServiceQuotaExceededException = ErrorCode{"ServiceQuotaExceededException", http.StatusBadRequest}
)

// Messages the real service words its common errors with.
const (
	MsgTooManyTokens       = "Too many tokens, please wait before trying again."
	MsgTooManyRequests     = "Too many requests, please wait before trying again."
	MsgTooManyTokensPerDay = "Too many tokens per day, please wait before trying again."
	MsgUnavailable         = "Bedrock is unable to process your request."
	MsgInvalidModel        = "The provided model identifier is invalid."
	MsgInputTooLong        = "Input is too long for requested model."
)

// ErrorBody is the JSON body of an error response and the payload of an exception frame.
type ErrorBody struct {
	Message string `json:"message"`
}

// WriteError writes an error response the way Bedrock does: the error's status, the
// x-amzn-ErrorType header, the request id and the body {"message": …}.
func WriteError(w http.ResponseWriter, code ErrorCode, requestID, message string) {
	body, _ := json.Marshal(ErrorBody{Message: message}) // a struct of one string always marshals
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set(HeaderErrorType, code.Name+ErrorTypeSuffix)
	h.Set(HeaderRequestID, requestID)
	w.WriteHeader(code.Status)
	_, _ = w.Write(body) // the client may be gone; nothing to do then
}
