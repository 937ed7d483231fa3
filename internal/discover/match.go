package discover

import (
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas/types"

	"github.com/tollgate-dev/tollgate/catalog"
)

// Quota names, as documented in https://docs.aws.amazon.com/bedrock/latest/userguide/quotas-runtime.html
// and .../quotas-increase.html and as seen in Service Quotas listings; matched
// case-insensitively because the capitalisation of "Region" and the verb ("InvokeModel"
// or "model inference") changed over time.
var (
	perMinuteName = regexp.MustCompile(`(?i)^(on-demand|cross-region|global cross-region) (?:invokemodel|model inference) (tokens|requests) per minute for (.+)$`)
	perDayName    = regexp.MustCompile(`(?i)^model invocation max tokens per day for (.+?)(?: \(doubled for cross-region calls\))?$`)
	globalDayName = regexp.MustCompile(`(?i)^global cross-region model inference tokens per day for (.+)$`)
)

// doubledSuffix marks a tokens-per-day quota whose value applies doubled to cross-region calls.
const doubledSuffix = "(doubled for cross-region calls)"

// match finds the applied quota of the given kind ("TPM", "TPD", "RPM") and scope: by code
// when the catalog knows it, else by name against the model's names.
func match(applied []types.ServiceQuota, kind string, s catalog.Scope, code string, names []string) (types.ServiceQuota, bool) {
	if code != "" {
		for _, q := range applied {
			if aws.ToString(q.QuotaCode) == code {
				return q, true
			}
		}
	}
	for _, q := range applied {
		k, qs, model, ok := parseName(aws.ToString(q.QuotaName))
		if !ok || k != kind || !(qs == s || k == "TPD" && qs == catalog.OnDemand && s == catalog.CrossRegion) {
			continue
		}
		for _, n := range names {
			if normalize(model) == n {
				return q, true
			}
		}
	}
	return types.ServiceQuota{}, false
}

// parseName reads a Bedrock quota name into its kind, scope and model display name. The
// per-day quota shared by on-demand and cross-region calls has scope OnDemand.
func parseName(name string) (kind string, s catalog.Scope, model string, ok bool) {
	if m := perMinuteName.FindStringSubmatch(name); m != nil {
		kind = "TPM"
		if strings.EqualFold(m[2], "requests") {
			kind = "RPM"
		}
		switch strings.ToLower(m[1]) {
		case "on-demand":
			s = catalog.OnDemand
		case "cross-region":
			s = catalog.CrossRegion
		default:
			s = catalog.Global
		}
		return kind, s, m[3], true
	}
	if m := globalDayName.FindStringSubmatch(name); m != nil {
		return "TPD", catalog.Global, m[1], true
	}
	if m := perDayName.FindStringSubmatch(name); m != nil {
		return "TPD", catalog.OnDemand, m[1], true
	}
	return "", catalog.UnknownScope, "", false
}

// modelNames returns the normalized names a quota name may use for m: its QuotaName and
// "Provider Name" (as "Anthropic Claude Haiku 4.5").
func modelNames(m catalog.Model) []string {
	var out []string
	for _, n := range []string{m.QuotaName, strings.TrimSpace(m.Provider + " " + m.Name)} {
		if n = normalize(n); n != "" && (len(out) == 0 || out[0] != n) {
			out = append(out, n)
		}
	}
	return out
}

// normalize lowercases a model display name, collapses spaces and drops a trailing " v1",
// which quota names add or omit inconsistently.
func normalize(name string) string {
	n := strings.Join(strings.Fields(strings.ToLower(name)), " ")
	return strings.TrimSuffix(n, " v1")
}
