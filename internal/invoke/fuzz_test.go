package invoke

import (
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
)

// FuzzObserveInvoke feeds arbitrary chunk payloads to the InvokeModelWithResponseStream
// observer: it never panics, text only grows, and a known usage is never negative.
func FuzzObserveInvoke(f *testing.F) {
	f.Add([]byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hello "}}`))
	f.Add([]byte(`{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":7,"outputTokenCount":120,"invocationLatency":12,"firstByteLatency":3}}`))
	f.Add([]byte(`{"type":"content_block_delta","delta":{"type":"input_json_delta","partial_json":"{\"a\":"}}`))
	f.Add([]byte(`{"amazon-bedrock-invocationMetrics":{"inputTokenCount":-1,"outputTokenCount":"x"}}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		var o observed
		o.text.WriteString("before")
		observeInvoke(&o, &types.ResponseStreamMemberChunk{Value: types.PayloadPart{Bytes: payload}})
		if !strings.HasPrefix(o.text.String(), "before") {
			t.Fatalf("text lost: %q", o.text.String())
		}
		u := o.usage
		if u.Known && (u.Input < 0 || u.Output < 0 || u.CacheRead < 0 || u.CacheWrite < 0) {
			t.Fatalf("negative usage %+v from %q", u, payload)
		}
		if !u.Known && u != (Usage{}) {
			t.Fatalf("unknown usage with counts %+v", u)
		}
	})
}

// FuzzHeaderUsage feeds arbitrary usage header values to the InvokeModel usage reader.
func FuzzHeaderUsage(f *testing.F) {
	f.Add("14", "36", "", "")
	f.Add("14", "36", "100", "7")
	f.Add("-1", "36", "x", "9999999999999999999999")
	f.Add(" 5 ", "", "1", "1")
	f.Fuzz(func(t *testing.T, in, out, read, write string) {
		h := http.Header{}
		h.Set(HeaderInputTokens, in)
		h.Set(HeaderOutputTokens, out)
		h.Set(HeaderCacheReadTokens, read)
		h.Set(HeaderCacheWriteTokens, write)
		u := headerUsage(h)
		if u.Known && (u.Input < 0 || u.Output < 0 || u.CacheRead < 0 || u.CacheWrite < 0) {
			t.Fatalf("negative usage %+v", u)
		}
		if !u.Known && u != (Usage{}) {
			t.Fatalf("unknown usage with counts %+v", u)
		}
	})
}
