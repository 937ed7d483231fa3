package catalog_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tollgate-dev/tollgate/catalog"
)

func ExampleParse() {
	for _, id := range []string{
		"anthropic.claude-3-5-sonnet-20240620-v1:0",
		"global.anthropic.claude-sonnet-4-5-20250929-v1:0",
		"arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-3-7-sonnet-20250219-v1:0",
	} {
		r, err := catalog.Parse(id)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s | %s | %q | %q\n", r.ModelID, r.Scope, r.Geography, r.Region)
	}
	// Output:
	// anthropic.claude-3-5-sonnet-20240620-v1:0 | on-demand | "" | ""
	// anthropic.claude-sonnet-4-5-20250929-v1:0 | global | "global" | ""
	// anthropic.claude-3-7-sonnet-20250219-v1:0 | cross-region | "eu" | "eu-west-1"
}

func ExampleCatalog_Lookup() {
	m, r, err := catalog.Default().Lookup("us.anthropic.claude-sonnet-4-20250514-v1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Name, r.Scope, "burndown", m.OutputBurndown, "max output", m.MaxOutputTokens)
	fmt.Println("TPM quota", m.Quotas[r.Scope].TPM.Code, m.Quotas[r.Scope].TPM.Default)

	_, _, err = catalog.Default().Lookup("acme.mystery-v1:0")
	fmt.Println(errors.Is(err, catalog.ErrUnknownModel))
	// Output:
	// Claude Sonnet 4 cross-region burndown 5 max output 64000
	// TPM quota L-59759B4A 200000
	// true
}

func ExampleModel_Limits() {
	m, _ := catalog.Default().Model("anthropic.claude-3-5-sonnet-20240620-v1:0")
	limits, err := m.Limits(catalog.CrossRegion, "us-east-1", false)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, l := range limits {
		fmt.Println(l)
	}
	// Output:
	// 800000 tokens/1m
	// 1152000000 tokens/24h
}

func ExampleCatalog_Load() {
	c, err := catalog.Default().Load(strings.NewReader(`
models:
  - id: acme.custom-model-v1:0
    output_burndown: 1
    max_output_tokens: 4096
    context_window: 32000
    quotas:
      on-demand: {tpm: {default: 100000}}
profiles:
  arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3: us.anthropic.claude-sonnet-4-20250514-v1:0
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	m, _, _ := c.Lookup("acme.custom-model-v1:0")
	fmt.Println(m.ID, m.MaxOutputTokens)
	m, r, _ := c.Lookup("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3")
	fmt.Println(m.ID, r.Scope, r.Region)
	// Output:
	// acme.custom-model-v1:0 4096
	// anthropic.claude-sonnet-4-20250514-v1:0 cross-region us-east-1
}

func ExampleCatalog_With() {
	m, _ := catalog.Default().Model("anthropic.claude-sonnet-4-20250514-v1:0")
	m.MaxOutputTokens = 32_000 // this account's callers never ask for more
	c, err := catalog.Default().With(m)
	if err != nil {
		fmt.Println(err)
		return
	}
	got, _ := c.Model(m.ID)
	fmt.Println(got.MaxTokensDefault())
	// Output: 32000
}
