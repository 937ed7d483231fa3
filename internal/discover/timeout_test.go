package discover

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/testnet"
)

// TestQuotasTimeout reads quotas from an endpoint that accepts and never answers: the
// listing gives up at Config.Timeout with an error naming the endpoint and the time
// waited, and the report still holds the catalog's defaults, marked as such.
func TestQuotasTimeout(t *testing.T) {
	url, _ := testnet.Stalled(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // the test's own bound
	defer cancel()
	r, err := Quotas(ctx, Config{Client: client(t, url), Region: "us-east-1", Timeout: 300 * time.Millisecond}, "anthropic.claude-3-5-sonnet-20240620-v1:0")
	if ctx.Err() != nil {
		t.Fatalf("discovery hung until the test's own deadline: %v", err)
	}
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), url) || !strings.Contains(err.Error(), "within 300ms") {
		t.Fatalf("error %v; want ErrTimeout naming %s and 300ms", err, url)
	}
	if r == nil || !strings.Contains(r.Fallback, "catalog defaults") || r.Values[0].Source != CatalogDefault {
		t.Fatalf("report %+v; want the catalog's defaults with the reason", r)
	}
	// The caller's own deadline is the caller's: not reported as the endpoint's timeout.
	short, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	if _, err := Quotas(short, Config{Client: client(t, url), Region: "us-east-1", Timeout: time.Minute}, "anthropic.claude-3-5-sonnet-20240620-v1:0"); errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("caller's deadline: %v; want context.DeadlineExceeded, not ErrTimeout", err)
	}
}

// TestEndpointNamed checks which endpoint a timeout's message names.
func TestEndpointNamed(t *testing.T) {
	url, _ := testnet.Stalled(t)
	if got := endpointOf(Config{Client: client(t, url)}, "us-east-1"); got != url {
		t.Errorf("endpoint %q, want %q", got, url)
	}
	if got := endpointOf(Config{Endpoint: "http://example.test"}, "us-east-1"); got != "http://example.test" {
		t.Errorf("endpoint %q, want Config.Endpoint", got)
	}
	if got := endpointOf(Config{Region: "eu-west-1"}, "eu-west-1"); got != "https://servicequotas.eu-west-1.amazonaws.com" {
		t.Errorf("default endpoint %q", got)
	}
}
