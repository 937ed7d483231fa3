package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

func TestParsePath(t *testing.T) {
	tests := []struct {
		path      string
		wantModel string
		wantOp    Operation
		wantErr   bool
	}{
		{"/model/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse", "us.anthropic.claude-3-7-sonnet-20250219-v1:0", Converse, false},
		{"/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.a.b-v1%3A0/converse-stream",
			"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.a.b-v1:0", ConverseStream, false},
		{"/model/a.b/invoke", "a.b", InvokeModel, false},
		{"/model/a.b/invoke-with-response-stream", "a.b", InvokeModelWithResponseStream, false},
		{"/model/a.b/count-tokens", "a.b", CountTokens, false},
		{"/model/a.b/dance", "", "", true},
		{"/model//converse", "", "", true},
		{"/model/a/b/converse", "", "", true}, // an unescaped slash splits the id
		{"/model/a%ZZ/converse", "", "", true},
		{"/async-invoke", "", "", true},
	}
	for _, tt := range tests {
		model, op, err := ParsePath(tt.path)
		if (err != nil) != tt.wantErr || model != tt.wantModel || op != tt.wantOp {
			t.Errorf("ParsePath(%q) = %q, %q, %v; want %q, %q, error %v", tt.path, model, op, err, tt.wantModel, tt.wantOp, tt.wantErr)
		}
		if err != nil && !errors.Is(err, ErrUnknownPath) {
			t.Errorf("ParsePath(%q) error %v does not wrap ErrUnknownPath", tt.path, err)
		}
	}
}

func TestParseCredential(t *testing.T) {
	got, ok := ParseCredential("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/eu-west-1/bedrock/aws4_request, SignedHeaders=host, Signature=abc")
	if !ok || got != (Credential{"AKIDEXAMPLE", "eu-west-1"}) {
		t.Errorf("got %+v, %v", got, ok)
	}
	for _, bad := range []string{"", "Bearer x", "AWS4-HMAC-SHA256 Credential=AKID/2026", "AWS4-HMAC-SHA256 Credential=/a/b/c/d"} {
		if _, ok := ParseCredential(bad); ok {
			t.Errorf("ParseCredential(%q) accepted", bad)
		}
	}
}

func TestWriteError(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteError(rec, ThrottlingException, "req-1", MsgTooManyTokens)
	// The captured real response: 429, this header, this 63-byte body.
	if rec.Code != 429 || rec.Header().Get("X-Amzn-ErrorType") != "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/" ||
		rec.Header().Get("X-Amzn-RequestId") != "req-1" || rec.Body.String() != `{"message":"Too many tokens, please wait before trying again."}` || rec.Body.Len() != 63 {
		t.Errorf("got %d %v %q", rec.Code, rec.Header(), rec.Body)
	}
}

// TestEventWriter decodes the frames with the SDK's own decoder.
func TestEventWriter(t *testing.T) {
	var buf bytes.Buffer
	flushes := 0
	ew := NewEventWriter(&buf, func() error { flushes++; return nil })
	if err := ew.Event(EventMessageStop, MessageStopEvent{StopReason: StopEndTurn}); err != nil {
		t.Fatal(err)
	}
	if err := ew.Exception(ServiceUnavailableException, MsgUnavailable); err != nil {
		t.Fatal(err)
	}
	dec := eventstream.NewDecoder()
	want := []struct{ kind, name, payload string }{
		{"event", "messageStop", `{"stopReason":"end_turn"}`},
		{"exception", "serviceUnavailableException", `{"message":"Bedrock is unable to process your request."}`},
	}
	for i, w := range want {
		msg, err := dec.Decode(&buf, nil)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		nameHeader := ":event-type"
		if w.kind == "exception" {
			nameHeader = ":exception-type"
		}
		if got := msg.Headers.Get(":message-type").String(); got != w.kind {
			t.Errorf("frame %d: message type %q, want %q", i, got, w.kind)
		}
		if got := msg.Headers.Get(nameHeader).String(); got != w.name {
			t.Errorf("frame %d: %s %q, want %q", i, nameHeader, got, w.name)
		}
		if string(msg.Payload) != w.payload {
			t.Errorf("frame %d: payload %s, want %s", i, msg.Payload, w.payload)
		}
	}
	if flushes != 2 {
		t.Errorf("%d flushes, want one per frame", flushes)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name   string
		decode func([]byte) error
		body   string
		want   string
	}{
		{"converse: no messages", decConverse, `{"messages":[]}`, "at least one message"},
		{"converse: bad role", decConverse, `{"messages":[{"role":"system","content":[]}]}`, `"system" is not one of`},
		{"converse: zero maxTokens", decConverse, `{"messages":[{"role":"user","content":[]}],"inferenceConfig":{"maxTokens":0}}`, "less than the minimum 1"},
		{"converse: trailing data", decConverse, `{"messages":[{"role":"user","content":[]}]} {}`, "data after"},
		{"converse: array", decConverse, `[]`, "must be a JSON object"},
		{"anthropic: no version", decAnthropic, `{"max_tokens":1,"messages":[{"role":"user","content":"x"}]}`, "[anthropic_version]"},
		{"anthropic: no max_tokens", decAnthropic, `{"anthropic_version":"v","messages":[{"role":"user","content":"x"}]}`, "[max_tokens]"},
		{"anthropic: bad content", decAnthropic, `{"anthropic_version":"v","max_tokens":1,"messages":[{"role":"user","content":5}]}`, "cannot unmarshal"},
		{"count: neither", decCount, `{"input":{}}`, "exactly one of"},
		{"count: both", decCount, `{"input":{"converse":{"messages":[]},"invokeModel":{"body":""}}}`, "exactly one of"},
		{"count: bad base64", decCount, `{"input":{"invokeModel":{"body":"%%%"}}}`, "illegal base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.decode([]byte(tt.body))
			if err == nil || !errors.Is(err, ErrMalformed) || !bytes.Contains([]byte(err.Error()), []byte(tt.want)) {
				t.Errorf("error = %v, want ErrMalformed mentioning %q", err, tt.want)
			}
		})
	}
}

