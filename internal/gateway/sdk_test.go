package gateway

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/testtool"
)

// jsSDKDir holds the JavaScript SDK, installed there by scripts/test.sh (npm ci).
const jsSDKDir = "../../bedrocktest/testdata/sdk"

// runBoto3 runs testdata/boto3_calls.py against the gateway with env added to a clean AWS
// environment, and decodes what it printed.
func runBoto3(t *testing.T, g *testGateway, env ...string) map[string]any {
	t.Helper()
	python, err := exec.LookPath("python3")
	if err != nil {
		testtool.Missing(t, "python3", "install python3 with boto3 ≥ 1.39")
	}
	if exec.Command(python, "-c", "import boto3").Run() != nil {
		testtool.Missing(t, "boto3", "install boto3 ≥ 1.39 for python3")
	}
	return runCalls(t, g, exec.Command(python, "testdata/boto3_calls.py"), env...)
}

// runJS runs testdata/js_calls.mjs against the gateway with env added to a clean AWS
// environment, and decodes what it printed.
func runJS(t *testing.T, g *testGateway, env ...string) map[string]any {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		testtool.Missing(t, "node", "install Node.js 20 or later")
	}
	sdk, err := filepath.Abs(jsSDKDir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(sdk, "node_modules", "@aws-sdk", "client-bedrock-runtime")); err != nil {
		testtool.Missing(t, "the JavaScript SDK", "run npm ci in bedrocktest/testdata/sdk (./scripts/test.sh does)")
	}
	return runCalls(t, g, exec.Command(node, "testdata/js_calls.mjs"), append([]string{"SDK_DIR=" + sdk}, env...)...)
}

// runCalls runs a script of calls against the gateway in a clean AWS environment plus
// env, and decodes the JSON object it printed.
func runCalls(t *testing.T, g *testGateway, cmd *exec.Cmd, env ...string) map[string]any {
	t.Helper()
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "AWS_EC2_METADATA_DISABLED=true",
		"GATEWAY_ENDPOINT=" + g.URL, "GATEWAY_MODEL=" + testModel}, env...)
	out, err := cmd.Output()
	var got map[string]any
	if jerr := json.Unmarshal(out, &got); jerr != nil || err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%s: %v; output %q; %s", filepath.Base(cmd.Path), err, out, stderr)
	}
	return got
}

// TestGatewaySDKs: boto3's (botocore's) and the JavaScript SDK v3's SigV4 signatures and
// bearer tokens (AWS_BEARER_TOKEN_BEDROCK) are accepted on Converse and InvokeModel —
// the JavaScript SDK speaking HTTP/2 with prior knowledge to the http:// endpoint — and
// the priority each sets in requestMetadata reaches the handler; a wrong secret, an AWS
// key and a forged token are refused with the codes each SDK raises as its usual
// exception.
func TestGatewaySDKs(t *testing.T) {
	for sdk, run := range map[string]func(*testing.T, *testGateway, ...string) map[string]any{"boto3": runBoto3, "javascript": runJS} {
		t.Run(sdk, func(t *testing.T) {
			g := newTestGateway(t, Config{})
			sigv4 := []string{"AWS_ACCESS_KEY_ID=" + g.Creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + g.Creds.SecretAccessKey}
			for name, env := range map[string][]string{"sigv4": sigv4, "bearer": {"AWS_BEARER_TOKEN_BEDROCK=" + g.Creds.BearerToken}} {
				t.Run(name, func(t *testing.T) {
					got := run(t, g, env...)
					wantConverse := "op=converse model=" + testModel + " tenant=team-a key=" + g.Creds.AccessKeyID + " priority=high"
					if c, _ := got["converse"].(string); !strings.HasPrefix(c, wantConverse) {
						t.Errorf("Converse reached the handler as %q, want prefix %q", c, wantConverse)
					}
					if c, _ := got["invoke"].(string); !strings.HasPrefix(c, "op=invoke model="+testModel+" tenant=team-a") {
						t.Errorf("InvokeModel reached the handler as %q", c)
					}
				})
			}
			refusals := []struct {
				name, code string
				env        []string
			}{
				{"wrong secret", "InvalidSignatureException", []string{"AWS_ACCESS_KEY_ID=" + g.Creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY=wrong"}},
				{"AWS key", "UnrecognizedClientException", []string{"AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY=x"}},
				{"forged token", "UnrecognizedClientException", []string{"AWS_BEARER_TOKEN_BEDROCK=tg_" + g.Creds.AccessKeyID + "_forged"}},
			}
			for _, tc := range refusals {
				t.Run(tc.name, func(t *testing.T) {
					got := run(t, g, append(tc.env, "EXPECT_ERROR="+tc.code)...)
					if got["error"] != tc.code {
						t.Errorf("%s raised %v, want %s", sdk, got, tc.code)
					}
				})
			}
		})
	}
}
