package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/tollgate-dev/tollgate/internal/batch"
	"github.com/tollgate-dev/tollgate/internal/emustats"
	"github.com/tollgate-dev/tollgate/internal/testnet"
	"github.com/tollgate-dev/tollgate/internal/testtool"
)

// serveModel is the model the serve tests call (tollgate serve's default).
const serveModel = batch.DefaultModel

// gatewayKey is a key printed by "tollgate keys create".
type gatewayKey struct{ id, secret, token string }

// createKey runs "tollgate keys create --tenant tenant" with the default configuration
// location under xdg (XDG_CONFIG_HOME), as a user would, and reads what it printed.
func createKey(t testing.TB, xdg, tenant string) gatewayKey {
	t.Helper()
	t.Setenv("XDG_CONFIG_HOME", xdg)
	out, _, err := runCmd(t, "keys", "create", "--tenant", tenant)
	if err != nil {
		t.Fatalf("keys create: %v", err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		env[k] = v
	}
	k := gatewayKey{env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_BEARER_TOKEN_BEDROCK"]}
	if k.id == "" || k.secret == "" || k.token == "" {
		t.Fatalf("keys create printed %q", out)
	}
	return k
}

// proc is a tollgate process started by a test.
type proc struct {
	cmd            *exec.Cmd
	url            string
	stdout, stderr *syncBuffer
}

// urlLine finds the URL a serve or emulate process prints when it is ready.
var urlLine = regexp.MustCompile(`(?:Tollgate gateway|Bedrock emulator) on (https?://[0-9.]+:[0-9]+)`)

// startProc starts this test binary as "tollgate args…" with env added, and waits for
// the URL it prints when it listens.
func startProc(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	return startBinary(t, os.Args[0], append([]string{"TOLLGATE_MAIN=1"}, env...), args...)
}

// startBinary starts bin (this test binary, or one tollgateBinary built) as "tollgate
// args…" with env added, and waits for the URL it prints when it listens.
func startBinary(t testing.TB, bin string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	p := &proc{cmd: cmd, stdout: new(syncBuffer), stderr: new(syncBuffer)}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := urlLine.FindStringSubmatch(p.stdout.String()); m != nil {
			p.url = m[1]
			return p
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("tollgate %v did not start: stdout %q stderr %q", args, p.stdout.String(), p.stderr.String())
	return nil
}

// startServe starts "tollgate serve" on a free port with the configuration under xdg.
func startServe(t *testing.T, xdg string, args ...string) *proc {
	t.Helper()
	return startProc(t, []string{"XDG_CONFIG_HOME=" + xdg}, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
}

// needBoto3 ends the test when python3 with boto3 is missing.
func needBoto3(t *testing.T) string {
	t.Helper()
	python, err := exec.LookPath("python3")
	if err != nil {
		testtool.Missing(t, "python3", "install python3 with boto3 ≥ 1.39")
	}
	if exec.Command(python, "-c", "import boto3").Run() != nil {
		testtool.Missing(t, "boto3", "install boto3 ≥ 1.39 for python3")
	}
	return python
}

// runScript runs a program with a clean AWS environment plus env and decodes the JSON
// object it printed.
func runScript(t *testing.T, env []string, name string, args ...string) map[string]any {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "AWS_EC2_METADATA_DISABLED=true"}, env...)
	out, err := cmd.Output()
	var got map[string]any
	if jerr := json.Unmarshal(out, &got); jerr != nil || err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%s %v: %v; output %q; %s", name, args, err, out, stderr)
	}
	return got
}

// keyEnv is the environment of a caller using k: SigV4 or a bearer token.
func keyEnv(k gatewayKey, bearer bool) []string {
	if bearer {
		return []string{"AWS_BEARER_TOKEN_BEDROCK=" + k.token}
	}
	return []string{"AWS_ACCESS_KEY_ID=" + k.id, "AWS_SECRET_ACCESS_KEY=" + k.secret}
}

// checkEveryOperation checks what serve_calls.py or serve_calls.mjs printed: every
// operation answered, with text, usage, the usage headers and the wait header.
func checkEveryOperation(t *testing.T, got map[string]any) {
	t.Helper()
	field := func(path ...string) any {
		var v any = got
		for _, p := range path {
			m, _ := v.(map[string]any)
			v = m[p]
		}
		return v
	}
	for _, op := range []string{"converse", "converseStream", "invoke", "invokeStream"} {
		if s, _ := field(op, "text").(string); len(s) < 10 {
			t.Errorf("%s answered text %q", op, s)
		}
	}
	if n, _ := field("converse", "usage", "inputTokens").(float64); n <= 0 {
		t.Errorf("Converse usage %v", field("converse", "usage"))
	}
	if n, _ := field("converseStream", "usage", "outputTokens").(float64); n <= 0 {
		t.Errorf("ConverseStream's metadata usage %v", field("converseStream", "usage"))
	}
	if n, _ := field("converseStream", "events").(float64); n < 4 {
		t.Errorf("ConverseStream gave %v events", n)
	}
	if s, _ := field("invoke", "outputTokens").(string); s == "" || s == "0" {
		t.Errorf("InvokeModel's X-Amzn-Bedrock-Output-Token-Count is %q", s)
	}
	if n, _ := field("invokeStream", "metrics", "outputTokenCount").(float64); n <= 0 {
		t.Errorf("InvokeModelWithResponseStream's invocation metrics %v", field("invokeStream", "metrics"))
	}
	for _, op := range []string{"converse", "invoke"} {
		if s, _ := field(op, "waited").(string); s == "" {
			t.Errorf("%s answer has no X-Tollgate-Waited header", op)
		}
	}
	if n, _ := field("countTokens").(float64); n <= 0 {
		t.Errorf("CountTokens answered %v", field("countTokens"))
	}
}

// TestServeBoto3EveryOperation: "tollgate keys create --tenant team-a" then "tollgate
// serve --emulate", with no file written by hand; boto3, pointed at it by
// AWS_ENDPOINT_URL_BEDROCK_RUNTIME, calls every operation signed (SigV4) and with a
// bearer token; the status page and the metrics then show the tenant's use.
func TestServeBoto3EveryOperation(t *testing.T) {
	python := needBoto3(t)
	xdg := t.TempDir()
	key := createKey(t, xdg, "team-a")
	srv := startServe(t, xdg, "--emulate", "--time-scale", "20")
	for _, bearer := range []bool{false, true} {
		t.Run(fmt.Sprintf("bearer=%v", bearer), func(t *testing.T) {
			env := append(keyEnv(key, bearer), "AWS_ENDPOINT_URL_BEDROCK_RUNTIME="+srv.url, "GATEWAY_MODEL="+serveModel)
			checkEveryOperation(t, runScript(t, env, python, "../../internal/gateway/testdata/serve_calls.py"))
		})
	}
	var st struct {
		Targets []struct {
			Name   string
			Limits []struct {
				Name        string
				Limit, Used float64
			}
		}
		Tenants []struct {
			Name               string
			RequestsLastMinute float64
		}
	}
	getJSON(t, srv.url+"/status.json", &st)
	if len(st.Targets) != 1 || len(st.Targets[0].Limits) == 0 || st.Targets[0].Limits[0].Name != "tokens per minute" || st.Targets[0].Limits[0].Limit != 200_000 {
		t.Errorf("status targets %+v, want the model's 200,000 tokens per minute", st.Targets)
	}
	if len(st.Tenants) != 1 || st.Tenants[0].Name != "team-a" || st.Tenants[0].RequestsLastMinute != 8 {
		t.Errorf("status tenants %+v, want team-a with the 8 metered calls", st.Tenants)
	}
	metrics := getText(t, srv.url+"/metrics")
	for _, want := range []string{`tollgate_gateway_calls_total{operation="converse-stream",status="200",tenant="team-a"} 2`,
		`tollgate_gateway_tokens_total{kind="output",tenant="team-a"}`, `tollgate_calls_total{`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(getText(t, url)), v); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
}

func getText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(b)
}

