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
//   [genref]    AWS General Reference "Amazon Bedrock endpoints and quotas" table (2025-06
//               snapshot): names, us-east-1 defaults and adjustability; see
//               shared/bedrock-facts.md §2.2.
//   [tpd]       quotas-runtime.html: "Model invocation max tokens per day for ${model}" defaults
//               to TPM × 24 × 60; names carry "(doubled for cross-region calls)".
//   [counttok]  https://docs.aws.amazon.com/bedrock/latest/userguide/count-tokens.html (models
//               CountTokens serves: Claude 3.5 Haiku, 3.5 Sonnet v1/v2, 3.7 Sonnet, Sonnet 4, Opus 4).
//   [profile]   Claude 3.7 and 4.x have no on-demand quota and reject plain-id calls with
//               "on-demand throughput isn't supported" (anthropics/claude-code#1466); for other
//               models RequiresProfile is set when [registry] lists no regional quota.
//   [limits]    Model cards: Anthropic "Models overview" (context 200K; max output per model),
//               Amazon Nova user guide, Meta Llama and Mistral / Cohere inference parameter pages
//               in the Bedrock user guide.
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

// q returns a Quota with a code and a default (0 = unknown).
func q(code string, def int64) Quota { return Quota{Code: code, Default: def} }

// inRegions returns a copy of qt with per-region defaults.
func inRegions(qt Quota, regions map[string]int64) Quota {
	qt.RegionDefaults = regions
	return qt
}

