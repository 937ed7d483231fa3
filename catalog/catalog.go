package catalog

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
)

// A Catalog is a set of models, keyed by base model id, plus the mapping of application
// inference profiles to what they wrap. Build one with Default, then With, WithProfile or
// Load; each returns a new Catalog and leaves the receiver unchanged. A *Catalog is
// immutable, so it is safe for concurrent use. The zero Catalog (or a nil *Catalog) is
// empty.
type Catalog struct {
	models   map[string]Model
	profiles map[string]string // application-inference-profile ARN → model or profile id
}

// defaultCatalog builds the built-in table once; builtin's data is checked by the tests.
var defaultCatalog = sync.OnceValue(func() *Catalog {
	c := &Catalog{models: make(map[string]Model)}
	for _, m := range builtin() {
		c.models[m.ID] = m
	}
	return c
})

// Default returns the built-in catalog: the Bedrock models Tollgate knows, with the quota
// codes and defaults listed in docs/catalog.md.
func Default() *Catalog { return defaultCatalog() }

// With returns a copy of c in which each of models is added, or replaces the model of the
// same ID entirely. To change one setting of a known model, take it from Model, change the
// field and pass it back. Every model is validated; the error names each bad setting.
func (c *Catalog) With(models ...Model) (*Catalog, error) {
	var errs []error
	for _, m := range models {
		if err := m.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	n := c.copy()
	for _, m := range models {
		n.models[m.ID] = m.clone()
	}
	return n, nil
}

// WithProfile returns a copy of c in which the application inference profile arn stands
// for target, the model id or system inference-profile id it was created from (as
// "aws bedrock get-inference-profile" shows). Lookup then resolves the ARN to target's
// model and scope, in the ARN's region.
func (c *Catalog) WithProfile(arn, target string) (*Catalog, error) {
	r, err := Parse(arn)
	if err != nil {
		return nil, err
	}
	if r.Kind != ApplicationProfileARN {
		return nil, fmt.Errorf("catalog: profile mapping key %q is a %s: only application-inference-profile ARNs need a mapping", arn, r.Kind)
	}
	t, err := Parse(target)
	if err != nil {
		return nil, fmt.Errorf("catalog: target of %q: %w", arn, err)
	}
	if t.Kind == ApplicationProfileARN {
		return nil, fmt.Errorf("catalog: target of %q is another application profile: map it to a model id (anthropic.…) or profile id (us.anthropic.…)", arn)
	}
	n := c.copy()
	n.profiles[r.Raw] = t.Raw
	return n, nil
}

// copy returns a shallow copy of c whose maps can be changed (models are stored cloned).
func (c *Catalog) copy() *Catalog {
	n := &Catalog{models: make(map[string]Model), profiles: make(map[string]string)}
	if c != nil {
		maps.Copy(n.models, c.models)
		maps.Copy(n.profiles, c.profiles)
	}
	return n
}

// Model returns the model with base id id ("anthropic.claude-sonnet-4-20250514-v1:0"),
// and whether the catalog has it. The result is a copy the caller may change.
func (c *Catalog) Model(id string) (Model, bool) {
	if c == nil {
		return Model{}, false
	}
	m, ok := c.models[id]
	return m.clone(), ok
}

// Models returns every model of the catalog, sorted by ID. The models are copies.
func (c *Catalog) Models() []Model {
	if c == nil {
		return nil
	}
	out := make([]Model, 0, len(c.models))
	for _, id := range slices.Sorted(maps.Keys(c.models)) {
		out = append(out, c.models[id].clone())
	}
	return out
}

// Lookup parses modelID (see Parse), resolves a mapped application inference profile,
// and returns the model it names with the parsed reference. It fails with an error
// wrapping ErrInvalidID for malformed input, with an *UnknownModelError (matching
// ErrUnknownModel) when the catalog has no such model or no mapping for an application
// profile, and wrapping ErrProfileRequired when a profile-only model is called on demand.
func (c *Catalog) Lookup(modelID string) (Model, Ref, error) {
	r, err := Parse(modelID)
	if err != nil {
		return Model{}, Ref{}, err
	}
	if r.Kind == ApplicationProfileARN {
		target, ok := "", false
		if c != nil {
			target, ok = c.profiles[r.Raw]
		}
		if !ok {
			return Model{}, r, &UnknownModelError{Ref: r}
		}
		t, err := Parse(target)
		if err != nil { // WithProfile checked it; keep the error path anyway
			return Model{}, r, err
		}
		r.ModelID, r.Scope, r.Geography = t.ModelID, t.Scope, t.Geography
	}
	m, ok := c.Model(r.ModelID)
	if !ok {
		return Model{}, r, &UnknownModelError{Ref: r}
	}
	if m.RequiresProfile && r.Scope == OnDemand {
		return Model{}, r, fmt.Errorf("catalog: %q: %w: Bedrock serves %s only through inference profiles; use a profile id such as %q or %q", r.Raw, ErrProfileRequired, m.ID, "us."+m.ID, "global."+m.ID)
	}
	return m, r, nil
}

// ErrUnknownModel matches (with errors.Is) every *UnknownModelError.
var ErrUnknownModel = errors.New("unknown model")

// An UnknownModelError reports a modelId the catalog cannot resolve to a model: a model
// it does not know, or an application inference profile it has no mapping for. Its
// message lists the settings to provide and where.
type UnknownModelError struct {
	// Ref is the parsed modelId.
	Ref Ref
}

// Error lists what is missing and how to provide it.
func (e *UnknownModelError) Error() string {
	if e.Ref.Kind == ApplicationProfileARN && e.Ref.ModelID == "" {
		return fmt.Sprintf("catalog: application inference profile %q does not reveal the model it wraps: "+
			"map it to the model id or inference-profile id it was created from "+
			`(shown by "aws bedrock get-inference-profile --inference-profile-identifier <arn>") `+
			`under "profiles:" in the catalog file (see docs/catalog.md), or with Catalog.WithProfile`, e.Ref.Raw)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "catalog: model %q is not in the catalog, so Tollgate does not know how to meter it. Give its settings: ", e.Ref.ModelID)
	b.WriteString("output_burndown (quota tokens per output token: 5 for Claude 3.7/4.x, else 1), ")
	b.WriteString("max_output_tokens (the largest max_tokens it accepts; Bedrock reserves it when max_tokens is unset), ")
	b.WriteString("context_window (tokens), and optionally default_max_tokens, count_tokens, requires_profile, quota_name ")
	b.WriteString("and quotas per scope (on-demand, cross-region, global: tpm, tpd, rpm with code and default). ")
	fmt.Fprintf(&b, `Add them as a "models:" entry with id %q in the catalog file (see docs/catalog.md), or pass a catalog.Model to Catalog.With`, e.Ref.ModelID)
	return b.String()
}

// Is reports whether target is ErrUnknownModel.
func (e *UnknownModelError) Is(target error) bool { return target == ErrUnknownModel }
