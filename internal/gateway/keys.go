package gateway

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// keyIDPrefix starts every gateway key id, so that no gateway key can be mistaken for an
// AWS access key (AKIA…, ASIA…) and the other way round.
const keyIDPrefix = "TG"

// bearerPrefix starts every gateway bearer token: tg_<key id>_<mac>.
const bearerPrefix = "tg_"

// reloadEvery is how often at most the configuration files are checked for changes.
const reloadEvery = time.Second

// checkKeyID reports why id cannot be a gateway key id.
func checkKeyID(id string) error {
	if strings.HasPrefix(id, "AKIA") || strings.HasPrefix(id, "ASIA") {
		return errors.New("looks like an AWS access key; gateway key ids start with " + keyIDPrefix)
	}
	if !strings.HasPrefix(id, keyIDPrefix) || len(id) < 12 || len(id) > 64 {
		return fmt.Errorf("gateway key ids start with %s and have 12 to 64 characters", keyIDPrefix)
	}
	for _, c := range id {
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return errors.New("gateway key ids have only upper-case letters and digits")
		}
	}
	return nil
}

// Credentials are what a caller needs to use one gateway key.
type Credentials struct {
	// AccessKeyID is the key id (AWS_ACCESS_KEY_ID).
	AccessKeyID string
	// SecretAccessKey signs requests with SigV4 (AWS_SECRET_ACCESS_KEY).
	SecretAccessKey string
	// BearerToken is sent as "Authorization: Bearer" (AWS_BEARER_TOKEN_BEDROCK).
	BearerToken string
}

// derive computes a key's credentials from the master secret: the secret access key is
// HMAC-SHA256(master, "secret\x00"+id) and the token's MAC HMAC-SHA256(master,
// "bearer\x00"+id), both base64url without padding; the two are independent, so one
// does not reveal the other.
func derive(master []byte, id string) Credentials {
	mac := func(purpose string) string {
		m := hmac.New(sha256.New, master)
		m.Write([]byte(purpose + "\x00" + id))
		return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	return Credentials{AccessKeyID: id, SecretAccessKey: mac("secret"), BearerToken: bearerPrefix + id + "_" + mac("bearer")}
}

// Keys holds a configuration file and its master secret, and reloads both when they
// change on disk (checked at most once a second, when a request needs them, so an idle
// gateway does no work). A file
// that no longer parses is logged by the caller of Lookup's error path and the last
// good configuration stays in force. Keys is safe for concurrent use.
type Keys struct {
	path string

	mu      sync.Mutex
	file    *File
	rules   map[string]*tenantRules
	master  []byte
	derived map[string]Credentials // the keys' secrets derived so far, from master
	stamp   string                 // hash of both files when loaded
	checked time.Time              // when the files were last checked
	lastErr error                  // why the newest version on disk is not in force
}

// OpenKeys loads the configuration at path and its master secret.
func OpenKeys(path string) (*Keys, error) {
	k := &Keys{path: path}
	if err := k.load(); err != nil {
		return nil, err
	}
	return k, nil
}

// load reads both files and replaces the configuration in force if they are valid.
// k.mu must be held.
func (k *Keys) load() error {
	// Stamp before reading: a change made while loading then shows as a new version at
	// the next check instead of being missed.
	before := stamp(k.path, secretPath(k.path, k.file))
	data, err := os.ReadFile(k.path)
	if err != nil {
		return fmt.Errorf("reading the gateway configuration: %w", err)
	}
	f, rules, err := parseFile(k.path, data)
	if err != nil {
		return err
	}
	sp := secretPath(k.path, f)
	master, err := readMaster(sp)
	if err != nil {
		return err
	}
	if sp != secretPath(k.path, k.file) {
		before = stamp(k.path, sp)
	}
	k.file, k.rules, k.master, k.derived = f, rules, master, map[string]Credentials{}
	k.stamp = before
	return nil
}

// stamp identifies the versions of the files by their contents (they are small, and a
// modification time can be too coarse to tell two quick edits apart).
func stamp(paths ...string) string {
	h := sha256.New()
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			h.Write([]byte("missing"))
		}
		h.Write(data)
		h.Write([]byte{0})
	}
	return string(h.Sum(nil))
}

