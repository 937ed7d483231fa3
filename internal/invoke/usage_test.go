package invoke_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/tollgate-dev/tollgate/internal/invoke"
)

func TestConverseUsage(t *testing.T) {
	e := startEmulator(t, options(100_000, 17))
	client := newClient(t, e.URL)
	out, err := client.Converse(ctxT(t), converseInput("four words of prompt", 100))
	if err != nil {
		t.Fatalf("Converse: %v", err)
	}
	if got, want := invoke.ConverseUsage(out), (invoke.Usage{Input: 4, Output: 17, Known: true}); got != want {
		t.Errorf("ConverseUsage = %+v, want %+v", got, want)
	}
	if got := invoke.ConverseUsage(nil); got.Known {
		t.Errorf("ConverseUsage(nil) = %+v, want unknown", got)
	}
	if got := invoke.ConverseUsage(&bedrockruntime.ConverseOutput{}); got.Known {
		t.Errorf("ConverseUsage without usage = %+v, want unknown", got)
	}
}

func TestInvokeUsage(t *testing.T) {
	e := startEmulator(t, options(100_000, 23))
	client := newClient(t, e.URL)
	out, err := client.InvokeModel(ctxT(t), &bedrockruntime.InvokeModelInput{
		ModelId: aws.String(nova), ContentType: aws.String("application/json"),
		Body: anthropicBody(t, "five words of a prompt", 100),
	})
	if err != nil {
		t.Fatalf("InvokeModel: %v", err)
	}
	if got, want := invoke.InvokeUsage(out), (invoke.Usage{Input: 5, Output: 23, Known: true}); got != want {
		t.Errorf("InvokeUsage = %+v, want %+v", got, want)
	}
}

// TestInvokeUsageHeaders reads the usage headers, the cache headers included, and
// reports an unknown usage when they are absent or malformed.
func TestInvokeUsageHeaders(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string]string
		want    invoke.Usage
	}{
		{"all", map[string]string{invoke.HeaderInputTokens: "14", invoke.HeaderOutputTokens: "36",
			invoke.HeaderCacheReadTokens: "100", invoke.HeaderCacheWriteTokens: "7"},
			invoke.Usage{Input: 14, Output: 36, CacheRead: 100, CacheWrite: 7, Known: true}},
		{"no cache headers", map[string]string{invoke.HeaderInputTokens: "14", invoke.HeaderOutputTokens: "36"},
			invoke.Usage{Input: 14, Output: 36, Known: true}},
		{"absent", nil, invoke.Usage{}},
		{"output missing", map[string]string{invoke.HeaderInputTokens: "14"}, invoke.Usage{}},
		{"malformed", map[string]string{invoke.HeaderInputTokens: "x", invoke.HeaderOutputTokens: "36"}, invoke.Usage{}},
		{"negative", map[string]string{invoke.HeaderInputTokens: "-1", invoke.HeaderOutputTokens: "36"}, invoke.Usage{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.headers {
					w.Header().Set(k, v)
				}
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(`{"type":"message","content":[{"type":"text","text":"hi"}]}`))
			}))
			t.Cleanup(srv.Close)
			out, err := newClient(t, srv.URL).InvokeModel(ctxT(t), &bedrockruntime.InvokeModelInput{
				ModelId: aws.String(nova), ContentType: aws.String("application/json"), Body: anthropicBody(t, "hi", 10)})
			if err != nil {
				t.Fatalf("InvokeModel: %v", err)
			}
			if got := invoke.InvokeUsage(out); got != tt.want {
				t.Errorf("InvokeUsage = %+v, want %+v", got, tt.want)
			}
		})
	}
	if got := invoke.InvokeUsage(nil); got.Known {
		t.Errorf("InvokeUsage(nil) = %+v", got)
	}
	if got := invoke.InvokeUsage(&bedrockruntime.InvokeModelOutput{}); got.Known {
		t.Errorf("InvokeUsage without metadata = %+v", got)
	}
}

