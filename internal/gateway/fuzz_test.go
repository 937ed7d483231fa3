package gateway

import (
	"crypto/sha256"
	"encoding/binary"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/wire"
)

// FuzzVerifySigV4 feeds arbitrary Authorization headers, dates, paths and bodies to the
// parser and the verifier: nothing panics, and whatever verifies is a correct signature
// (the fuzzer cannot forge one, so only the seed signed with the real secret may pass).
func FuzzVerifySigV4(f *testing.F) {
	creds := derive([]byte("0123456789abcdef0123456789abcdef"), "TGAAAAAAAAAAAAAAAAAA")
	at := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	seed := httptestRequest(f, "http://gw/model/a%3Ab/converse", `{"m":1}`)
	signRequest(f, seed, creds, []byte(`{"m":1}`), at)
	f.Add(seed.Header.Get("Authorization"), seed.Header.Get("X-Amz-Date"), "/model/a%3Ab/converse", "", `{"m":1}`)
	f.Add("AWS4-HMAC-SHA256 Credential=TGAAAAAAAAAAAAAAAAAA/20261204/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=00", "20261204T120000Z", "/", "a=b&c", "")
	f.Add("AWS4-HMAC-SHA256 Credential=///, SignedHeaders=;;, Signature=zz", "x", "/%zz", "%", "\x00")
	f.Fuzz(func(t *testing.T, auth, date, path, query, body string) {
		a, err := parseSigV4(auth)
		if err != nil {
			return
		}
		r := &http.Request{Method: "POST", Host: "gw", Header: http.Header{"X-Amz-Date": {date}, "Content-Type": {"application/json"}}, RequestURI: path + "?" + query}
		r.URL = seed.URL
		sum := sha256.Sum256([]byte(body))
		if verifySigV4(r, a, creds.SecretAccessKey, sum[:], at) == nil && auth != seed.Header.Get("Authorization") {
			t.Fatalf("a signature the fuzzer made up verified: %q", auth)
		}
	})
}

// FuzzGatewayRequest sends arbitrary paths, headers and bodies through the whole
// request handling (routing, authentication, body reading, priority): nothing panics
// and every refusal of a /model/ request is an AWS-shaped error.
func FuzzGatewayRequest(f *testing.F) {
	path := filepath.Join(f.TempDir(), "gateway.yaml")
	creds, err := CreateKey(path, "team-a", time.Now())
	if err != nil {
		f.Fatal(err)
	}
	keys, err := OpenKeys(path)
	if err != nil {
		f.Fatal(err)
	}
	s, err := New(Config{Keys: keys, Handler: echoHandler{}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("/model/a%3Ab/converse", "Bearer "+creds.BearerToken, "", `{"requestMetadata":{"priority":"high"}}`)
	f.Add("/model/a/invoke", "Bearer "+creds.BearerToken, "low", `{}`)
	f.Add("/model/a/converse-stream", "Bearer "+creds.BearerToken, "", `{"requestMetadata":{"priority":7}}`)
	f.Add("/model/%2F%ZZ/count-tokens", "AWS4-HMAC-SHA256 Credential=TGAAAAAAAAAAAAAAAAAA/20261204/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=00", "", "")
	f.Add("/model//converse", "Bearer tg__", "\x00", "\xff")
	f.Fuzz(func(t *testing.T, target, auth, prio, body string) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n") {
			return
		}
		r, err := http.NewRequest("POST", "http://gw"+target, strings.NewReader(body))
		if err != nil {
			return
		}
		r.RequestURI = target
		r.Header.Set("Authorization", auth)
		r.Header.Set("X-Tollgate-Priority", prio)
		rec := newRecorder()
		s.ServeHTTP(rec, r)
		// Paths outside /model/ are not Bedrock's and get plain errors; the mux may
		// redirect unclean paths (// or ..) before they reach the gateway.
		redirect := rec.status == 301 || rec.status == 307 || rec.status == 308
		if strings.HasPrefix(target, "/model/") && rec.status != 200 && !redirect && rec.header.Get("X-Amzn-Errortype") == "" {
			t.Fatalf("status %d without x-amzn-ErrorType: %s", rec.status, rec.body.String())
		}
	})
}

// FuzzParseConfig: no configuration file makes the parser panic, and one it accepts has
// every key's tenant defined.
func FuzzParseConfig(f *testing.F) {
	f.Add("tenants: {a: {tokens_per_minute: 5, models: [\"x*\"], max_priority: critical}}\nkeys: {TGAAAAAAAAAAAAAAAAAA: {tenant: a}}")
	f.Add("tenants: [1]\nkeys: 3")
	f.Add("master_secret_file: /x\n")
	f.Fuzz(func(t *testing.T, data string) {
		file, rules, err := parseFile("gateway.yaml", []byte(data))
		if err != nil {
			return
		}
		for id, k := range file.Keys {
			if rules[k.Tenant] == nil {
				t.Fatalf("accepted key %s of undefined tenant %q", id, k.Tenant)
			}
		}
	})
}

// FuzzRelayRequest feeds arbitrary bodies to what the relay reads from a caller's body
// (the estimate of every operation, the priority) and arbitrary bytes to the stream
// reader as an upstream's answer: nothing panics, every Converse body it accepts has
// messages, and a frame read is the length its prelude says.
func FuzzRelayRequest(f *testing.F) {
	f.Add(`{"messages":[{"role":"user","content":[{"text":"hi"},{"cachePoint":{"type":"default"}},{"image":{"format":"png","source":{"bytes":"iVBORw0KGgo="}}}]}],"system":[{"text":"s"}],"inferenceConfig":{"maxTokens":5},"toolConfig":{"tools":[{"toolSpec":{"name":"t","inputSchema":{"json":{}}}},{"cachePoint":{}}]}}`)
	f.Add(`{"messages":[{"role":"user","content":[{"toolResult":{"content":[{"toolResult":{"content":[{"text":"x"}]}}]}}]}]}`)
	f.Add(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`)
	f.Add(`{"prompt":"hi"}`)
	f.Add("\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	f.Fuzz(func(t *testing.T, body string) {
		for _, op := range []wire.Operation{wire.Converse, wire.ConverseStream, wire.InvokeModel, wire.InvokeModelWithResponseStream} {
			req, err := requestOf(op, []byte(body))
			if err == nil && (op == wire.Converse || op == wire.ConverseStream) && len(req.Messages) == 0 {
				t.Fatalf("a Converse body without messages was accepted: %q", body)
			}
		}
		_ = converseUsage([]byte(body))
		r := strings.NewReader(body)
		for {
			frame, err := readFrame(r)
			if err != nil {
				break
			}
			if n := binary.BigEndian.Uint32(frame[:4]); int(n) != len(frame) {
				t.Fatalf("a frame of %d bytes whose prelude says %d", len(frame), n)
			}
		}
	})
}
