package gateway

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tollgate-dev/tollgate/internal/quotatext"
	"github.com/tollgate-dev/tollgate/quota"
)

// File is the gateway's configuration file: its tenants and the keys issued to them.
// The secrets of the keys are not in it: each is derived from a master secret kept in a
// separate file (see MasterSecretFile), so instances sharing the two files verify the
// same keys without a shared database, and the configuration can be reviewed and
// versioned without exposing a credential.
type File struct {
	// MasterSecretFile is the path of the file holding the master secret, relative to
	// the configuration file's directory. Empty means the configuration file's name with
	// the extension ".secret" (gateway.yaml → gateway.secret). The file must not be
	// readable by group or others (mode 0600).
	MasterSecretFile string `yaml:"master_secret_file,omitempty"`
	// Tenants maps a tenant's name to its limits and rights.
	Tenants map[string]Tenant `yaml:"tenants"`
	// Keys maps a key id (the AWS_ACCESS_KEY_ID a caller uses) to its tenant.
	Keys map[string]Key `yaml:"keys"`
}

// Tenant is what the callers of one team may do. A zero limit means the tenant has no
// limit of its own on that quantity: it shares the account's quotas with the others.
type Tenant struct {
	// TokensPerMinute bounds the tenant's input plus output tokens in any minute.
	TokensPerMinute int64 `yaml:"tokens_per_minute,omitempty"`
	// RequestsPerMinute bounds the tenant's calls in any minute.
	RequestsPerMinute int64 `yaml:"requests_per_minute,omitempty"`
	// TokensPerDay bounds the tenant's tokens in any 24 hours.
	TokensPerDay int64 `yaml:"tokens_per_day,omitempty"`
	// InFlight bounds the tenant's calls under way at once.
	InFlight int `yaml:"in_flight,omitempty"`
	// Models lists the model ids (or inference-profile ids and ARNs) the tenant may
	// call; '*' in an entry matches any run of characters. Empty means every model.
	Models []string `yaml:"models,omitempty"`
	// DefaultPriority is the class of a call that names none: critical, high, normal,
	// low or background. Empty means normal.
	DefaultPriority string `yaml:"default_priority,omitempty"`
	// MaxPriority is the highest class the tenant's calls may ask for; a higher one is
	// lowered to it. Empty means high: critical must be granted explicitly.
	MaxPriority string `yaml:"max_priority,omitempty"`
}

// Key is one gateway key. Its secret access key and bearer token are derived from the
// master secret and the key id, so they are never stored.
type Key struct {
	// Tenant names the tenant the key's calls count against.
	Tenant string `yaml:"tenant"`
	// Revoked, when true, makes every request made with the key fail with 403.
	Revoked bool `yaml:"revoked,omitempty"`
	// Created is when the key was issued (RFC 3339), for people reading the file.
	Created string `yaml:"created,omitempty"`
}

// tenantRules is a validated Tenant.
type tenantRules struct {
	Tenant
	defaultPriority, maxPriority quota.Priority
}

// allows reports whether the tenant may call model.
func (t *tenantRules) allows(model string) bool {
	if len(t.Models) == 0 {
		return true
	}
	for _, p := range t.Models {
		if globMatch(p, model) {
			return true
		}
	}
	return false
}

// globMatch matches s against pattern, where '*' stands for any run of characters
// (including '/' and ':', which model ids and ARNs contain) and nothing else is special.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}

// parseFile decodes and validates a configuration file's contents; name is used in
// error messages.
func parseFile(name string, data []byte) (*File, map[string]*tenantRules, error) {
	var f File
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	rules := make(map[string]*tenantRules, len(f.Tenants))
	for _, tn := range sortedKeys(f.Tenants) {
		t := f.Tenants[tn]
		if tn == "" {
			return nil, nil, fmt.Errorf("%s: a tenant has an empty name", name)
		}
		if t.TokensPerMinute < 0 || t.RequestsPerMinute < 0 || t.TokensPerDay < 0 || t.InFlight < 0 {
			return nil, nil, fmt.Errorf("%s: tenant %q: limits must be zero (none) or positive", name, tn)
		}
		r := &tenantRules{Tenant: t, defaultPriority: quota.Normal, maxPriority: quota.High}
		var err error
		if t.DefaultPriority != "" {
			if r.defaultPriority, err = quotatext.ParsePriority(t.DefaultPriority); err != nil {
				return nil, nil, fmt.Errorf("%s: tenant %q: default_priority: %w", name, tn, err)
			}
		}
		if t.MaxPriority != "" {
			if r.maxPriority, err = quotatext.ParsePriority(t.MaxPriority); err != nil {
				return nil, nil, fmt.Errorf("%s: tenant %q: max_priority: %w", name, tn, err)
			}
		}
		if r.defaultPriority > r.maxPriority {
			return nil, nil, fmt.Errorf("%s: tenant %q: default_priority %s is above max_priority %s", name, tn, r.defaultPriority, r.maxPriority)
		}
		rules[tn] = r
	}
	for _, id := range sortedKeys(f.Keys) {
		k := f.Keys[id]
		if err := checkKeyID(id); err != nil {
			return nil, nil, fmt.Errorf("%s: key %q: %w", name, truncate(id, 40), err)
		}
		if _, ok := rules[k.Tenant]; !ok {
			return nil, nil, fmt.Errorf("%s: key %s: tenant %q is not under tenants", name, id, k.Tenant)
		}
	}
	return &f, rules, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// secretPath is where the master secret of the configuration at configPath lives.
func secretPath(configPath string, f *File) string {
	if f != nil && f.MasterSecretFile != "" {
		if filepath.IsAbs(f.MasterSecretFile) {
			return f.MasterSecretFile
		}
		return filepath.Join(filepath.Dir(configPath), f.MasterSecretFile)
	}
	return strings.TrimSuffix(configPath, filepath.Ext(configPath)) + ".secret"
}

// DefaultConfigPath is where the gateway's configuration lives when no --config is given:
// $XDG_CONFIG_HOME/tollgate/gateway.yaml, or ~/.config/tollgate/gateway.yaml when
// XDG_CONFIG_HOME is unset.
func DefaultConfigPath() (string, error) {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("finding the default configuration: %w (give --config)", err)
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "tollgate", "gateway.yaml"), nil
}
