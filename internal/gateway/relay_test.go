package gateway

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"go.yaml.in/yaml/v3"

	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/internal/wire"
	"github.com/tollgate-dev/tollgate/quota"
)

// relayModel is the model the relay tests call: Claude Sonnet 4 through the US profile,
// 200,000 tokens per minute by default.
const relayModel = "us.anthropic.claude-sonnet-4-20250514-v1:0"

// relayGateway is a gateway with a Relay in front of an in-process emulator, on real
// listeners.
type relayGateway struct {
	URL   string
	Relay *Relay
	Emu   *bedrocktest.Server
	Keys  map[string]Credentials // one key per tenant
}

// relaySetup describes a relay test's emulator and gateway.
type relaySetup struct {
	// tpm is the emulator's tokens per minute on relayModel; gatewayTPM the gateway's
	// limit for it (zero: tpm).
	tpm, gatewayTPM int64
	// scale is the time scale; latency the emulator's.
	scale   float64
	latency bedrocktest.Latency
	// maxWait is the gateway's RelayConfig.MaxWait.
	maxWait time.Duration
	// tenants are the tenants, each given one key.
	tenants map[string]Tenant
	// endpoint, when set, is the upstream the gateway calls instead of the emulator.
	endpoint string
}

// newRelayGateway starts an emulator and a gateway relaying to it as s describes.
func newRelayGateway(t testing.TB, s relaySetup) *relayGateway {
	t.Helper()
	tpm, scale, latency, maxWait, tenants := s.tpm, s.scale, s.latency, s.maxWait, s.tenants
	gatewayTPM := s.gatewayTPM
	if gatewayTPM == 0 {
		gatewayTPM = tpm
	}
	m, _, err := catalog.Default().Lookup(relayModel)
	if err != nil {
		t.Fatal(err)
	}
	// A day's quota that never binds: the tests are about the minute's.
	ls := bedrocktest.Limits{TokensPerMinute: tpm, TokensPerDay: tpm * 1440}
	emu, err := bedrocktest.NewServer(bedrocktest.Options{Models: []catalog.Model{m}, Limits: map[string]bedrocktest.Limits{relayModel: ls}, TimeScale: scale, Latency: latency})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)

	path := filepath.Join(t.TempDir(), "gateway.yaml")
	g := &relayGateway{Emu: emu, Keys: map[string]Credentials{}}
	for name := range tenants {
		if g.Keys[name], err = CreateKey(path, name, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f File
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	f.Tenants = tenants
	if data, err = yaml.Marshal(&f); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := OpenKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	endpoint := emu.URL
	if s.endpoint != "" {
		endpoint = s.endpoint
	}
	relay, err := NewRelay(context.Background(), RelayConfig{TimeScale: scale, MaxWait: maxWait, Pipeline: pipeline.Config{
		AWS: aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDRELAYTEST", "x", "")},
		Targets: []pipeline.TargetConfig{{Region: "us-east-1", Model: relayModel, Endpoint: endpoint,
			Limits: []quota.Limit{{Dimension: quota.Tokens, Amount: gatewayTPM, Per: time.Duration(float64(time.Minute) / scale)}}}},
		Backoff: func(n int) time.Duration { return time.Duration(float64(pipeline.DefaultBackoff(n)) / scale) },
	}})
	if err != nil {
		t.Fatal(err)
	}
	g.Relay = relay
	srv, err := New(Config{Keys: keys, Handler: relay, Status: relay.Status})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		relay.Close()
	})
	g.URL = "http://" + ln.Addr().String()
	return g
}

// client is the Go SDK signing with tenant's key, one attempt per call.
func (g *relayGateway) client(tenant string) *bedrockruntime.Client {
	k := g.Keys[tenant]
	return bedrockruntime.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(k.AccessKeyID, k.SecretAccessKey, "")},
		func(o *bedrockruntime.Options) {
			o.BaseEndpoint = aws.String(g.URL)
			o.RetryMaxAttempts = 1
		})
}

