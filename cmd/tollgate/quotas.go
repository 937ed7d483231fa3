package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"
	"github.com/spf13/cobra"

	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/discover"
	"github.com/tollgate-dev/tollgate/internal/quotatext"
)

func init() { registered = append(registered, newQuotasCmd) }

// quotasFlags are the flags of "tollgate quotas".
type quotasFlags struct {
	model, region, endpoint, catalogFile string
	json, legacyRPM                      bool
	timeout                              time.Duration // 0: discover.DefaultTimeout
}

func newQuotasCmd() *cobra.Command {
	var f quotasFlags
	cmd := &cobra.Command{
		Use:   "quotas --model MODEL [--region REGION]",
		Short: "Show the account's Bedrock quotas for a model and the limits Tollgate applies",
		Long: `Quotas shows the quotas that meter one Bedrock model in one region — tokens per minute
(TPM), tokens per day (TPD) and the legacy requests per minute (RPM) — and the limits
Tollgate derives from them.

MODEL is what you pass to Bedrock as modelId: a model id (on-demand quotas), an
inference-profile id such as "us.…" (cross-region quotas) or "global.…" (global quotas), or
the ARN of either. Quotas are per account, region, model and scope; those of a profile
belong to the source region, the one you call.

Where the numbers come from: the account's applied values, read with the Service Quotas
API (ListServiceQuotas, service code "bedrock") using the AWS default credential chain
(environment, AWS_PROFILE, SSO, instance role). Each quota is matched by the code in
Tollgate's model catalog, else by its name. Cross-region calls count the TPD quota
"(doubled for cross-region calls)" twice. RPM is shown but not applied unless --rpm is
given: Bedrock stopped enforcing it in 2026.

Without access — no credentials, no servicequotas:ListServiceQuotas permission, no
network, or a model the account does not list — the AWS defaults from the catalog are
shown instead, marked "catalog default", with the reason. Defaults can be higher than a
new account's real quotas. A model the catalog does not know needs its settings in a
catalog file (--catalog; see docs/catalog.md).`,
		Example: `  tollgate quotas --model us.anthropic.claude-sonnet-4-20250514-v1:0 --region us-east-1
  tollgate quotas --model anthropic.claude-3-5-sonnet-20240620-v1:0 --json
  tollgate quotas --model arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.amazon.nova-pro-v1:0
  tollgate quotas --model us.amazon.nova-pro-v1:0 --endpoint http://127.0.0.1:8480   # against "tollgate emulate"`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unexpected argument %q: give the model with --model", args[0])}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runQuotas(cmd.Context(), cmd.OutOrStdout(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.model, "model", "m", "", "model id, inference-profile id or ARN, as passed to Bedrock (required)")
	fl.StringVarP(&f.region, "region", "r", "", "region whose quotas to read (default: the ARN's region, else AWS_REGION or the profile's region)")
	fl.StringVar(&f.endpoint, "endpoint", "", "Service Quotas endpoint URL, e.g. an emulator (default: AWS, or AWS_ENDPOINT_URL_SERVICE_QUOTAS)")
	fl.StringVar(&f.catalogFile, "catalog", "", "YAML file adding or overriding catalog models (see docs/catalog.md)")
	fl.BoolVar(&f.json, "json", false, "print the report as JSON")
	fl.BoolVar(&f.legacyRPM, "rpm", false, "also apply the legacy requests-per-minute quota")
	fl.DurationVar(&f.timeout, "timeout", discover.DefaultTimeout, "how long Service Quotas may take to answer before the catalog's defaults are shown with an error")
	return cmd
}

// runQuotas resolves the flags, reads the quotas and prints them.
func runQuotas(ctx context.Context, out io.Writer, f quotasFlags) error {
	if err := durationRange("timeout", f.timeout, time.Millisecond, maxTimeout, "how long Service Quotas may take to answer"); err != nil {
		return err
	}
	r, err := discoverQuotas(ctx, f)
	if errors.Is(err, discover.ErrTimeout) {
		err = fmt.Errorf("%w (wait longer with --timeout, or check --endpoint or AWS_ENDPOINT_URL_SERVICE_QUOTAS)", err)
	}
	if r == nil {
		return err
	}
	if f.json {
		if perr := printQuotasJSON(out, r); perr != nil {
			return perr
		}
	} else {
		printQuotas(out, r)
	}
	return err
}

// discoverQuotas resolves the flags and reads the quotas: the report (with the catalog's
// defaults and the reason when the account's cannot be read) and the error that made it
// fall back, or no report and a usage error when the flags cannot work.
func discoverQuotas(ctx context.Context, f quotasFlags) (*discover.Report, error) {
	if strings.TrimSpace(f.model) == "" {
		return nil, usageError{errors.New(`--model is required: give the model id, profile id or ARN you call Bedrock with (see "tollgate quotas --help")`)}
	}
	cat := catalog.Default()
	if f.catalogFile != "" {
		var err error
		if cat, err = cat.LoadFile(f.catalogFile); err != nil {
			return nil, usageError{err}
		}
	}
	_, ref, err := cat.Lookup(f.model)
	if err != nil {
		return nil, usageError{err}
	}
	if f.endpoint != "" {
		if u, err := url.Parse(f.endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, usageError{fmt.Errorf("--endpoint %q is not an http(s) URL like http://127.0.0.1:8080", f.endpoint)}
		}
	}
	region := f.region
	if region == "" {
		region = ref.Region
	}
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		return nil, usageError{errors.New("no region: pass --region (e.g. --region us-east-1) or set AWS_REGION; quotas are per region")}
	}
	client := servicequotas.NewFromConfig(awsCfg, func(o *servicequotas.Options) {
		if f.endpoint != "" {
			o.BaseEndpoint = &f.endpoint
		}
	})
	r, err := discover.Quotas(ctx, discover.Config{Client: client, Region: awsCfg.Region, Catalog: cat, LegacyRPM: f.legacyRPM, Timeout: f.timeout}, f.model)
	if r == nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, usageError{err} // the model id, region or catalog given cannot work
	}
	return r, err
}

