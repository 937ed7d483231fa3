package estimate

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestParseInvokeBody(t *testing.T) {
	png := base64.StdEncoding.EncodeToString(pngBytes(t, 200, 200))
	body := `{
	  "anthropic_version": "bedrock-2023-05-31",
	  "max_tokens": 512,
	  "system": [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}],
	  "tools": [{"name": "lookup", "description": "Finds a clause.", "input_schema": {"type": "object"}}],
	  "messages": [
	    {"role": "user", "content": "Hello"},
	    {"role": "assistant", "content": [{"type": "thinking", "thinking": "hmm"}, {"type": "tool_use", "id": "t1", "name": "lookup", "input": {"clause": 4}}]},
	    {"role": "user", "content": [
	      {"type": "tool_result", "tool_use_id": "t1", "content": "Net 30."},
	      {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "` + png + `"}},
	      {"type": "document", "title": "deal", "source": {"type": "text", "media_type": "text/plain", "data": "The term is five years."}},
	      {"type": "document", "source": {"type": "content", "content": [{"type": "text", "text": "Clause 1. "}, {"type": "text", "text": "Clause 2."}]}}
	    ]}
	  ]
	}`
	r, err := ParseInvokeBody([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if r.MaxTokens != 512 || len(r.System) != 2 || r.System[1].Kind != CachePoint || len(r.Tools) != 1 || r.Tools[0].Schema != `{"type": "object"}` || len(r.Messages) != 3 {
		t.Fatalf("ParseInvokeBody = %+v", r)
	}
	last := r.Messages[2].Content
	if last[0].Kind != ToolResult || last[0].Content[0].Text != "Net 30." || last[1].Kind != Image || last[2].Document.Text != "The term is five years." || last[3].Document.Text != "Clause 1. Clause 2." {
		t.Errorf("last message = %+v", last)
	}
	in := newEstimator(t, Config{}).Input("m", r)
	if in.Fixed != DefaultToolPromptTokens+3*DefaultMessageTokens+54 {
		t.Errorf("Fixed = %d, want tool prompt + 3 messages + a 54-token image", in.Fixed)
	}
}

func TestParseInvokeBodyErrors(t *testing.T) {
	tests := []struct{ body, want string }{
		{``, "EOF"},
		{`not json`, "invalid character"},
		{`{"messages": []}`, "needs at least one message"},
		{`{"messages": [{"role": "system", "content": "x"}]}`, `use "user" or "assistant"`},
		{`{"messages": [{"role": "user", "content": 42}]}`, "string or an array of content blocks"},
		{`{"max_tokens": -1, "messages": [{"role": "user", "content": "x"}]}`, "must be positive"},
		{`{"messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "base64", "data": "!!"}}]}]}`, "not base64"},
		{`{"messages": [{"role": "user", "content": "x"}]} {}`, "exactly one JSON object"},
	}
	for _, tt := range tests {
		_, err := ParseInvokeBody([]byte(tt.body))
		if !errors.Is(err, ErrInvokeBody) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseInvokeBody(%q) error = %v, want ErrInvokeBody mentioning %q", tt.body, err, tt.want)
		}
	}
}

func FuzzParseInvokeBody(f *testing.F) {
	f.Add([]byte(`{"max_tokens": 10, "system": "s", "messages": [{"role": "user", "content": "hi"}]}`))
	f.Add([]byte(`{"messages": [{"role": "user", "content": [{"type": "tool_result", "content": [{"type": "text", "text": "x", "cache_control": {}}]}]}]}`))
	f.Add([]byte(`{"messages": [{"role": "user", "content": [{"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQ="}}]}]}`))
	f.Add([]byte(`{"messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}]}]}`))
	f.Add([]byte(`{"messages": [{"role": "assistant", "content": [{"type": "server_tool_use", "input": {}}]}]}`))
	f.Add([]byte(`{"messages": [{"role": "user", "content": [{"type": "document", "source": {"type": "content", "content": [{"type": "text", "text": "x"}]}}]}]}`))
	e, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseInvokeBody(body)
		if err != nil {
			if !errors.Is(err, ErrInvokeBody) {
				t.Fatalf("error %v does not wrap ErrInvokeBody", err)
			}
			return
		}
		if in := e.Input("m", r); in.Tokens < 0 || in.Tokens != in.Counted+in.Fixed {
			t.Fatalf("Input = %+v for a parsed body", in)
		}
	})
}