// converseOf is a Converse call of about words input tokens and maxTokens.
func converseOf(words, maxTokens int, prio string) *bedrockruntime.ConverseInput {
	in := &bedrockruntime.ConverseInput{ModelId: aws.String(relayModel),
		Messages:        []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: strings.Repeat("word ", words)}}}},
		InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(int32(maxTokens))}}
	if prio != "" {
		in.RequestMetadata = map[string]string{"priority": prio}
	}
	return in
}

// waitedOf reads the X-Tollgate-Waited header of an SDK output's raw response.
func waitedOf(t *testing.T, md middleware.Metadata) time.Duration {
	t.Helper()
	resp, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response)
	if !ok {
		t.Fatal("no raw response")
	}
	s, err := strconv.ParseFloat(resp.Header.Get(HeaderWaited), 64)
	if err != nil {
		t.Fatalf("%s %q: %v", HeaderWaited, resp.Header.Get(HeaderWaited), err)
	}
	return time.Duration(s * float64(time.Second))
}

// TestRelayTenantIsolation: a tenant flooding the gateway at ten times its own limit
// (20,000 tokens a minute, a tenth of the account's 200,000), at the High class, gets
// 429s naming its own limit and does not push another tenant's High calls past a wait
// of 2 emulated seconds (200 ms at ×10). Without the tenant's limit the flood alone
// would fill the account's minute, and the other tenant's calls would wait for its
// window to drain.
func TestRelayTenantIsolation(t *testing.T) {
	const scale = 10
	const floodLimit = 20_000
	g := newRelayGateway(t, relaySetup{tpm: 200_000, scale: scale, latency: bedrocktest.Latency{TimeToFirstToken: 100 * time.Millisecond, PerOutputToken: time.Millisecond},
		maxWait: time.Second, tenants: map[string]Tenant{"flood": {TokensPerMinute: floodLimit}, "vip": {}}})
	flood, vip := g.client("flood"), g.client("vip")
	ctx, stop := context.WithCancel(context.Background())
	defer stop()

	// Flood: 10 × 20,000 tokens per emulated minute (6 s real) offered at an even pace,
	// each call about 1,000 tokens reserved.
	const callTokens = 1000
	every := time.Duration(float64(6*time.Second) * callTokens / (10 * floodLimit))
	var floodOK, floodRefused atomic.Int64
	var refusal atomic.Value
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := flood.Converse(ctx, converseOf(700, 200, "high"))
				var ae interface{ ErrorCode() string }
				switch {
				case err == nil:
					floodOK.Add(1)
				case errors.As(err, &ae) && ae.ErrorCode() == "ThrottlingException":
					floodRefused.Add(1)
					refusal.Store(err.Error())
				}
			}()
		}
	}()
	time.Sleep(2 * time.Second) // the flood reaches its limit
	var waits []time.Duration
	for range 20 {
		out, err := vip.Converse(ctx, converseOf(700, 200, "high"))
		if err != nil {
			t.Fatalf("vip call: %v", err)
		}
		waits = append(waits, waitedOf(t, out.ResultMetadata))
		time.Sleep(150 * time.Millisecond)
	}
	stop()
	wg.Wait()
	slices.Sort(waits)
	t.Logf("flood: %d answered, %d refused; vip waits p50 %v, max %v", floodOK.Load(), floodRefused.Load(), waits[len(waits)/2], waits[len(waits)-1])
	const bound = 200 * time.Millisecond // 2 emulated seconds
	if waits[len(waits)-1] > bound {
		t.Errorf("vip's High calls waited up to %v, more than %v, under another tenant's flood: waits %v", waits[len(waits)-1], bound, waits)
	}
	if floodRefused.Load() == 0 {
		t.Errorf("the flood at 10× its limit was never refused")
	} else if msg, _ := refusal.Load().(string); !strings.Contains(msg, "tenant flood is over its own limit of 20000 tokens per minute") {
		t.Errorf("the flood's refusal %q does not name its own limit", msg)
	}
}

