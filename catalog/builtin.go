package catalog

// Sources for the table below, cited by key next to the data:
//
//   [burndown]  "How tokens are counted in Amazon Bedrock",
//               https://docs.aws.amazon.com/bedrock/latest/userguide/quotas-token-burndown.html,
//               and aws-samples/sample-quota-dashboard-for-amazon-bedrock lib/bedrock-registries.ts
//               (MODEL_REGISTRY: outputTokenBurndownRate 5 for Claude 3.7 Sonnet, Sonnet 4,
//               Sonnet 4.5, Haiku 4.5, Opus 4, 4.1, 4.5; 1 for every other model).
//   [registry]  aws-samples/sample-quota-dashboard-for-amazon-bedrock lib/bedrock-registries.ts
//               (QUOTA_REGISTRY: token and request quota codes per model and endpoint type
//               regional / cross-region / global-cross-region).
//   [genref]    AWS General Reference "Amazon Bedrock endpoints and quotas", snapshot of
//               2025-06 embedded as a test fixture in a cloudscape-design table page: quota
//               names, default per region ("each of the other supported Regions" is Default,
//               named regions are RegionDefaults), adjustability.
//   [tpd]       quotas-runtime.html: "Model invocation max tokens per day for ${model}" defaults
//               to TPM × 24 × 60; names carry "(doubled for cross-region calls)".
//   [2026]      Third-party captures (2026) of Service Quotas output for Claude Sonnet 4.5 and
//               Haiku 4.5: AWS default 5,000,000 cross-region TPM and 10,000 RPM, quoted from
//               "You must provide a quota value greater than the default quota value of …"
//               and get-aws-default-service-quota; TPD codes and listed values. Unverified
//               against AWS documentation.
//   [counttok]  https://docs.aws.amazon.com/bedrock/latest/userguide/count-tokens.html (models
//               CountTokens serves: Claude 3.5 Haiku, 3.5 Sonnet v1/v2, 3.7 Sonnet, Sonnet 4, Opus 4).
//   [profile]   Claude 3.7 and 4.x have no on-demand quota and reject plain-id calls with
//               "on-demand throughput isn't supported" (anthropics/claude-code#1466); for other
//               models RequiresProfile is set when neither [registry] nor [genref] lists an
//               on-demand quota.
//   [limits]    Model cards: Anthropic "Models overview" (context 200K; max output per model),
//               Amazon Nova user guide, Meta Llama, Mistral and Cohere inference parameter
//               pages of the Bedrock user guide.
//
// A zero Default means AWS's default value is not known to us; a missing Code means the
// quota code is not known (discovery then matches by name). Nothing here is guessed: a
// value is either from a source above or derived by the documented [tpd] rule and marked
// Derived.

// Token counts used below.
const (
	k200 = 200_000
	k128 = 128_000
)

// q returns a Quota with a code (empty = unknown), a default for the regions not listed
// (0 = unknown) and the defaults of the regions that differ.
func q(code string, def int64, regions ...regionDefault) Quota {
	qt := Quota{Code: code, Default: def}
	for _, r := range regions {
		if qt.RegionDefaults == nil {
			qt.RegionDefaults = make(map[string]int64)
		}
		qt.RegionDefaults[r.region] = r.value
	}
	return qt
}

// A regionDefault is a quota's default in one region.
type regionDefault struct {
	region string
	value  int64
}

// in returns the default value of a quota in region.
func in(region string, value int64) regionDefault { return regionDefault{region, value} }

// daily derives the TPD quota of a scope from its TPM by the documented rule [tpd]: TPD =
// TPM × 1440. The cross-region TPD is listed at half that and doubled for cross-region
// calls (it is the same quota as the on-demand TPD, whose TPM is half the cross-region TPM;
// Sonnet 4's TPD, L-22F701C5, is listed at 144,000,000 = 200,000 × 720). code is the TPD
// quota code when known. An unknown TPM gives an unknown TPD, not marked Derived.
func daily(s Scope, code string, tpm Quota) Quota {
	d := Quota{Code: code, Derived: tpm.Default > 0 || len(tpm.RegionDefaults) > 0}
	per := int64(1440)
	if s == CrossRegion {
		d.CrossRegionDoubled = true
		per = 720
	}
	d.Default = tpm.Default * per
	for r, v := range tpm.RegionDefaults {
		if d.RegionDefaults == nil {
			d.RegionDefaults = make(map[string]int64)
		}
		d.RegionDefaults[r] = v * per
	}
	return d
}

