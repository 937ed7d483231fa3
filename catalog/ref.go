package catalog

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrInvalidID is wrapped by every error Parse returns, so callers can tell a malformed
// modelId from an unknown model.
var ErrInvalidID = errors.New("invalid model id")

// A Kind says which form of modelId a Ref was parsed from.
type Kind uint8

// The forms of modelId Bedrock accepts for on-demand and profile inference.
const (
	// ModelID is a plain foundation-model id: "anthropic.claude-3-5-sonnet-20240620-v1:0".
	ModelID Kind = iota
	// ProfileID is a system-defined inference-profile id: "us.anthropic.claude-…".
	ProfileID
	// ModelARN is a foundation-model ARN:
	// "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-…".
	ModelARN
	// ProfileARN is a system-defined inference-profile ARN:
	// "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-…".
	ProfileARN
	// ApplicationProfileARN is a user-defined application-inference-profile ARN:
	// "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6".
	// It does not reveal the model it wraps; see Catalog.WithProfile.
	ApplicationProfileARN
)

var kindNames = [...]string{"model id", "inference profile id", "foundation-model ARN", "inference-profile ARN", "application-inference-profile ARN"}

// String describes the kind in words, e.g. "inference profile id".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// IsARN reports whether the kind is one of the ARN forms.
func (k Kind) IsARN() bool { return k >= ModelARN }

// A Ref is a parsed modelId: what was given, the base model it names, and the scope whose
// quotas meter calls made with it. The zero Ref names nothing.
type Ref struct {
	// Raw is the modelId as given to Parse, without surrounding spaces. It is what to send
	// to Bedrock.
	Raw string
	// Kind is the form Raw has.
	Kind Kind
	// ID is Raw without the ARN wrapping: the model id, the profile id ("us.anthropic.…"),
	// or an application profile's resource id (the part after "application-inference-profile/").
	ID string
	// ModelID is the base foundation-model id, without profile prefix or ARN:
	// "anthropic.claude-sonnet-4-20250514-v1:0". It is empty for an application inference
	// profile that the catalog has no mapping for.
	ModelID string
	// Scope is the quota scope: OnDemand for a plain model id or foundation-model ARN,
	// CrossRegion or Global for a profile, UnknownScope for an unmapped application profile.
	Scope Scope
	// Geography is the profile prefix without its dot: "us", "eu", "apac", "jp", "au",
	// "global", …; empty for on-demand ids.
	Geography string
	// Partition, Region and Account come from an ARN ("aws", "us-east-1", "123456789012");
	// they are empty for plain ids. A foundation-model ARN has no account.
	Partition, Region, Account string
}

// knownGeographies lists the inference-profile prefixes Bedrock is known to use. Parse
// accepts other lowercase prefixes too (AWS adds geographies over time) as CrossRegion.
var knownGeographies = map[string]Scope{
	"us": CrossRegion, "us-gov": CrossRegion, "eu": CrossRegion, "apac": CrossRegion,
	"jp": CrossRegion, "au": CrossRegion, "ca": CrossRegion, "global": Global,
}

const (
	formModel   = `a model id looks like "anthropic.claude-3-5-sonnet-20240620-v1:0"`
	formProfile = `a profile id adds a prefix such as "us." or "global."`
	formARN     = `an ARN looks like "arn:aws:bedrock:us-east-1::foundation-model/<model id>", "arn:aws:bedrock:<region>:<account>:inference-profile/<profile id>" or "arn:aws:bedrock:<region>:<account>:application-inference-profile/<id>"`
)

// Parse reads a modelId as Bedrock accepts it for inference: a plain model id, a
// system-defined inference-profile id, or a foundation-model, inference-profile or
// application-inference-profile ARN. It checks the syntax only; whether the model exists
// is Catalog.Lookup's business. Errors wrap ErrInvalidID and say what a valid id looks like.
func Parse(modelID string) (Ref, error) {
	raw := strings.TrimSpace(modelID)
	if raw == "" {
		return Ref{}, fmt.Errorf("catalog: empty model id: %w; %s", ErrInvalidID, formModel)
	}
	if strings.HasPrefix(raw, "arn:") {
		return parseARN(raw)
	}
	r, err := parseID(raw)
	if err != nil {
		return Ref{}, fmt.Errorf("catalog: model id %q: %w", raw, err)
	}
	r.Raw = raw
	return r, nil
}

