package bedrocktest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/emustats"
)

// Handler is the emulator as an http.Handler: Bedrock Runtime (Converse, ConverseStream,
// InvokeModel, InvokeModelWithResponseStream, CountTokens), the Service Quotas API and
// the stats endpoints, all on one URL. Build it with New; it is safe for concurrent use.
type Handler struct {
	opts   Options
	clock  *clock
	meter  *meter
	cache  promptCache
	served []model // in the order of Options.Models (presets first)
	models map[string]*model
	budget *bodyBudget

	seq         atomic.Uint64 // numbers requests, for their ids
	draws       atomic.Uint64 // numbers valid calls, for their fault draws
	faults      atomic.Pointer[Faults]
	faultCounts [numFaults]atomic.Int64

	// ctx ends every reply in progress when the handler is closed.
	ctx    context.Context
	cancel context.CancelFunc
}

// New returns an emulator handler for opts, or an error naming the first invalid option.
// Call Close when done with it to end replies in progress.
func New(opts Options) (*Handler, error) {
	o, served, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	h := &Handler{
		opts:   o,
		clock:  newClock(o.TimeScale),
		meter:  newMeter(o.Window),
		cache:  promptCache{ttl: o.CacheTTL},
		served: served,
		models: make(map[string]*model, len(served)),
		budget: newBodyBudget(o.MaxBodyBytesInFlight),
	}
	for i := range served {
		h.models[served[i].ID] = &served[i]
	}
	f := o.Faults
	h.faults.Store(&f)
	h.ctx, h.cancel = context.WithCancel(context.Background())
	return h, nil
}

// Close ends every reply in progress (streams stop, pending replies are abandoned). It
// does not stop a server the handler is mounted in.
func (h *Handler) Close() { h.cancel() }

// Now returns the emulated time.
func (h *Handler) Now() time.Time { return h.clock.now() }

// Models returns the models served, with defaults filled in, and per scope the quotas
// enforced in Options.Region after Options.Limits: each quota's Default is its value as
// Service Quotas lists it (for a CrossRegionDoubled tokens-per-day quota, half the
// amount cross-region calls get; see catalog.Quota.ForScope) and zero when it is not
// enforced or is a zero quota. The result is a copy.
func (h *Handler) Models() []catalog.Model {
	out := make([]catalog.Model, len(h.served))
	for i, m := range h.served {
		cm := m.Model
		cm.Quotas = make(map[catalog.Scope]catalog.Quotas, len(m.limits))
		for s, l := range m.limits {
			value := func(v int64) int64 { return max(v, 0) }
			tpd := value(l.TokensPerDay)
			if l.doubled {
				tpd /= 2
			}
			cm.Quotas[s] = catalog.Quotas{
				TPM: catalog.Quota{Code: l.codes[limitTPM], Default: value(l.TokensPerMinute)},
				TPD: catalog.Quota{Code: l.codes[limitTPD], Default: tpd, CrossRegionDoubled: l.doubled},
				RPM: catalog.Quota{Code: l.codes[limitRPM], Default: value(l.RequestsPerMinute)},
			}
		}
		out[i] = cm
	}
	return out
}

// SetFaults replaces the injected faults for the calls that start from now on.
func (h *Handler) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	h.faults.Store(&f)
	return nil
}

// Stats returns the totals of what the emulator metered since it started or was reset.
func (h *Handler) Stats() Stats { return totals(h.snapshot()) }

// Reset forgets all metering state, stats and cached prompts. Calls in flight settle
// against the state they were admitted in and are not counted again.
func (h *Handler) Reset() {
	h.meter.reset()
	h.cache.reset()
	for i := range h.faultCounts {
		h.faultCounts[i].Store(0)
	}
}

// ServeHTTP routes a request: the stats endpoints, the Service Quotas API (POST / with an
// X-Amz-Target header), or a Bedrock Runtime operation (POST /model/{modelId}/…).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == emustats.Path && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(h.snapshot()) // the client may be gone
	case r.URL.Path == emustats.ResetPath && r.Method == http.MethodPost:
		h.Reset()
		w.WriteHeader(http.StatusNoContent)
	case r.URL.Path == "/" && r.Header.Get("X-Amz-Target") != "":
		h.serveQuotas(w, r)
	default:
		h.serveModel(w, r)
	}
}

// requestID returns a fresh request id shaped like Bedrock's (a UUID).
func (h *Handler) requestID(seq uint64) string {
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", uint32(seq>>32)^0x7011, uint16(seq>>16), uint16(seq)&0xfff, uint16(seq>>4)&0xfff, seq)
}