// scope builds the Quotas of a scope from TPM and RPM, deriving TPD.
func scope(s Scope, tpm, rpm Quota) Quotas {
	return Quotas{TPM: tpm, RPM: rpm, TPD: daily(s, "", tpm)}
}

// withTPD returns qs with its TPD code set (the default stays derived).
func withTPD(qs Quotas, code string) Quotas {
	qs.TPD.Code = code
	return qs
}

// claude returns an Anthropic Claude model with burndown 1.
func claude(id, name, quotaName string, maxOut int, quotas map[Scope]Quotas) Model {
	return Model{ID: id, Name: name, Provider: "Anthropic", Family: "claude", QuotaName: quotaName,
		OutputBurndown: 1, MaxOutputTokens: maxOut, ContextWindow: k200, Quotas: quotas}
}

// fivefold marks a Claude 3.7 / 4.x model: output burndown 5 [burndown], profile-only
// [profile].
func fivefold(m Model) Model {
	m.OutputBurndown = 5
	m.RequiresProfile = true
	return m
}

// counted marks a model CountTokens serves [counttok].
func counted(m Model) Model {
	m.CountTokens = true
	return m
}

// profileOnly marks a model with no on-demand quota: it is served through inference
// profiles only [profile].
func profileOnly(m Model) Model {
	m.RequiresProfile = true
	return m
}

// other returns a non-Claude model with burndown 1.
func other(id, name, quotaName, provider, family string, maxOut, defaultMax, context int, quotas map[Scope]Quotas) Model {
	return Model{ID: id, Name: name, QuotaName: quotaName, Provider: provider, Family: family, OutputBurndown: 1,
		MaxOutputTokens: maxOut, DefaultMaxTokens: defaultMax, ContextWindow: context, Quotas: quotas}
}

// llama returns a Meta Llama 3.x model [limits]: max_gen_len up to 2,048, default 512.
func llama(id, name, quotaName string, context int, quotas map[Scope]Quotas) Model {
	return other(id, name, quotaName, "Meta", "llama", 2048, 512, context, quotas)
}

// Regions named in [genref]'s per-region defaults.
const (
	use1, use2, usw1, usw2 = "us-east-1", "us-east-2", "us-west-1", "us-west-2"
	apne1, apne2, apse1    = "ap-northeast-1", "ap-northeast-2", "ap-southeast-1"
	apse2, aps1, cac1      = "ap-southeast-2", "ap-south-1", "ca-central-1"
	euc1, euw1, euw3, eun1 = "eu-central-1", "eu-west-1", "eu-west-3", "eu-north-1"
)