// TestRelayDisconnectReturnsReservation: a caller that leaves — while its call waits in
// the queue, or while the upstream works on it — has its place and its reservation
// returned at once: nothing stays queued, in flight or counted against the quota.
func TestRelayDisconnectReturnsReservation(t *testing.T) {
	// Slow answers: 10 s to the first token.
	g := newRelayGateway(t, relaySetup{tpm: 100_000, scale: 1, latency: bedrocktest.Latency{TimeToFirstToken: 10 * time.Second, PerOutputToken: time.Millisecond},
		maxWait: 2 * time.Minute, tenants: map[string]Tenant{"team-a": {}}})
	c := g.client("team-a")
	status := func() (inFlight int, used float64, waiting int) {
		st := g.Relay.Status()
		for _, q := range st.Queues {
			waiting += q.Waiting
		}
		return st.Targets[0].InFlight, st.Targets[0].Limits[0].Used, waiting
	}
	eventually := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				inFlight, used, waiting := status()
				t.Fatalf("%s: in flight %d, used %v, waiting %d", what, inFlight, used, waiting)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	// A call that reserves most of the minute (60,000 of 100,000 tokens and its input),
	// and one behind it that must wait for the window.
	ctx1, cancel1 := context.WithCancel(context.Background())
	ctx2, cancel2 := context.WithCancel(context.Background())
	errs := make(chan error, 2)
	go func() { _, err := c.Converse(ctx1, converseOf(100, 60_000, "")); errs <- err }()
	eventually("the first call under way", func() bool { n, used, _ := status(); return n == 1 && used >= 60_000 })
	go func() { _, err := c.Converse(ctx2, converseOf(100, 60_000, "")); errs <- err }()
	eventually("the second call waiting", func() bool { _, _, w := status(); return w == 1 })

	cancel2() // leaves while waiting
	eventually("the waiting call's place returned", func() bool { n, _, w := status(); return w == 0 && n == 1 })
	cancel1() // leaves while the upstream works
	start := time.Now()
	eventually("the reservation returned", func() bool { n, used, _ := status(); return n == 0 && used == 0 })
	t.Logf("reservation returned %v after the caller left", time.Since(start).Round(time.Millisecond))
	for range 2 {
		if err := <-errs; !errors.Is(err, context.Canceled) {
			t.Errorf("a call its caller cancelled ended with %v", err)
		}
	}
	if ts := g.Relay.Status().Tenants; len(ts) != 1 || ts[0].InFlight != 0 || ts[0].Waiting != 0 {
		t.Errorf("tenant status after the callers left: %+v", ts)
	}
}

// TestRelayRetryKeepsItsPlace: a call refused because its forecast wait is too long gets
// 429 at once; the SDK's next attempt of the same call (the same amz-sdk-invocation-id)
// is not refused on the forecast again but waits its turn, at the front of its tenant's
// class, while a new call is still refused at once.
func TestRelayRetryKeepsItsPlace(t *testing.T) {
	const maxWait = time.Second
	g := newRelayGateway(t, relaySetup{tpm: 100_000, scale: 1, latency: bedrocktest.Latency{TimeToFirstToken: 10 * time.Second, PerOutputToken: time.Millisecond},
		maxWait: maxWait, tenants: map[string]Tenant{"team-a": {}}})
	c := g.client("team-a")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _, _ = c.Converse(ctx, converseOf(100, 60_000, "")) }() // fills the minute
	deadline := time.Now().Add(5 * time.Second)
	for g.Relay.Status().Targets[0].InFlight == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the first call did not get under way")
		}
		time.Sleep(5 * time.Millisecond)
	}
	body := `{"messages":[{"role":"user","content":[{"text":"hello"}]}],"inferenceConfig":{"maxTokens":60000}}`
	attempt := func(invocation string) (status int, took time.Duration) {
		r := httptestRequest(t, g.URL+"/model/"+escapeSegment(relayModel)+"/converse", body)
		r.Header.Set("Amz-Sdk-Invocation-Id", invocation)
		signRequest(t, r, g.Keys["team-a"], []byte(body), time.Now())
		start := time.Now()
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, time.Since(start)
	}
	if status, took := attempt("call-1"); status != 429 || took > maxWait/2 {
		t.Fatalf("a call whose forecast wait is a minute: %d after %v, want 429 at once", status, took)
	}
	if status, took := attempt("call-1"); status != 429 || took < maxWait*9/10 {
		t.Errorf("the same call's next attempt: %d after %v, want it to wait its turn (up to %v)", status, took, maxWait)
	}
	if status, took := attempt("call-2"); status != 429 || took > maxWait/2 {
		t.Errorf("a new call: %d after %v, want 429 at once", status, took)
	}
}

