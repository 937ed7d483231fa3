package gateway

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate-dev/tollgate/internal/wire"
)

// A model id with the ':' that is escaped twice in the canonical URI, and an
// inference-profile ARN whose '/' arrives as %2F.
const (
	testModel = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
	testARN   = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0"
)

// echoHandler answers every call with a Converse-shaped reply whose text describes the
// call as the gateway handed it over, so tests see what the shell decided.
type echoHandler struct{}

func (echoHandler) ServeCall(w http.ResponseWriter, _ *http.Request, c *Call) {
	desc := fmt.Sprintf("op=%s model=%s tenant=%s key=%s priority=%s bytes=%d", c.Operation, c.ModelID, c.Caller.Tenant, c.Caller.KeyID, c.Priority, len(c.Body))
	w.Header().Set(wire.HeaderRequestID, c.RequestID)
	w.Header().Set("Content-Type", "application/json")
	if c.Operation == wire.InvokeModel {
		_, _ = w.Write([]byte(desc))
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"output":     map[string]any{"message": map[string]any{"role": "assistant", "content": []any{map[string]any{"text": desc}}}},
		"stopReason": "end_turn",
		"usage":      map[string]any{"inputTokens": 1, "outputTokens": 1, "totalTokens": 2},
		"metrics":    map[string]any{"latencyMs": 1},
	})
}

// testGateway is a gateway on a real listener with a fresh configuration.
type testGateway struct {
	URL    string
	Config string // path of the configuration file
	Server *Server
	Creds  Credentials // a key of tenant team-a
	Logs   *syncBuffer
	Reg    *prometheus.Registry
	clock  *testClock
	// httpClient trusts the gateway's certificate when it serves TLS; nil otherwise.
	httpClient *http.Client
}

type testClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newTestGateway starts a gateway whose configuration has tenant team-a (configured by
// tenantYAML when not empty) and one key of it.
func newTestGateway(t testing.TB, cfg Config) *testGateway {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	creds, err := CreateKey(path, "team-a", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	keys, err := OpenKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	g := &testGateway{Config: path, Creds: creds, Logs: &syncBuffer{}, Reg: prometheus.NewRegistry(), clock: &testClock{}}
	cfg.Keys = keys
	if cfg.Handler == nil {
		cfg.Handler = echoHandler{}
	}
	cfg.Metrics = g.Reg
	cfg.Logger = newTextLogger(g.Logs)
	cfg.Now = g.clock.now
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	g.Server = s
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
		}
	})
	g.URL = "http://" + ln.Addr().String()
	if cfg.TLS != nil {
		g.URL = "https://" + ln.Addr().String()
	}
	return g
}

// client is the real Go SDK pointed at the gateway, signing with the key (SigV4), one
// attempt per call so that errors surface as answered.
func (g *testGateway) client(id, secret string) *bedrockruntime.Client {
	cfg := aws.Config{
		Region:      "us-west-2",
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, ""),
	}
	if g.httpClient != nil {
		cfg.HTTPClient = g.httpClient
	}
	return bedrockruntime.NewFromConfig(cfg, func(o *bedrockruntime.Options) {
		o.BaseEndpoint = aws.String(g.URL)
		o.RetryMaxAttempts = 1
	})
}

func converseText(t testing.TB, out *bedrockruntime.ConverseOutput) string {
	t.Helper()
	msg, ok := out.Output.(*types.ConverseOutputMemberMessage)
	if !ok || len(msg.Value.Content) == 0 {
		t.Fatalf("Converse output %T has no message", out.Output)
	}
	txt, ok := msg.Value.Content[0].(*types.ContentBlockMemberText)
	if !ok {
		t.Fatalf("content %T is not text", msg.Value.Content[0])
	}
	return txt.Value
}

func converseInput(model string, meta map[string]string) *bedrockruntime.ConverseInput {
	return &bedrockruntime.ConverseInput{
		ModelId:         aws.String(model),
		Messages:        []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "hello"}}}},
		RequestMetadata: meta,
	}
}

