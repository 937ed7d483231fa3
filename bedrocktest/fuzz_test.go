package bedrocktest_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/bedrocktest"
)

// FuzzRequestBody sends arbitrary bodies to every operation: each answer must be a
// success or a modeled error with a message, and nothing may panic.
func FuzzRequestBody(f *testing.F) {
	opts := quickOptions()
	opts.Counter = nil // the real tokenizer sees the fuzzed text too
	h, err := bedrocktest.New(opts)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(h.Close)
	ops := []string{"converse", "converse-stream", "invoke", "invoke-with-response-stream", "count-tokens"}
	f.Add(uint8(0), []byte(`{"messages":[{"role":"user","content":[{"text":"hi"},{"cachePoint":{"type":"default"}}]}],"inferenceConfig":{"maxTokens":10}}`))
	f.Add(uint8(2), []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`))
	f.Add(uint8(3), []byte(`{"anthropic_version":"v","max_tokens":3,"messages":[{"role":"user","content":[{"type":"image","source":{}}]}]}`))
	f.Add(uint8(4), []byte(`{"input":{"invokeModel":{"body":"eyJhIjoxfQ=="}}}`))
	f.Add(uint8(4), []byte(`{"input":{"converse":{"messages":[{"role":"user","content":[{"text":"a b"}]}]}}}`))
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		model := sonnetUS
		if op%2 == 0 {
			model = nova
		}
		if ops[int(op)%len(ops)] == "count-tokens" {
			model = sonnet
		}
		path := "/model/" + strings.ReplaceAll(model, ":", "%3A") + "/" + ops[int(op)%len(ops)]
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", path, strings.NewReader(string(body))))
		switch rec.Code {
		case 200:
			if ct := rec.Header().Get("Content-Type"); ct == "application/json" && !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("invalid JSON answer %q", rec.Body)
			}
		case 400, 429:
			var e struct{ Message string }
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Message == "" || rec.Header().Get("X-Amzn-ErrorType") == "" {
				t.Fatalf("error answer without a type or message: %d %v %q", rec.Code, rec.Header(), rec.Body)
			}
		default:
			t.Fatalf("status %d for %s %q", rec.Code, path, body)
		}
	})
}

// FuzzConfig feeds arbitrary YAML to the configuration parser and New.
func FuzzConfig(f *testing.F) {
	f.Add([]byte(sampleConfig))
	f.Add([]byte("window: clock\ntime_scale: -3"))
	f.Add([]byte("models: [{id: a.b, limits: {global: {tokens_per_minute: 1}}}]\npresets: false"))
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := bedrocktest.ParseOptions(data)
		if err != nil {
			return
		}
		o.Counter = wordCounter{}
		if h, err := bedrocktest.New(o); err == nil {
			h.Close()
		}
	})
}
