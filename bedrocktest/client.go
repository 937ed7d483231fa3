package bedrocktest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
)

// Client returns an HTTP client whose transport calls the handler in the caller's
// process, with no socket: each request runs ServeHTTP on a goroutine of its own and the
// reply's body streams back through a pipe as the handler writes it. Give it to an AWS
// SDK client as its HTTPClient, with any BaseEndpoint ("http://bedrocktest"): the host
// is not looked up.
//
// Inside a testing/synctest bubble — with the handler built there too — every wait of the
// emulator (its latency model, its quota windows) and of the SDK (retry backoff) runs on
// the bubble's fake clock: exact, and instant in real time.
//
// A dropped connection (Faults.Drop) surfaces as an error from the round trip or from
// reading the body. Closing a reply's body, or cancelling the request's context, ends
// the reply in progress.
func (h *Handler) Client() *http.Client {
	return &http.Client{Transport: inProcess{h}}
}

// errDropped is what a client sees of a connection the emulator dropped.
var errDropped = errors.New("bedrocktest: connection closed by the emulator without an answer")

// inProcess is an http.RoundTripper that serves requests with a handler directly.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	sreq := req.Clone(ctx)
	body := req.Body
	if body == nil {
		body = http.NoBody
	}
	sreq.Body = body
	sreq.RequestURI = req.URL.RequestURI()
	sreq.Proto, sreq.ProtoMajor, sreq.ProtoMinor = "HTTP/1.1", 1, 1
	sreq.RemoteAddr = "127.0.0.1:0"
	if sreq.Host == "" {
		sreq.Host = req.URL.Host
	}
	pr, pw := io.Pipe()
	w := &pipeWriter{header: make(http.Header), pw: pw, ready: make(chan struct{})}
	go func() {
		// The goroutine ends with the handler, which returns once the reply is written,
		// its body closed by the client, or the request's context done.
		defer cancel() // as a server cancels a request's context when its handler returns
		defer func() { _ = body.Close() }()
		defer func() {
			if v := recover(); v != nil {
				err := errDropped
				if v != http.ErrAbortHandler {
					err = fmt.Errorf("bedrocktest: handler panicked: %v", v)
				}
				w.end(err)
				return
			}
			w.end(nil)
		}()
		t.h.ServeHTTP(w, sreq)
	}()
	select {
	case <-w.ready:
	case <-req.Context().Done():
		_ = pr.CloseWithError(req.Context().Err())
		return nil, req.Context().Err()
	}
	if w.err != nil {
		_ = pr.Close()
		return nil, w.err
	}
	resp := &http.Response{
		Status:     fmt.Sprintf("%d %s", w.code, http.StatusText(w.code)),
		StatusCode: w.code, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.sent, Body: pr, ContentLength: -1, Request: req,
	}
	if n, err := strconv.ParseInt(w.sent.Get("Content-Length"), 10, 64); err == nil {
		resp.ContentLength = n
	}
	if req.Method == http.MethodHead {
		resp.Body = http.NoBody
		_ = pr.Close()
	}
	return resp, nil
}

// pipeWriter is the http.ResponseWriter of an in-process request: the status and headers
// go to the waiting round trip when first written, the body into a pipe.
type pipeWriter struct {
	header http.Header
	pw     *io.PipeWriter

	once  sync.Once
	ready chan struct{} // closed once code, sent and err are set
	code  int
	sent  http.Header
	err   error // set when the handler ended without writing a header
}

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 {
		return // informational: not a reply
	}
	w.once.Do(func() {
		w.code, w.sent = code, w.header.Clone()
		close(w.ready)
	})
}

func (w *pipeWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.pw.Write(p)
}

// Flush does nothing: the pipe hands each write to the reader as it happens.
func (w *pipeWriter) Flush() {}

// end finishes the reply: with err nil, a handler that wrote nothing answers 200 with an
// empty body; with an error, a reply not yet started fails its round trip and one under
// way fails its body's next read.
func (w *pipeWriter) end(err error) {
	if err == nil {
		w.WriteHeader(http.StatusOK)
		_ = w.pw.Close()
		return
	}
	w.once.Do(func() {
		w.err = err
		close(w.ready)
	})
	_ = w.pw.CloseWithError(err)
}
