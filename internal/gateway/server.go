package gateway

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tollgate-dev/tollgate/internal/wire"
	"github.com/tollgate-dev/tollgate/quota"
)

// Defaults of Config.
const (
	// DefaultMaxBodyBytes bounds a request body. InvokeModel's body is at most
	// 25,000,000 bytes and CountTokens carries such a body base64-encoded (4/3 larger)
	// inside JSON (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModel.html).
	DefaultMaxBodyBytes = 40 << 20
	// DefaultBodyTimeout bounds the time a request body may take to arrive.
	DefaultBodyTimeout = 30 * time.Second
	// DefaultReadHeaderTimeout bounds the time a request's headers may take to arrive.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultIdleTimeout closes idle connections after longer than the SDKs keep them
	// (Go's transport: 90 s), so the client, not the server, closes one it may reuse.
	DefaultIdleTimeout = 2 * time.Minute
)

// Call is an authenticated Bedrock Runtime request, with its body read, ready for an
// operation handler.
type Call struct {
	// Operation is the operation the path names.
	Operation wire.Operation
	// ModelID is the model id (or inference-profile id or ARN), unescaped.
	ModelID string
	// Caller is who made the request.
	Caller Caller
	// Priority is the call's class: asked for in the request, else the tenant's
	// default, lowered to the tenant's maximum.
	Priority quota.Priority
	// Body is the request body.
	Body []byte
	// RequestID is the x-amzn-RequestId the gateway answers with.
	RequestID string
	// converse is a Converse or ConverseStream Body decoded (nil: not decoded, or it
	// did not decode), so that it is decoded once for the priority and the estimate.
	converse *converseBody
}

// Handler serves the Bedrock Runtime operations once a request is authenticated.
type Handler interface {
	// ServeCall answers one call. It sets x-amzn-RequestId: the upstream's on an answer
	// relayed from the upstream, else c.RequestID.
	ServeCall(w http.ResponseWriter, r *http.Request, c *Call)
}

// Config configures a Server.
type Config struct {
	// Keys authenticates callers. Required.
	Keys *Keys
	// Handler answers the authenticated calls. Nil answers every call with 503
	// ServiceUnavailableException.
	Handler Handler
	// Status returns what the status page shows. Nil shows an empty status.
	Status func() Status
	// Ready reports whether the gateway can take calls (/readyz); nil means always,
	// until Shutdown begins.
	Ready func() error
	// Metrics is served at /metrics and receives the gateway's own metrics. Nil serves
	// no /metrics. The global registry is never used.
	Metrics *prometheus.Registry
	// Logger receives refused requests and configuration reload failures (never a
	// secret). Nil discards.
	Logger *slog.Logger
	// TLS, when set, serves HTTP/1.1 and HTTP/2 over TLS; nil serves HTTP/1.1 and
	// HTTP/2 with prior knowledge (h2c), which the JavaScript SDK uses for http://
	// endpoints.
	TLS *tls.Config
	// MaxBodyBytes bounds a request body; zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// BodyTimeout bounds the time a request body may take; zero means
	// DefaultBodyTimeout. (http.Server's ReadTimeout is not used: it would stay on the
	// connection while a long streaming answer is written.)
	BodyTimeout time.Duration
	// ReadHeaderTimeout and IdleTimeout are http.Server's; zero means
	// DefaultReadHeaderTimeout and DefaultIdleTimeout.
	ReadHeaderTimeout, IdleTimeout time.Duration
	// Now returns the current time, for signature expiry; nil means time.Now.
	Now func() time.Time
}

// Server is the gateway's HTTP server: authentication, routing, health, metrics and
// the status page around a Handler. It is safe for concurrent use.
type Server struct {
	cfg          Config
	srv          *http.Server
	mux          *http.ServeMux
	shuttingDown atomic.Bool
	authFailures *prometheus.CounterVec
}

