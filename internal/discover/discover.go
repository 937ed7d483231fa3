// Package discover reads an account's applied Bedrock quotas through the Service Quotas
// API and turns those of one model and scope into limits for package quota.
//
// Quotas matches the account's quotas to the model by the codes in the catalog first,
// then by name (the names changed over the years, so they are matched loosely), and
// reports where each value came from. When the API cannot be used — no client, the
// endpoint is unreachable, the credentials may not call servicequotas:ListServiceQuotas,
// or the account lists no quota for the model — it falls back to the catalog's defaults
// and says why. This package is the only one that inspects Service Quotas SDK errors.
package discover

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas/types"
	"github.com/aws/smithy-go"

	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/quota"
)

// ServiceCode is the Service Quotas code of Amazon Bedrock.
const ServiceCode = "bedrock"

// regionName matches AWS region names: us-east-1, us-gov-west-1, eu-central-2, …
var regionName = regexp.MustCompile(`^[a-z]{2,4}(-[a-z]+)+-[0-9]+$`)

// DefaultPageSize is the number of quotas asked for per ListServiceQuotas page, the
// API's maximum.
const DefaultPageSize = 100

// DefaultTimeout bounds the listing of an account's quotas when Config.Timeout is zero:
// the few pages of Bedrock's quotas take about a second, so a Service Quotas endpoint
// that has not answered in 30 seconds has stalled.
const DefaultTimeout = 30 * time.Second

// ErrTimeout is matched (errors.Is) by the error of a listing that ran out of time.
var ErrTimeout = errors.New("discover: Service Quotas did not answer in time")

// Config says where to read quotas and what to do with them. Region is required; every
// other field has a documented zero value.
type Config struct {
	// Client lists the account's applied quotas: a *servicequotas.Client, built for
	// Region. Nil means the API is not used and every value comes from the catalog.
	Client servicequotas.ListServiceQuotasAPIClient
	// Region is the region whose quotas Client reads. Quotas are per region, and those
	// of cross-region and global profiles belong to the source region, where calls are
	// made. Empty means the region of the model id's ARN; one of the two is required.
	Region string
	// Catalog resolves the model id and gives the quota codes, names and defaults. Nil
	// means catalog.Default().
	Catalog *catalog.Catalog
	// LegacyRPM adds the requests-per-minute quota to the limits. Bedrock stopped
	// enforcing RPM on bedrock-runtime in 2026, so it is reported but left out by default.
	LegacyRPM bool
	// PageSize is the MaxResults of each ListServiceQuotas page, 1 to 100. Zero means
	// DefaultPageSize.
	PageSize int32
	// Timeout bounds the whole listing, every page and the SDK's retries included. Zero
	// means DefaultTimeout; negative means none (ctx's deadline alone).
	Timeout time.Duration
	// Endpoint names the Service Quotas endpoint in messages. Empty means Client's
	// BaseEndpoint when it is a *servicequotas.Client with one, else the region's AWS
	// endpoint.
	Endpoint string
}

// A Source says where a quota value came from.
type Source uint8

// The sources of a value.
const (
	// Unknown: neither the account nor the catalog gives a value.
	Unknown Source = iota
	// Applied: the account's applied quota, read through Service Quotas.
	Applied
	// CatalogDefault: the AWS default the catalog holds, used when the applied value
	// could not be read.
	CatalogDefault
)

var sourceNames = [...]string{"unknown", "applied", "catalog default"}

// String returns "applied", "catalog default" or "unknown".
func (s Source) String() string {
	if int(s) < len(sourceNames) {
		return sourceNames[s]
	}
	return fmt.Sprintf("source(%d)", uint8(s))
}

// A Value is one of the model's quotas in the scope, as found.
type Value struct {
	// Kind is "TPM", "TPD" or "RPM".
	Kind string
	// Value is the quota's value as listed (tokens or requests per Limit.Per); zero when
	// Source is Unknown, or when the account's quota is zero.
	Value int64
	// Limit is what Tollgate enforces for this quota: Value, doubled for cross-region
	// calls when the quota is "doubled for cross-region calls". Its Amount is zero when
	// the quota is not enforced (unknown, zero, or a legacy RPM not asked for).
	Limit quota.Limit
	// Source says where Value came from.
	Source Source
	// Code and Name identify the Service Quotas entry, when known.
	Code, Name string
	// Adjustable reports whether an increase can be requested (applied quotas only).
	Adjustable bool
	// Note explains anything unusual about the value, or is empty.
	Note string
}

