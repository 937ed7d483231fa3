package bedrocktest_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"
	sqtypes "github.com/aws/aws-sdk-go-v2/service/servicequotas/types"

	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/emustats"
)

func TestServiceQuotas(t *testing.T) {
	srv := startServer(t, quickOptions())
	client := quotasClient(t, srv.URL)
	ctx := ctxT(t)

	// Every code of the test models with a value, listed two to a page.
	want := map[string]float64{
		"L-59759B4A": 10_000_000,           // Sonnet 4 cross-region TPM
		"L-22F701C5": 10_000_000 * 24 * 60, // its TPD, TPM × 1440 by default
		"L-97E41E39": 10_000_000,           // global TPM
		"L-70423BF8": 10_000_000,           // Nova Lite on-demand TPM
		"L-E386A278": 1000,                 // its legacy RPM
	}
	got := map[string]float64{}
	pages := 0
	p := servicequotas.NewListServiceQuotasPaginator(client, &servicequotas.ListServiceQuotasInput{
		ServiceCode: aws.String("bedrock"), MaxResults: aws.Int32(2)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListServiceQuotas: %v", err)
		}
		pages++
		for _, q := range page.Quotas {
			got[aws.ToString(q.QuotaCode)] = aws.ToFloat64(q.Value)
			if aws.ToString(q.ServiceCode) != "bedrock" || aws.ToString(q.QuotaName) == "" || q.Period == nil {
				t.Errorf("incomplete quota %+v", q)
			}
		}
	}
	if pages != 3 || len(got) != len(want) {
		t.Errorf("%d pages, quotas %v; want 3 pages of %v", pages, got, want)
	}
	for code, v := range want {
		if got[code] != v {
			t.Errorf("%s = %v, want %v", code, got[code], v)
		}
	}

	q, err := client.GetServiceQuota(ctx, &servicequotas.GetServiceQuotaInput{ServiceCode: aws.String("bedrock"), QuotaCode: aws.String("L-59759B4A")})
	if err != nil {
		t.Fatalf("GetServiceQuota: %v", err)
	}
	if name := aws.ToString(q.Quota.QuotaName); name != "Cross-region model inference tokens per minute for Anthropic Claude Sonnet 4 V1" {
		t.Errorf("name = %q", name)
	}
	def, err := client.ListAWSDefaultServiceQuotas(ctx, &servicequotas.ListAWSDefaultServiceQuotasInput{ServiceCode: aws.String("bedrock")})
	if err != nil || len(def.Quotas) != len(want) || def.NextToken != nil {
		t.Errorf("ListAWSDefaultServiceQuotas = %d quotas, next %v, error %v; want the %d configured in one page", len(def.Quotas), def.NextToken, err, len(want))
	}
	_, err = client.ListServiceQuotas(ctx, &servicequotas.ListServiceQuotasInput{ServiceCode: aws.String("ec2")})
	if !errors.As(err, new(*sqtypes.NoSuchResourceException)) {
		t.Errorf("service code ec2: error = %v, want NoSuchResourceException", err)
	}
	_, err = client.GetServiceQuota(ctx, &servicequotas.GetServiceQuotaInput{ServiceCode: aws.String("bedrock"), QuotaCode: aws.String("L-00000000")})
	var nsr *sqtypes.NoSuchResourceException
	if !errors.As(err, &nsr) {
		t.Errorf("unknown code: error = %v, want NoSuchResourceException", err)
	}
	_, err = client.ListServiceQuotas(ctx, &servicequotas.ListServiceQuotasInput{ServiceCode: aws.String("bedrock"), NextToken: aws.String("bogus")})
	var ipt *sqtypes.InvalidPaginationTokenException
	if !errors.As(err, &ipt) {
		t.Errorf("bad token: error = %v, want InvalidPaginationTokenException", err)
	}
}

// TestPresetsServeTheCatalog checks the default models: the catalog's, with its codes.
func TestPresetsServeTheCatalog(t *testing.T) {
	srv := startServer(t, bedrocktest.Options{Latency: bedrocktest.Latency{TimeToFirstToken: -1, PerOutputToken: -1}})
	q, err := quotasClient(t, srv.URL).GetServiceQuota(ctxT(t), &servicequotas.GetServiceQuotaInput{
		ServiceCode: aws.String("bedrock"), QuotaCode: aws.String("L-6E888CC2")})
	if err != nil {
		t.Fatalf("GetServiceQuota: %v", err)
	}
	// Claude 3.7 Sonnet's cross-region TPM, as the catalog has it for us-east-1.
	m, ok := catalog.Default().Model("anthropic.claude-3-7-sonnet-20250219-v1:0")
	tpm := m.Quotas[catalog.CrossRegion].TPM
	if !ok || tpm.Code != "L-6E888CC2" || tpm.DefaultIn("us-east-1") == 0 {
		t.Fatalf("the catalog lost Claude 3.7 Sonnet's cross-region TPM: %+v", tpm)
	}
	if v, want := aws.ToFloat64(q.Quota.Value), float64(tpm.DefaultIn("us-east-1")); v != want {
		t.Errorf("L-6E888CC2 = %v, want the catalog's %v", v, want)
	}
	models := srv.Models()
	if len(models) < 10 {
		t.Errorf("%d preset models, want the catalog's", len(models))
	}
}

func TestStatsEndpoint(t *testing.T) {
	srv := startServer(t, quickOptions())
	client := runtimeClient(t, srv.URL)
	if _, err := client.Converse(ctxT(t), &bedrockruntime.ConverseInput{ModelId: aws.String(nova), Messages: userMessage("hi")}); err != nil {
		t.Fatal(err)
	}
	get := func() emustats.Snapshot {
		t.Helper()
		resp, err := http.Get(srv.URL + emustats.Path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st emustats.Snapshot
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := get()
	if len(st.Series) != 1 || st.Series[0].Admitted != 1 || st.Series[0].Model != nova || st.Window != "bucket" {
		t.Fatalf("stats = %+v, want one admitted call to %s", st, nova)
	}
	resp, err := http.Post(srv.URL+emustats.ResetPath, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("reset: status %d", resp.StatusCode)
	}
	if st := get(); len(st.Series) != 0 {
		t.Errorf("after reset: %+v", st.Series)
	}
}
