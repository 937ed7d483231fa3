package bedrocktest_test

import (
	"bufio"
	"context"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/emustats"
	"github.com/tollgate-dev/tollgate/internal/testtool"
)

// The other SDKs' checks live in testdata/sdk: checks.js (AWS SDK for JavaScript v3,
// installed there by scripts/test.sh with npm ci) and checks.py (boto3). Each prints one
// "PASS name: …" or "FAIL name: …" line per check.
const sdkDir = "testdata/sdk"

// sdkChecks are the checks every script must pass, beside its own first line (the
// transport or version it reports).
var sdkChecks = []string{"Converse", "ConverseStream", "InvokeModel", "InvokeModelWithResponseStream", "CountTokens",
	"ListServiceQuotas", "unknown model", "throttle"}

// needTool ends the test when a tool is missing: a skip, or a failure when CI=true.
func needTool(t *testing.T, what, fix string, missing bool) {
	t.Helper()
	if missing {
		testtool.Missing(t, what, fix)
	}
}

// sdkScriptOptions serve a Sonnet 4 profile with room, for every operation, and Nova Lite
// with a zero quota, for the throttle.
func sdkScriptOptions() bedrocktest.Options {
	opts := quickOptions()
	opts.OutputTokens = fixedOutput(12)
	opts.Models = []catalog.Model{
		{ID: sonnet, QuotaName: "Anthropic Claude Sonnet 4 V1", OutputBurndown: 5, MaxOutputTokens: 64_000, CountTokens: true, RequiresProfile: true,
			Quotas: map[catalog.Scope]catalog.Quotas{
				catalog.CrossRegion: {TPM: catalog.Quota{Code: "L-59759B4A", Default: 10_000_000}, TPD: catalog.Quota{Code: "L-22F701C5"}},
				catalog.Global:      {TPM: catalog.Quota{Code: "L-97E41E39", Default: 5_000_000}},
			}},
		{ID: nova, QuotaName: "Amazon Nova Lite", MaxOutputTokens: 10_000,
			Quotas: map[catalog.Scope]catalog.Quotas{catalog.OnDemand: {TPM: catalog.Quota{Code: "L-70423BF8"}}}},
	}
	opts.Limits = map[string]bedrocktest.Limits{nova: {TokensPerMinute: -1}} // a zero quota
	return opts
}

// runSDKScript runs a check script against a fresh emulator (over TLS if useTLS) and
// reports each check; accessKey names the account the script's calls are metered to.
func runSDKScript(t *testing.T, useTLS bool, accessKey string, command ...string) {
	t.Helper()
	newServer := bedrocktest.NewServer
	if useTLS {
		newServer = bedrocktest.NewTLSServer
	}
	srv, err := newServer(sdkScriptOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)

	home := t.TempDir()
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + os.TempDir(), "NO_PROXY=127.0.0.1,localhost",
		"TOLLGATE_ENDPOINT=" + srv.URL, "TOLLGATE_MODEL=" + sonnetUS, "TOLLGATE_COUNT_MODEL=" + sonnet,
		"TOLLGATE_THROTTLED_MODEL=" + nova, "TOLLGATE_QUOTA_CODE=L-59759B4A", "TOLLGATE_QUOTA_VALUE=10000000",
		"AWS_ACCESS_KEY_ID=" + accessKey, "AWS_SECRET_ACCESS_KEY=secret", "AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1",
		// The same endpoint through the variables "tollgate emulate" prints, and nothing
		// read from a developer's AWS configuration.
		"AWS_ENDPOINT_URL_BEDROCK_RUNTIME=" + srv.URL, "AWS_ENDPOINT_URL_SERVICE_QUOTAS=" + srv.URL,
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	}
	if useTLS {
		certFile := filepath.Join(home, "emulator.pem")
		if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate.Raw}), 0o600); err != nil {
			t.Fatal(err)
		}
		env = append(env, "NODE_EXTRA_CA_CERTS="+certFile, "AWS_CA_BUNDLE="+certFile)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, command[0], command[1:]...)
	cmd.Dir = sdkDir
	cmd.Env = env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%s: %v", strings.Join(command, " "), err)
	}

	var passed []string
	lines := bufio.NewScanner(strings.NewReader(string(out)))
	for lines.Scan() {
		status, rest, _ := strings.Cut(lines.Text(), " ")
		name, _, _ := strings.Cut(rest, ": ")
		switch status {
		case "PASS":
			passed = append(passed, name)
			t.Log(lines.Text())
		case "FAIL":
			t.Error(lines.Text())
		default:
			t.Errorf("unexpected output line %q", lines.Text())
		}
	}
	for _, want := range sdkChecks {
		if !slices.Contains(passed, want) {
			t.Errorf("check %q did not pass", want)
		}
	}
	if err != nil || t.Failed() {
		t.Fatalf("%s: exit %v; stderr:\n%s", strings.Join(command, " "), err, stderr.String())
	}

	// The calls reached this emulator, metered to the script's account: Converse,
	// ConverseStream, InvokeModel, InvokeModelWithResponseStream and the Converse of the
	// CountTokens check were admitted, the throttle check refused.
	var admitted, throttled int64
	for _, s := range emustats.Get(t, srv).Series {
		if s.Account != accessKey {
			continue
		}
		admitted += s.Admitted
		for _, n := range s.Throttled {
			throttled += n
		}
	}
	if admitted != 5 || throttled != 1 {
		t.Errorf("the emulator metered %d calls admitted and %d throttled for %s, want 5 and 1", admitted, throttled, accessKey)
	}
}

// TestJavaScriptSDK drives the emulator with the AWS SDK for JavaScript v3 on its default
// HTTP/2 request handler: h2c on the plain port, HTTP/2 by ALPN over TLS.
func TestJavaScriptSDK(t *testing.T) {
	_, err := exec.LookPath("node")
	needTool(t, "node", "install Node.js 18 or later", err != nil)
	_, err = os.Stat(filepath.Join(sdkDir, "node_modules", "@aws-sdk", "client-bedrock-runtime"))
	needTool(t, "the JavaScript SDK", "run ./scripts/test.sh, or npm ci in bedrocktest/"+sdkDir+",", err != nil)
	for _, useTLS := range []bool{false, true} {
		t.Run("tls="+strconv.FormatBool(useTLS), func(t *testing.T) {
			runSDKScript(t, useTLS, "AKIDJAVASCRIPT", "node", "checks.js")
		})
	}
}

// TestBoto3 drives the emulator with boto3 (HTTP/1.1), on the plain port and over TLS.
func TestBoto3(t *testing.T) {
	_, err := exec.LookPath("python3")
	needTool(t, "python3", "install Python 3", err != nil)
	err = exec.Command("python3", "-c", "import boto3").Run()
	needTool(t, "boto3", "pip install boto3", err != nil)
	for _, useTLS := range []bool{false, true} {
		t.Run("tls="+strconv.FormatBool(useTLS), func(t *testing.T) {
			runSDKScript(t, useTLS, "AKIDBOTO3", "python3", "checks.py")
		})
	}
}