func decConverse(b []byte) error  { _, err := DecodeConverse(b); return err }
func decAnthropic(b []byte) error { _, err := DecodeAnthropic(b); return err }
func decCount(b []byte) error     { _, err := DecodeCountTokens(b); return err }

func TestAnthropicContentForms(t *testing.T) {
	req, err := DecodeAnthropic([]byte(`{"anthropic_version":"v","max_tokens":5,"system":"sys",
		"messages":[{"role":"user","content":[{"type":"text","text":"a","cache_control":{"type":"ephemeral"}},{"type":"image","source":{}}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(req.System) != 1 || req.System[0].Text != "sys" {
		t.Errorf("system = %+v", req.System)
	}
	blocks := req.Messages[0].Content
	if len(blocks) != 2 || blocks[0].Text != "a" || len(blocks[0].CacheControl) == 0 || blocks[1].Type != "image" || !json.Valid(blocks[1].Raw) {
		t.Errorf("content = %+v", blocks)
	}
}

// The fuzz targets feed arbitrary bodies to the decoders: they must return a request or
// an error wrapping ErrMalformed, never panic.
func FuzzDecodeConverse(f *testing.F) {
	f.Add([]byte(`{"messages":[{"role":"user","content":[{"text":"hi"},{"cachePoint":{"type":"default"}}]}],"inferenceConfig":{"maxTokens":10}}`))
	f.Add([]byte(`{"messages":[{"role":"user","content":[{"image":{"format":"png","source":{"bytes":"AA=="}}}]}],"system":[{"text":"s"}]}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeConverse(body)
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		}
		if err == nil && len(req.Messages) == 0 {
			t.Fatal("accepted a request without messages")
		}
	})
}

func FuzzDecodeAnthropic(f *testing.F) {
	f.Add([]byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`))
	f.Add([]byte(`{"anthropic_version":"v","max_tokens":1,"system":[{"type":"text","text":"s"}],"messages":[{"role":"assistant","content":[{"type":"tool_use"}]}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeAnthropic(body)
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		}
		if err == nil && (req.MaxTokens == nil || *req.MaxTokens < 1 || len(req.Messages) == 0) {
			t.Fatalf("accepted an invalid request %+v", req)
		}
	})
}

func FuzzDecodeCountTokens(f *testing.F) {
	f.Add([]byte(`{"input":{"converse":{"messages":[{"role":"user","content":[{"text":"hi"}]}]}}}`))
	f.Add([]byte(`{"input":{"invokeModel":{"body":"eyJhIjoxfQ=="}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if _, err := DecodeCountTokens(body); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		}
	})
}

func FuzzParsePath(f *testing.F) {
	f.Add("/model/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse")
	f.Add("/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-profile%2Fx/invoke")
	f.Fuzz(func(t *testing.T, path string) {
		model, op, err := ParsePath(path)
		if err == nil && (model == "" || op == "") {
			t.Fatalf("ParsePath(%q) = %q, %q without error", path, model, op)
		}
	})
}