// New validates cfg and builds a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Keys == nil {
		return nil, errors.New("gateway: Config.Keys is required")
	}
	if cfg.MaxBodyBytes < 0 || cfg.BodyTimeout < 0 || cfg.ReadHeaderTimeout < 0 || cfg.IdleTimeout < 0 {
		return nil, errors.New("gateway: sizes and timeouts must be zero (default) or positive")
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.BodyTimeout == 0 {
		cfg.BodyTimeout = DefaultBodyTimeout
	}
	if cfg.ReadHeaderTimeout == 0 {
		cfg.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux()}
	s.authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tollgate_gateway_auth_failures_total",
		Help: "Requests the gateway refused before they reached an operation, by reason.",
	}, []string{"reason"})
	if cfg.Metrics != nil {
		if err := cfg.Metrics.Register(s.authFailures); err != nil {
			return nil, fmt.Errorf("gateway: registering metrics: %w", err)
		}
		s.mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Metrics, promhttp.HandlerOpts{}))
	}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	s.mux.HandleFunc("GET /readyz", s.serveReady)
	s.mux.HandleFunc("GET /{$}", serveStatusPage)
	s.mux.HandleFunc("GET /status.json", func(w http.ResponseWriter, _ *http.Request) {
		var st Status
		if cfg.Status != nil {
			st = cfg.Status()
		}
		serveStatusJSON(w, st)
	})
	// The model id's escaped slashes (an ARN's %2F) must not split the route, so every
	// /model/ request goes to one handler that parses the escaped path itself.
	s.mux.HandleFunc("/model/", s.serveBedrock)

	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	if cfg.TLS == nil {
		protocols.SetUnencryptedHTTP2(true)
	}
	s.srv = &http.Server{
		Handler:           s.mux,
		Protocols:         &protocols,
		TLSConfig:         cfg.TLS,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// ServeHTTP serves one request; Serve uses it for every connection.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Serve accepts connections on ln until Shutdown; it returns http.ErrServerClosed then.
func (s *Server) Serve(ln net.Listener) error {
	if s.cfg.TLS != nil {
		return s.srv.ServeTLS(ln, "", "")
	}
	return s.srv.Serve(ln)
}

// Shutdown stops accepting connections and waits for the requests in progress to end,
// up to ctx's deadline; then it closes the connections still open, which cancels the
// contexts of their requests (so their handlers return their reservations), and returns
// ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shuttingDown.Store(true)
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	return err
}

