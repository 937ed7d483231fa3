package catalog

import (
	"fmt"
	"strings"
)

// A Scope is the way a call reaches a model, which decides the quotas that meter it:
// Bedrock keeps separate quotas for on-demand calls (plain model id), cross-region
// inference profiles ("us.", "eu.", "apac.", … prefixes) and global profiles ("global.").
// The zero Scope is unknown: an application inference profile whose target is not
// configured has it.
type Scope uint8

// The scopes.
const (
	// UnknownScope is the zero Scope: the scope could not be determined.
	UnknownScope Scope = iota
	// OnDemand is a call by plain model id, served in a single region.
	OnDemand
	// CrossRegion is a call through a geographic cross-region inference profile such as
	// "us." or "eu.". Its quotas are the "Cross-region …" quotas of the source region.
	CrossRegion
	// Global is a call through a global cross-region inference profile ("global.").
	Global
)

var scopeNames = [...]string{"unknown", "on-demand", "cross-region", "global"}

// Scopes lists the known scopes in order: OnDemand, CrossRegion, Global.
func Scopes() []Scope { return []Scope{OnDemand, CrossRegion, Global} }

// String returns the scope's name as ParseScope reads it: "on-demand", "cross-region",
// "global", or "unknown".
func (s Scope) String() string {
	if int(s) < len(scopeNames) {
		return scopeNames[s]
	}
	return fmt.Sprintf("scope(%d)", uint8(s))
}

// ParseScope reads a scope name: "on-demand" (or "ondemand", "regional"), "cross-region"
// (or "crossregion", "cris", "geo") or "global", in any case.
func ParseScope(name string) (Scope, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "on-demand", "ondemand", "on_demand", "regional":
		return OnDemand, nil
	case "cross-region", "crossregion", "cross_region", "cris", "geo":
		return CrossRegion, nil
	case "global", "global-cross-region":
		return Global, nil
	}
	return UnknownScope, fmt.Errorf("catalog: unknown scope %q: use on-demand, cross-region or global", name)
}

// MarshalText implements encoding.TextMarshaler with the String form.
func (s Scope) MarshalText() ([]byte, error) {
	if s == UnknownScope || int(s) >= len(scopeNames) {
		return nil, fmt.Errorf("catalog: cannot encode scope %v", s)
	}
	return []byte(s.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParseScope, so that scopes can
// be map keys in YAML and JSON configuration.
func (s *Scope) UnmarshalText(b []byte) error {
	v, err := ParseScope(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// CallID returns an id that calls base model id in scope s: the model id itself on
// demand, through the US geographic profile ("us.") for CrossRegion, and through the
// global profile ("global.") for Global.
func CallID(id string, s Scope) string {
	switch s {
	case CrossRegion:
		return "us." + id
	case Global:
		return "global." + id
	}
	return id
}