// Serve serves the handler on ln until ctx is done, then closes the handler (ending
// replies in progress) and shuts the server down. It returns nil after a shutdown caused
// by ctx, or the error that stopped the server. A plain listener serves HTTP/1.1 and
// HTTP/2 with prior knowledge (h2c); for HTTPS pass tls.NewListener(ln, config) with
// config.NextProtos = []string{"h2", "http/1.1"}, so that ALPN can choose HTTP/2.
func (h *Handler) Serve(ctx context.Context, ln net.Listener) error {
	// Connections that never sent a request (the SDK's transport dials spares) would hold
	// Shutdown for 5 seconds; they are tracked and closed at once instead.
	var mu sync.Mutex
	fresh := map[net.Conn]bool{}
	// HTTP/1.1 and HTTP/2 with prior knowledge (h2c) share a plain listener, and a TLS
	// listener offers HTTP/2 by ALPN: the AWS SDK for JavaScript v3 speaks HTTP/2 to
	// Bedrock Runtime, also to an http:// endpoint.
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	protocols.SetUnencryptedHTTP2(true)
	// No ReadTimeout: it would stay on the connection while a streaming reply is written
	// and cut it; request bodies get their own deadline (Options.BodyTimeout). Idle
	// connections are closed after longer than the SDKs keep them (Go's transport: 90s),
	// so that the client, not the server, closes one it may be about to reuse.
	srv := &http.Server{Handler: h, Protocols: &protocols, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ConnState: func(c net.Conn, s http.ConnState) {
			mu.Lock()
			defer mu.Unlock()
			if s == http.StateNew {
				fresh[c] = true
			} else {
				delete(fresh, c)
			}
		}}
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	wg.Go(func() { errc <- srv.Serve(ln) })
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		h.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		wg.Go(func() {
			if serr := srv.Shutdown(sctx); serr != nil {
				_ = srv.Close() // the timeout passed: cut the remaining connections
			}
		})
		mu.Lock()
		for c := range fresh {
			_ = c.Close()
		}
		mu.Unlock()
		err = <-errc
		wg.Wait()
		cancel()
	}
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Server is an emulator listening on a loopback port, shaped like httptest.Server.
type Server struct {
	*Handler
	// URL is the base URL, "http://127.0.0.1:port" ("https://…" from NewTLSServer), to
	// use as the SDK's BaseEndpoint for both Bedrock Runtime and Service Quotas. The port
	// serves HTTP/1.1 and HTTP/2 (h2c on http://, ALPN on https://).
	URL string
	// Listener is the listener the server accepts on.
	Listener net.Listener
	// Certificate is the self-signed certificate of a server started by NewTLSServer, for
	// 127.0.0.1, ::1 and localhost: a client trusts it by adding it to its root CAs. It is
	// nil for NewServer.
	Certificate *x509.Certificate

	stop context.CancelFunc
	done chan error
	once sync.Once
}

// NewServer starts an emulator for opts on a free loopback port, serving HTTP/1.1 and
// h2c. The caller must Close it.
func NewServer(opts Options) (*Server, error) {
	return newServer(opts, false)
}

// NewTLSServer is NewServer over TLS with a fresh self-signed Certificate, serving
// HTTP/2 and HTTP/1.1 as the client's ALPN chooses.
func NewTLSServer(opts Options) (*Server, error) {
	return newServer(opts, true)
}

func newServer(opts Options, useTLS bool) (*Server, error) {
	h, err := New(opts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bedrocktest: listening on loopback: %w", err)
	}
	s := &Server{Handler: h, URL: "http://" + ln.Addr().String(), done: make(chan error, 1)}
	if useTLS {
		cert, err := selfSigned()
		if err != nil {
			_ = ln.Close()
			return nil, err
		}
		s.Certificate = cert.Leaf
		s.URL = "https://" + ln.Addr().String()
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}})
	}
	s.Listener = ln
	ctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	go func() { s.done <- h.Serve(ctx, ln) }() // owned by Close, which waits for it
	return s, nil
}

// selfSigned makes a certificate for the loopback addresses, signed by its own key.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("bedrocktest: generating a TLS key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{Organization: []string{"tollgate bedrocktest"}},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.Add(10 * 24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		// A CA that is its own leaf: a client's trust store can hold it as a root.
		IsCA: true, BasicConstraintsValid: true,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:    []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("bedrocktest: creating a TLS certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("bedrocktest: parsing the TLS certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// Close ends replies in progress, stops the server and waits until it has stopped.
func (s *Server) Close() {
	s.once.Do(func() {
		s.stop()
		<-s.done
	})
}
