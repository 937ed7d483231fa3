package discover

import (
	"context"
	"errors"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"
	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/quota"
)

const (
	sonnet35 = "anthropic.claude-3-5-sonnet-20240620-v1:0"
	sonnet4  = "anthropic.claude-sonnet-4-20250514-v1:0"
	haiku3   = "anthropic.claude-3-haiku-20240307-v1:0"
)

// client returns the real Service Quotas client pointed at url, with static credentials
// and no retries.
func client(t testing.TB, url string) *servicequotas.Client {
	t.Helper()
	return servicequotas.New(servicequotas.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(url),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		RetryMaxAttempts: 1,
	})
}

// model is a catalog model for the emulator to serve, with Options.Limits overrides.
type model struct {
	catalog.Model
	limits map[string]bedrocktest.Limits
}

// emulator starts bedrocktest serving models, legacy RPM quotas enforced, and returns a
// client for its Service Quotas API.
func emulator(t testing.TB, models ...model) *servicequotas.Client {
	t.Helper()
	opts := bedrocktest.Options{Region: "us-east-1", LegacyRPM: true, Limits: map[string]bedrocktest.Limits{}}
	for _, m := range models {
		opts.Models = append(opts.Models, m.Model)
		maps.Copy(opts.Limits, m.limits)
	}
	s, err := bedrocktest.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return client(t, s.URL)
}

// served returns the catalog model id as the emulator serves it, changed by set (nil:
// unchanged).
func served(t testing.TB, id string, set func(*model)) model {
	t.Helper()
	m, ok := catalog.Default().Model(id)
	if !ok {
		t.Fatalf("no model %s", id)
	}
	sm := model{Model: m, limits: map[string]bedrocktest.Limits{}}
	if set != nil {
		set(&sm)
	}
	return sm
}

func tokens(n int64, per time.Duration) quota.Limit {
	return quota.Limit{Dimension: quota.Tokens, Amount: n, Per: per}
}

const day = 24 * time.Hour

func TestQuotasReadsAppliedValues(t *testing.T) {
	// The account has less than the defaults (400,000 TPM, 50 RPM) and a TPD quota whose code
	// the catalog does not know, so it is found by name.
	m := served(t, sonnet35, func(m *model) {
		od := m.Quotas[catalog.OnDemand]
		od.TPD.Code = "L-0000ABCD"
		m.Quotas[catalog.OnDemand] = od
		m.limits[sonnet35] = bedrocktest.Limits{TokensPerMinute: 123_000, TokensPerDay: 5_000_000, RequestsPerMinute: 7}
	})
	other := served(t, haiku3, nil)
	c := emulator(t, other, m) // the model's quotas come last: several pages with PageSize 1
	for _, pageSize := range []int32{0, 1} {
		r, err := Quotas(context.Background(), Config{Client: c, Region: "us-east-1", PageSize: pageSize, LegacyRPM: true}, sonnet35)
		if err != nil {
			t.Fatal(err)
		}
		want := []quota.Limit{tokens(123_000, time.Minute), tokens(5_000_000, day), {Dimension: quota.Requests, Amount: 7, Per: time.Minute}}
		if diff := cmp.Diff(want, r.Limits); diff != "" {
			t.Errorf("page size %d: limits (-want +got):\n%s", pageSize, diff)
		}
		if r.Fallback != "" {
			t.Errorf("page size %d: Fallback = %q, want none", pageSize, r.Fallback)
		}
		for i, w := range []struct {
			code string
			name string
		}{
			{"L-A50569E5", "On-demand model inference tokens per minute for Anthropic Claude 3.5 Sonnet"},
			{"L-0000ABCD", "Model invocation max tokens per day for Anthropic Claude 3.5 Sonnet (doubled for cross-region calls)"},
			{"L-254CACF4", "On-demand model inference requests per minute for Anthropic Claude 3.5 Sonnet"},
		} {
			v := r.Values[i]
			if v.Source != Applied || v.Code != w.code || v.Name != w.name {
				t.Errorf("page size %d: value %d = %+v, want applied %s %q", pageSize, i, v, w.code, w.name)
			}
		}
	}
}

