package bedrocktest_test

import (
	"crypto/tls"
	"crypto/x509"
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

	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/internal/emustats"
)

// transportFor is an HTTP client speaking exactly the protocols given, trusting the
// server's certificate if it has one.
func transportFor(srv *bedrocktest.Server, set func(*http.Protocols)) *http.Client {
	var p http.Protocols
	set(&p)
	tr := &http.Transport{Protocols: &p}
	if srv.Certificate != nil {
		pool := x509.NewCertPool()
		pool.AddCert(srv.Certificate)
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	return &http.Client{Transport: tr}
}

// TestProtocols drives one port with each protocol a client may pick, through plain HTTP
// (for Stats) and through the real SDK (Converse and ConverseStream), and checks the
// protocol the response came back in.
func TestProtocols(t *testing.T) {
	tests := []struct {
		name      string
		tls       bool
		set       func(*http.Protocols)
		wantMajor int
	}{
		{"HTTP/1.1", false, func(p *http.Protocols) { p.SetHTTP1(true) }, 1},
		{"h2c prior knowledge", false, func(p *http.Protocols) { p.SetUnencryptedHTTP2(true) }, 2},
		{"HTTP/1.1 over TLS", true, func(p *http.Protocols) { p.SetHTTP1(true) }, 1},
		{"HTTP/2 over TLS", true, func(p *http.Protocols) { p.SetHTTP2(true) }, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := quickOptions()
			opts.OutputTokens = fixedOutput(12)
			newServer := bedrocktest.NewServer
			if tt.tls {
				newServer = bedrocktest.NewTLSServer
			}
			srv, err := newServer(opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(srv.Close)
			if got, want := strings.HasPrefix(srv.URL, "https://"), tt.tls; got != want {
				t.Fatalf("URL %q: https = %v, want %v", srv.URL, got, want)
			}
			hc := transportFor(srv, tt.set)
			t.Cleanup(hc.CloseIdleConnections)

			resp, err := hc.Get(srv.URL + emustats.Path)
			if err != nil {
				t.Fatalf("GET stats: %v", err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.ProtoMajor != tt.wantMajor {
				t.Fatalf("GET stats: %s over %s, want 200 over HTTP/%d", resp.Status, resp.Proto, tt.wantMajor)
			}

			client := bedrockruntime.New(bedrockruntime.Options{
				Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), HTTPClient: hc, Retryer: aws.NopRetryer{},
				Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
			})
			out, err := client.Converse(ctxT(t), &bedrockruntime.ConverseInput{ModelId: aws.String(sonnetUS), Messages: userMessage("three words here")})
			if err != nil {
				t.Fatalf("Converse: %v", err)
			}
			raw := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response)
			if raw.ProtoMajor != tt.wantMajor {
				t.Errorf("Converse answered over %s, want HTTP/%d", raw.Proto, tt.wantMajor)
			}
			if got := aws.ToInt32(out.Usage.OutputTokens); got != 12 {
				t.Errorf("Converse output tokens = %d, want 12", got)
			}

			stream, err := client.ConverseStream(ctxT(t), &bedrockruntime.ConverseStreamInput{ModelId: aws.String(sonnetUS), Messages: userMessage("three words here")})
			if err != nil {
				t.Fatalf("ConverseStream: %v", err)
			}
			raw = awsmiddleware.GetRawResponse(stream.ResultMetadata).(*smithyhttp.Response)
			if raw.ProtoMajor != tt.wantMajor {
				t.Errorf("ConverseStream answered over %s, want HTTP/%d", raw.Proto, tt.wantMajor)
			}
			es := stream.GetStream()
			var usage *types.TokenUsage
			for ev := range es.Events() {
				if md, ok := ev.(*types.ConverseStreamOutputMemberMetadata); ok {
					usage = md.Value.Usage
				}
			}
			if err := es.Close(); err != nil || es.Err() != nil {
				t.Fatalf("ConverseStream: close %v, err %v", err, es.Err())
			}
			if usage == nil || aws.ToInt32(usage.OutputTokens) != 12 {
				t.Errorf("ConverseStream usage = %+v, want 12 output tokens", usage)
			}
		})
	}
}