// TestUsageWithPromptCache reads cache reads and writes from each API's usage: the
// emulator caches the prefix up to a cache point, written by the first call and read
// by the second.
func TestUsageWithPromptCache(t *testing.T) {
	e := startEmulator(t, options(100_000, 10))
	client := newClient(t, e.URL)
	system := []types.SystemContentBlock{
		&types.SystemContentBlockMemberText{Value: "a b c d"},
		&types.SystemContentBlockMemberCachePoint{Value: types.CachePointBlock{Type: types.CachePointTypeDefault}},
	}
	want := []invoke.Usage{
		{Input: 2, CacheWrite: 4, Output: 10, Known: true},
		{Input: 2, CacheRead: 4, Output: 10, Known: true},
	}
	t.Run("converse", func(t *testing.T) {
		in := converseInput("x y", 100)
		in.System = system
		for i := range 2 {
			out, err := client.Converse(ctxT(t), in)
			if err != nil {
				t.Fatalf("Converse: %v", err)
			}
			if got := invoke.ConverseUsage(out); got != want[i] {
				t.Errorf("call %d: ConverseUsage = %+v, want %+v", i, got, want[i])
			}
		}
	})
	t.Run("converse stream", func(t *testing.T) {
		in := converseStreamInput("x y z", 100) // another prefix: its own cache entry
		in.System = []types.SystemContentBlock{
			&types.SystemContentBlockMemberText{Value: "e f g h"},
			&types.SystemContentBlockMemberCachePoint{Value: types.CachePointBlock{Type: types.CachePointTypeDefault}},
		}
		for i := range 2 {
			out, err := client.ConverseStream(ctxT(t), in)
			if err != nil {
				t.Fatalf("ConverseStream: %v", err)
			}
			var rec endRecorder
			invoke.WatchConverseStream(out, rec.done)
			readConverse(out.GetStream())
			out.GetStream().Close()
			w := want[i]
			w.Input = 3
			if got := rec.only(t).Usage; got != w {
				t.Errorf("call %d: stream usage = %+v, want %+v", i, got, w)
			}
		}
	})
	t.Run("invoke", func(t *testing.T) {
		body := []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":100,` +
			`"system":[{"type":"text","text":"i j k l","cache_control":{"type":"ephemeral"}}],` +
			`"messages":[{"role":"user","content":[{"type":"text","text":"x y"}]}]}`)
		for i := range 2 {
			out, err := client.InvokeModel(ctxT(t), &bedrockruntime.InvokeModelInput{
				ModelId: aws.String(nova), ContentType: aws.String("application/json"), Body: body})
			if err != nil {
				t.Fatalf("InvokeModel: %v", err)
			}
			if got := invoke.InvokeUsage(out); got != want[i] {
				t.Errorf("call %d: InvokeUsage = %+v, want %+v", i, got, want[i])
			}
		}
	})
	t.Run("invoke stream", func(t *testing.T) {
		body := []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":100,` +
			`"system":[{"type":"text","text":"m n o p","cache_control":{"type":"ephemeral"}}],` +
			`"messages":[{"role":"user","content":[{"type":"text","text":"x y"}]}]}`)
		for i := range 2 {
			out, err := client.InvokeModelWithResponseStream(ctxT(t), &bedrockruntime.InvokeModelWithResponseStreamInput{
				ModelId: aws.String(nova), ContentType: aws.String("application/json"), Body: body})
			if err != nil {
				t.Fatalf("InvokeModelWithResponseStream: %v", err)
			}
			var rec endRecorder
			invoke.WatchInvokeStream(out, rec.done)
			readInvoke(t, out.GetStream())
			out.GetStream().Close()
			if got := rec.only(t).Usage; got != want[i] {
				t.Errorf("call %d: stream usage = %+v, want %+v", i, got, want[i])
			}
		}
	})
}
