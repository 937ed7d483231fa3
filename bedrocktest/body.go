package bedrocktest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/internal/wire"
)

// maxBodyBytes bounds a request body. InvokeModel's body member is at most 25,000,000
// bytes, and CountTokens carries such a body base64-encoded (4/3 larger) inside JSON
// (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModel.html).
const maxBodyBytes = 40 << 20

// Defaults of the request-body bounds.
const (
	defaultBodyTimeout          = 30 * time.Second
	defaultMaxBodyBytesInFlight = 64 << 20
	// unknownLengthStep is how much budget a body without a Content-Length takes at a
	// time as it arrives.
	unknownLengthStep = 1 << 20
)

// requestTimeout answers a request whose body did not arrive in time: the status and
// error name AWS services use for a client that stops sending.
var requestTimeout = wire.ErrorCode{Name: "RequestTimeoutException", Status: http.StatusRequestTimeout}

// errBodyBudget reports that a body found no room under Options.MaxBodyBytesInFlight
// before its deadline.
var errBodyBudget = errors.New("too many request bodies in progress")

// bodyBudget bounds the bytes of request bodies held at once. Waiters are woken on every
// release and retry; the wait is bounded by each request's body deadline.
type bodyBudget struct {
	mu      sync.Mutex
	free    int64
	held    int64 // bytes taken now
	peak    int64 // most bytes ever taken at once
	changed chan struct{}
}

func newBodyBudget(capacity int64) *bodyBudget {
	return &bodyBudget{free: capacity, changed: make(chan struct{})}
}

// acquire takes n bytes, waiting until they are free or ctx is done.
func (b *bodyBudget) acquire(ctx context.Context, n int64) error {
	for {
		b.mu.Lock()
		if b.free >= n {
			b.free -= n
			b.held += n
			b.peak = max(b.peak, b.held)
			b.mu.Unlock()
			return nil
		}
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return errBodyBudget
		}
	}
}

// release gives back n bytes taken by acquire.
func (b *bodyBudget) release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.free += n
	b.held -= n
	close(b.changed)
	b.changed = make(chan struct{})
	b.mu.Unlock()
}

// body is a request body read under the bounds; release gives its bytes back to the
// budget once the caller has decoded it.
type body struct {
	data    []byte
	b       *bodyBudget
	charged int64
}

func (bd *body) release() {
	bd.b.release(bd.charged)
	bd.charged = 0
}

// readBody reads r's body, at most limit bytes, within the body timeout and under the
// bytes-in-flight budget. On failure it has answered the request (with answer, given the
// error code and message) and returns nil. Once a body is read in full its read deadline
// is cleared: a streaming reply may last far longer than its request took to arrive.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request, limit int64, answer func(wire.ErrorCode, string)) *body {
	limit = min(limit, h.opts.MaxBodyBytesInFlight)
	// A body not read to its end closes the connection: an HTTP/1.1 server would
	// otherwise read the rest to reuse it, with no deadline left. The read deadline is
	// left in place, so that nothing more is read.
	ok := false
	fail := func(code wire.ErrorCode, message string) {
		if r.ProtoMajor == 1 {
			w.Header().Set("Connection", "close")
		}
		answer(code, message)
	}
	if r.ContentLength > limit {
		fail(wire.ValidationException, fmt.Sprintf("Malformed input request: the request body is %d bytes, more than the %d the emulator accepts.", r.ContentLength, limit))
		return nil
	}
	ctx := r.Context()
	rc := http.NewResponseController(w)
	if h.opts.BodyTimeout > 0 {
		deadline := time.Now().Add(h.opts.BodyTimeout)
		// An error means the connection cannot have a deadline (not a net.Conn); the
		// budget's wait below is still bounded.
		_ = rc.SetReadDeadline(deadline)
		defer func() {
			if ok {
				_ = rc.SetReadDeadline(time.Time{})
			}
		}()
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	bd := &body{b: h.budget}
	if r.ContentLength > 0 {
		if err := h.budget.acquire(ctx, r.ContentLength); err != nil {
			fail(wire.ServiceUnavailableException, fmt.Sprintf("The emulator is reading too many large request bodies at once (at most %d bytes in all); retry later.", h.opts.MaxBodyBytesInFlight))
			return nil
		}
		bd.charged = r.ContentLength
	}
	var data []byte
	var err error
	rd := http.MaxBytesReader(w, r.Body, limit)
	if r.ContentLength >= 0 {
		// Read into a buffer of the announced size: ReadAll's doubling would hold up to
		// twice as much. The body reader stops at Content-Length, returning EOF with the
		// last bytes (from which on the server watches for the client going away).
		data = make([]byte, r.ContentLength)
		_, err = io.ReadFull(rd, data)
	} else {
		data, err = io.ReadAll(&budgetReader{r: rd, ctx: ctx, bd: bd, limit: limit})
	}
	bd.data = data
	if err == nil {
		ok = true
		return bd
	}
	bd.release()
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		fail(wire.ValidationException, fmt.Sprintf("Malformed input request: the request body is more than the %d bytes the emulator accepts.", limit))
	case errors.Is(err, errBodyBudget):
		fail(wire.ServiceUnavailableException, fmt.Sprintf("The emulator is reading too many large request bodies at once (at most %d bytes in all); retry later.", h.opts.MaxBodyBytesInFlight))
	case errors.Is(err, os.ErrDeadlineExceeded):
		fail(requestTimeout, fmt.Sprintf("The request body did not arrive within %v.", h.opts.BodyTimeout))
	default:
		fail(wire.ValidationException, "Malformed input request: the body could not be read: "+err.Error())
	}
	return nil
}

// budgetReader takes budget for a body without a Content-Length as it arrives,
// unknownLengthStep at a time.
type budgetReader struct {
	r     io.Reader
	ctx   context.Context
	bd    *body
	limit int64 // the most bytes charged: the body's size limit
	read  int64
}

func (br *budgetReader) Read(p []byte) (int, error) {
	if br.read+int64(len(p)) > br.bd.charged && br.bd.charged < br.limit {
		step := min(unknownLengthStep, br.limit-br.bd.charged)
		if err := br.bd.b.acquire(br.ctx, step); err != nil {
			return 0, err
		}
		br.bd.charged += step
	}
	// Read no more than is charged; at the limit, one byte more, for the size check
	// below this reader to see that the body is too large.
	p = p[:max(min(int64(len(p)), br.bd.charged-br.read), 1)]
	n, err := br.r.Read(p)
	br.read += int64(n)
	return n, err
}