// readMaster reads a master secret file, refusing one others can read.
func readMaster(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading the master secret: %w (it is created by \"tollgate keys create\")", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("master secret %s is readable by others (mode %04o): run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the master secret: %w", err)
	}
	master, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(master) < 16 {
		return nil, fmt.Errorf("master secret %s must hold at least 16 bytes in base64", path)
	}
	return master, nil
}

// refresh reloads the files if they changed since they were loaded, at most once per
// reloadEvery. It reports the error of a failed reload once per new version on disk.
// k.mu must be held.
func (k *Keys) refresh(now time.Time) error {
	if now.Sub(k.checked) < reloadEvery && !k.checked.IsZero() {
		return nil
	}
	k.checked = now
	s := stamp(k.path, secretPath(k.path, k.file))
	if s == k.stamp {
		return nil
	}
	if err := k.load(); err != nil {
		// Keep the last good configuration; report this version's problem once.
		k.stamp = s
		k.lastErr = err
		return fmt.Errorf("keeping the previous gateway configuration: %w", err)
	}
	k.lastErr = nil
	return nil
}

// identity is the outcome of a successful key lookup.
type identity struct {
	keyID  string
	tenant string
	rules  *tenantRules
	creds  Credentials
}

// lookupResult classifies a key lookup.
type lookupResult int

const (
	keyFound lookupResult = iota
	keyUnknown
	keyRevoked
)

// lookup finds a key at time now, reloading the files first if they changed. reloadErr
// is a failed reload to log (the lookup then used the last good configuration).
func (k *Keys) lookup(id string, now time.Time) (identity, lookupResult, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	reloadErr := k.refresh(now)
	key, ok := k.file.Keys[id]
	if !ok {
		return identity{}, keyUnknown, reloadErr
	}
	if key.Revoked {
		return identity{}, keyRevoked, reloadErr
	}
	creds, ok := k.derived[id]
	if !ok {
		creds = derive(k.master, id)
		k.derived[id] = creds
	}
	return identity{keyID: id, tenant: key.Tenant, rules: k.rules[key.Tenant], creds: creds}, keyFound, reloadErr
}

// bearerKeyID returns the key id a bearer token names (tg_<key id>_<mac>), or false if
// the token does not have that form. The MAC is checked against the key's derived token.
func bearerKeyID(token string) (string, bool) {
	rest, ok := strings.CutPrefix(token, bearerPrefix)
	if !ok {
		return "", false
	}
	id, _, ok := strings.Cut(rest, "_")
	if !ok || checkKeyID(id) != nil {
		return "", false
	}
	return id, true
}

// KeyInfo describes one key without its secrets, as "tollgate keys list" prints it.
type KeyInfo struct {
	// ID is the key id.
	ID string
	Key
}

// EnsureConfig creates the configuration at path with a fresh master secret if it does
// not exist yet, and does nothing if it does.
func EnsureConfig(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("gateway configuration: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating the configuration directory: %w", err)
	}
	sp := secretPath(path, nil)
	if _, err := os.Stat(sp); errors.Is(err, os.ErrNotExist) {
		master := make([]byte, 32)
		if _, err := rand.Read(master); err != nil {
			return err
		}
		if err := writeFileAtomic(sp, []byte(base64.StdEncoding.EncodeToString(master)+"\n"), 0o600); err != nil {
			return fmt.Errorf("writing the master secret: %w", err)
		}
	}
	const skeleton = `# Tollgate gateway configuration (see docs/gateway.md).
# The master secret every key's secret is derived from is in the .secret file beside this one.
tenants: {}
keys: {}
`
	return writeFileAtomic(path, []byte(skeleton), 0o600)
}