// TestServeJavaScriptSDKEveryOperation: the JavaScript SDK v3 (HTTP/2 with prior
// knowledge on http://) calls every operation through "tollgate serve", signed and with
// a bearer token.
func TestServeJavaScriptSDKEveryOperation(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		testtool.Missing(t, "node", "install Node.js 20 or later")
	}
	sdk, err := filepath.Abs("../../bedrocktest/testdata/sdk")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(sdk, "node_modules", "@aws-sdk", "client-bedrock-runtime")); err != nil {
		testtool.Missing(t, "the JavaScript SDK", "run npm ci in bedrocktest/testdata/sdk (./scripts/test.sh does)")
	}
	xdg := t.TempDir()
	key := createKey(t, xdg, "team-js")
	srv := startServe(t, xdg, "--emulate", "--time-scale", "20")
	for _, bearer := range []bool{false, true} {
		t.Run(fmt.Sprintf("bearer=%v", bearer), func(t *testing.T) {
			env := append(keyEnv(key, bearer), "SDK_DIR="+sdk, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME="+srv.url, "GATEWAY_MODEL="+serveModel)
			checkEveryOperation(t, runScript(t, env, node, "../../internal/gateway/testdata/serve_calls.mjs"))
		})
	}
}

// TestServeGoSDKEveryOperation: the Go SDK calls every operation through "tollgate
// serve", signed over HTTP and with a bearer token over HTTPS (the Go SDK sends a bearer
// token only over TLS).
func TestServeGoSDKEveryOperation(t *testing.T) {
	xdg := t.TempDir()
	key := createKey(t, xdg, "team-go")
	certFile, keyFile, pool := testnet.CertificateFiles(t)
	plain := startServe(t, xdg, "--emulate", "--time-scale", "20")
	tlsSrv := startServe(t, xdg, "--emulate", "--time-scale", "20", "--tls-cert", certFile, "--tls-key", keyFile)
	t.Run("sigv4", func(t *testing.T) {
		c := bedrockruntime.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(key.id, key.secret, "")},
			func(o *bedrockruntime.Options) { o.BaseEndpoint = aws.String(plain.url) })
		goEveryOperation(t, c)
	})
	t.Run("bearer", func(t *testing.T) {
		t.Setenv("AWS_BEARER_TOKEN_BEDROCK", key.token)
		httpClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
		// No usable SigV4 credentials: only the token can authenticate the calls.
		c := bedrockruntime.NewFromConfig(aws.Config{Region: "us-east-1", HTTPClient: httpClient, Credentials: credentials.NewStaticCredentialsProvider("TGNOTAKEYATALL0000", "wrong", "")},
			func(o *bedrockruntime.Options) { o.BaseEndpoint = aws.String(tlsSrv.url) })
		goEveryOperation(t, c)
	})
}

