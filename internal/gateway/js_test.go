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
	cmd := exec.Command(node, "testdata/js_calls.mjs")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "AWS_EC2_METADATA_DISABLED=true",
		"SDK_DIR=" + sdk, "GATEWAY_ENDPOINT=" + g.URL, "GATEWAY_MODEL=" + testModel}, env...)
	out, err := cmd.Output()
	var got map[string]any
	if jerr := json.Unmarshal(out, &got); jerr != nil || err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("node: %v; output %q; %s", err, out, stderr)
	}
	return got
}

// TestGatewayJavaScriptSDK: the JavaScript SDK v3 (which speaks HTTP/2 with prior
// knowledge to http:// endpoints) signs requests and sends bearer tokens that the gateway
// accepts, with requestMetadata's priority; a wrong secret and an AWS key raise the
// SDK's usual exceptions.
func TestGatewayJavaScriptSDK(t *testing.T) {
	g := newTestGateway(t, Config{})
	sigv4 := []string{"AWS_ACCESS_KEY_ID=" + g.Creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + g.Creds.SecretAccessKey}
	for name, env := range map[string][]string{"sigv4": sigv4, "bearer": {"AWS_BEARER_TOKEN_BEDROCK=" + g.Creds.BearerToken}} {
		t.Run(name, func(t *testing.T) {
			got := runJS(t, g, env...)
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
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			got := runJS(t, g, append(tc.env, "EXPECT_ERROR="+tc.code)...)
			if got["error"] != tc.code {
				t.Errorf("the JavaScript SDK raised %v, want %s", got, tc.code)
			}
		})
	}
}
