package gateway

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/testtool"
)

// runBoto3 runs testdata/boto3_calls.py against the gateway with env added to a clean
// AWS environment, and decodes what it printed.
func runBoto3(t *testing.T, g *testGateway, env ...string) map[string]any {
	t.Helper()
	python, err := exec.LookPath("python3")
	if err != nil {
		testtool.Missing(t, "python3", "install python3 with boto3 ≥ 1.39")
	}
	if exec.Command(python, "-c", "import boto3").Run() != nil {
		testtool.Missing(t, "boto3", "install boto3 ≥ 1.39 for python3")
	}
	cmd := exec.Command(python, "testdata/boto3_calls.py")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "AWS_EC2_METADATA_DISABLED=true",
		"GATEWAY_ENDPOINT=" + g.URL, "GATEWAY_MODEL=" + testModel}, env...)
	out, err := cmd.Output()
	var got map[string]any
	if jerr := json.Unmarshal(out, &got); jerr != nil || err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("boto3: %v; output %q; %s", err, out, stderr)
	}
	return got
}

// TestGatewayBoto3: botocore's SigV4 signatures and its bearer token
// (AWS_BEARER_TOKEN_BEDROCK) are accepted on Converse and InvokeModel, and the priority
// boto3 sets in requestMetadata reaches the handler; a wrong secret and an AWS key are
// refused with the codes botocore raises as ClientError.
func TestGatewayBoto3(t *testing.T) {
	g := newTestGateway(t, Config{})
	sigv4 := []string{"AWS_ACCESS_KEY_ID=" + g.Creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + g.Creds.SecretAccessKey}
	for name, env := range map[string][]string{"sigv4": sigv4, "bearer": {"AWS_BEARER_TOKEN_BEDROCK=" + g.Creds.BearerToken}} {
		t.Run(name, func(t *testing.T) {
			got := runBoto3(t, g, env...)
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
			got := runBoto3(t, g, append(tc.env, "EXPECT_ERROR="+tc.code)...)
			if got["error"] != tc.code {
				t.Errorf("boto3 raised %v, want %s", got, tc.code)
			}
		})
	}
}