// parseID reads a model or profile id (no ARN).
func parseID(id string) (Ref, error) {
	if i := strings.IndexFunc(id, func(c rune) bool { return !idChar(c) }); i >= 0 {
		c, _ := utf8.DecodeRuneInString(id[i:])
		return Ref{}, fmt.Errorf("%w: character %q is not allowed (ids use a-z, A-Z, 0-9, '.', '-', '_' and ':'); %s", ErrInvalidID, c, formModel)
	}
	parts := strings.Split(id, ".")
	for _, p := range parts {
		if p == "" {
			return Ref{}, fmt.Errorf("%w: empty part between dots; %s", ErrInvalidID, formModel)
		}
	}
	switch len(parts) {
	case 1:
		return Ref{}, fmt.Errorf(`%w: no provider: the id must start with the provider and a dot ("anthropic.", "amazon.", "meta.", …); %s`, ErrInvalidID, formModel)
	case 2:
		if err := checkModelParts(parts[0], parts[1]); err != nil {
			return Ref{}, err
		}
		return Ref{Kind: ModelID, ID: id, ModelID: id, Scope: OnDemand}, nil
	case 3:
		geo := parts[0]
		scope, ok := knownGeographies[geo]
		if !ok {
			if !isGeography(geo) {
				return Ref{}, fmt.Errorf("%w: prefix %q is not an inference-profile geography (us, eu, apac, jp, au, global, …); %s, and %s", ErrInvalidID, geo, formModel, formProfile)
			}
			scope = CrossRegion // a geography added after this catalog was written
		}
		if err := checkModelParts(parts[1], parts[2]); err != nil {
			return Ref{}, err
		}
		return Ref{Kind: ProfileID, ID: id, ModelID: parts[1] + "." + parts[2], Scope: scope, Geography: geo}, nil
	}
	return Ref{}, fmt.Errorf("%w: too many dots; %s, and %s", ErrInvalidID, formModel, formProfile)
}

// checkModelParts validates the provider and name of a model id.
func checkModelParts(provider, name string) error {
	if strings.Contains(provider, ":") {
		return fmt.Errorf("%w: provider %q contains ':'; %s", ErrInvalidID, provider, formModel)
	}
	if strings.HasPrefix(name, ":") || strings.HasSuffix(name, ":") || strings.Count(name, ":") > 1 {
		return fmt.Errorf("%w: the version suffix must be one ':' followed by a number, as in \"-v1:0\"; %s", ErrInvalidID, formModel)
	}
	return nil
}

// idChar reports whether c may appear in a model or profile id.
func idChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == ':'
}

// isGeography reports whether s looks like a profile prefix: 2 to 8 lowercase letters or '-'.
func isGeography(s string) bool {
	if len(s) < 2 || len(s) > 8 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c == '-') {
			return false
		}
	}
	return true
}

// parseARN reads arn:PARTITION:bedrock:REGION:ACCOUNT:RESOURCE-TYPE/ID.
func parseARN(arn string) (Ref, error) {
	fail := func(format string, a ...any) (Ref, error) {
		return Ref{}, fmt.Errorf("catalog: ARN %q: %w: %s; %s", arn, ErrInvalidID, fmt.Sprintf(format, a...), formARN)
	}
	f := strings.SplitN(arn, ":", 6)
	if len(f) < 6 {
		return fail("it has %d of the 6 ':'-separated fields", len(f))
	}
	partition, service, region, account, resource := f[1], f[2], f[3], f[4], f[5]
	switch {
	case !strings.HasPrefix(partition, "aws"):
		return fail("partition %q is not an AWS partition (aws, aws-us-gov, aws-cn, …)", partition)
	case service != "bedrock":
		return fail("service %q is not bedrock", service)
	case region == "":
		return fail("the region field is empty")
	case !isRegion(region):
		return fail("region %q is not a region name like us-east-1", region)
	case account != "" && !isAccount(account):
		return fail("account %q is not a 12-digit account id", account)
	}
	typ, id, ok := strings.Cut(resource, "/")
	if !ok || id == "" {
		return fail("resource %q has no id after the resource type and '/'", resource)
	}
	base := Ref{Raw: arn, Partition: partition, Region: region, Account: account, ID: id}
	switch typ {
	case "foundation-model":
		r, err := parseID(id)
		if err != nil {
			return Ref{}, fmt.Errorf("catalog: ARN %q: %w", arn, err)
		}
		if r.Kind != ModelID {
			return fail("a foundation-model ARN holds a plain model id, not the profile id %q (use an inference-profile ARN)", id)
		}
		base.Kind, base.ModelID, base.Scope = ModelARN, r.ModelID, OnDemand
		return base, nil
	case "inference-profile":
		if account == "" {
			return fail("an inference-profile ARN needs the account id")
		}
		r, err := parseID(id)
		if err != nil {
			return Ref{}, fmt.Errorf("catalog: ARN %q: %w", arn, err)
		}
		if r.Kind != ProfileID {
			return fail("inference profile %q has no geography prefix such as \"us.\" or \"global.\"", id)
		}
		base.Kind, base.ModelID, base.Scope, base.Geography = ProfileARN, r.ModelID, r.Scope, r.Geography
		return base, nil
	case "application-inference-profile":
		if account == "" {
			return fail("an application-inference-profile ARN needs the account id")
		}
		for _, c := range id {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
				return fail("application profile id %q must be lowercase letters and digits", id)
			}
		}
		base.Kind = ApplicationProfileARN
		return base, nil
	}
	return fail("resource type %q is not supported (Tollgate meters foundation-model, inference-profile and application-inference-profile)", typ)
}

// isRegion reports whether s looks like an AWS region name: lowercase letters, digits and
// dashes, with at least one dash, e.g. "us-east-1" or "eu-central-2".
func isRegion(s string) bool {
	if len(s) > 32 || !strings.Contains(s, "-") || strings.HasPrefix(s, "-") || strings.HasSuffix(s, "-") {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// isAccount reports whether s is a 12-digit AWS account id.
func isAccount(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
