package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/tollgate-dev/tollgate/internal/testnet"
)

func newTextLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

func ioNopCloser(r io.Reader) io.ReadCloser { return io.NopCloser(r) }

// httptestRequest is an unsigned POST of body to url.
func httptestRequest(t testing.TB, url, body string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	return r
}

func withHeader(r *http.Request, name, value string) *http.Request {
	r.Header.Set(name, value)
	return r
}

// signRequest signs r as the Go SDK does, with the SDK's own signer, at time at.
func signRequest(t testing.TB, r *http.Request, c Credentials, body []byte, at time.Time) {
	t.Helper()
	sum := sha256.Sum256(body)
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey},
		r, hex.EncodeToString(sum[:]), "bedrock", "eu-west-1", at)
	if err != nil {
		t.Fatal(err)
	}
}

// testTLS returns a server configuration with a fresh self-signed certificate for
// 127.0.0.1 and a pool that trusts it.
func testTLS(t testing.TB) (*tls.Config, *x509.CertPool) {
	t.Helper()
	cert, pool := testnet.Certificate(t)
	return &tls.Config{Certificates: []tls.Certificate{cert}}, pool
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// recorder is a minimal http.ResponseWriter for calling ServeHTTP directly.
type recorder struct {
	header http.Header
	status int
	body   strings.Builder
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(code int) { r.status = code }

func mustRequest(t testing.TB, method, target string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, "http://gateway"+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.RequestURI = target
	return r
}
