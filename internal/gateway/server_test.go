package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/wire"
)

// signedRequest is a POST of body to the gateway's Converse route for testModel, signed
// by the Go SDK's signer with the test key.
func (g *testGateway) signedRequest(t testing.TB, body string) *http.Request {
	t.Helper()
	r := httptestRequest(t, g.URL+"/model/"+strings.ReplaceAll(testModel, ":", "%3A")+"/converse", body)
	signRequest(t, r, g.Creds, []byte(body), time.Now())
	return r
}

func get(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// errorOf decodes an AWS-shaped error response.
func errorOf(t testing.TB, resp *http.Response) (status int, name, message string) {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	name, _, _ = strings.Cut(resp.Header.Get(wire.HeaderErrorType), ":")
	var eb struct{ Message string }
	_ = jsonUnmarshal(b, &eb)
	return resp.StatusCode, name, eb.Message
}

// TestGatewayEndpoints: /healthz, /readyz (following Ready), /metrics (from the given
// registry, counting refusals by reason), /status.json (the given Status) and the page.
func TestGatewayEndpoints(t *testing.T) {
	var notReady error
	g := newTestGateway(t, Config{
		Ready:  func() error { return notReady },
		Status: func() Status { return Status{Tenants: []TenantStatus{{Name: "team-a", TokensLastMinute: 1234}}} },
	})
	if code, body := get(t, g.URL+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, _ := get(t, g.URL+"/readyz"); code != 200 {
		t.Errorf("/readyz = %d, want 200", code)
	}
	notReady = errors.New("no targets discovered yet")
	if code, body := get(t, g.URL+"/readyz"); code != 503 || !strings.Contains(body, "no targets discovered yet") {
		t.Errorf("/readyz when not ready = %d %q", code, body)
	}
	resp, err := http.Post(g.URL+"/model/x/converse", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if code, body := get(t, g.URL+"/metrics"); code != 200 || !strings.Contains(body, `tollgate_gateway_auth_failures_total{reason="unsigned"} 1`) {
		t.Errorf("/metrics = %d, want the unsigned refusal counted:\n%s", code, body)
	}
	if code, body := get(t, g.URL+"/status.json"); code != 200 || !strings.Contains(body, `"name":"team-a","tokensLastMinute":1234`) {
		t.Errorf("/status.json = %d %s", code, body)
	}
	if code, body := get(t, g.URL+"/"); code != 200 || !strings.Contains(body, "<title>Tollgate gateway</title>") {
		t.Errorf("/ = %d, want the status page", code)
	}
	if code, _ := get(t, g.URL+"/nothing"); code != 404 {
		t.Errorf("/nothing = %d, want 404", code)
	}
}

// TestGatewayRouting: an unknown operation is 404 ResourceNotFound once authenticated
// (403 before), a GET is 405, and an invalid priority is 400 ValidationException naming
// the valid values.
func TestGatewayRouting(t *testing.T) {
	g := newTestGateway(t, Config{})
	r := httptestRequest(t, g.URL+"/model/m/nothing", "{}")
	signRequest(t, r, g.Creds, []byte("{}"), time.Now())
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	if status, name, _ := errorOf(t, resp); status != 404 || name != "ResourceNotFoundException" {
		t.Errorf("unknown operation: %d %s", status, name)
	}
	resp, err = http.Post(g.URL+"/model/m/nothing", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	if status, _, _ := errorOf(t, resp); status != 403 {
		t.Errorf("unknown operation, unsigned: %d, want 403", status)
	}
	resp, err = http.DefaultClient.Do(g.signedRequest(t, `{"requestMetadata":{"priority":"urgent"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if status, name, msg := errorOf(t, resp); status != 400 || name != "ValidationException" || !strings.Contains(msg, "critical, high, normal, low, background") {
		t.Errorf("invalid priority: %d %s %q", status, name, msg)
	}
}

// TestGatewayH2C: a client speaking HTTP/2 with prior knowledge over plain TCP (as the
// JavaScript SDK does for http:// endpoints) is served.
func TestGatewayH2C(t *testing.T) {
	g := newTestGateway(t, Config{})
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	client := &http.Client{Transport: &http.Transport{Protocols: &p}}
	resp, err := client.Do(g.signedRequest(t, `{"messages":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 || !strings.Contains(string(body), "tenant=team-a") {
		t.Errorf("h2c: %s %d %s", resp.Proto, resp.StatusCode, body)
	}
}

// TestGatewayBodyLimit: a body over the limit is refused with ValidationException,
// whether announced by Content-Length or sent chunked.
func TestGatewayBodyLimit(t *testing.T) {
	g := newTestGateway(t, Config{MaxBodyBytes: 1000})
	big := `{"x":"` + strings.Repeat("a", 2000) + `"}`
	for _, chunked := range []bool{false, true} {
		r := g.signedRequest(t, big)
		if chunked {
			r.ContentLength = -1
			r.Body = io.NopCloser(strings.NewReader(big))
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		if status, name, msg := errorOf(t, resp); status != 400 || name != "ValidationException" || !strings.Contains(msg, "1000 bytes") {
			t.Errorf("chunked=%v: %d %s %q, want 400 ValidationException naming the limit", chunked, status, name, msg)
		}
	}
}

// TestGatewaySlowClients: a body that stops arriving is answered 408 after BodyTimeout,
// and headers that stop arriving get the connection closed after ReadHeaderTimeout.
func TestGatewaySlowClients(t *testing.T) {
	const timeout = 300 * time.Millisecond
	g := newTestGateway(t, Config{BodyTimeout: timeout, ReadHeaderTimeout: timeout})
	addr := strings.TrimPrefix(g.URL, "http://")

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := g.signedRequest(t, strings.Repeat("x", 100))
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 100\r\nContent-Type: application/json\r\nX-Amz-Date: %s\r\nAuthorization: %s\r\n\r\nxxxxxxxxxx",
		r.URL.RequestURI(), r.Host, r.Header.Get("X-Amz-Date"), r.Header.Get("Authorization"))
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("stalled body: %v", err)
	}
	if status, name, _ := errorOf(t, resp); status != http.StatusRequestTimeout || name != "RequestTimeoutException" {
		t.Errorf("stalled body: %d %s, want 408 RequestTimeoutException", status, name)
	}

	conn2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	fmt.Fprintf(conn2, "POST /model/m/converse HTTP/1.1\r\nHost: x\r\n")
	_ = conn2.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(conn2); err != nil {
		t.Errorf("stalled headers: the connection was not closed by the server: %v", err)
	}
}

// blockingHandler holds each call until release is closed or the request's context
// ends, and reports which.
type blockingHandler struct {
	started  chan struct{}
	release  chan struct{}
	canceled chan struct{}
}

func (h *blockingHandler) ServeCall(w http.ResponseWriter, r *http.Request, _ *Call) {
	close(h.started)
	select {
	case <-h.release:
		_, _ = io.WriteString(w, "done")
	case <-r.Context().Done():
		close(h.canceled)
	}
}

// TestGatewayShutdown: Shutdown lets a call in progress finish and refuses readiness
// meanwhile; when its deadline passes first, it cancels the call's context.
func TestGatewayShutdown(t *testing.T) {
	for _, finish := range []bool{true, false} {
		t.Run(fmt.Sprintf("finish=%v", finish), func(t *testing.T) {
			h := &blockingHandler{started: make(chan struct{}), release: make(chan struct{}), canceled: make(chan struct{})}
			g := newTestGateway(t, Config{Handler: h})
			type result struct {
				status int
				body   string
				err    error
			}
			res := make(chan result, 1)
			go func() {
				resp, err := http.DefaultClient.Do(g.signedRequest(t, "{}"))
				if err != nil {
					res <- result{err: err}
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				res <- result{status: resp.StatusCode, body: string(b)}
			}()
			<-h.started
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			if finish {
				ctx = context.Background()
			}
			shut := make(chan error, 1)
			go func() { shut <- g.Server.Shutdown(ctx) }()
			for !g.Server.shuttingDown.Load() {
				time.Sleep(time.Millisecond)
			}
			rec := newRecorder()
			g.Server.ServeHTTP(rec, mustRequest(t, "GET", "/readyz"))
			if rec.status != http.StatusServiceUnavailable {
				t.Errorf("/readyz during shutdown = %d, want 503", rec.status)
			}
			if finish {
				close(h.release)
				if err := <-shut; err != nil {
					t.Errorf("Shutdown = %v, want nil after the call finished", err)
				}
				if r := <-res; r.err != nil || r.status != 200 || r.body != "done" {
					t.Errorf("the call in progress ended %+v, want 200 done", r)
				}
				return
			}
			if err := <-shut; !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Shutdown = %v, want context.DeadlineExceeded", err)
			}
			select {
			case <-h.canceled:
			case <-time.After(10 * time.Second):
				t.Fatal("the call's context was not canceled after the shutdown deadline")
			}
			if r := <-res; r.err == nil {
				t.Errorf("the client got %+v, want its connection closed", r)
			}
		})
	}
}

// TestGatewayRefusesBeforeReadingBody: a request with an unknown key is answered before
// its body is read, so strangers cannot make the gateway take in large bodies.
func TestGatewayRefusesBeforeReadingBody(t *testing.T) {
	g := newTestGateway(t, Config{}) // a body would be waited for up to DefaultBodyTimeout (30 s)
	conn, err := net.Dial("tcp", strings.TrimPrefix(g.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /model/m/converse HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\nX-Amz-Date: %s\r\n"+
		"Authorization: AWS4-HMAC-SHA256 Credential=TGAAAAAAAAAAAAAAAAAA/20261204/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature=%s\r\n\r\n",
		time.Now().UTC().Format(amzDateLayout), strings.Repeat("0", 64))
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer without the body: %v", err)
	}
	if status, name, _ := errorOf(t, resp); status != 403 || name != "UnrecognizedClientException" {
		t.Errorf("got %d %s, want 403 UnrecognizedClientException", status, name)
	}
}