// TestRelayRetriesUpstreamThrottles: when the upstream throttles (its quota is half
// what the gateway was told), the gateway retries and adapts; the callers see no
// throttle.
func TestRelayRetriesUpstreamThrottles(t *testing.T) {
	g := newRelayGateway(t, relaySetup{tpm: 20_000, gatewayTPM: 40_000, scale: 20, latency: bedrocktest.Latency{TimeToFirstToken: 10 * time.Millisecond, PerOutputToken: time.Millisecond},
		tenants: map[string]Tenant{"team-a": {}}})
	c := g.client("team-a")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Converse(context.Background(), converseOf(1500, 200, ""))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a caller saw %v", err)
		}
	}
	st := g.Relay.Status()
	if st.Targets[0].Throttles == 0 {
		t.Errorf("the upstream throttled nothing: the test did not test retries")
	}
	t.Logf("upstream throttles retried by the gateway: %d", st.Targets[0].Throttles)
}

// converseStream reads a ConverseStream to its end and returns the text and the
// stream's error.
func converseStream(t *testing.T, c *bedrockruntime.Client) (string, error) {
	t.Helper()
	in := converseOf(50, 100, "")
	out, err := c.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{ModelId: in.ModelId, Messages: in.Messages, InferenceConfig: in.InferenceConfig})
	if err != nil {
		t.Fatalf("ConverseStream did not start: %v", err)
	}
	var text strings.Builder
	for ev := range out.GetStream().Events() {
		if d, ok := ev.(*types.ConverseStreamOutputMemberContentBlockDelta); ok {
			if txt, ok := d.Value.Delta.(*types.ContentBlockDeltaMemberText); ok {
				text.WriteString(txt.Value)
			}
		}
	}
	return text.String(), out.GetStream().Err()
}

// TestRelayStreamFailures: a stream that fails after it began reaches the caller as the
// SDK's usual exception from the stream: an exception frame of the upstream is passed
// through, and an upstream connection that breaks ends the stream with a
// serviceUnavailableException frame of the gateway. Either way the call's place in
// flight is returned.
func TestRelayStreamFailures(t *testing.T) {
	t.Run("upstream exception", func(t *testing.T) {
		g := newRelayGateway(t, relaySetup{tpm: 200_000, scale: 20, tenants: map[string]Tenant{"team-a": {}}})
		if err := g.Emu.SetFaults(bedrocktest.Faults{StreamThrottle: 1}); err != nil {
			t.Fatal(err)
		}
		text, err := converseStream(t, g.client("team-a"))
		var te *types.ThrottlingException
		if !errors.As(err, &te) || text == "" {
			t.Errorf("stream gave %q, then %v; want some text, then ThrottlingException", text, err)
		}
		g.eventuallyIdle(t)
	})
	t.Run("upstream connection breaks", func(t *testing.T) {
		broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", wire.ContentTypeEventStream)
			w.WriteHeader(http.StatusOK)
			ew := wire.NewEventWriter(w, http.NewResponseController(w).Flush)
			_ = ew.Event("messageStart", map[string]string{"role": "assistant"})
			_ = ew.Event("contentBlockDelta", map[string]any{"contentBlockIndex": 0, "delta": map[string]string{"text": "The parties are"}})
			panic(http.ErrAbortHandler) // the connection breaks mid-stream
		}))
		defer broken.Close()
		g := newRelayGateway(t, relaySetup{tpm: 200_000, scale: 20, endpoint: broken.URL, tenants: map[string]Tenant{"team-a": {}}})
		text, err := converseStream(t, g.client("team-a"))
		var su *types.ServiceUnavailableException
		if !errors.As(err, &su) || text != "The parties are" {
			t.Errorf("stream gave %q, then %v; want the text sent, then ServiceUnavailableException", text, err)
		}
		g.eventuallyIdle(t)
	})
}