func TestQuotasCrossRegionTPDIsDoubled(t *testing.T) {
	m := served(t, sonnet4, func(m *model) {
		// The emulator enforces 72,000,000 for cross-region calls and, as AWS does, lists
		// the quota at half, 36,000,000, "doubled for cross-region calls".
		m.limits["us."+sonnet4] = bedrocktest.Limits{TokensPerMinute: 50_000, TokensPerDay: 72_000_000}
	})
	r, err := Quotas(context.Background(), Config{Client: emulator(t, m), Region: "us-east-1"}, "us."+sonnet4)
	if err != nil {
		t.Fatal(err)
	}
	// "Model invocation max tokens per day … (doubled for cross-region calls)": the listed
	// value counts twice for a cross-region profile.
	want := []quota.Limit{tokens(50_000, time.Minute), tokens(72_000_000, day)}
	if diff := cmp.Diff(want, r.Limits); diff != "" {
		t.Errorf("limits (-want +got):\n%s", diff)
	}
	if v := r.Values[1]; v.Value != 36_000_000 || v.Code != "L-22F701C5" || !strings.Contains(v.Note, "doubled") {
		t.Errorf("TPD value = %+v, want the listed 36,000,000 under L-22F701C5, noted as doubled", v)
	}
	// RPM is listed but not applied unless asked for.
	if v := r.Values[2]; v.Source != Applied || v.Limit.Amount != 0 || !strings.Contains(v.Note, "no longer enforces") {
		t.Errorf("RPM value = %+v, want applied but not enforced", v)
	}
}

func TestQuotasMatchesByName(t *testing.T) {
	// A model the built-in table does not know, configured without quota codes: only the
	// names can match.
	cat, err := catalog.Default().With(catalog.Model{ID: "acme.widget-v1:0", Provider: "Acme", Name: "Widget",
		OutputBurndown: 1, MaxOutputTokens: 1000, ContextWindow: 8000,
		Quotas: map[catalog.Scope]catalog.Quotas{catalog.Global: {TPM: catalog.Quota{Default: 1}}}})
	if err != nil {
		t.Fatal(err)
	}
	bm := model{Model: catalog.Model{ID: "acme.widget-v1:0", QuotaName: "Acme Widget V1", Quotas: map[catalog.Scope]catalog.Quotas{
		catalog.Global: {TPM: catalog.Quota{Code: "L-11111111", Default: 77_000}, TPD: catalog.Quota{Code: "L-22222222", Default: 9_000_000}},
	}}}
	r, err := Quotas(context.Background(), Config{Client: emulator(t, bm), Region: "us-east-1", Catalog: cat}, "global.acme.widget-v1:0")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]quota.Limit{tokens(77_000, time.Minute), tokens(9_000_000, day)}, r.Limits); diff != "" {
		t.Errorf("limits (-want +got):\n%s", diff)
	}
	if r.Values[0].Code != "L-11111111" || r.Values[1].Name != "Global cross-region model inference tokens per day for Acme Widget V1" {
		t.Errorf("values = %+v, want the quotas found by name", r.Values)
	}
}

func TestQuotasZeroTPM(t *testing.T) {
	m := served(t, sonnet35, func(m *model) {
		m.limits["us."+sonnet35] = bedrocktest.Limits{TokensPerMinute: -1}
	})
	r, err := Quotas(context.Background(), Config{Client: emulator(t, m), Region: "us-east-1"}, "us."+sonnet35)
	if err == nil || !strings.Contains(err.Error(), "L-479B647F") || !strings.Contains(err.Error(), "is 0") {
		t.Fatalf("error = %v, want one saying the applied TPM L-479B647F is 0", err)
	}
	if r == nil || r.Values[0].Source != Applied || len(r.Limits) != 1 || r.Limits[0].Per != day {
		t.Errorf("report = %+v, want the applied zero TPM and the TPD limit alone", r)
	}
}

func TestQuotasZeroTPD(t *testing.T) {
	m := served(t, sonnet35, func(m *model) {
		od := m.Quotas[catalog.OnDemand]
		od.TPD.Code = "L-0000ABCD"
		m.Quotas[catalog.OnDemand] = od
		m.limits[sonnet35] = bedrocktest.Limits{TokensPerDay: -1}
	})
	r, err := Quotas(context.Background(), Config{Client: emulator(t, m), Region: "us-east-1"}, sonnet35)
	if err != nil {
		t.Fatal(err)
	}
	if v := r.Values[1]; v.Source != Applied || v.Value != 0 || !strings.Contains(v.Note, "request an increase") {
		t.Errorf("TPD = %+v, want an applied 0 with advice", v)
	}
	if len(r.Limits) != 1 {
		t.Errorf("limits = %v, want the TPM alone (a zero limit cannot be enforced)", r.Limits)
	}
}

