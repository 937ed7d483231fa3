package gateway

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestKeysCreateListRevoke: a key is created in a fresh file (with a master secret of
// mode 0600), listed without secrets, found by lookup, and refused after revocation;
// the secrets follow from the master secret and the key id alone.
func TestKeysCreateListRevoke(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "gateway.yaml")
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	a, err := CreateKey(path, "team-a", now)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(a.AccessKeyID, "TG") || len(a.AccessKeyID) != 20 || checkKeyID(a.AccessKeyID) != nil {
		t.Errorf("key id %q is not TG and 18 upper-case letters or digits", a.AccessKeyID)
	}
	if !strings.HasPrefix(a.BearerToken, "tg_"+a.AccessKeyID+"_") || a.SecretAccessKey == "" {
		t.Errorf("credentials %+v lack a secret or a token tg_<id>_…", a)
	}
	fi, err := os.Stat(filepath.Join(filepath.Dir(path), "gateway.secret"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("master secret has mode %04o, want 0600", fi.Mode().Perm())
	}
	b, err := CreateKey(path, "team-b", now)
	if err != nil {
		t.Fatal(err)
	}
	conf := readFile(t, path)
	for _, secret := range []string{a.SecretAccessKey, b.SecretAccessKey, a.BearerToken} {
		if strings.Contains(conf, secret) {
			t.Fatalf("the configuration file contains a secret:\n%s", conf)
		}
	}
	list, err := ListKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("ListKeys = %+v, want 2 keys", list)
	}
	tenants := map[string]string{}
	for _, k := range list {
		tenants[k.ID] = k.Tenant
		if k.Created != "2026-12-04T12:00:00Z" || k.Revoked {
			t.Errorf("key %+v: want created 2026-12-04T12:00:00Z, not revoked", k)
		}
	}
	if tenants[a.AccessKeyID] != "team-a" || tenants[b.AccessKeyID] != "team-b" {
		t.Errorf("tenants of the keys = %v", tenants)
	}

	keys, err := OpenKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	id, res, _ := keys.lookup(b.AccessKeyID, now)
	if res != keyFound || id.tenant != "team-b" || id.creds != b {
		t.Fatalf("lookup of b = %+v %v, want team-b with the credentials CreateKey printed", id, res)
	}
	if got, ok := bearerKeyID(a.BearerToken); !ok || got != a.AccessKeyID {
		t.Errorf("bearerKeyID(a's token) = %q %v", got, ok)
	}
	if err := RevokeKey(path, b.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	if _, res, _ := keys.lookup(b.AccessKeyID, now.Add(2*reloadEvery)); res != keyRevoked {
		t.Errorf("after RevokeKey the running Keys finds b %v, want revoked", res)
	}
	if _, res, _ := keys.lookup(a.AccessKeyID, now.Add(2*reloadEvery)); res != keyFound {
		t.Errorf("revoking b affected a: %v", res)
	}
	if err := RevokeKey(path, "TGNOSUCHKEY0000000"); err == nil || !strings.Contains(err.Error(), "keys list") {
		t.Errorf("revoking an unknown key: %v, want an error pointing to keys list", err)
	}
}

// TestKeysReload: the running Keys picks up a change within reloadEvery, and a broken
// file keeps the last good configuration, with the reason reported.
func TestKeysReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	a, err := CreateKey(path, "team-a", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	keys, err := OpenKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	keys.lookup(a.AccessKeyID, now) // the check of the files starts here
	b, err := CreateKey(path, "team-b", now)
	if err != nil {
		t.Fatal(err)
	}
	if _, res, _ := keys.lookup(b.AccessKeyID, now.Add(reloadEvery/2)); res != keyUnknown {
		t.Errorf("the files were checked again within reloadEvery: %v", res)
	}
	if _, res, _ := keys.lookup(b.AccessKeyID, now.Add(reloadEvery)); res != keyFound {
		t.Fatalf("a key added to the file is not found after reloadEvery: %v", res)
	}
	good := readFile(t, path)
	writeConfig(t, path, good+"\nnot: [valid\n")
	_, res, rerr := keys.lookup(b.AccessKeyID, now.Add(2*reloadEvery))
	if res != keyFound || rerr == nil || !strings.Contains(rerr.Error(), "keeping the previous") {
		t.Errorf("broken file: lookup = %v, reload error %v; want the key still found and the error reported", res, rerr)
	}
	if _, _, rerr := keys.lookup(b.AccessKeyID, now.Add(3*reloadEvery)); rerr != nil {
		t.Errorf("the same broken version was reported again: %v", rerr)
	}
	writeConfig(t, path, strings.Replace(good, "team-b", "team-c", -1))
	if id, _, rerr := keys.lookup(b.AccessKeyID, now.Add(4*reloadEvery)); id.tenant != "team-c" || rerr != nil {
		t.Errorf("after the file was fixed: tenant %q, err %v; want team-c", id.tenant, rerr)
	}
}

// TestKeysConfigErrors: bad files are refused with the problem named.
func TestKeysConfigErrors(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"unknown field", "tenants: {a: {tokens_per_minit: 5}}", "tokens_per_minit"},
		{"negative limit", "tenants: {a: {tokens_per_minute: -1}}", "zero (none) or positive"},
		{"bad priority", "tenants: {a: {default_priority: urgent}}", "critical, high, normal, low or background"},
		{"default above max", "tenants: {a: {default_priority: high, max_priority: low}}", "above max_priority"},
		{"AWS key id", "tenants: {a: {}}\nkeys: {AKIAIOSFODNN7EXAMPLE: {tenant: a}}", "looks like an AWS access key"},
		{"unknown tenant", "tenants: {a: {}}\nkeys: {TGAAAAAAAAAAAAAAAAAA: {tenant: b}}", `tenant "b" is not under tenants`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := parseFile("gateway.yaml", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("parseFile = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestKeysMasterSecretMode: a master secret others can read is refused, naming the fix.
func TestKeysMasterSecretMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if _, err := CreateKey(path, "team-a", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(filepath.Dir(path), "gateway.secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenKeys(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("OpenKeys with a world-readable secret = %v, want an error naming chmod 600", err)
	}
}

// TestKeysEditKeepsComments: creating a key keeps the comments and tenants a person
// wrote.
func TestKeysEditKeepsComments(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := EnsureConfig(path); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, path, "# our gateway\ntenants:\n  # the search team\n  search:\n    tokens_per_minute: 50000\n    max_priority: critical\nkeys: {}\n")
	if _, err := CreateKey(path, "search", time.Now()); err != nil {
		t.Fatal(err)
	}
	got := readFile(t, path)
	for _, want := range []string{"# our gateway", "# the search team", "tokens_per_minute: 50000", "max_priority: critical", "tenant: search"} {
		if !strings.Contains(got, want) {
			t.Errorf("the edited file lost %q:\n%s", want, got)
		}
	}
}

// TestKeysDefaultPath: the default location follows XDG_CONFIG_HOME, else ~/.config.
func TestKeysDefaultPath(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/x/conf")
	if p, err := DefaultConfigPath(); err != nil || p != "/x/conf/tollgate/gateway.yaml" {
		t.Errorf("with XDG_CONFIG_HOME: %q %v", p, err)
	}
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("HOME", "/home/u")
	if p, err := DefaultConfigPath(); err != nil || p != "/home/u/.config/tollgate/gateway.yaml" {
		t.Errorf("without XDG_CONFIG_HOME: %q %v", p, err)
	}
}
