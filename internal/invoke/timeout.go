package invoke

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// attemptTimeoutKey is the context key of WithAttemptTimeout.
type attemptTimeoutKey struct{}

// WithAttemptTimeout returns ctx carrying d, the longest a client from NewClient waits
// for the response to one HTTP attempt: its status and headers, which for Converse and
// InvokeModel come with the whole reply, and for the streaming operations when the
// stream starts. A stream's events are not bounded by it. d ≤ 0 means no bound.
func WithAttemptTimeout(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, attemptTimeoutKey{}, d)
}

// AttemptTimeoutError is the error of an attempt whose response did not begin within
// its WithAttemptTimeout. It matches context.DeadlineExceeded (errors.Is), and
// Classify gives it the kind Timeout, so it is retried.
type AttemptTimeoutError struct {
	// Limit is the bound that passed.
	Limit time.Duration
}

func (e *AttemptTimeoutError) Error() string {
	return fmt.Sprintf("no response within the attempt timeout (%v): the service or the network stalled", e.Limit)
}

// Unwrap returns context.DeadlineExceeded.
func (e *AttemptTimeoutError) Unwrap() error { return context.DeadlineExceeded }

// Timeout reports true, as net.Error's timeouts do.
func (e *AttemptTimeoutError) Timeout() bool { return true }

// doWithin sends req through next, abandoning it when no response has begun within the
// attempt timeout req's context carries. The request then runs under a context of its
// own, which ends when the response body is closed.
func doWithin(next interface {
	Do(*http.Request) (*http.Response, error)
}, req *http.Request) (*http.Response, error) {
	d, _ := req.Context().Value(attemptTimeoutKey{}).(time.Duration)
	if d <= 0 {
		return next.Do(req)
	}
	ctx, cancel := context.WithCancel(req.Context())
	timer := time.AfterFunc(d, cancel)
	resp, err := next.Do(req.WithContext(ctx))
	if !timer.Stop() && req.Context().Err() == nil {
		// The bound passed first (a response that came at the same instant is given up
		// too: its body can no longer be read under the cancelled context).
		if err == nil {
			resp.Body.Close()
		}
		return nil, &AttemptTimeoutError{Limit: d}
	}
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelOnClose is a response body that ends its request's context when closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
	once   sync.Once
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.cancel)
	return err
}