// accessDenied answers every Service Quotas call as AWS does for credentials without
// servicequotas:ListServiceQuotas (awsJson1_1 error: HTTP 400, __type and x-amzn-ErrorType).
func accessDenied(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", "AccessDeniedException")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write([]byte(`{"__type":"AccessDeniedException","message":"User: arn:aws:iam::123456789012:user/x is not authorized to perform: servicequotas:ListServiceQuotas"}`))
}

// noCredentials returns a client for url whose credential chain finds nothing.
func noCredentials(t testing.TB, url string) *servicequotas.Client {
	t.Helper()
	return servicequotas.New(servicequotas.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(url), RetryMaxAttempts: 1,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{}, errors.New("no credentials configured")
		}),
	})
}

// refusedURL returns the URL of a loopback port nobody listens on.
func refusedURL(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	return url
}

func TestQuotasFallsBack(t *testing.T) {
	denied := httptest.NewServer(http.HandlerFunc(accessDenied))
	t.Cleanup(denied.Close)
	onlyHaiku := emulator(t, served(t, haiku3, nil))
	tests := []struct {
		name     string
		client   servicequotas.ListServiceQuotasAPIClient
		wantNote []string
	}{
		{"access denied", client(t, denied.URL), []string{"access denied", "servicequotas:ListServiceQuotas", "catalog defaults"}},
		{"connection refused", client(t, refusedURL(t)), []string{"unreachable", "connection refused", "catalog defaults"}},
		{"no client", nil, []string{"no Service Quotas client", "catalog defaults"}},
		{"no credentials", noCredentials(t, denied.URL), []string{"no usable AWS credentials", "no credentials configured", "AWS_PROFILE", "catalog defaults"}},
		{"model not listed", onlyHaiku, []string{"lists no TPM or TPD quota", sonnet35, "catalog defaults"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Quotas(context.Background(), Config{Client: tt.client, Region: "us-west-2"}, "us."+sonnet35)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.wantNote {
				if !strings.Contains(r.Fallback, w) {
					t.Errorf("Fallback %q does not mention %q", r.Fallback, w)
				}
			}
			// The catalog's us-west-2 defaults: 4,000,000 TPM cross-region; TPD TPM × 1440.
			want := []quota.Limit{tokens(4_000_000, time.Minute), tokens(5_760_000_000, day)}
			if diff := cmp.Diff(want, r.Limits); diff != "" {
				t.Errorf("limits (-want +got):\n%s", diff)
			}
			if r.Values[0].Source != CatalogDefault || r.Values[0].Code != "L-479B647F" {
				t.Errorf("TPM value = %+v, want the catalog default with its code", r.Values[0])
			}
		})
	}
}

func TestQuotasErrors(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	up := emulator(t, served(t, haiku3, nil))
	tests := []struct {
		name    string
		ctx     context.Context
		cfg     Config
		id      string
		wantIs  error
		wantMsg string
	}{
		{"unknown model", context.Background(), Config{Region: "us-east-1"}, "acme.mystery-v1:0", catalog.ErrUnknownModel, "output_burndown"},
		{"bad id", context.Background(), Config{Region: "us-east-1"}, "not an id", catalog.ErrInvalidID, "not allowed"},
		{"profile required", context.Background(), Config{Region: "us-east-1"}, sonnet4, catalog.ErrProfileRequired, "us." + sonnet4},
		{"no region", context.Background(), Config{}, sonnet35, nil, "no region"},
		{"bad region", context.Background(), Config{Region: "us east"}, sonnet35, nil, `"us east" is not a region name`},
		{"region mismatch", context.Background(), Config{Region: "us-east-1"}, "arn:aws:bedrock:eu-west-1::foundation-model/" + sonnet35, nil, "use region eu-west-1"},
		{"page size", context.Background(), Config{Region: "us-east-1", PageSize: 500}, sonnet35, nil, "page size 500"},
		{"no TPM known", context.Background(), Config{Region: "us-east-1"}, "global." + sonnet4, nil, "quotas.global.tpm.default"},
		{"canceled", canceled, Config{Region: "us-east-1", Client: up}, sonnet35, context.Canceled, "listing quotas"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Quotas(tt.ctx, tt.cfg, tt.id)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v does not match %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tt.wantMsg)
			}
		})
	}
}

