package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/tollgate-dev/tollgate/internal/testnet"
)

// converseOver makes one Converse call through the real SDK with an HTTP client speaking
// only the protocols set, and returns the protocol of the answer.
func converseOver(t *testing.T, url string, set func(*http.Protocols), roots *x509.CertPool) string {
	t.Helper()
	var p http.Protocols
	set(&p)
	tr := &http.Transport{Protocols: &p, TLSClientConfig: &tls.Config{RootCAs: roots}}
	t.Cleanup(tr.CloseIdleConnections)
	rt := bedrockruntime.New(bedrockruntime.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), Retryer: aws.NopRetryer{},
		HTTPClient: &http.Client{Transport: tr}, Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
	out, err := rt.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String("us.anthropic.claude-sonnet-4-20250514-v1:0"),
		Messages: []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "hello"}}}}})
	if err != nil {
		t.Fatalf("Converse to %s: %v", url, err)
	}
	if got := aws.ToInt32(out.Usage.OutputTokens); got != 10 {
		t.Errorf("output tokens = %d, want --output-tokens 10", got)
	}
	return awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response).Proto
}

func TestEmulateProtocols(t *testing.T) {
	fast := []string{"--ttft", "-1ms", "--per-token", "-1ms", "--output-tokens", "10"}
	t.Run("plain port: HTTP/1.1 and h2c", func(t *testing.T) {
		url, _ := startEmulate(t, fast...)
		if !strings.HasPrefix(url, "http://") {
			t.Fatalf("URL %q, want http://", url)
		}
		if got := converseOver(t, url, func(p *http.Protocols) { p.SetHTTP1(true) }, nil); got != "HTTP/1.1" {
			t.Errorf("HTTP/1.1 client answered over %s", got)
		}
		if got := converseOver(t, url, func(p *http.Protocols) { p.SetUnencryptedHTTP2(true) }, nil); got != "HTTP/2.0" {
			t.Errorf("h2c client answered over %s", got)
		}
	})
	t.Run("--tls-cert: HTTP/2 and HTTP/1.1 over TLS", func(t *testing.T) {
		certFile, keyFile, roots := testnet.CertificateFiles(t)
		url, stop := startEmulate(t, append(fast, "--tls-cert", certFile, "--tls-key", keyFile)...)
		if !strings.HasPrefix(url, "https://") {
			t.Fatalf("URL %q, want https://", url)
		}
		if got := converseOver(t, url, func(p *http.Protocols) { p.SetHTTP2(true) }, roots); got != "HTTP/2.0" {
			t.Errorf("HTTP/2 client answered over %s", got)
		}
		if got := converseOver(t, url, func(p *http.Protocols) { p.SetHTTP1(true) }, roots); got != "HTTP/1.1" {
			t.Errorf("HTTP/1.1 client answered over %s", got)
		}
		printed, err := stop()
		if err != nil || !strings.Contains(printed, "NODE_EXTRA_CA_CERTS") {
			t.Errorf("stop: %v; output should say how to trust the certificate:\n%s", err, printed)
		}
	})
}

func TestEmulateTLSUsageErrors(t *testing.T) {
	certFile, keyFile, _ := testnet.CertificateFiles(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--tls-cert", certFile}, "--tls-cert and --tls-key go together"},
		{[]string{"--tls-key", keyFile}, "--tls-cert and --tls-key go together"},
		{[]string{"--tls-cert", keyFile, "--tls-key", certFile}, "--tls-cert " + keyFile},
		{[]string{"--tls-cert", "/nonexistent/cert.pem", "--tls-key", keyFile}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			root := newRootCmd()
			root.SetArgs(append([]string{"emulate", "--addr", "127.0.0.1:0"}, tt.args...))
			root.SetOut(io.Discard)
			err := root.ExecuteContext(context.Background())
			var ue usageError
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.As(err, &ue) {
				t.Fatalf("error = %v, want a usage error mentioning %q", err, tt.want)
			}
		})
	}
}
