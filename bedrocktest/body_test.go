package bedrocktest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/wire"
)

// bodyTestModel is a model served on demand that CountTokens serves.
const bodyTestModel = "anthropic.claude-sonnet-4-20250514-v1:0"

type spaceCounter struct{}

func (spaceCounter) Count(s string) int { return len(strings.Fields(s)) }

// startBodyServer starts an emulator with the body bounds given and no latency.
func startBodyServer(t *testing.T, timeout time.Duration, inFlight int64) *Server {
	t.Helper()
	srv, err := NewServer(Options{
		Models: []catalog.Model{{ID: bodyTestModel, CountTokens: true, MaxOutputTokens: 100,
			Quotas: map[catalog.Scope]catalog.Quotas{catalog.OnDemand: {TPM: catalog.Quota{Default: 100_000_000}}}}},
		Counter: spaceCounter{}, Latency: Latency{TimeToFirstToken: -1, PerOutputToken: -1},
		BodyTimeout: timeout, MaxBodyBytesInFlight: inFlight,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// countTokensBody is a CountTokens request of about n bytes.
func countTokensBody(n int) []byte {
	text := strings.Repeat("word ", n/5)
	return fmt.Appendf(nil, `{"input":{"converse":{"messages":[{"role":"user","content":[{"text":%q}]}]}}}`, text)
}

// rawRequest writes a request head over a plain TCP connection; the body is the caller's.
func rawRequest(t *testing.T, addr, op string, contentLength int) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	path := "/model/" + strings.ReplaceAll(bodyTestModel, ":", "%3A") + "/" + op
	if _, err := fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", path, addr, contentLength); err != nil {
		t.Fatal(err)
	}
	return conn
}

// readAnswer reads one response from conn and returns its status and error name.
func readAnswer(conn net.Conn) (status int, errorType string, err error) {
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	name, _, _ := strings.Cut(resp.Header.Get(wire.HeaderErrorType), ":")
	return resp.StatusCode, name, nil
}

// TestSlowBodyIsCutOff sends bodies a byte at a time, slower than the body timeout
// allows: each connection gets a 408 RequestTimeoutException and is closed.
func TestSlowBodyIsCutOff(t *testing.T) {
	const timeout = 300 * time.Millisecond
	srv := startBodyServer(t, timeout, 0)
	addr := srv.Listener.Addr().String()
	const conns = 20
	var wg sync.WaitGroup
	for i := range conns {
		start := time.Now() // the server's deadline starts after this, with the head read
		conn := rawRequest(t, addr, "count-tokens", 1000)
		wg.Go(func() {
			// A byte every 50ms, far short of 1,000 bytes within the timeout.
			for range 200 {
				if _, err := conn.Write([]byte(" ")); err != nil {
					return // the server closed the connection
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
		wg.Go(func() {
			_ = conn.SetReadDeadline(start.Add(10 * time.Second))
			status, name, err := readAnswer(conn)
			if err != nil {
				t.Errorf("conn %d: no answer within 10s: %v", i, err)
				return
			}
			if status != http.StatusRequestTimeout || name != "RequestTimeoutException" {
				t.Errorf("conn %d: %d %s, want 408 RequestTimeoutException", i, status, name)
			}
			if took := time.Since(start); took < timeout {
				t.Errorf("conn %d: cut off after %v, before the %v timeout", i, took, timeout)
			}
			// The server closes the connection: the next read ends.
			if _, err := conn.Read(make([]byte, 1)); err == nil {
				t.Errorf("conn %d: still open after the timeout", i)
			}
		})
	}
	wg.Wait()
}

// TestSlowBodyIsCutOffOverH2C is TestSlowBodyIsCutOff on one HTTP/2 stream.
func TestSlowBodyIsCutOffOverH2C(t *testing.T) {
	srv := startBodyServer(t, 300*time.Millisecond, 0)
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	client := &http.Client{Transport: &http.Transport{Protocols: &p}, Timeout: 10 * time.Second}
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { // ends when the pipe is closed
		for {
			if _, err := pw.Write([]byte(" ")); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	req, _ := http.NewRequest("POST", srv.URL+"/model/"+bodyTestModel+"/count-tokens", pr)
	req.ContentLength = 1000
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("answer %s over %s, want 408 over HTTP/2", resp.Status, resp.Proto)
	}
}

// TestLongReplyOutlivesBodyTimeout: the body deadline ends with the body; a reply that
// takes longer than it (a stream, a slow answer) and the next request on the same
// connection are not cut.
func TestLongReplyOutlivesBodyTimeout(t *testing.T) {
	srv, err := NewServer(Options{
		Models: []catalog.Model{{ID: bodyTestModel, MaxOutputTokens: 100,
			Quotas: map[catalog.Scope]catalog.Quotas{catalog.OnDemand: {TPM: catalog.Quota{Default: 100_000_000}}}}},
		Counter: spaceCounter{}, Latency: Latency{TimeToFirstToken: 600 * time.Millisecond, PerOutputToken: 20 * time.Millisecond},
		OutputTokens: func(int, uint64) int { return 20 },
		BodyTimeout:  100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	body := `{"messages":[{"role":"user","content":[{"text":"hello there"}]}]}`
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	for _, op := range []string{"converse-stream", "converse"} {
		path := "/model/" + strings.ReplaceAll(bodyTestModel, ":", "%3A") + "/" + op
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", path, len(body), body)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s, read %d bytes, %v", op, resp.Status, len(data), err)
		}
		if op == "converse" {
			var out struct{ Usage struct{ OutputTokens int } }
			if err := json.Unmarshal(data, &out); err != nil || out.Usage.OutputTokens != 20 {
				t.Errorf("converse: %v, output tokens %d, want 20", err, out.Usage.OutputTokens)
			}
		} else if !strings.Contains(string(data), "messageStop") {
			t.Errorf("converse-stream: no messageStop in %d bytes", len(data))
		}
	}
}

// TestBodyBytesInFlightBound sends large bodies at once, each in slow pieces so that
// their reads would overlap: the bytes held never pass the bound, and every request is
// answered.
func TestBodyBytesInFlightBound(t *testing.T) {
	const bound = 1 << 20
	srv := startBodyServer(t, 20*time.Second, bound)
	addr := srv.Listener.Addr().String()
	body := countTokensBody(700_000)
	var wg sync.WaitGroup
	for i := range 6 {
		conn := rawRequest(t, addr, "count-tokens", len(body))
		wg.Go(func() {
			for chunk := range 10 {
				piece := body[chunk*len(body)/10 : (chunk+1)*len(body)/10]
				if _, err := conn.Write(piece); err != nil {
					t.Errorf("conn %d: write: %v", i, err)
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
		wg.Go(func() {
			_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			status, name, err := readAnswer(conn)
			if err != nil || status != http.StatusOK {
				t.Errorf("conn %d: %d %s %v, want 200", i, status, name, err)
			}
		})
	}
	wg.Wait()
	b := srv.budget
	b.mu.Lock()
	peak, held := b.peak, b.held
	b.mu.Unlock()
	if peak > bound || peak < int64(len(body)) {
		t.Errorf("peak body bytes held = %d, want one body (%d) up to the bound %d", peak, len(body), bound)
	}
	if held != 0 {
		t.Errorf("%d body bytes still held after every answer", held)
	}
}

// TestBodyTooLarge: a body over the cap is refused from its Content-Length, before it
// is sent, and one without a Content-Length when it passes the cap.
func TestBodyTooLarge(t *testing.T) {
	const bound = 1 << 20
	srv := startBodyServer(t, 5*time.Second, bound)
	conn := rawRequest(t, srv.Listener.Addr().String(), "count-tokens", bound+1)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if status, name, err := readAnswer(conn); err != nil || status != http.StatusBadRequest || name != "ValidationException" {
		t.Errorf("announced %d bytes: %d %s %v, want 400 ValidationException", bound+1, status, name, err)
	}

	req, _ := http.NewRequest("POST", srv.URL+"/model/"+bodyTestModel+"/count-tokens", io.MultiReader(strings.NewReader(string(countTokensBody(bound+bound/2)))))
	req.ContentLength = -1 // chunked
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("chunked body over the cap: %s, want 400", resp.Status)
	}
	if held := srv.budget.held; held != 0 {
		t.Errorf("%d bytes held after the refusals", held)
	}
}

// TestBodyBudgetWaits checks the budget's wait in a synctest bubble: a request that does
// not fit waits for a release, and gives up with errBodyBudget when its deadline passes.
func TestBodyBudgetWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBodyBudget(100)
		if err := b.acquire(t.Context(), 80); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		if err := b.acquire(ctx, 30); err != errBodyBudget {
			t.Fatalf("acquire over the bound: %v, want errBodyBudget", err)
		}
		if waited := time.Since(start); waited != time.Second {
			t.Errorf("gave up after %v, want the deadline's 1s", waited)
		}
		got := make(chan error, 1)
		go func() { got <- b.acquire(t.Context(), 30) }()
		synctest.Wait()
		select {
		case err := <-got:
			t.Fatalf("acquire returned %v while 80 of 100 were held", err)
		default:
		}
		b.release(80)
		if err := <-got; err != nil {
			t.Fatalf("acquire after release: %v", err)
		}
		if b.held != 30 || b.peak != 80 {
			t.Errorf("held %d, peak %d; want 30 and 80", b.held, b.peak)
		}
	})
}

// TestClientGoneEndsTheCall: a client that hangs up while its reply is pending ends the
// call at once (its request's context is cancelled): the bounded body read still lets
// the server watch the connection once the body is in.
func TestClientGoneEndsTheCall(t *testing.T) {
	srv, err := NewServer(Options{
		Models: []catalog.Model{{ID: bodyTestModel, MaxOutputTokens: 100,
			Quotas: map[catalog.Scope]catalog.Quotas{catalog.OnDemand: {TPM: catalog.Quota{Default: 100_000_000}}}}},
		Counter: spaceCounter{}, Latency: Latency{TimeToFirstToken: time.Minute, PerOutputToken: -1},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	body := `{"messages":[{"role":"user","content":[{"text":"hello there"}]}]}`
	conn := rawRequest(t, srv.Listener.Addr().String(), "converse", len(body))
	if _, err := io.WriteString(conn, body); err != nil {
		t.Fatal(err)
	}
	inFlight := func() int64 {
		var n int64
		for _, s := range srv.snapshot().Series {
			n += s.InFlight
		}
		return n
	}
	deadline := time.Now().Add(10 * time.Second)
	for inFlight() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the call was not admitted within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	conn.Close()
	for inFlight() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the call is still in flight 10s after its client hung up (its reply is due in a minute)")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
