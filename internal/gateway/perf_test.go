package gateway

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/catalog"
)

// TestRelayReusesUpstreamConnections: 64 callers calling at once, five times over, make
// the gateway open about one upstream connection per caller, not one per call. With the
// AWS SDK's default of 10 idle connections per host, each round after the first would
// open 54 new ones (over 270 in all).
func TestRelayReusesUpstreamConnections(t *testing.T) {
	const callers, rounds = 64, 5
	var opened atomic.Int64
	m, _, err := catalog.Default().Lookup(relayModel)
	if err != nil {
		t.Fatal(err)
	}
	emu, err := bedrocktest.New(bedrocktest.Options{Models: []catalog.Model{m}, Latency: bedrocktest.Latency{TimeToFirstToken: -1, PerOutputToken: -1}})
	if err != nil {
		t.Fatal(err)
	}
	up := httptest.NewUnstartedServer(emu)
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	up.Start()
	t.Cleanup(up.Close)
	g := newRelayGateway(t, relaySetup{tpm: 100_000_000_000, scale: 1, endpoint: up.URL, tenants: map[string]Tenant{"team-a": {}}})
	k := g.Keys["team-a"]
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = callers
	t.Cleanup(tr.CloseIdleConnections)
	c := bedrockruntime.NewFromConfig(aws.Config{Region: "us-east-1", HTTPClient: &http.Client{Transport: tr},
		Credentials: credentials.NewStaticCredentialsProvider(k.AccessKeyID, k.SecretAccessKey, "")},
		func(o *bedrockruntime.Options) { o.BaseEndpoint = aws.String(g.URL); o.RetryMaxAttempts = 1 })
	in := converseOf(50, 10, "")
	for range rounds {
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				if _, err := c.Converse(context.Background(), in); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	if n := opened.Load(); n > 2*callers {
		t.Errorf("the gateway opened %d upstream connections for %d rounds of %d concurrent calls; want at most %d", n, rounds, callers, 2*callers)
	}
}

// TestSigningKeyCache: a cached signing key is the one derived afresh, for each day,
// region and secret, and the cache stays within its bound.
func TestSigningKeyCache(t *testing.T) {
	c := &signingKeyCache{keys: map[string][]byte{}}
	for _, tc := range [][4]string{
		{"secret-a", "20261204", "us-east-1", "bedrock"},
		{"secret-a", "20261205", "us-east-1", "bedrock"},
		{"secret-a", "20261204", "eu-west-1", "bedrock"},
		{"secret-b", "20261204", "us-east-1", "bedrock"},
	} {
		want := signingKey(tc[0], tc[1], tc[2], tc[3])
		for range 2 {
			if got := c.get(tc[0], tc[1], tc[2], tc[3]); string(got) != string(want) {
				t.Fatalf("key of %v: got %x, want %x", tc[1:], got, want)
			}
		}
	}
	if len(c.keys) != 4 {
		t.Errorf("%d keys cached, want 4", len(c.keys))
	}
	for i := range maxCachedSigningKeys + 10 {
		c.get("s", "20261204", "r"+string(rune('a'+i%26))+string(rune(i)), "bedrock")
	}
	if len(c.keys) > maxCachedSigningKeys {
		t.Errorf("%d keys cached, want at most %d", len(c.keys), maxCachedSigningKeys)
	}
}

// TestUpstreamHTTPClient: the gateway keeps enough idle upstream connections whatever
// client its configuration gives, without changing the caller's own client.
func TestUpstreamHTTPClient(t *testing.T) {
	own := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2}}
	got, ok := upstreamHTTPClient(own).(*http.Client)
	if !ok || got == own {
		t.Fatalf("upstreamHTTPClient(*http.Client) = %T %p, want a copy", got, got)
	}
	if n := got.Transport.(*http.Transport).MaxIdleConnsPerHost; n < upstreamIdlePerHost {
		t.Errorf("copy keeps %d idle connections per host, want %d", n, upstreamIdlePerHost)
	}
	if n := own.Transport.(*http.Transport).MaxIdleConnsPerHost; n != 2 {
		t.Errorf("the configured client was changed: %d idle connections per host", n)
	}
	if n := upstreamHTTPClient(nil).(interface{ GetTransport() *http.Transport }).GetTransport().MaxIdleConnsPerHost; n < upstreamIdlePerHost {
		t.Errorf("default client keeps %d idle connections per host, want %d", n, upstreamIdlePerHost)
	}
}
