package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// runKeys runs "tollgate keys ARGS" in-process and returns its output.
func runKeys(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"keys"}, args...))
	err = root.Execute()
	return out.String(), errOut.String(), err
}

// TestKeysCommand: create prints three export lines in the default location (created on
// first use under XDG_CONFIG_HOME), list shows the key without secrets, revoke marks it.
func TestKeysCommand(t *testing.T) {
	xdg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", xdg)
	out, _, err := runKeys(t, "create", "--tenant", "team-a")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^export AWS_ACCESS_KEY_ID=(TG[A-Z2-7]{18})\nexport AWS_SECRET_ACCESS_KEY=([A-Za-z0-9_-]{43})\nexport AWS_BEARER_TOKEN_BEDROCK=(tg_TG[A-Z2-7]{18}_[A-Za-z0-9_-]{43})\n$`)
	m := re.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("keys create printed %q, want three export lines", out)
	}
	id, secret, token := m[1], m[2], m[3]
	if !strings.HasPrefix(token, "tg_"+id+"_") {
		t.Errorf("the token %q is not of key %s", token, id)
	}
	conf := filepath.Join(xdg, "tollgate", "gateway.yaml")
	data, err := os.ReadFile(conf)
	if err != nil {
		t.Fatalf("the default configuration was not created: %v", err)
	}
	if !strings.Contains(string(data), "team-a") || strings.Contains(string(data), secret) {
		t.Errorf("configuration:\n%s\nwant tenant team-a and no secret", data)
	}

	list, _, err := runKeys(t, "list")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(id+`\s+team-a\s+\S+\s+active`).MatchString(list) || strings.Contains(list, secret) {
		t.Errorf("keys list = %q, want %s of team-a active and no secret", list, id)
	}
	if _, _, err := runKeys(t, "revoke", id); err != nil {
		t.Fatal(err)
	}
	if list, _, _ = runKeys(t, "list", "--config", conf); !regexp.MustCompile(id + `\s+team-a\s+\S+\s+revoked`).MatchString(list) {
		t.Errorf("after revoke, keys list = %q", list)
	}
}

func TestKeysCommandErrors(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"create"}, "--tenant NAME is required"},
		{[]string{"list"}, "tollgate keys create --tenant NAME"},
		{[]string{"revoke", "TGX"}, "tollgate keys create --tenant NAME"},
		{[]string{"revoke"}, "accepts 1 arg"},
		{[]string{"list", "--config", writeBad(t, dir)}, "tokens_per_minit"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, _, err := runKeys(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v does not say %q", err, tt.want)
			}
			var ue usageError
			if strings.HasPrefix(tt.want, "accepts") {
				return // cobra's argument errors are its own
			}
			if !errors.As(err, &ue) {
				t.Errorf("error %v is not a usage error (exit code 2)", err)
			}
		})
	}
}

func writeBad(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(p, []byte("tenants: {a: {tokens_per_minit: 1}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