// printQuotas writes the report as a table for people.
func printQuotas(out io.Writer, r *discover.Report) {
	m := r.Model
	fmt.Fprintf(out, "Model:   %s (%s %s)\n", m.ID, m.Provider, m.Name)
	fmt.Fprintf(out, "Called:  %s (%s) → %s quotas in %s\n", r.Ref.Raw, r.Ref.Kind, r.Ref.Scope, r.Region)
	fmt.Fprintf(out, "Tokens:  output counts ×%g; max output %d (reserved when max_tokens is unset: %d); context %d\n\n",
		m.OutputBurndown, m.MaxOutputTokens, m.MaxTokensDefault(), m.ContextWindow)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LIMIT\tVALUE\tUNIT\tSOURCE\tCODE\tADJUSTABLE\tNAME / NOTE")
	for _, v := range r.Values {
		unit := "tokens/minute"
		switch v.Kind {
		case "TPD":
			unit = "tokens/day"
		case "RPM":
			unit = "requests/minute"
		}
		value, adjustable, code := "-", "-", v.Code
		if v.Source != discover.Unknown {
			value = group(v.Value)
		}
		if v.Source == discover.Applied {
			adjustable = map[bool]string{true: "yes", false: "no"}[v.Adjustable]
		}
		if code == "" {
			code = "-"
		}
		note := strings.Trim(v.Name+"; "+v.Note, "; ")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.Kind, value, unit, v.Source, code, adjustable, note)
	}
	tw.Flush()
	limits := make([]string, len(r.Limits))
	for i, l := range r.Limits {
		limits[i] = l.String()
	}
	fmt.Fprintf(out, "\nTollgate limits: %s\n", strings.Join(limits, ", "))
	if r.Fallback != "" {
		fmt.Fprintf(out, "Note: %s\n", r.Fallback)
	}
}

// group writes n with thousands separators: 1,000,000.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// quotasJSON is the --json form of a report.
type quotasJSON struct {
	Model    string            `json:"model"`
	ModelID  string            `json:"model_id"`
	Scope    string            `json:"scope"`
	Region   string            `json:"region"`
	Burndown float64           `json:"output_burndown"`
	Values   []valueJSON       `json:"quotas"`
	Limits   []quotatext.Limit `json:"limits"`
	Fallback string            `json:"fallback,omitempty"`
}

type valueJSON struct {
	Kind       string          `json:"kind"`
	Value      int64           `json:"value"`
	Source     string          `json:"source"`
	Code       string          `json:"code,omitempty"`
	Name       string          `json:"name,omitempty"`
	Adjustable bool            `json:"adjustable"`
	Limit      quotatext.Limit `json:"limit,omitzero"`
	Note       string          `json:"note,omitempty"`
}

// printQuotasJSON writes the report as indented JSON.
func printQuotasJSON(out io.Writer, r *discover.Report) error {
	j := quotasJSON{Model: r.Ref.Raw, ModelID: r.Model.ID, Scope: r.Ref.Scope.String(), Region: r.Region,
		Burndown: r.Model.OutputBurndown, Limits: quotatext.Texts(r.Limits), Fallback: r.Fallback}
	if j.Limits == nil {
		j.Limits = []quotatext.Limit{}
	}
	for _, v := range r.Values {
		j.Values = append(j.Values, valueJSON{Kind: v.Kind, Value: v.Value, Source: v.Source.String(), Code: v.Code,
			Name: v.Name, Adjustable: v.Adjustable, Limit: quotatext.Limit(v.Limit), Note: v.Note})
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(j)
}