// eventuallyIdle waits up to a second for no call to be in flight, on the target or for
// any tenant.
func (g *relayGateway) eventuallyIdle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for {
		st := g.Relay.Status()
		busy := st.Targets[0].InFlight
		for _, tn := range st.Tenants {
			busy += tn.InFlight
		}
		if busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("calls still in flight: %+v %+v", st.Targets, st.Tenants)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRelayErrors: the upstream's refusal of a body reaches the caller as the upstream
// answered it (an InvokeModel body the gateway cannot estimate is still forwarded, not
// refused by the gateway), and a model the gateway serves no target for is refused
// naming the fix.
func TestRelayErrors(t *testing.T) {
	g := newRelayGateway(t, relaySetup{tpm: 200_000, scale: 20, tenants: map[string]Tenant{"team-a": {}}})
	c := g.client("team-a")
	_, err := c.InvokeModel(context.Background(), &bedrockruntime.InvokeModelInput{ModelId: aws.String(relayModel),
		Body: []byte(`{"prompt": "Name the parties.", "max_gen_len": 50}`), ContentType: aws.String("application/json")})
	var ve *types.ValidationException
	if !errors.As(err, &ve) || !strings.Contains(ve.ErrorMessage(), "Malformed input request") {
		t.Errorf("a body the model refuses: %v; want the upstream's ValidationException", err)
	}
	_, err = c.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String("amazon.nova-pro-v1:0"),
		Messages: converseOf(5, 10, "").Messages})
	if !errors.As(err, &ve) || !strings.Contains(ve.ErrorMessage(), "serves no target for amazon.nova-pro-v1:0") {
		t.Errorf("a model not served: %v; want ValidationException naming it", err)
	}
	g.eventuallyIdle(t)
}