// goEveryOperation calls the five operations with the Go SDK and checks their answers.
func goEveryOperation(t *testing.T, c *bedrockruntime.Client) {
	t.Helper()
	ctx := context.Background()
	msgs := []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "Name the parties of this contract."}}}}
	inf := &types.InferenceConfiguration{MaxTokens: aws.Int32(50)}
	out, err := c.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(serveModel), Messages: msgs, InferenceConfig: inf, RequestMetadata: map[string]string{"priority": "high"}})
	if err != nil {
		t.Fatalf("Converse: %v", err)
	}
	if out.Usage == nil || aws.ToInt32(out.Usage.OutputTokens) <= 0 {
		t.Errorf("Converse usage %+v", out.Usage)
	}
	st, err := c.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(serveModel), Messages: msgs, InferenceConfig: inf})
	if err != nil {
		t.Fatalf("ConverseStream: %v", err)
	}
	var text strings.Builder
	var usage *types.TokenUsage
	for ev := range st.GetStream().Events() {
		switch e := ev.(type) {
		case *types.ConverseStreamOutputMemberContentBlockDelta:
			if d, ok := e.Value.Delta.(*types.ContentBlockDeltaMemberText); ok {
				text.WriteString(d.Value)
			}
		case *types.ConverseStreamOutputMemberMetadata:
			usage = e.Value.Usage
		}
	}
	if err := st.GetStream().Err(); err != nil || text.Len() < 10 || usage == nil {
		t.Errorf("ConverseStream: text %q, usage %+v, err %v", text.String(), usage, err)
	}
	body := []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":50,"messages":[{"role":"user","content":"Name the parties."}]}`)
	inv, err := c.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(serveModel), Body: body, ContentType: aws.String("application/json")})
	if err != nil {
		t.Fatalf("InvokeModel: %v", err)
	}
	if !strings.Contains(string(inv.Body), `"content"`) {
		t.Errorf("InvokeModel answered %s", inv.Body)
	}
	ist, err := c.InvokeModelWithResponseStream(ctx, &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String(serveModel), Body: body, ContentType: aws.String("application/json")})
	if err != nil {
		t.Fatalf("InvokeModelWithResponseStream: %v", err)
	}
	chunks, metrics := 0, false
	for ev := range ist.GetStream().Events() {
		if ch, ok := ev.(*types.ResponseStreamMemberChunk); ok {
			chunks++
			metrics = metrics || strings.Contains(string(ch.Value.Bytes), "amazon-bedrock-invocationMetrics")
		}
	}
	if err := ist.GetStream().Err(); err != nil || chunks < 3 || !metrics {
		t.Errorf("InvokeModelWithResponseStream: %d chunks, metrics %v, err %v", chunks, metrics, err)
	}
	ct, err := c.CountTokens(ctx, &bedrockruntime.CountTokensInput{ModelId: aws.String(serveModel),
		Input: &types.CountTokensInputMemberConverse{Value: types.ConverseTokensRequest{Messages: msgs}}})
	if err != nil || aws.ToInt32(ct.InputTokens) <= 0 {
		t.Errorf("CountTokens: %+v, %v", ct, err)
	}
}