func (s *Server) serveReady(w http.ResponseWriter, _ *http.Request) {
	if s.shuttingDown.Load() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	if s.cfg.Ready != nil {
		if err := s.cfg.Ready(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	_, _ = io.WriteString(w, "ok\n")
}

// serveBedrock authenticates a Bedrock Runtime request, reads its body, checks the
// tenant's rights and hands the call to the Handler.
func (s *Server) serveBedrock(w http.ResponseWriter, r *http.Request) {
	reqID := newRequestID()
	modelID, op, err := wire.ParsePath(requestPath(r))
	if err != nil {
		// Authenticate first even so, so an unknown caller learns nothing about routes.
		if _, _, aerr := identify(s.cfg.Keys, r, s.cfg.Now()); aerr != nil {
			s.refuse(w, r, reqID, aerr)
			return
		}
		wire.WriteError(w, wire.ResourceNotFoundException, reqID, "Unknown operation: "+truncate(requestPath(r), 200))
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		wire.WriteError(w, wire.ErrorCode{Name: "UnknownOperationException", Status: http.StatusMethodNotAllowed}, reqID, "Bedrock Runtime operations use POST.")
		return
	}
	arrived := s.cfg.Now()
	cl, reloadErr, err := identify(s.cfg.Keys, r, arrived)
	if reloadErr != nil {
		s.cfg.Logger.Error("gateway configuration not reloaded", "err", reloadErr)
	}
	if err != nil {
		s.refuse(w, r, reqID, err)
		return
	}
	body, ok := s.readBody(w, r, reqID)
	if !ok {
		return
	}
	// Verify at the time the request arrived, not after a slow body.
	caller, err := cl.verify(r, body, arrived)
	if err != nil {
		s.refuse(w, r, reqID, err)
		return
	}
	if !caller.rules.allows(modelID) {
		wire.WriteError(w, wire.AccessDeniedException, reqID, fmt.Sprintf("Tenant %s may not call model %s; the gateway configuration lists the models it may call.", caller.Tenant, truncate(modelID, 200)))
		return
	}
	var converse *converseBody
	if op == wire.Converse || op == wire.ConverseStream {
		var b converseBody
		if json.Unmarshal(body, &b) == nil {
			converse = &b
		}
	}
	var prio quota.Priority
	if converse != nil {
		prio, err = priorityOf(converse.RequestMetadata, r.Header, caller.rules)
	} else {
		prio, err = callPriority(op, r.Header, body, caller.rules)
	}
	if err != nil {
		wire.WriteError(w, wire.ValidationException, reqID, err.Error())
		return
	}
	if s.cfg.Handler == nil {
		wire.WriteError(w, wire.ServiceUnavailableException, reqID, "The gateway has no upstream configured.")
		return
	}
	s.cfg.Handler.ServeCall(w, r, &Call{Operation: op, ModelID: modelID, Caller: caller, Priority: prio, Body: body, RequestID: reqID, converse: converse})
}

// refuse answers an authentication failure and logs it without anything secret.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, reqID string, err error) {
	var f *authFailure
	if !errors.As(err, &f) {
		f = &authFailure{invalidSignature, "The request could not be authenticated.", "error"}
	}
	s.authFailures.WithLabelValues(f.reason).Inc()
	s.cfg.Logger.Info("request refused", "reason", f.reason, "remote", r.RemoteAddr, "request_id", reqID)
	wire.WriteError(w, f.code, reqID, f.message)
}

// readBody reads the request body within the size limit and the body deadline,
// answering the error itself when it cannot.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, reqID string) ([]byte, bool) {
	limit := s.cfg.MaxBodyBytes
	fail := func(code wire.ErrorCode, msg string) {
		// The rest of the body is not read; the connection cannot be reused.
		if r.ProtoMajor == 1 {
			w.Header().Set("Connection", "close")
		}
		wire.WriteError(w, code, reqID, msg)
	}
	if r.ContentLength > limit {
		fail(wire.ValidationException, fmt.Sprintf("The request body is %d bytes, more than the %d bytes the gateway accepts.", r.ContentLength, limit))
		return nil, false
	}
	rc := http.NewResponseController(w)
	// An error means the connection cannot have a deadline (not a net.Conn); the
	// header timeout and the size limit still bound it.
	_ = rc.SetReadDeadline(time.Now().Add(s.cfg.BodyTimeout))
	rd := http.MaxBytesReader(w, r.Body, limit)
	var data []byte
	var err error
	if r.ContentLength >= 0 {
		// A buffer of the announced size: ReadAll's doubling would hold up to twice as much.
		data = make([]byte, r.ContentLength)
		_, err = io.ReadFull(rd, data)
	} else {
		data, err = io.ReadAll(rd)
	}
	if err == nil {
		_ = rc.SetReadDeadline(time.Time{})
		return data, true
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		fail(wire.ValidationException, fmt.Sprintf("The request body is more than the %d bytes the gateway accepts.", limit))
	case errors.Is(err, os.ErrDeadlineExceeded):
		fail(wire.ErrorCode{Name: "RequestTimeoutException", Status: http.StatusRequestTimeout}, fmt.Sprintf("The request body did not arrive within %v.", s.cfg.BodyTimeout))
	default:
		fail(wire.ValidationException, "The request body could not be read: "+err.Error())
	}
	return nil, false
}

// newRequestID returns a random id in the UUID form AWS uses for x-amzn-RequestId.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
