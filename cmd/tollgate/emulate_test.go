package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"
)

// startEmulate runs "tollgate emulate args…" in-process and returns its base URL, a
// function that stops it (and returns its error) and what it printed.
func startEmulate(t *testing.T, args ...string) (url string, stop func() (string, error)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	root := newRootCmd()
	root.SetArgs(append([]string{"emulate", "--addr", "127.0.0.1:0"}, args...))
	root.SetOut(pw)
	done := make(chan error, 1)
	go func() { // waited for by stop
		err := root.ExecuteContext(ctx)
		pw.Close()
		done <- err
	}()
	var printed strings.Builder
	lines := bufio.NewScanner(pr)
	for lines.Scan() {
		line := lines.Text()
		printed.WriteString(line + "\n")
		if u, ok := strings.CutPrefix(strings.TrimSpace(line), "export AWS_ENDPOINT_URL_BEDROCK_RUNTIME="); ok {
			url = u
			break
		}
	}
	rest := make(chan string, 1)
	go func() { // drains the output until the command closes the pipe
		var b strings.Builder
		for lines.Scan() {
			b.WriteString(lines.Text() + "\n")
		}
		rest <- b.String()
	}()
	stopped := false
	stop = func() (string, error) {
		if stopped {
			return "", nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return printed.String() + <-rest, err
		case <-time.After(10 * time.Second):
			t.Fatal("emulate did not stop within 10s of cancellation")
			return "", nil
		}
	}
	t.Cleanup(func() { _, _ = stop() })
	if url == "" {
		out, err := stop()
		t.Fatalf("emulate printed no endpoint (error %v):\n%s", err, out)
	}
	return url, stop
}

func TestEmulateServesTheSDK(t *testing.T) {
	const model = "us.anthropic.claude-sonnet-4-20250514-v1:0"
	// Clock-minute windows with emulated time nearly frozen (a millisecond per real
	// second), so that the three calls share a minute.
	url, stop := startEmulate(t, "--window", "clock", "--time-scale", "0.001", "--ttft", "-1ms", "--per-token", "-1ms",
		"--tpm", model+"=2100", "--output-tokens", "10")
	ctx := context.Background()
	creds := credentials.NewStaticCredentialsProvider("AKID", "secret", "")
	rt := bedrockruntime.New(bedrockruntime.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), Credentials: creds, Retryer: aws.NopRetryer{}})
	in := &bedrockruntime.ConverseInput{ModelId: aws.String(model),
		Messages:        []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "hello"}}}},
		InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(2000)}}
	out, err := rt.Converse(ctx, in)
	if err != nil {
		t.Fatalf("Converse: %v", err)
	}
	if got := aws.ToInt32(out.Usage.OutputTokens); got != 10 {
		t.Errorf("output tokens = %d, want --output-tokens 10", got)
	}
	// Each call reserves 1 + 2,000 and settles 1 + 10×5 = 51 of the 2,100: a second call
	// fits (51 + 2,001), a third does not (102 + 2,001).
	if _, err := rt.Converse(ctx, in); err != nil {
		t.Fatalf("second Converse: %v", err)
	}
	_, err = rt.Converse(ctx, in)
	var te *types.ThrottlingException
	if !errors.As(err, &te) {
		t.Fatalf("third Converse: %v, want a ThrottlingException", err)
	}
	sq := servicequotas.New(servicequotas.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), Credentials: creds, Retryer: aws.NopRetryer{}})
	q, err := sq.GetServiceQuota(ctx, &servicequotas.GetServiceQuotaInput{ServiceCode: aws.String("bedrock"), QuotaCode: aws.String("L-59759B4A")})
	if err != nil {
		t.Fatalf("GetServiceQuota: %v", err)
	}
	if v := aws.ToFloat64(q.Quota.Value); v != 2100 {
		t.Errorf("Sonnet 4 cross-region TPM = %v, want the --tpm 2100", v)
	}
	printed, err := stop()
	if err != nil {
		t.Fatalf("emulate returned %v after cancellation", err)
	}
	for _, want := range []string{"export AWS_ENDPOINT_URL_BEDROCK_RUNTIME=" + url, "export AWS_ENDPOINT_URL_SERVICE_QUOTAS=" + url,
		"clock-minute windows", "time scale 0.001×", "/_tollgate/stats", "emulator stopped"} {
		if !strings.Contains(printed, want) {
			t.Errorf("output lacks %q:\n%s", want, printed)
		}
	}
}

func TestEmulateConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "emulator.yaml")
	config := `presets: false
models:
  - id: example.tiny-v1:0
    max_output_tokens: 100
    limits:
      on-demand: {tokens_per_minute: 1000, codes: {tokens_per_minute: L-0000AAAA}}
`
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	url, stop := startEmulate(t, "--config", path, "--tpm", "example.tiny-v1:0=700")
	sq := servicequotas.New(servicequotas.Options{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""), Retryer: aws.NopRetryer{}})
	q, err := sq.GetServiceQuota(context.Background(), &servicequotas.GetServiceQuotaInput{ServiceCode: aws.String("bedrock"), QuotaCode: aws.String("L-0000AAAA")})
	if err != nil {
		t.Fatalf("GetServiceQuota: %v", err)
	}
	if v := aws.ToFloat64(q.Quota.Value); v != 700 {
		t.Errorf("TPM = %v, want the flag's 700 over the file's 1000", v)
	}
	if printed, err := stop(); err != nil || !strings.Contains(printed, ": 1 models,") {
		t.Errorf("stop: %v\n%s", err, printed)
	}
}

func TestEmulateUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--window", "sliding"}, `unknown window mode "sliding"`},
		{[]string{"--time-scale", "-2"}, "--time-scale -2 is out of range"},
		{[]string{"--tpm", "us.anthropic.claude-sonnet-4-20250514-v1:0"}, "want MODEL=N"},
		{[]string{"--tpm", "us.anthropic.claude-sonnet-4-20250514-v1:0=lots"}, "is not a count"},
		{[]string{"--tpm", "us.example.unknown-v1:0=5"}, "is not served"},
		{[]string{"--fault", "gremlins=0.5"}, "want KIND=PROBABILITY"},
		{[]string{"--fault", "drop=1.5"}, "between 0 and 1"},
		{[]string{"--config", "/nonexistent/emulator.yaml"}, "--config"},
		{[]string{"--no-presets"}, "no models"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"--addr", "256.0.0.1:1"}, "emulate:"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			root := newRootCmd()
			root.SetArgs(append([]string{"emulate"}, tt.args...))
			root.SetOut(io.Discard)
			err := root.ExecuteContext(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to mention %q", err, tt.want)
			}
			var ue usageError
			if isUsage := errors.As(err, &ue); isUsage == (tt.want == "emulate:") {
				t.Errorf("usage error = %v for %v", isUsage, err)
			}
		})
	}
}

func TestEmulateHelp(t *testing.T) {
	root := newRootCmd()
	var out strings.Builder
	root.SetArgs([]string{"emulate", "--help"})
	root.SetOut(&out)
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--addr", "127.0.0.1:8480", "--config", "--catalog", "--window", "--time-scale", "--reserve-burndown",
		"--legacy-rpm", "--region", "--tpm", "--tpd", "--rpm", "--ttft", "--per-token", "--output-tokens", "--fault",
		"--fault-seed", "--slow-factor", "--no-presets", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "docs/emulator.md", "Ctrl-C",
		"--tls-cert", "--tls-key", "h2c", "HTTP/2"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

func TestEmulateCatalogFile(t *testing.T) {
	const arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6"
	path := filepath.Join(t.TempDir(), "catalog.yaml")
	cat := `models:
  - id: acme.custom-model-v1:0
    output_burndown: 1
    max_output_tokens: 4096
    context_window: 32000
    quotas: {on-demand: {tpm: {code: L-ACME0001, default: 123456}}}
profiles:
  ` + arn + `: acme.custom-model-v1:0
`
	if err := os.WriteFile(path, []byte(cat), 0o600); err != nil {
		t.Fatal(err)
	}
	url, stop := startEmulate(t, "--catalog", path, "--ttft", "-1ms", "--per-token", "-1ms")
	ctx := context.Background()
	creds := credentials.NewStaticCredentialsProvider("AKID", "secret", "")
	rt := bedrockruntime.New(bedrockruntime.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), Credentials: creds, Retryer: aws.NopRetryer{}})
	_, err := rt.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(arn),
		Messages: []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "hello"}}}}})
	if err != nil {
		t.Fatalf("Converse through the mapped profile: %v", err)
	}
	sq := servicequotas.New(servicequotas.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), Credentials: creds, Retryer: aws.NopRetryer{}})
	q, err := sq.GetServiceQuota(ctx, &servicequotas.GetServiceQuotaInput{ServiceCode: aws.String("bedrock"), QuotaCode: aws.String("L-ACME0001")})
	if err != nil || aws.ToFloat64(q.Quota.Value) != 123456 {
		t.Errorf("GetServiceQuota(L-ACME0001) = %+v, %v; want the catalog file's 123456", q, err)
	}
	if _, err := stop(); err != nil {
		t.Error(err)
	}
}