// builtin returns the built-in model table.
func builtin() []Model {
	return []Model{
		// Anthropic Claude 3 and 3.5: burndown 1 [burndown], on-demand allowed. Codes
		// [registry], defaults [genref].
		claude("anthropic.claude-3-haiku-20240307-v1:0", "Claude 3 Haiku", "Anthropic Claude 3 Haiku", 4096, map[Scope]Quotas{
			OnDemand: scope(OnDemand,
				q("L-8CE99163", 300_000, in(use1, 2_000_000), in(usw2, 2_000_000), in(apne1, 200_000), in(apse1, 200_000)),
				q("L-2DC80978", 400, in(use1, 1_000), in(usw2, 1_000), in(apne1, 200), in(apse1, 200))),
			CrossRegion: scope(CrossRegion,
				q("L-DCADBC78", 600_000, in(use1, 4_000_000), in(usw2, 4_000_000), in(apne1, 400_000), in(apse1, 400_000)),
				q("L-616A3F5B", 800, in(use1, 2_000), in(usw2, 2_000), in(apne1, 400), in(apse1, 400))),
		}),
		counted(claude("anthropic.claude-3-5-haiku-20241022-v1:0", "Claude 3.5 Haiku", "Anthropic Claude 3.5 Haiku", 8192, map[Scope]Quotas{
			OnDemand:    scope(OnDemand, q("L-7AB4ABDD", 2_000_000, in(usw1, 300_000)), q("L-C7438F8F", 1_000, in(usw1, 400))),
			CrossRegion: scope(CrossRegion, q("L-4BF37C17", 4_000_000), q("L-252DF594", 2_000)),
		})),
		counted(claude("anthropic.claude-3-5-sonnet-20240620-v1:0", "Claude 3.5 Sonnet", "Anthropic Claude 3.5 Sonnet", 8192, map[Scope]Quotas{
			OnDemand: scope(OnDemand,
				q("L-A50569E5", 200_000, in(use1, 400_000), in(use2, 400_000), in(usw2, 2_000_000), in(apne2, 400_000), in(aps1, 400_000), in(apse2, 400_000)),
				q("L-254CACF4", 20, in(use1, 50), in(use2, 50), in(usw2, 250), in(apne2, 50), in(aps1, 50), in(apse2, 50))),
			CrossRegion: scope(CrossRegion,
				q("L-479B647F", 800_000, in(usw2, 4_000_000), in(apne1, 400_000), in(apse1, 400_000), in(euc1, 400_000), in(euw1, 400_000), in(euw3, 400_000)),
				q("L-F457545D", 100, in(usw2, 500), in(apne1, 40), in(apse1, 40), in(euc1, 40), in(euw1, 40), in(euw3, 40))),
		})),
		counted(claude("anthropic.claude-3-5-sonnet-20241022-v2:0", "Claude 3.5 Sonnet v2", "Anthropic Claude 3.5 Sonnet V2", 8192, map[Scope]Quotas{
			OnDemand:    scope(OnDemand, q("L-AD41C330", 400_000, in(usw2, 2_000_000)), q("L-79E773B3", 50, in(usw2, 250))),
			CrossRegion: scope(CrossRegion, q("L-FF8B4E28", 800_000, in(usw2, 4_000_000)), q("L-1D3E59A3", 100, in(usw2, 500))),
		})),

		// Anthropic Claude 3.7 and 4.x: burndown 5, inference profiles only.
		counted(fivefold(claude("anthropic.claude-3-7-sonnet-20250219-v1:0", "Claude 3.7 Sonnet", "Anthropic Claude 3.7 Sonnet V1", 64_000, map[Scope]Quotas{
			CrossRegion: scope(CrossRegion,
				q("L-6E888CC2", 50_000, in(use1, 1_000_000), in(use2, 1_000_000), in(usw2, 1_000_000), in(euc1, 100_000), in(eun1, 100_000), in(euw1, 100_000), in(euw3, 100_000)),
				q("L-3D8CC480", 50, in(use1, 250), in(use2, 250), in(usw2, 250), in(euc1, 100), in(eun1, 100), in(euw1, 100), in(euw3, 100))),
		}))),
		counted(fivefold(claude("anthropic.claude-sonnet-4-20250514-v1:0", "Claude Sonnet 4", "Anthropic Claude Sonnet 4 V1", 64_000, map[Scope]Quotas{
			// TPD L-22F701C5 "Model invocation max tokens per day for Anthropic Claude Sonnet 4
			// V1 (doubled for cross-region calls)", listed at 144,000,000 by third-party
			// catalogs: exactly what [tpd] derives, 200,000 × 720.
			CrossRegion: withTPD(scope(CrossRegion, q("L-59759B4A", 200_000), q("L-559DCC33", 200)), "L-22F701C5"),
			// Global codes [registry]; defaults unknown.
			Global: scope(Global, q("L-97E41E39", 0), q("L-C63AA5DA", 0)),
		}))),
		fivefold(claude("anthropic.claude-sonnet-4-5-20250929-v1:0", "Claude Sonnet 4.5", "Anthropic Claude Sonnet 4.5 V1", 64_000, map[Scope]Quotas{
			// [2026]: 5,000,000 TPM and 10,000 RPM by default; the TPD quota L-381AD9EE is
			// listed at 144,000,000 in several accounts' Service Quotas, far below TPM ×
			// 1440, so it is kept as listed rather than derived.
			CrossRegion: {
				TPM: q("L-F4DDD3EB", 5_000_000), RPM: q("L-4A6BFAB1", 10_000),
				TPD: Quota{Code: "L-381AD9EE", Default: 144_000_000, CrossRegionDoubled: true},
			},
			Global: scope(Global, q("L-27C57EE8", 0), q("L-DB84CE56", 0)),
		})),
		fivefold(claude("anthropic.claude-haiku-4-5-20251001-v1:0", "Claude Haiku 4.5", "Anthropic Claude Haiku 4.5", 64_000, map[Scope]Quotas{
			// [2026]: 5,000,000 TPM and 10,000 RPM by default; TPD code L-6120CF2D, default
			// not known (listed as 0 on new accounts).
			CrossRegion: {TPM: q("L-58BE175A", 5_000_000), RPM: q("L-CCA5DF70", 10_000), TPD: Quota{Code: "L-6120CF2D"}},
			Global:      scope(Global, q("L-9A11C666", 0), q("L-E5084BBA", 0)),
		})),
		counted(fivefold(claude("anthropic.claude-opus-4-20250514-v1:0", "Claude Opus 4", "Anthropic Claude Opus 4 V1", 32_000, map[Scope]Quotas{
			CrossRegion: scope(CrossRegion, q("L-29C2B0A3", 200_000), q("L-C99C7EF6", 200)),
		}))),
		fivefold(claude("anthropic.claude-opus-4-1-20250805-v1:0", "Claude Opus 4.1", "", 32_000, map[Scope]Quotas{
			CrossRegion: scope(CrossRegion, q("L-BD85BFCD", 0), q("L-7EC72A47", 0)), // codes [registry]
		})),
		// The [registry] snapshot read keys Opus 4.5 as "anthropic.claude-opus-4-5-20251001-v1:0";
		// Bedrock's model id, and later copies of the same registry, use 20251101.
		fivefold(claude("anthropic.claude-opus-4-5-20251101-v1:0", "Claude Opus 4.5", "", 64_000, map[Scope]Quotas{
			CrossRegion: scope(CrossRegion, q("L-7007E9C9", 0), q("L-27989F42", 0)), // codes [registry]
			Global:      scope(Global, q("L-3ABF6ACC", 0), q("L-58424D95", 0)),
		})),

		// Amazon Nova [limits]: context 128K (Micro), 300K (Lite, Pro), 1M (Premier); output
		// up to 10K (Micro, Lite, Pro) and 32K (Premier). Codes [registry], defaults [genref].
		other("amazon.nova-micro-v1:0", "Nova Micro", "Amazon Nova Micro", "Amazon", "nova", 10_000, 0, k128, map[Scope]Quotas{
			OnDemand:    scope(OnDemand, q("L-CFA4FA0D", 100_000, in(use1, 2_000_000)), q("L-E118F160", 100, in(use1, 1_000))),
			CrossRegion: scope(CrossRegion, q("L-DC7FF66C", 200_000, in(use1, 4_000_000), in(use2, 4_000_000), in(usw2, 4_000_000)), q("L-3F110E0F", 200, in(use1, 2_000), in(use2, 2_000), in(usw2, 2_000))),
		}),
		other("amazon.nova-lite-v1:0", "Nova Lite", "Amazon Nova Lite", "Amazon", "nova", 10_000, 0, 300_000, map[Scope]Quotas{
			OnDemand:    scope(OnDemand, q("L-70423BF8", 100_000, in(use1, 2_000_000)), q("L-E386A278", 100, in(use1, 1_000))),
			CrossRegion: scope(CrossRegion, q("L-7C42E72A", 200_000, in(use1, 4_000_000), in(use2, 4_000_000), in(usw2, 4_000_000)), q("L-89F8391A", 200, in(use1, 2_000), in(use2, 2_000), in(usw2, 2_000))),
		}),
		other("amazon.nova-pro-v1:0", "Nova Pro", "Amazon Nova Pro", "Amazon", "nova", 10_000, 0, 300_000, map[Scope]Quotas{
			OnDemand:    scope(OnDemand, q("L-CE33604C", 400_000, in(cac1, 100_000)), q("L-F2717A44", 100, in(cac1, 50))),
			CrossRegion: scope(CrossRegion, q("L-C0326783", 200_000, in(use1, 800_000), in(use2, 800_000), in(usw2, 800_000)), q("L-ED46B8C5", 100, in(use1, 200), in(use2, 200), in(usw2, 200))),
		}),
		profileOnly(other("amazon.nova-premier-v1:0", "Nova Premier", "Amazon Nova Premier V1", "Amazon", "nova", 32_000, 0, 1_000_000, map[Scope]Quotas{
			CrossRegion: scope(CrossRegion, q("L-AA7FE948", 800_000), q("L-9AD981E7", 200)),
		})),

		// Meta Llama 3.x [limits]: max_gen_len up to 2,048, default 512; context 8K (Llama 3),
		// 128K (3.1, 3.2, 3.3). Codes [registry], defaults [genref].
		llama("meta.llama3-8b-instruct-v1:0", "Llama 3 8B Instruct", "Meta Llama 3 8B Instruct", 8192, map[Scope]Quotas{
			OnDemand: scope(OnDemand, q("L-03A9B835", 300_000), q("L-320BEFEB", 800)),
		}),
		llama("meta.llama3-70b-instruct-v1:0", "Llama 3 70B Instruct", "Meta Llama 3 70B Instruct", 8192, map[Scope]Quotas{
			OnDemand: scope(OnDemand, q("L-609E24B0", 300_000), q("L-46D383AF", 400)),
		}),
		llama("meta.llama3-1-8b-instruct-v1:0", "Llama 3.1 8B Instruct", "Meta Llama 3.1 8B Instruct", k128, map[Scope]Quotas{
			OnDemand:    scope(OnDemand, q("L-9E79C230", 300_000), q("L-19A2ED6C", 800)),
			CrossRegion: scope(CrossRegion, q("L-9782749C", 600_000), q("L-396C5302", 1_600)),
		}),
		llama("meta.llama3-1-70b-instruct-v1:0", "Llama 3.1 70B Instruct", "Meta Llama 3.1 70B Instruct", k128, map[Scope]Quotas{
			OnDemand:    scope(OnDemand, q("L-48E55E59", 300_000), q("L-ECA5B974", 400)),
			CrossRegion: scope(CrossRegion, q("L-92E68994", 600_000), q("L-29644EB3", 800)),
		}),
		llama("meta.llama3-2-1b-instruct-v1:0", "Llama 3.2 1B Instruct", "Meta Llama 3.2 1B Instruct", k128, map[Scope]Quotas{
			OnDemand:    scope(OnDemand, q("L-6F14193C", 300_000), q("L-20CFCD61", 800)),
			CrossRegion: scope(CrossRegion, q("L-BD9FDA6F", 600_000), q("L-A31D2B40", 1_600)),
		}),
		llama("meta.llama3-2-3b-instruct-v1:0", "Llama 3.2 3B Instruct", "Meta Llama 3.2 3B Instruct", k128, map[Scope]Quotas{
			OnDemand:    scope(OnDemand, q("L-A7EDC29B", 300_000), q("L-2F9B4FC2", 800)),
			CrossRegion: scope(CrossRegion, q("L-0B2687F4", 600_000), q("L-6B0A9FAD", 1_600)),
		}),
		llama("meta.llama3-2-11b-instruct-v1:0", "Llama 3.2 11B Vision Instruct", "Meta Llama 3.2 11B Instruct", k128, map[Scope]Quotas{
			OnDemand: scope(OnDemand, q("L-E2D0B19E", 300_000), q("L-53CCF898", 400)),
		}),
		llama("meta.llama3-2-90b-instruct-v1:0", "Llama 3.2 90B Vision Instruct", "Meta Llama 3.2 90B Instruct", k128, map[Scope]Quotas{
			OnDemand: scope(OnDemand, q("L-41C63FF8", 300_000), q("L-EBDED838", 400)),
		}),
		llama("meta.llama3-3-70b-instruct-v1:0", "Llama 3.3 70B Instruct", "Meta Llama 3.3 70B Instruct", k128, map[Scope]Quotas{
			// [genref] lists on-demand quotas (300,000 TPM, 400 RPM) whose codes [registry]
			// does not give: discovery finds them by name.
			OnDemand:    scope(OnDemand, q("", 300_000), q("", 400)),
			CrossRegion: scope(CrossRegion, q("L-0E7AA8B7", 600_000), q("L-DEDE703C", 800)),
		}),

		// Mistral Large [limits]: 24.02 has a 32K context, 24.07 128K; output up to 8,192.
		// [genref] lists "Mistral AI Mistral Large" (mistral-large-2402) and "Mistral Large
		// 2407" separately; [registry] gives 24.02's codes for both, so 24.07 keeps no code
		// and is matched by name.
		other("mistral.mistral-large-2402-v1:0", "Mistral Large (24.02)", "Mistral AI Mistral Large", "Mistral AI", "mistral", 8192, 0, 32_000, map[Scope]Quotas{
			OnDemand: scope(OnDemand, q("L-01447289", 300_000), q("L-3AF844DB", 400)),
		}),
		other("mistral.mistral-large-2407-v1:0", "Mistral Large 2 (24.07)", "Mistral Large 2407", "Mistral AI", "mistral", 8192, 0, k128, map[Scope]Quotas{
			OnDemand: scope(OnDemand, q("", 300_000), q("", 400)),
		}),

		// Cohere Command R / R+ [limits]: context 128K, output up to 4,000. Codes [registry],
		// defaults [genref].
		other("cohere.command-r-v1:0", "Command R", "Cohere Command R", "Cohere", "command", 4000, 0, k128, map[Scope]Quotas{
			OnDemand: scope(OnDemand, q("L-17F95AA4", 300_000), q("L-A49CA90F", 400)),
		}),
		other("cohere.command-r-plus-v1:0", "Command R+", "Cohere Command R Plus", "Cohere", "command", 4000, 0, k128, map[Scope]Quotas{
			OnDemand: scope(OnDemand, q("L-FEE1DCB6", 300_000), q("L-ADB4B3D7", 400)),
		}),
	}
}