// A Report is what Quotas found for one model and scope.
type Report struct {
	// Model is the catalog's model and Ref the parsed model id.
	Model catalog.Model
	Ref   catalog.Ref
	// Region is the region the quotas belong to.
	Region string
	// Values holds TPM, TPD and RPM, in that order.
	Values []Value
	// Limits are the limits to give package quota: the Limit of each enforced Value.
	Limits []quota.Limit
	// Fallback says why catalog defaults were used instead of applied values; it is empty
	// when every value could be read from the account.
	Fallback string
}

// Quotas reads the applied quotas of the model modelID names (a model id, profile id or
// ARN, as catalog.Parse reads it) in cfg.Region and returns them as limits. It fails when
// the model id is malformed or unknown to the catalog (the error lists the settings to
// give), when the context ends, and when not even a tokens-per-minute value is known; in
// that last case it still returns the report. An unusable API is not an error: the
// report's Fallback says why catalog defaults were used.
func Quotas(ctx context.Context, cfg Config, modelID string) (*Report, error) {
	cat := cfg.Catalog
	if cat == nil {
		cat = catalog.Default()
	}
	m, ref, err := cat.Lookup(modelID)
	if err != nil {
		return nil, err
	}
	region := cfg.Region
	switch {
	case region == "" && ref.Region == "":
		return nil, errors.New("discover: no region: quotas are per region; give the region calls are made from (the source region of a cross-region profile)")
	case region == "":
		region = ref.Region
	case !regionName.MatchString(region):
		return nil, fmt.Errorf("discover: %q is not a region name: use one like us-east-1 or eu-central-1", region)
	case ref.Region != "" && ref.Region != region:
		return nil, fmt.Errorf("discover: %q is in region %s but quotas would be read in %s: use region %s", ref.Raw, ref.Region, region, ref.Region)
	}
	if cfg.PageSize < 0 || cfg.PageSize > DefaultPageSize {
		return nil, fmt.Errorf("discover: page size %d: use 1 to %d, or 0 for %d", cfg.PageSize, DefaultPageSize, DefaultPageSize)
	}
	r := &Report{Model: m, Ref: ref, Region: region}
	var applied []types.ServiceQuota
	if cfg.Client == nil {
		r.Fallback = "no Service Quotas client: using catalog defaults"
	} else if applied, err = listWithin(ctx, cfg, region); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("discover: listing quotas: %w", ctx.Err())
		}
		if errors.Is(err, ErrTimeout) {
			// A stalled endpoint is not an absent one: the account's quotas may well be
			// lower than the defaults, so the caller is told rather than given them.
			r.Fallback = err.Error() + ": using catalog defaults"
			r.build(nil, false, cfg.LegacyRPM)
			return r, err
		}
		r.Fallback = fallbackReason(err) + ": using catalog defaults"
	}
	r.build(applied, cfg.Client != nil && r.Fallback == "", cfg.LegacyRPM)
	if tpm := r.Values[0]; tpm.Source == Applied && tpm.Value == 0 {
		return r, fmt.Errorf("discover: the account's tokens-per-minute quota %s for %s (%s) in %s is 0: every call would be throttled; request an increase in Service Quotas (new accounts often start at 0)",
			tpm.Code, m.ID, ref.Scope, region)
	}
	if tpm := r.Values[0]; tpm.Limit.Amount == 0 {
		return r, fmt.Errorf("discover: no tokens-per-minute quota known for %s (%s) in %s: set quotas.%s.tpm.default for model %q in the catalog file (see docs/catalog.md), or give the limits explicitly",
			m.ID, ref.Scope, region, ref.Scope, m.ID)
	}
	return r, nil
}

// listWithin lists the quotas within cfg's timeout; when it runs out, the error wraps
// ErrTimeout and names the endpoint and the time waited.
func listWithin(ctx context.Context, cfg Config, region string) ([]types.ServiceQuota, error) {
	d := cfg.Timeout
	if d == 0 {
		d = DefaultTimeout
	}
	if d < 0 {
		return list(ctx, cfg.Client, cfg.PageSize)
	}
	lctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	out, err := list(lctx, cfg.Client, cfg.PageSize)
	if err != nil && lctx.Err() != nil && ctx.Err() == nil {
		return nil, fmt.Errorf("%w: %s did not answer within %v", ErrTimeout, endpointOf(cfg, region), d)
	}
	return out, err
}

// endpointOf names the Service Quotas endpoint cfg's client calls.
func endpointOf(cfg Config, region string) string {
	if cfg.Endpoint != "" {
		return cfg.Endpoint
	}
	if c, ok := cfg.Client.(*servicequotas.Client); ok {
		if ep := c.Options().BaseEndpoint; ep != nil && *ep != "" {
			return *ep
		}
	}
	return "https://servicequotas." + region + ".amazonaws.com"
}

