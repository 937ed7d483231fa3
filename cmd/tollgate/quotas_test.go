package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/catalog"
)

const (
	sonnet35 = "anthropic.claude-3-5-sonnet-20240620-v1:0"
	sonnet4  = "anthropic.claude-sonnet-4-20250514-v1:0"
)

// isolateAWS gives the command static test credentials and nothing else: no shared
// config or credential files, no instance metadata, no region, no endpoint override.
func isolateAWS(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "",
		"AWS_PROFILE": "", "AWS_DEFAULT_PROFILE": "", "AWS_REGION": "", "AWS_DEFAULT_REGION": "",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_SERVICE_QUOTAS": "",
		"AWS_MAX_ATTEMPTS": "1",
	} {
		t.Setenv(k, v)
	}
}

// runCLI runs "tollgate args..." in process and returns its output.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// emulatorURL starts bedrocktest serving Claude 3.5 Sonnet with an account TPM of 123,000
// on demand (the AWS default is 400,000) and returns its URL.
func emulatorURL(t *testing.T) string {
	t.Helper()
	m, _ := catalog.Default().Model(sonnet35)
	s, err := bedrocktest.NewServer(bedrocktest.Options{Models: []catalog.Model{m}, LegacyRPM: true,
		Limits: map[string]bedrocktest.Limits{sonnet35: {TokensPerMinute: 123_000}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s.URL
}

func TestQuotasCommandTable(t *testing.T) {
	isolateAWS(t)
	out, err := runCLI(t, "quotas", "--model", sonnet35, "--region", "us-east-1", "--endpoint", emulatorURL(t))
	if err != nil {
		t.Fatalf("quotas: %v\n%s", err, out)
	}
	for _, want := range []string{
		"Model:   " + sonnet35 + " (Anthropic Claude 3.5 Sonnet)",
		"on-demand quotas in us-east-1",
		"LIMIT  VALUE",
		"TPM    123,000",
		"applied          L-A50569E5  no          On-demand model inference tokens per minute for Anthropic Claude 3.5 Sonnet",
		// The TPD has no code in the catalog and the account lists none: default, derived.
		"TPD    576,000,000  tokens/day       catalog default",
		"RPM    50",
		"not applied",
		"Tollgate limits: 123000 tokens/1m, 576000000 tokens/24h\n",
		"Note: the account lists no TPD quota",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestQuotasCommandJSONAndEnvEndpoint(t *testing.T) {
	isolateAWS(t)
	t.Setenv("AWS_ENDPOINT_URL_SERVICE_QUOTAS", emulatorURL(t)) // the SDK's standard variable
	t.Setenv("AWS_REGION", "us-east-1")
	out, err := runCLI(t, "quotas", "-m", sonnet35, "--json", "--rpm")
	if err != nil {
		t.Fatalf("quotas: %v\n%s", err, out)
	}
	var got struct {
		ModelID string   `json:"model_id"`
		Scope   string   `json:"scope"`
		Region  string   `json:"region"`
		Limits  []string `json:"limits"`
		Quotas  []struct {
			Kind, Source, Code string
			Value              int64
		} `json:"quotas"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if got.ModelID != sonnet35 || got.Scope != "on-demand" || got.Region != "us-east-1" {
		t.Errorf("report = %+v", got)
	}
	if want := []string{"123000 tokens/1m", "576000000 tokens/24h", "50 requests/1m"}; strings.Join(got.Limits, "|") != strings.Join(want, "|") {
		t.Errorf("limits = %q, want %q", got.Limits, want)
	}
	if q := got.Quotas[0]; q.Kind != "TPM" || q.Source != "applied" || q.Code != "L-A50569E5" || q.Value != 123_000 {
		t.Errorf("TPM = %+v, want the applied 123000 under L-A50569E5", q)
	}
}

func TestQuotasCommandWithoutAccess(t *testing.T) {
	isolateAWS(t)
	denied := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-ErrorType", "AccessDeniedException")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"__type":"AccessDeniedException","message":"not authorized to perform: servicequotas:ListServiceQuotas"}`))
	}))
	t.Cleanup(denied.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()
	for name, tt := range map[string]struct{ endpoint, note string }{
		"access denied":      {denied.URL, "Note: access denied"},
		"connection refused": {refused, "Note: Service Quotas unreachable"},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := runCLI(t, "quotas", "--model", "us."+sonnet4, "--region", "us-east-1", "--endpoint", tt.endpoint)
			if err != nil {
				t.Fatalf("quotas: %v\n%s", err, out)
			}
			for _, want := range []string{tt.note, "using catalog defaults", "TPM    200,000      tokens/minute    catalog default  L-59759B4A",
				"Tollgate limits: 200000 tokens/1m, 288000000 tokens/24h"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

func TestQuotasCommandUsageErrors(t *testing.T) {
	isolateAWS(t)
	badCatalog := filepath.Join(t.TempDir(), "catalog.yaml")
	if err := os.WriteFile(badCatalog, []byte("models:\n  - id: acme.x-v1:0\n    max_ouput_tokens: 5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		wantMsg []string
	}{
		{"no model", []string{"quotas"}, []string{"--model is required"}},
		{"unknown flag", []string{"quotas", "--modle", "x"}, []string{"unknown flag: --modle", "tollgate quotas --help"}},
		{"argument", []string{"quotas", sonnet35}, []string{"unexpected argument", "--model"}},
		{"bad id", []string{"quotas", "--model", "claude"}, []string{"no provider", "looks like"}},
		{"unknown model", []string{"quotas", "--model", "acme.mystery-v1:0", "--region", "us-east-1"}, []string{"not in the catalog", "output_burndown", "docs/catalog.md"}},
		{"profile required", []string{"quotas", "--model", sonnet4, "--region", "us-east-1"}, []string{"inference profile", "us." + sonnet4}},
		{"bad endpoint", []string{"quotas", "--model", sonnet35, "--region", "us-east-1", "--endpoint", "localhost:8080"}, []string{"--endpoint", "http(s) URL"}},
		{"no region", []string{"quotas", "--model", sonnet35}, []string{"no region", "--region", "AWS_REGION"}},
		{"bad region", []string{"quotas", "--model", sonnet35, "--region", "Virginia"}, []string{`"Virginia" is not a region name`}},
		{"region mismatch", []string{"quotas", "--model", "arn:aws:bedrock:eu-west-1::foundation-model/" + sonnet35, "--region", "us-east-1"}, []string{"use region eu-west-1"}},
		{"bad catalog", []string{"quotas", "--model", sonnet35, "--catalog", badCatalog}, []string{"max_ouput_tokens"}},
		{"missing catalog", []string{"quotas", "--model", sonnet35, "--catalog", badCatalog + ".missing"}, []string{"no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runCLI(t, tt.args...)
			var ue usageError
			if !errors.As(err, &ue) {
				t.Fatalf("error = %v (output %q), want a usageError", err, out)
			}
			for _, w := range tt.wantMsg {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestQuotasCommandNoTPMKnown(t *testing.T) {
	isolateAWS(t)
	// The emulator serves Sonnet 4 without its global quotas; the catalog knows no global default.
	out, err := runCLI(t, "quotas", "--model", "global."+sonnet4, "--region", "us-east-1", "--endpoint", emulatorURL(t))
	if err == nil || !strings.Contains(err.Error(), "quotas.global.tpm.default") {
		t.Fatalf("error = %v, want one naming the setting to give", err)
	}
	if !strings.Contains(out, "TPM    -") {
		t.Errorf("the table is still printed, with the TPM unknown:\n%s", out)
	}
}

func TestQuotasCommandHelp(t *testing.T) {
	out, err := runCLI(t, "quotas", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Service Quotas", "catalog default", "doubled for cross-region", "Examples:",
		"--endpoint", "AWS_ENDPOINT_URL_SERVICE_QUOTAS", "Without access", "--json", "--rpm", "--catalog"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

func TestQuotasCommandApplicationProfile(t *testing.T) {
	isolateAWS(t)
	const arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6"
	// Without a mapping the command explains how to give one.
	_, err := runCLI(t, "quotas", "--model", arn)
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), `under "profiles:"`) {
		t.Fatalf("error = %v, want a usage error explaining the profiles mapping", err)
	}
	// With one, the ARN's region and the mapped model's on-demand quotas are used.
	file := filepath.Join(t.TempDir(), "catalog.yaml")
	if err := os.WriteFile(file, []byte("profiles:\n  "+arn+": "+sonnet35+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "quotas", "--model", arn, "--catalog", file, "--endpoint", emulatorURL(t))
	if err != nil {
		t.Fatalf("quotas: %v\n%s", err, out)
	}
	for _, want := range []string{"(application-inference-profile ARN) → on-demand quotas in us-east-1", "TPM    123,000"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