func TestQuotasRegionFromARN(t *testing.T) {
	r, err := Quotas(context.Background(), Config{}, "arn:aws:bedrock:us-west-2:123456789012:inference-profile/us."+sonnet35)
	if err != nil {
		t.Fatal(err)
	}
	if r.Region != "us-west-2" || r.Limits[0].Amount != 4_000_000 {
		t.Errorf("report = region %s, limits %v; want us-west-2 and its 4,000,000 TPM default", r.Region, r.Limits)
	}
}

func TestParseName(t *testing.T) {
	tests := []struct {
		name, kind, model string
		scope             catalog.Scope
	}{
		{"On-demand InvokeModel tokens per minute for Anthropic Claude 3 Haiku", "TPM", "Anthropic Claude 3 Haiku", catalog.OnDemand},
		{"Cross-Region InvokeModel requests per minute for Anthropic Claude 3.5 Sonnet V2", "RPM", "Anthropic Claude 3.5 Sonnet V2", catalog.CrossRegion},
		{"Cross-region model inference tokens per minute for Anthropic Claude Sonnet 4.5 V1 1M Context Length", "TPM", "Anthropic Claude Sonnet 4.5 V1 1M Context Length", catalog.CrossRegion},
		{"Global cross-Region model inference tokens per minute for Anthropic Claude Sonnet 4 V1", "TPM", "Anthropic Claude Sonnet 4 V1", catalog.Global},
		{"Model invocation max tokens per day for Anthropic Claude Sonnet 4 V1 (doubled for cross-region calls)", "TPD", "Anthropic Claude Sonnet 4 V1", catalog.OnDemand},
		{"Model invocation max tokens per day for Amazon Nova Pro", "TPD", "Amazon Nova Pro", catalog.OnDemand},
		{"Global cross-region model inference tokens per day for Anthropic Claude Sonnet 4.5 V1", "TPD", "Anthropic Claude Sonnet 4.5 V1", catalog.Global},
	}
	for _, tt := range tests {
		kind, s, model, ok := parseName(tt.name)
		if !ok || kind != tt.kind || s != tt.scope || model != tt.model {
			t.Errorf("parseName(%q) = %s %v %q %v; want %s %v %q", tt.name, kind, s, model, ok, tt.kind, tt.scope, tt.model)
		}
	}
	for _, bad := range []string{"", "Bedrock Mantle input tokens per minute for Anthropic Claude Sonnet 4", "Cross-Model Max Tokens Per Day",
		// Latency-optimized inference has quotas of its own, which are not the standard ones.
		"On-demand latency-optimized InvokeModel tokens per minute for Anthropic Claude 3.5 Haiku",
		"On-Demand, latency-optimized model inference tokens per minute for Amazon Nova Pro V1"} {
		if _, _, _, ok := parseName(bad); ok {
			t.Errorf("parseName(%q) matched; want no match", bad)
		}
	}
	// The 1M-context quota must not be taken for the standard model's.
	if normalize("Anthropic Claude Sonnet 4.5 V1 1M Context Length") == normalize("Anthropic Claude Sonnet 4.5 V1") {
		t.Error("normalize confuses the 1M-context variant with the standard model")
	}
}

// TestQuotasMatchWhatTheEmulatorEnforces discovers the default quotas of cross-region
// Claude Sonnet 4 from the emulator's catalog presets: AWS lists its TPD at half, "doubled
// for cross-region calls", so discovery must double what is listed back to what the
// service (here, the emulator) really enforces — not more.
func TestQuotasMatchWhatTheEmulatorEnforces(t *testing.T) {
	m := served(t, sonnet4, nil)
	h, err := bedrocktest.New(bedrocktest.Options{Models: []catalog.Model{m.Model}, Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	q := h.Models()[0].Quotas[catalog.CrossRegion]
	if !q.TPD.CrossRegionDoubled {
		t.Fatalf("the catalog's cross-region Sonnet 4 TPD is not marked doubled: %+v", q)
	}
	enforced := struct{ TokensPerMinute, TokensPerDay int64 }{q.TPM.Default, q.TPD.ForScope(q.TPD.Default, catalog.CrossRegion)}
	rep, err := Quotas(context.Background(), Config{Client: emulator(t, m), Region: "us-east-1"}, "us."+sonnet4)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Fallback != "" {
		t.Fatalf("fell back to catalog defaults: %s", rep.Fallback)
	}
	want := []quota.Limit{tokens(enforced.TokensPerMinute, time.Minute), tokens(enforced.TokensPerDay, day)}
	if diff := cmp.Diff(want, rep.Limits); diff != "" {
		t.Errorf("discovered limits differ from what the emulator enforces (-want +got):\n%s", diff)
	}
}