// daily derives the TPD quota of a scope from its TPM by the documented rule [tpd]: TPD =
// TPM × 1440. The cross-region TPD is listed at half that and doubled for cross-region
// calls (it is the same quota as the on-demand TPD, whose TPM is half the cross-region TPM).
// code is the TPD quota code when known. A zero TPM gives an unknown TPD.
func daily(s Scope, code string, tpm Quota) Quota {
	d := Quota{Code: code, Derived: true}
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
func scope(s Scope, tpm, rpm Quota, tpdCode string) Quotas {
	return Quotas{TPM: tpm, RPM: rpm, TPD: daily(s, tpdCode, tpm)}
}

// claude returns an Anthropic Claude model.
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

// other returns a non-Claude model with burndown 1.
func other(id, name, provider, family string, maxOut, defaultMax, context int, quotas map[Scope]Quotas) Model {
	return Model{ID: id, Name: name, Provider: provider, Family: family, OutputBurndown: 1,
		MaxOutputTokens: maxOut, DefaultMaxTokens: defaultMax, ContextWindow: context, Quotas: quotas}
}

// regional returns quotas with on-demand and cross-region codes from [registry], defaults unknown.
func regional(odTPM, odRPM, crTPM, crRPM string) map[Scope]Quotas {
	qs := map[Scope]Quotas{}
	if odTPM != "" {
		qs[OnDemand] = scope(OnDemand, q(odTPM, 0), q(odRPM, 0), "")
	}
	if crTPM != "" {
		qs[CrossRegion] = scope(CrossRegion, q(crTPM, 0), q(crRPM, 0), "")
	}
	return qs
}

// withGlobal adds global-profile quota codes from [registry] (defaults unknown).
func withGlobal(qs map[Scope]Quotas, tpm, rpm string) map[Scope]Quotas {
	qs[Global] = scope(Global, q(tpm, 0), q(rpm, 0), "")
	return qs
}

// builtin returns the built-in model table.
func builtin() []Model {
	return []Model{
		// Anthropic Claude 3 and 3.5: burndown 1 [burndown], on-demand allowed.
		claude("anthropic.claude-3-haiku-20240307-v1:0", "Claude 3 Haiku", "Anthropic Claude 3 Haiku", 4096,
			map[Scope]Quotas{
				// [genref]: on-demand 2,000,000 TPM / 1,000 RPM; codes [registry].
				OnDemand: scope(OnDemand, q("L-8CE99163", 2_000_000), q("L-2DC80978", 1_000), ""),
				// [genref]: cross-region TPM L-DCADBC78 4,000,000 (us-east-1, us-west-2); RPM code [registry].
				CrossRegion: scope(CrossRegion, q("L-DCADBC78", 4_000_000), q("L-616A3F5B", 0), ""),
			}),
		counted(claude("anthropic.claude-3-5-haiku-20241022-v1:0", "Claude 3.5 Haiku", "", 8192,
			regional("L-7AB4ABDD", "L-C7438F8F", "L-4BF37C17", "L-252DF594"))),
		counted(claude("anthropic.claude-3-5-sonnet-20240620-v1:0", "Claude 3.5 Sonnet", "Anthropic Claude 3.5 Sonnet", 8192,
			map[Scope]Quotas{
				// [genref]: L-A50569E5 400,000 TPM (us-west-2 2,000,000), L-254CACF4 50 RPM (us-west-2 250); not adjustable.
				OnDemand: scope(OnDemand,
					inRegions(q("L-A50569E5", 400_000), map[string]int64{"us-west-2": 2_000_000}),
					inRegions(q("L-254CACF4", 50), map[string]int64{"us-west-2": 250}), ""),
				// [genref]: L-479B647F 800,000 TPM (us-west-2 4,000,000), L-F457545D 100 RPM (us-west-2 500).
				CrossRegion: scope(CrossRegion,
					inRegions(q("L-479B647F", 800_000), map[string]int64{"us-west-2": 4_000_000}),
					inRegions(q("L-F457545D", 100), map[string]int64{"us-west-2": 500}), ""),
			})),
		counted(claude("anthropic.claude-3-5-sonnet-20241022-v2:0", "Claude 3.5 Sonnet v2", "Anthropic Claude 3.5 Sonnet V2", 8192,
			map[Scope]Quotas{
				// On-demand codes [registry]; defaults unknown.
				OnDemand: scope(OnDemand, q("L-AD41C330", 0), q("L-79E773B3", 0), ""),
				// [genref]: L-FF8B4E28 800,000 TPM / L-1D3E59A3 100 RPM (us-west-2 4,000,000 / 500).
				CrossRegion: scope(CrossRegion,
					inRegions(q("L-FF8B4E28", 800_000), map[string]int64{"us-west-2": 4_000_000}),
					inRegions(q("L-1D3E59A3", 100), map[string]int64{"us-west-2": 500}), ""),
			})),

		// Anthropic Claude 3.7 and 4.x: burndown 5, inference profiles only.
		counted(fivefold(claude("anthropic.claude-3-7-sonnet-20250219-v1:0", "Claude 3.7 Sonnet", "Anthropic Claude 3.7 Sonnet V1", 64_000,
			map[Scope]Quotas{
				// [genref]: L-6E888CC2 1,000,000 TPM (us-east-1/2, us-west-2; EU 100,000), L-3D8CC480 250 RPM.
				CrossRegion: scope(CrossRegion,
					inRegions(q("L-6E888CC2", 1_000_000), map[string]int64{"us-east-2": 1_000_000, "us-west-2": 1_000_000,
						"eu-central-1": 100_000, "eu-west-1": 100_000, "eu-west-3": 100_000, "eu-north-1": 100_000}),
					q("L-3D8CC480", 250), ""),
			}))),
		counted(fivefold(claude("anthropic.claude-sonnet-4-20250514-v1:0", "Claude Sonnet 4", "Anthropic Claude Sonnet 4 V1", 64_000,
			withGlobal(map[Scope]Quotas{
				// [genref]: L-59759B4A 200,000 TPM, L-559DCC33 200 RPM. TPD L-22F701C5
				// "Model invocation max tokens per day for Anthropic Claude Sonnet 4 V1 (doubled
				// for cross-region calls)", listed at 144,000,000 by third-party catalogs
				// (bedrock-facts §1.6), which is what the [tpd] rule derives: 200,000 × 720.
				CrossRegion: scope(CrossRegion, q("L-59759B4A", 200_000), q("L-559DCC33", 200), "L-22F701C5"),
			}, "L-97E41E39", "L-C63AA5DA")))),
		fivefold(claude("anthropic.claude-sonnet-4-5-20250929-v1:0", "Claude Sonnet 4.5", "Anthropic Claude Sonnet 4.5 V1", 64_000,
			// [registry] codes; TPD L-381AD9EE (bedrock-facts §1.6). Defaults unknown.
			withGlobal(map[Scope]Quotas{
				CrossRegion: scope(CrossRegion, q("L-F4DDD3EB", 0), q("L-4A6BFAB1", 0), "L-381AD9EE"),
			}, "L-27C57EE8", "L-DB84CE56"))),
		fivefold(claude("anthropic.claude-haiku-4-5-20251001-v1:0", "Claude Haiku 4.5", "", 64_000,
			withGlobal(regional("", "", "L-58BE175A", "L-CCA5DF70"), "L-9A11C666", "L-E5084BBA"))),
		counted(fivefold(claude("anthropic.claude-opus-4-20250514-v1:0", "Claude Opus 4", "Anthropic Claude Opus 4 V1", 32_000,
			map[Scope]Quotas{
				// [genref]: L-29C2B0A3 200,000 TPM, L-C99C7EF6 200 RPM.
				CrossRegion: scope(CrossRegion, q("L-29C2B0A3", 200_000), q("L-C99C7EF6", 200), ""),
			}))),
		fivefold(claude("anthropic.claude-opus-4-1-20250805-v1:0", "Claude Opus 4.1", "", 32_000,
			regional("", "", "L-BD85BFCD", "L-7EC72A47"))),
		// [registry] keys Opus 4.5 as "anthropic.claude-opus-4-5-20251001-v1:0"; Bedrock's model
		// id is dated 20251101 (the model's release), which is the id used here.
		fivefold(claude("anthropic.claude-opus-4-5-20251101-v1:0", "Claude Opus 4.5", "", 64_000,
			withGlobal(regional("", "", "L-7007E9C9", "L-27989F42"), "L-3ABF6ACC", "L-58424D95"))),

		// Amazon Nova [limits]: context 128K (Micro), 300K (Lite, Pro), 1M (Premier); output
		// up to 10K (Micro, Lite, Pro) and 32K (Premier). Codes [registry].
		other("amazon.nova-micro-v1:0", "Nova Micro", "Amazon", "nova", 10_000, 0, k128,
			regional("L-CFA4FA0D", "L-E118F160", "L-DC7FF66C", "L-3F110E0F")),
		other("amazon.nova-lite-v1:0", "Nova Lite", "Amazon", "nova", 10_000, 0, 300_000,
			regional("L-70423BF8", "L-E386A278", "L-7C42E72A", "L-89F8391A")),
		other("amazon.nova-pro-v1:0", "Nova Pro", "Amazon", "nova", 10_000, 0, 300_000,
			regional("L-CE33604C", "L-F2717A44", "L-C0326783", "L-ED46B8C5")),
		profileOnly(other("amazon.nova-premier-v1:0", "Nova Premier", "Amazon", "nova", 32_000, 0, 1_000_000,
			regional("", "", "L-AA7FE948", "L-9AD981E7"))),

		// Meta Llama 3.x [limits]: max_gen_len up to 2,048, default 512; context 8K (Llama 3),
		// 128K (3.1, 3.2, 3.3). Codes [registry].
		other("meta.llama3-8b-instruct-v1:0", "Llama 3 8B Instruct", "Meta", "llama", 2048, 512, 8192,
			regional("L-03A9B835", "L-320BEFEB", "", "")),
		other("meta.llama3-70b-instruct-v1:0", "Llama 3 70B Instruct", "Meta", "llama", 2048, 512, 8192,
			regional("L-609E24B0", "L-46D383AF", "", "")),
		other("meta.llama3-1-8b-instruct-v1:0", "Llama 3.1 8B Instruct", "Meta", "llama", 2048, 512, k128,
			regional("L-9E79C230", "L-19A2ED6C", "L-9782749C", "L-396C5302")),
		other("meta.llama3-1-70b-instruct-v1:0", "Llama 3.1 70B Instruct", "Meta", "llama", 2048, 512, k128,
			regional("L-48E55E59", "L-ECA5B974", "L-92E68994", "L-29644EB3")),
		other("meta.llama3-2-1b-instruct-v1:0", "Llama 3.2 1B Instruct", "Meta", "llama", 2048, 512, k128,
			regional("L-6F14193C", "L-20CFCD61", "L-BD9FDA6F", "L-A31D2B40")),
		other("meta.llama3-2-3b-instruct-v1:0", "Llama 3.2 3B Instruct", "Meta", "llama", 2048, 512, k128,
			regional("L-A7EDC29B", "L-2F9B4FC2", "L-0B2687F4", "L-6B0A9FAD")),
		other("meta.llama3-2-11b-instruct-v1:0", "Llama 3.2 11B Vision Instruct", "Meta", "llama", 2048, 512, k128,
			regional("L-E2D0B19E", "L-53CCF898", "", "")),
		other("meta.llama3-2-90b-instruct-v1:0", "Llama 3.2 90B Vision Instruct", "Meta", "llama", 2048, 512, k128,
			regional("L-41C63FF8", "L-EBDED838", "", "")),
		profileOnly(other("meta.llama3-3-70b-instruct-v1:0", "Llama 3.3 70B Instruct", "Meta", "llama", 2048, 512, k128,
			regional("", "", "L-0E7AA8B7", "L-DEDE703C"))),

		// Mistral Large [limits]: 24.02 has a 32K context, 24.07 128K; output up to 8,192.
		// [registry] lists the same codes for both versions.
		other("mistral.mistral-large-2402-v1:0", "Mistral Large (24.02)", "Mistral AI", "mistral", 8192, 0, 32_000,
			regional("L-01447289", "L-3AF844DB", "", "")),
		other("mistral.mistral-large-2407-v1:0", "Mistral Large 2 (24.07)", "Mistral AI", "mistral", 8192, 0, k128,
			regional("L-01447289", "L-3AF844DB", "", "")),

		// Cohere Command R / R+ [limits]: context 128K, output up to 4,000. Codes [registry].
		other("cohere.command-r-v1:0", "Command R", "Cohere", "command", 4000, 0, k128,
			regional("L-17F95AA4", "L-A49CA90F", "", "")),
		other("cohere.command-r-plus-v1:0", "Command R+", "Cohere", "command", 4000, 0, k128,
			regional("L-FEE1DCB6", "L-ADB4B3D7", "", "")),
	}
}

// profileOnly marks a model [registry] lists no regional quota for: it is served through
// inference profiles only [profile].
func profileOnly(m Model) Model {
	m.RequiresProfile = true
	return m
}
