package wire

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Operation names a Bedrock Runtime operation by the last segment of its request path.
type Operation string

// The operations served under /model/{modelId}/.
const (
	// Converse is POST /model/{modelId}/converse.
	Converse Operation = "converse"
	// ConverseStream is POST /model/{modelId}/converse-stream.
	ConverseStream Operation = "converse-stream"
	// InvokeModel is POST /model/{modelId}/invoke.
	InvokeModel Operation = "invoke"
	// InvokeModelWithResponseStream is POST /model/{modelId}/invoke-with-response-stream.
	InvokeModelWithResponseStream Operation = "invoke-with-response-stream"
	// CountTokens is POST /model/{modelId}/count-tokens.
	CountTokens Operation = "count-tokens"
)

// ErrUnknownPath is returned by ParsePath for a path that names no Bedrock Runtime
// model operation.
var ErrUnknownPath = errors.New("unknown path")

// ParsePath splits an escaped request path of the form /model/{modelId}/{operation} into
// the unescaped model id and the operation. It must be given r.URL.EscapedPath(), not
// r.URL.Path: the SDK escapes every byte of the model id outside A-Za-z0-9-._~, so an
// inference-profile ARN arrives with its slashes as %2F and only the escaped path keeps
// the segments apart.
func ParsePath(escaped string) (modelID string, op Operation, err error) {
	rest, ok := strings.CutPrefix(escaped, "/model/")
	if !ok {
		return "", "", fmt.Errorf("%w %q: want /model/{modelId}/{operation}", ErrUnknownPath, escaped)
	}
	seg, opName, ok := strings.Cut(rest, "/")
	if !ok || seg == "" || strings.Contains(opName, "/") {
		return "", "", fmt.Errorf("%w %q: want /model/{modelId}/{operation}", ErrUnknownPath, escaped)
	}
	switch op = Operation(opName); op {
	case Converse, ConverseStream, InvokeModel, InvokeModelWithResponseStream, CountTokens:
	default:
		return "", "", fmt.Errorf("%w %q: no operation %q", ErrUnknownPath, escaped, opName)
	}
	modelID, err = url.PathUnescape(seg)
	if err != nil {
		return "", "", fmt.Errorf("%w %q: bad escaping in the model id: %v", ErrUnknownPath, escaped, err)
	}
	return modelID, op, nil
}

// Streaming reports whether the operation answers with an event stream.
func (op Operation) Streaming() bool {
	return op == ConverseStream || op == InvokeModelWithResponseStream
}

// Credential is the part of a SigV4 Authorization header that identifies the caller: the
// access key id and the region of the credential scope.
type Credential struct {
	AccessKeyID string
	Region      string
}

// ParseCredential reads the access key id and region from a SigV4 Authorization header
// ("AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/bedrock/aws4_request, ...").
// The signature is not checked. It reports false when the header has no credential scope.
func ParseCredential(authorization string) (Credential, bool) {
	_, after, ok := strings.Cut(authorization, "Credential=")
	if !ok {
		return Credential{}, false
	}
	scope, _, _ := strings.Cut(after, ",")
	parts := strings.Split(strings.TrimSpace(scope), "/")
	if len(parts) != 5 || parts[0] == "" || parts[2] == "" {
		return Credential{}, false
	}
	return Credential{AccessKeyID: parts[0], Region: parts[2]}, true
}