// TestGatewaySigV4GoSDK: the Go SDK's signatures verify, for a model id with ':' and
// for an inference-profile ARN with '/', on Converse and InvokeModel, and the call
// reaches the handler with the key's tenant and the asked priority.
func TestGatewaySigV4GoSDK(t *testing.T) {
	g := newTestGateway(t, Config{})
	c := g.client(g.Creds.AccessKeyID, g.Creds.SecretAccessKey)
	ctx := context.Background()
	for _, model := range []string{testModel, testARN} {
		out, err := c.Converse(ctx, converseInput(model, map[string]string{"priority": "High"}))
		if err != nil {
			t.Fatalf("Converse %s: %v", model, err)
		}
		got := converseText(t, out)
		want := fmt.Sprintf("op=converse model=%s tenant=team-a key=%s priority=high", model, g.Creds.AccessKeyID)
		if !strings.HasPrefix(got, want) {
			t.Errorf("Converse reached the handler as %q, want prefix %q", got, want)
		}
		inv, err := c.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(model), Body: []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[]}`), ContentType: aws.String("application/json")})
		if err != nil {
			t.Fatalf("InvokeModel %s: %v", model, err)
		}
		if got, want := string(inv.Body), "op=invoke model="+model+" tenant=team-a"; !strings.HasPrefix(got, want) {
			t.Errorf("InvokeModel reached the handler as %q, want prefix %q", got, want)
		}
	}
}

// TestGatewayBearerGoSDK: AWS_BEARER_TOKEN_BEDROCK makes the Go SDK send the gateway
// token as Authorization: Bearer, which the gateway accepts. The Go SDK sends a bearer
// token only over HTTPS, so this runs over TLS (and HTTP/2, which the Go SDK negotiates).
func TestGatewayBearerGoSDK(t *testing.T) {
	tlsCfg, pool := testTLS(t)
	g := newTestGateway(t, Config{TLS: tlsCfg})
	g.httpClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	t.Setenv("AWS_BEARER_TOKEN_BEDROCK", g.Creds.BearerToken)
	// No usable SigV4 credentials: only the token can authenticate the call.
	c := g.client("TGNOTAKEYATALL0000", "wrong")
	out, err := c.Converse(context.Background(), converseInput(testModel, nil))
	if err != nil {
		t.Fatalf("Converse with a bearer token: %v", err)
	}
	if got := converseText(t, out); !strings.Contains(got, "tenant=team-a key="+g.Creds.AccessKeyID+" priority=normal") {
		t.Errorf("handler saw %q, want tenant team-a, the token's key and the default priority", got)
	}
}

// apiError returns the AWS error code and message of err, failing if it is not one.
func apiError(t testing.TB, err error) (code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an AWS API error", err, err)
	}
	return ae.ErrorCode(), ae.ErrorMessage()
}

// TestGatewayAuthRefusedGoSDK: every kind of bad credential gets the AWS error the SDK
// raises as its usual exception, with a message naming the problem and never a secret.
func TestGatewayAuthRefusedGoSDK(t *testing.T) {
	g := newTestGateway(t, Config{})
	revoked, err := CreateKey(g.Config, "team-a", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := RevokeKey(g.Config, revoked.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	g.clock.advance(2 * reloadEvery) // let the running server see the revocation
	cases := []struct {
		name, id, secret string
		wantCode, wantIn string
	}{
		{"wrong secret", g.Creds.AccessKeyID, g.Creds.SecretAccessKey + "x", "InvalidSignatureException", "signature we calculated does not match"},
		{"unknown key", "TGAAAAAAAAAAAAAAAAAA", g.Creds.SecretAccessKey, "UnrecognizedClientException", "security token included in the request is invalid"},
		{"revoked key", revoked.AccessKeyID, revoked.SecretAccessKey, "UnrecognizedClientException", "revoked"},
		{"AWS long-term key", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "UnrecognizedClientException", "tollgate keys create"},
		{"AWS temporary key", "ASIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "UnrecognizedClientException", "tollgate keys create"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := g.client(tc.id, tc.secret).Converse(context.Background(), converseInput(testModel, nil))
			if err == nil {
				t.Fatal("call succeeded, want it refused")
			}
			code, msg := apiError(t, err)
			if code != tc.wantCode || !strings.Contains(msg, tc.wantIn) {
				t.Errorf("got %s %q, want %s containing %q", code, msg, tc.wantCode, tc.wantIn)
			}
			for _, secret := range []string{g.Creds.SecretAccessKey, revoked.SecretAccessKey, tc.secret} {
				if strings.Contains(msg, secret) {
					t.Errorf("the error message contains a secret")
				}
			}
		})
	}
	logs := g.Logs.String()
	for _, secret := range []string{g.Creds.SecretAccessKey, revoked.SecretAccessKey, g.Creds.BearerToken} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains a secret")
		}
	}
	if !strings.Contains(logs, "reason=revoked") || !strings.Contains(logs, "reason=aws_key") {
		t.Errorf("the log does not record the refusals' reasons:\n%s", logs)
	}
}

// TestGatewayAuthRefusedRaw: refusals the SDK cannot produce — no Authorization, a
// signature older than the allowed skew, a body changed after signing, a forged bearer
// token, a malformed header — are AWS-shaped 403s.
func TestGatewayAuthRefusedRaw(t *testing.T) {
	g := newTestGateway(t, Config{})
	body := `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`
	url := g.URL + "/model/" + strings.ReplaceAll(testModel, ":", "%3A") + "/converse"
	signed := func(at time.Time, b string) *http.Request {
		r := httptestRequest(t, url, b)
		signRequest(t, r, g.Creds, []byte(b), at)
		return r
	}
	tampered := signed(time.Now(), body)
	tampered.Body = ioNopCloser(strings.NewReader(strings.Replace(body, "hi", "ho", 1)))
	cases := []struct {
		name     string
		req      *http.Request
		wantType string
		wantIn   string
	}{
		{"unsigned", httptestRequest(t, url, body), "UnrecognizedClientException", "gateway key"},
		{"expired", signed(time.Now().Add(-16*time.Minute), body), "InvalidSignatureException", "Signature expired"},
		{"from the future", signed(time.Now().Add(16*time.Minute), body), "InvalidSignatureException", "Signature not yet current"},
		{"body changed", tampered, "InvalidSignatureException", "does not match"},
		{"forged bearer", withHeader(httptestRequest(t, url, body), "Authorization", "Bearer tg_"+g.Creds.AccessKeyID+"_AAAA"), "UnrecognizedClientException", "bearer token"},
		{"AWS bedrock API key", withHeader(httptestRequest(t, url, body), "Authorization", "Bearer ABSKQmVkcm9ja0FQSUtleQ=="), "UnrecognizedClientException", "tollgate keys create"},
		{"malformed", withHeader(httptestRequest(t, url, body), "Authorization", "AWS4-HMAC-SHA256 Credential=x"), "InvalidSignatureException", "Authorization header"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.DefaultClient.Do(tc.req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var eb wire.ErrorBody
			if err := json.NewDecoder(resp.Body).Decode(&eb); err != nil {
				t.Fatalf("error body is not JSON: %v", err)
			}
			gotType, _, _ := strings.Cut(resp.Header.Get("X-Amzn-ErrorType"), ":")
			if resp.StatusCode != http.StatusForbidden || gotType != tc.wantType || !strings.Contains(eb.Message, tc.wantIn) {
				t.Errorf("got %d %s %q, want 403 %s containing %q", resp.StatusCode, gotType, eb.Message, tc.wantType, tc.wantIn)
			}
			if resp.Header.Get("X-Amzn-Requestid") == "" {
				t.Error("no x-amzn-RequestId")
			}
		})
	}
	// The same request, signed now or within the allowed skew and unchanged, is
	// accepted: the cases above fail for their reason only.
	for _, skew := range []time.Duration{0, -14 * time.Minute, 14 * time.Minute} {
		resp, err := http.DefaultClient.Do(signed(time.Now().Add(skew), body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("a correctly signed raw request (clock %v off) got %d", skew, resp.StatusCode)
		}
	}
}

// TestGatewayKeyCreatedWhileRunning: a key created in the running gateway's
// configuration works without a restart once the file is rechecked.
func TestGatewayKeyCreatedWhileRunning(t *testing.T) {
	g := newTestGateway(t, Config{})
	c := g.client(g.Creds.AccessKeyID, g.Creds.SecretAccessKey)
	if _, err := c.Converse(context.Background(), converseInput(testModel, nil)); err != nil {
		t.Fatal(err)
	}
	fresh, err := CreateKey(g.Config, "team-b", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	g.clock.advance(2 * reloadEvery)
	out, err := g.client(fresh.AccessKeyID, fresh.SecretAccessKey).Converse(context.Background(), converseInput(testModel, nil))
	if err != nil {
		t.Fatalf("a key created while the gateway runs: %v", err)
	}
	if got := converseText(t, out); !strings.Contains(got, "tenant=team-b") {
		t.Errorf("handler saw %q, want tenant team-b", got)
	}
}

// TestGatewayAllowedModels: a tenant limited to some models is refused the others with
// AccessDeniedException.
func TestGatewayAllowedModels(t *testing.T) {
	g := newTestGateway(t, Config{})
	writeConfig(t, g.Config, strings.Replace(readFile(t, g.Config), "team-a: {}", "team-a:\n        models: [\"us.anthropic.*\"]", 1))
	g.clock.advance(2 * reloadEvery)
	c := g.client(g.Creds.AccessKeyID, g.Creds.SecretAccessKey)
	if _, err := c.Converse(context.Background(), converseInput(testModel, nil)); err != nil {
		t.Fatalf("allowed model refused: %v", err)
	}
	_, err := c.Converse(context.Background(), converseInput("amazon.nova-pro-v1:0", nil))
	if code, msg := apiError(t, err); code != "AccessDeniedException" || !strings.Contains(msg, "amazon.nova-pro-v1:0") {
		t.Errorf("got %s %q, want AccessDeniedException naming the model", code, msg)
	}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeConfig(t testing.TB, path, content string) {
	t.Helper()
	if err := writeFileAtomic(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestGatewayBrokenConfigKeepsServing: a configuration edited into something that does
// not load is logged (once) and the last good one keeps serving.
func TestGatewayBrokenConfigKeepsServing(t *testing.T) {
	g := newTestGateway(t, Config{})
	writeConfig(t, g.Config, readFile(t, g.Config)+"tenants_typo: {}\n")
	g.clock.advance(2 * reloadEvery)
	c := g.client(g.Creds.AccessKeyID, g.Creds.SecretAccessKey)
	for range 2 {
		if _, err := c.Converse(context.Background(), converseInput(testModel, nil)); err != nil {
			t.Fatalf("with a broken file on disk: %v", err)
		}
	}
	logs := g.Logs.String()
	if n := strings.Count(logs, "gateway configuration not reloaded"); n != 1 || !strings.Contains(logs, "tenants_typo") {
		t.Errorf("want one log line naming the problem (tenants_typo), got %d in:\n%s", n, logs)
	}
}
