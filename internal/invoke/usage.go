package invoke

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/tollgate-dev/tollgate/internal/estimate"
)

// Usage is what the service reported a call used, in model tokens (before any
// burndown). The zero value is an unknown usage.
type Usage struct {
	// Input counts the input tokens charged at the full rate (not cached).
	Input int64
	// Output counts the output tokens.
	Output int64
	// CacheRead counts the input tokens read from the prompt cache.
	CacheRead int64
	// CacheWrite counts the input tokens written to the prompt cache.
	CacheWrite int64
	// Known reports that the service reported the usage; when false the other fields
	// are zero.
	Known bool
}

// The InvokeModel response headers that carry usage. They are not in the API's Smithy
// model, so the SDK exposes them only on the raw response.
const (
	// HeaderInputTokens carries the input tokens charged at the full rate.
	HeaderInputTokens = "X-Amzn-Bedrock-Input-Token-Count"
	// HeaderOutputTokens carries the output tokens.
	HeaderOutputTokens = "X-Amzn-Bedrock-Output-Token-Count"
	// HeaderCacheReadTokens carries the input tokens read from the prompt cache; it is
	// sent only when there are some.
	HeaderCacheReadTokens = "X-Amzn-Bedrock-Cache-Read-Input-Token-Count"
	// HeaderCacheWriteTokens carries the input tokens written to the prompt cache; it
	// is sent only when there are some.
	HeaderCacheWriteTokens = "X-Amzn-Bedrock-Cache-Write-Input-Token-Count"
)

// ConverseUsage returns the usage of a Converse response; Known is false when out or
// its usage is nil.
func ConverseUsage(out *bedrockruntime.ConverseOutput) Usage {
	if out == nil {
		return Usage{}
	}
	return tokenUsage(out.Usage)
}

// tokenUsage converts the SDK's TokenUsage; nil is unknown.
func tokenUsage(u *types.TokenUsage) Usage {
	if u == nil {
		return Usage{}
	}
	return Usage{
		Input:      int64(aws.ToInt32(u.InputTokens)),
		Output:     int64(aws.ToInt32(u.OutputTokens)),
		CacheRead:  int64(aws.ToInt32(u.CacheReadInputTokens)),
		CacheWrite: int64(aws.ToInt32(u.CacheWriteInputTokens)),
		Known:      true,
	}
}

// InvokeUsage returns the usage of an InvokeModel response from its
// X-Amzn-Bedrock-Input-Token-Count and -Output-Token-Count headers, and the cache
// headers when present, read from the raw response in out.ResultMetadata. Known is
// false when either count is absent or not a non-negative integer.
func InvokeUsage(out *bedrockruntime.InvokeModelOutput) Usage {
	if out == nil {
		return Usage{}
	}
	resp, ok := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response)
	if !ok || resp == nil || resp.Response == nil {
		return Usage{}
	}
	return headerUsage(resp.Header)
}

// headerUsage reads usage headers.
func headerUsage(h http.Header) Usage {
	in, okIn := headerCount(h, HeaderInputTokens)
	out, okOut := headerCount(h, HeaderOutputTokens)
	if !okIn || !okOut {
		return Usage{}
	}
	read, _ := headerCount(h, HeaderCacheReadTokens)
	write, _ := headerCount(h, HeaderCacheWriteTokens)
	return Usage{Input: in, Output: out, CacheRead: read, CacheWrite: write, Known: true}
}

func headerCount(h http.Header, name string) (int64, bool) {
	v := strings.TrimSpace(h.Get(name))
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// Estimate is u in the form estimate.SettleCost prices.
func (u Usage) Estimate() estimate.Usage {
	return estimate.Usage{InputTokens: int(u.Input), OutputTokens: int(u.Output), CacheReadTokens: int(u.CacheRead), CacheWriteTokens: int(u.CacheWrite)}
}