// TestServeBoto3ThreadPool: the program of the issue — 16 boto3 threads reviewing 40
// contracts through Converse with boto3's default retries and nothing else — through
// "tollgate serve --upstream" to a "tollgate emulate" metering the AWS default quotas
// (ten times faster than real time): every document is done, no error reaches the
// program, and the emulator throttled nothing.
func TestServeBoto3ThreadPool(t *testing.T) {
	python := needBoto3(t)
	const scale = "10"
	emu := startProc(t, nil, "emulate", "--addr", "127.0.0.1:0", "--time-scale", scale)
	xdg := t.TempDir()
	key := createKey(t, xdg, "contracts")
	srv := startServe(t, xdg, "--upstream", emu.url, "--time-scale", scale)
	contracts, err := filepath.Abs("../../examples/contracts")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got := runScript(t, append(keyEnv(key, false), "AWS_ENDPOINT_URL_BEDROCK_RUNTIME="+srv.url), python, "testdata/threadpool.py", contracts, serveModel)
	t.Logf("thread pool: %v in %v (emulated ×%s)", got, time.Since(start).Round(time.Second), scale)
	if got["done"] != float64(40) || got["failed"] != float64(0) {
		t.Errorf("the program did %v documents and failed %v: %v; want 40 done, 0 failed", got["done"], got["failed"], got["errors"])
	}
	var stats emustats.Snapshot
	getJSON(t, emu.url+emustats.Path, &stats)
	var admitted, throttled int64
	for _, s := range stats.Series {
		admitted += s.Admitted
		for _, n := range s.Throttled {
			throttled += n
		}
	}
	t.Logf("emulator: %d admitted, %d throttled", admitted, throttled)
	if throttled != 0 || admitted < 40 {
		t.Errorf("the emulator admitted %d calls and throttled %d; want at least 40 and none", admitted, throttled)
	}
}

// TestServeSIGTERMDrains: SIGTERM stops the gateway taking new connections while the
// calls under way finish and are answered, and the process exits 0.
func TestServeSIGTERMDrains(t *testing.T) {
	xdg := t.TempDir()
	key := createKey(t, xdg, "team-a")
	// Real time: each answer of 300 tokens takes 400ms + 299 × 15ms, about 5 s.
	srv := startServe(t, xdg, "--emulate")
	c := bedrockruntime.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(key.id, key.secret, "")},
		func(o *bedrockruntime.Options) {
			o.BaseEndpoint = aws.String(srv.url)
			o.RetryMaxAttempts = 1
		})
	const calls = 4
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String(serveModel),
				Messages:        []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: strings.Repeat("word ", 300)}}}},
				InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(300)}})
			errs <- err
		}()
	}
	// Wait until the calls are under way upstream.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var st struct{ Targets []struct{ InFlight int } }
		getJSON(t, srv.url+"/status.json", &st)
		if len(st.Targets) == 1 && st.Targets[0].InFlight == calls {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the calls did not get under way: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if conn, err := net.DialTimeout("tcp", strings.TrimPrefix(srv.url, "http://"), time.Second); err == nil {
		conn.Close()
		t.Error("the gateway still accepts connections after SIGTERM")
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a call under way at SIGTERM failed: %v", err)
		}
	}
	err := srv.cmd.Wait()
	if err != nil {
		t.Errorf("serve exited with %v after SIGTERM, want 0; stderr %s", err, srv.stderr.String())
	}
	if !strings.Contains(srv.stdout.String(), "gateway stopped") {
		t.Errorf("stdout %q does not say the gateway stopped", srv.stdout.String())
	}
}