// list reads every Bedrock quota of the account, page by page.
func list(ctx context.Context, c servicequotas.ListServiceQuotasAPIClient, pageSize int32) ([]types.ServiceQuota, error) {
	if pageSize == 0 {
		pageSize = DefaultPageSize
	}
	p := servicequotas.NewListServiceQuotasPaginator(c, &servicequotas.ListServiceQuotasInput{
		ServiceCode: aws.String(ServiceCode), MaxResults: aws.Int32(pageSize)})
	var out []types.ServiceQuota
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Quotas...)
	}
	return out, nil
}

// fallbackReason says in words why listing failed.
func fallbackReason(err error) string {
	var api smithy.APIError
	var signing *v4.SigningError
	switch {
	case errors.As(err, &signing) || strings.Contains(err.Error(), "get identity: "):
		// The SDK wraps a failed credential lookup as "get identity: …" (servicequotas
		// auth.go) without an error type; older paths use a v4.SigningError.
		return fmt.Sprintf("no usable AWS credentials (%v): configure them (AWS_PROFILE, aws configure, AWS_ACCESS_KEY_ID…) to read the account's quotas", err)
	case errors.As(err, &api) && api.ErrorCode() == "AccessDeniedException":
		return "access denied: these credentials may not call servicequotas:ListServiceQuotas " +
			"(attach a policy allowing it, such as the ServiceQuotasReadOnlyAccess managed policy)"
	case errors.As(err, &api):
		return fmt.Sprintf("Service Quotas answered %s (%s)", api.ErrorCode(), api.ErrorMessage())
	}
	return fmt.Sprintf("Service Quotas unreachable (%v)", err)
}

// build fills Values and Limits from the applied quotas and the catalog. listed reports
// whether applied is the account's complete listing.
func (r *Report) build(applied []types.ServiceQuota, listed, legacyRPM bool) {
	s := r.Ref.Scope
	cq := r.Model.Quotas[s]
	names := modelNames(r.Model)
	var notFound []string
	for _, k := range []struct {
		kind   string
		q      catalog.Quota
		dim    quota.Dimension
		per    time.Duration
		used   bool
		legacy bool
	}{
		{"TPM", cq.TPM, quota.Tokens, time.Minute, true, false},
		{"TPD", cq.TPD, quota.Tokens, 24 * time.Hour, true, false},
		{"RPM", cq.RPM, quota.Requests, time.Minute, legacyRPM, true},
	} {
		v := Value{Kind: k.kind, Code: k.q.Code, Name: k.q.Name}
		doubled := k.q.CrossRegionDoubled
		if sq, ok := match(applied, k.kind, s, k.q.Code, names); ok {
			v.Source, v.Code, v.Name, v.Adjustable = Applied, aws.ToString(sq.QuotaCode), aws.ToString(sq.QuotaName), sq.Adjustable
			v.Value, v.Note = value(sq.Value)
			doubled = doubled || strings.Contains(strings.ToLower(v.Name), doubledSuffix)
		} else if d := k.q.DefaultIn(r.Region); d > 0 {
			v.Source, v.Value = CatalogDefault, d
			if k.q.Derived {
				v.Note = "derived from the TPM: the documented default is a day's worth of it (TPM × 1440)"
			}
		}
		if v.Source != Applied && k.used {
			notFound = append(notFound, k.kind)
		}
		switch {
		case v.Source == Applied && v.Value == 0 && v.Note == "":
			v.Note = "the account's quota is 0: every call in this scope is throttled; request an increase in Service Quotas"
		case k.legacy && v.Value > 0 && !k.used:
			v.Note = "legacy: Bedrock no longer enforces RPM (2026); not applied"
		case v.Source == Unknown:
			v.Note = "not known: neither listed by the account nor in the catalog"
		}
		if k.used && v.Value > 0 {
			amount := v.Value
			if doubled && s == catalog.CrossRegion {
				amount *= 2
				v.Note = strings.TrimPrefix(v.Note+"; doubled for cross-region calls", "; ")
			}
			v.Limit = quota.Limit{Dimension: k.dim, Amount: amount, Per: k.per}
			r.Limits = append(r.Limits, v.Limit)
		}
		r.Values = append(r.Values, v)
	}
	if listed && len(notFound) > 0 {
		r.Fallback = fmt.Sprintf("the account lists no %s quota for %s (%s) in %s: using catalog defaults where known",
			strings.Join(notFound, " or "), r.Model.ID, s, r.Region)
	}
}

// value converts a listed quota value to a whole count, explaining odd values.
func value(v *float64) (int64, string) {
	switch {
	case v == nil:
		return 0, "the listing has no value"
	case math.IsNaN(*v) || *v < 0:
		return 0, fmt.Sprintf("the listed value %v is not a count", *v)
	case *v >= math.MaxInt64/4:
		return math.MaxInt64 / 4, "the listed value is too large; capped"
	}
	return int64(*v), ""
}