// TestRelayForwards: what reaches the upstream is the caller's body, to the target's
// model (its ':' escaped on the wire), with Bedrock's request headers, signed with the
// gateway's own credentials and not the caller's; the answer comes back with the
// upstream's Bedrock headers and request id, and the time the call waited.
func TestRelayForwards(t *testing.T) {
	type seen struct {
		path, auth, guardrail, priority string
		body                            []byte
	}
	got := make(chan seen, 1)
	answer := `{"output":{"message":{"role":"assistant","content":[{"text":"The parties are A and B."}]}},"stopReason":"end_turn","usage":{"inputTokens":12,"outputTokens":7,"totalTokens":19},"metrics":{"latencyMs":5}}`
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- seen{r.URL.EscapedPath(), r.Header.Get("Authorization"), r.Header.Get("X-Amzn-Bedrock-GuardrailIdentifier"), r.Header.Get(HeaderPriority), body}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-RequestId", "upstream-request-1")
		w.Header().Set("X-Amzn-Bedrock-Test-Header", "from-upstream")
		_, _ = io.WriteString(w, answer)
	}))
	defer up.Close()
	g := newRelayGateway(t, relaySetup{tpm: 200_000, scale: 1, endpoint: up.URL, tenants: map[string]Tenant{"team-a": {}}})
	body := `{"messages":[{"role":"user","content":[{"text":"Name the parties."}]}],"inferenceConfig":{"maxTokens":50}}`
	r := httptestRequest(t, g.URL+"/model/"+escapeSegment(relayModel)+"/converse", body)
	r.Header.Set("X-Amzn-Bedrock-GuardrailIdentifier", "gr-1")
	r.Header.Set(HeaderPriority, "high")
	signRequest(t, r, g.Keys["team-a"], []byte(body), time.Now())
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(out) != answer {
		t.Fatalf("answer %d %s", resp.StatusCode, out)
	}
	s := <-got
	if want := "/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/converse"; s.path != want {
		t.Errorf("upstream path %q, want %q", s.path, want)
	}
	if string(s.body) != body {
		t.Errorf("upstream body %q, want the caller's %q", s.body, body)
	}
	if !strings.Contains(s.auth, "Credential=AKIDRELAYTEST/") || !strings.Contains(s.auth, "/us-east-1/bedrock/aws4_request") || strings.Contains(s.auth, g.Keys["team-a"].AccessKeyID) {
		t.Errorf("upstream Authorization %q, want the gateway's own signature", s.auth)
	}
	if s.guardrail != "gr-1" || s.priority != "" {
		t.Errorf("upstream headers: guardrail %q (want gr-1), priority %q (want none: it is the gateway's)", s.guardrail, s.priority)
	}
	h := resp.Header
	if h.Get("X-Amzn-Requestid") != "upstream-request-1" || h.Get("X-Amzn-Bedrock-Test-Header") != "from-upstream" || h.Get(HeaderWaited) == "" || h.Get(HeaderGatewayRequestID) == "" {
		t.Errorf("answer headers %v", h)
	}
	if ts := g.Relay.Status().Tenants; len(ts) != 1 || ts[0].TokensLastMinute != 19 {
		t.Errorf("tenant use %+v, want the 19 tokens reported", ts)
	}
}

// TestRelayStatusPageLive: the status page, rendered by headless Chromium from a gateway
// relaying real calls, shows the target's quota use against its limit, the queue of the
// class whose calls wait, and each tenant's use against its own limit.
func TestRelayStatusPageLive(t *testing.T) {
	browser := chromium(t)
	g := newRelayGateway(t, relaySetup{tpm: 100_000, scale: 1, latency: bedrocktest.Latency{TimeToFirstToken: 20 * time.Second, PerOutputToken: time.Millisecond},
		maxWait: 2 * time.Minute, tenants: map[string]Tenant{"contracts": {TokensPerMinute: 150_000}, "search": {}}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A call under way (slow to answer) holds most of the minute; the next waits in the
	// normal class.
	for _, tenant := range []string{"contracts", "search"} {
		go func() { _, _ = g.client(tenant).Converse(ctx, converseOf(100, 60_000, "")) }()
		time.Sleep(100 * time.Millisecond)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := g.Relay.Status()
		if st.Targets[0].InFlight == 1 && st.Queues[2].Waiting == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the calls did not reach their places: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	dom := string(runChromium(t, browser, "--dump-dom", g.URL+"/"))
	for _, want := range []string{
		`data-loaded="true"`,
		`<h3>us-east-1/us.anthropic.claude-sonnet-4-20250514-v1:0</h3>`,
		`tokens per minute`,
		`/ 100,000`,
		`<tr data-row="normal"><td data-k="priority">normal</td><td data-k="waiting">1</td>`,
		`<td data-k="tenant">contracts</td>`,
		`<td data-k="limit">150,000</td>`,
		`<td data-k="tenant">search</td>`,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered page lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("rendered DOM:\n%s", dom)
	}
}