// TestServeAuthRefusals: through "tollgate serve", boto3 raises the usual exceptions
// for a wrong secret, an AWS key and a key revoked while the gateway runs
// ("tollgate keys revoke", picked up without a restart).
func TestServeAuthRefusals(t *testing.T) {
	python := needBoto3(t)
	xdg := t.TempDir()
	key := createKey(t, xdg, "team-a")
	revoked := createKey(t, xdg, "team-a")
	srv := startServe(t, xdg, "--emulate", "--time-scale", "20")
	if _, _, err := runCmd(t, "keys", "revoke", revoked.id); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // the gateway checks its configuration once a second
	cases := []struct {
		name, code string
		env        []string
	}{
		{"wrong secret", "InvalidSignatureException", []string{"AWS_ACCESS_KEY_ID=" + key.id, "AWS_SECRET_ACCESS_KEY=wrong"}},
		{"AWS key", "UnrecognizedClientException", []string{"AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY=x"}},
		{"revoked key", "UnrecognizedClientException", keyEnv(revoked, false)},
		{"revoked token", "UnrecognizedClientException", keyEnv(revoked, true)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := append(tc.env, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME="+srv.url, "GATEWAY_MODEL="+serveModel, "EXPECT_ERROR="+tc.code)
			got := runScript(t, env, python, "../../internal/gateway/testdata/serve_calls.py")
			if got["error"] != tc.code {
				t.Errorf("boto3 raised %v, want %s", got, tc.code)
			}
		})
	}
}

// TestServeBedrockDefaultChain: without --emulate or --upstream, the gateway calls
// Bedrock the way "tollgate run" does — the default credential chain, a target per
// region given, each target's quotas read with Service Quotas — here with the standard
// AWS_ENDPOINT_URL_* variables pointing both services at a "tollgate emulate", which sees
// the calls signed with the gateway's own credentials.
func TestServeBedrockDefaultChain(t *testing.T) {
	emu := startProc(t, nil, "emulate", "--addr", "127.0.0.1:0", "--time-scale", "20")
	xdg := t.TempDir()
	key := createKey(t, xdg, "team-a")
	srv := startProc(t, []string{"XDG_CONFIG_HOME=" + xdg, "HOME=" + t.TempDir(), "AWS_EC2_METADATA_DISABLED=true",
		"AWS_ACCESS_KEY_ID=AKIDGATEWAYOWN", "AWS_SECRET_ACCESS_KEY=gateway-secret", "AWS_REGION=us-east-1",
		"AWS_ENDPOINT_URL_BEDROCK_RUNTIME=" + emu.url, "AWS_ENDPOINT_URL_SERVICE_QUOTAS=" + emu.url},
		"serve", "--listen", "127.0.0.1:0", "--region", "us-east-1", "--region", "us-west-2")
	c := bedrockruntime.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(key.id, key.secret, "")},
		func(o *bedrockruntime.Options) { o.BaseEndpoint = aws.String(srv.url) })
	goEveryOperation(t, c)
	var st struct {
		Targets []struct{ Name string }
	}
	getJSON(t, srv.url+"/status.json", &st)
	if len(st.Targets) != 2 || !strings.HasPrefix(st.Targets[0].Name, "us-east-1/") || !strings.HasPrefix(st.Targets[1].Name, "us-west-2/") {
		t.Errorf("targets %+v, want the model in us-east-1 and us-west-2", st.Targets)
	}
	if !strings.Contains(srv.stderr.String(), "source=\"service quotas") {
		t.Errorf("the targets' quotas were not read with Service Quotas: %s", srv.stderr.String())
	}
	var stats emustats.Snapshot
	getJSON(t, emu.url+emustats.Path, &stats)
	var admitted int64
	for _, s := range stats.Series {
		if s.Account != "AKIDGATEWAYOWN" {
			t.Errorf("the emulator saw calls signed by %q, want the gateway's own AKIDGATEWAYOWN", s.Account)
		}
		admitted += s.Admitted
	}
	if admitted != 4 {
		t.Errorf("the emulator admitted %d calls, want the 4 metered ones", admitted)
	}
}

// TestServeRefusesToCallItself: AWS_ENDPOINT_URL_BEDROCK_RUNTIME left pointing at the
// gateway in its own environment is refused at start, naming the variable, instead of
// making every call loop back as a refused AWS key.
func TestServeRefusesToCallItself(t *testing.T) {
	xdg := t.TempDir()
	createKey(t, xdg, "team-a")
	t.Setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://localhost:18555")
	_, _, err := runCmd(t, "serve", "--listen", "127.0.0.1:18555")
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "AWS_ENDPOINT_URL_BEDROCK_RUNTIME=http://localhost:18555 points at this gateway itself") {
		t.Errorf("serve with its own address as its upstream: %v", err)
	}
}