// CreateKey issues a key for tenant in the configuration at path (created with a fresh
// master secret if missing), adding the tenant with no limits of its own if it is not
// there, and returns the key's credentials. now is recorded as its creation time.
func CreateKey(path, tenant string, now time.Time) (Credentials, error) {
	if strings.TrimSpace(tenant) == "" {
		return Credentials{}, errors.New("a tenant name is required (--tenant NAME)")
	}
	if err := EnsureConfig(path); err != nil {
		return Credentials{}, err
	}
	var creds Credentials
	err := editConfig(path, func(root *yaml.Node, f *File) error {
		if _, ok := f.Tenants[tenant]; !ok {
			if err := setEntry(root, "tenants", tenant, &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}); err != nil {
				return err
			}
		}
		id := newKeyID()
		var v yaml.Node
		if err := v.Encode(Key{Tenant: tenant, Created: now.UTC().Format(time.RFC3339)}); err != nil {
			return err
		}
		if err := setEntry(root, "keys", id, &v); err != nil {
			return err
		}
		master, err := readMaster(secretPath(path, f))
		if err != nil {
			return err
		}
		creds = derive(master, id)
		return nil
	})
	return creds, err
}

// RevokeKey marks key id revoked in the configuration at path; a running gateway
// refuses it from its next reload (within about a second).
func RevokeKey(path, id string) error {
	return editConfig(path, func(root *yaml.Node, f *File) error {
		k, ok := f.Keys[id]
		if !ok {
			return fmt.Errorf("no key %q in %s (see \"tollgate keys list\")", truncate(id, 40), path)
		}
		k.Revoked = true
		var v yaml.Node
		if err := v.Encode(k); err != nil {
			return err
		}
		return setEntry(root, "keys", id, &v)
	})
}

// ListKeys returns the keys of the configuration at path, sorted by id, without secrets.
func ListKeys(path string) ([]KeyInfo, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the gateway configuration: %w", err)
	}
	f, _, err := parseFile(path, data)
	if err != nil {
		return nil, err
	}
	var out []KeyInfo
	for _, id := range sortedKeys(f.Keys) {
		out = append(out, KeyInfo{ID: id, Key: f.Keys[id]})
	}
	return out, nil
}

// newKeyID returns "TG" and 18 random base32 characters: 20 characters like an AWS
// access key id, 90 random bits.
func newKeyID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return keyIDPrefix + base32.StdEncoding.EncodeToString(b)[:18]
}

// editConfig applies edit to the configuration file's YAML tree (so comments and the
// order of entries survive), validates the result and replaces the file atomically.
func editConfig(path string, edit func(root *yaml.Node, f *File) error) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading the gateway configuration: %w", err)
	}
	f, _, err := parseFile(path, data)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if doc.Kind == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("%s: the top level must be a mapping", path)
	}
	if err := edit(root, f); err != nil {
		return err
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return err
	}
	if _, _, err := parseFile(path, out); err != nil {
		return fmt.Errorf("the edited configuration would not load: %w", err)
	}
	return writeFileAtomic(path, out, 0o600)
}

// setEntry sets root[section][name] = value, creating the section if needed.
func setEntry(root *yaml.Node, section, name string, value *yaml.Node) error {
	sec := mappingValue(root, section)
	if sec == nil {
		sec = &yaml.Node{Kind: yaml.MappingNode}
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: section}, sec)
	}
	if sec.Kind != yaml.MappingNode {
		return fmt.Errorf("%s must be a mapping", section)
	}
	sec.Style = 0 // a flow-style "{}" would put every entry on one line
	if v := mappingValue(sec, name); v != nil {
		*v = *value
		return nil
	}
	sec.Content = append(sec.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: name}, value)
	return nil
}

func mappingValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// writeFileAtomic writes data to a temporary file beside path and renames it over path,
// so a reader (a running gateway) never sees a half-written file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
