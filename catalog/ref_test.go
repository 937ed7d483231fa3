package catalog

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParse(t *testing.T) {
	const sonnet4 = "anthropic.claude-sonnet-4-20250514-v1:0"
	tests := []struct {
		in   string
		want Ref
	}{
		{"anthropic.claude-3-5-sonnet-20240620-v1:0", Ref{Kind: ModelID, ID: "anthropic.claude-3-5-sonnet-20240620-v1:0", ModelID: "anthropic.claude-3-5-sonnet-20240620-v1:0", Scope: OnDemand}},
		{"  amazon.nova-pro-v1:0\n", Ref{Raw: "amazon.nova-pro-v1:0", Kind: ModelID, ID: "amazon.nova-pro-v1:0", ModelID: "amazon.nova-pro-v1:0", Scope: OnDemand}},
		{"meta.llama3-8b-instruct-v1:0", Ref{Kind: ModelID, ID: "meta.llama3-8b-instruct-v1:0", ModelID: "meta.llama3-8b-instruct-v1:0", Scope: OnDemand}},
		{"amazon.titan-text-express-v1", Ref{Kind: ModelID, ID: "amazon.titan-text-express-v1", ModelID: "amazon.titan-text-express-v1", Scope: OnDemand}},
		{"us." + sonnet4, Ref{Kind: ProfileID, ID: "us." + sonnet4, ModelID: sonnet4, Scope: CrossRegion, Geography: "us"}},
		{"eu." + sonnet4, Ref{Kind: ProfileID, ID: "eu." + sonnet4, ModelID: sonnet4, Scope: CrossRegion, Geography: "eu"}},
		{"apac." + sonnet4, Ref{Kind: ProfileID, ID: "apac." + sonnet4, ModelID: sonnet4, Scope: CrossRegion, Geography: "apac"}},
		{"jp." + sonnet4, Ref{Kind: ProfileID, ID: "jp." + sonnet4, ModelID: sonnet4, Scope: CrossRegion, Geography: "jp"}},
		{"au." + sonnet4, Ref{Kind: ProfileID, ID: "au." + sonnet4, ModelID: sonnet4, Scope: CrossRegion, Geography: "au"}},
		{"us-gov." + sonnet4, Ref{Kind: ProfileID, ID: "us-gov." + sonnet4, ModelID: sonnet4, Scope: CrossRegion, Geography: "us-gov"}},
		{"global." + sonnet4, Ref{Kind: ProfileID, ID: "global." + sonnet4, ModelID: sonnet4, Scope: Global, Geography: "global"}},
		// A geography added after the catalog was written is still a cross-region profile.
		{"mx." + sonnet4, Ref{Kind: ProfileID, ID: "mx." + sonnet4, ModelID: sonnet4, Scope: CrossRegion, Geography: "mx"}},
		{"arn:aws:bedrock:us-east-1::foundation-model/" + sonnet4, Ref{Kind: ModelARN, ID: sonnet4, ModelID: sonnet4, Scope: OnDemand, Partition: "aws", Region: "us-east-1"}},
		{"arn:aws:bedrock:us-west-2:123456789012:inference-profile/us." + sonnet4, Ref{Kind: ProfileARN, ID: "us." + sonnet4, ModelID: sonnet4, Scope: CrossRegion, Geography: "us", Partition: "aws", Region: "us-west-2", Account: "123456789012"}},
		{"arn:aws:bedrock:eu-central-1:123456789012:inference-profile/global." + sonnet4, Ref{Kind: ProfileARN, ID: "global." + sonnet4, ModelID: sonnet4, Scope: Global, Geography: "global", Partition: "aws", Region: "eu-central-1", Account: "123456789012"}},
		{"arn:aws-us-gov:bedrock:us-gov-west-1:123456789012:inference-profile/us-gov." + sonnet4, Ref{Kind: ProfileARN, ID: "us-gov." + sonnet4, ModelID: sonnet4, Scope: CrossRegion, Geography: "us-gov", Partition: "aws-us-gov", Region: "us-gov-west-1", Account: "123456789012"}},
		{"arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6", Ref{Kind: ApplicationProfileARN, ID: "a1b2c3d4e5f6", Partition: "aws", Region: "us-east-1", Account: "123456789012"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			want := tt.want
			if want.Raw == "" {
				want.Raw = tt.in
			}
			if got != want {
				t.Errorf("Parse(%q)\n got %+v\nwant %+v", tt.in, got, want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	const sonnet4 = "anthropic.claude-sonnet-4-20250514-v1:0"
	tests := []struct {
		in, wantMsg string
	}{
		{"", "empty model id"},
		{"   ", "empty model id"},
		{"claude-3-haiku", "no provider"},
		{"anthropic..claude", "empty part between dots"},
		{".anthropic.claude", "empty part between dots"},
		{"anthropic.claude.", "empty part between dots"},
		{"a.b.c.d", "too many dots"},
		{"anthropic.claude 3", `character ' ' is not allowed`},
		{"anthropic.claude/3", `character '/' is not allowed`},
		{"anthropic.clåude", `character 'å' is not allowed`},
		{"US." + sonnet4, `prefix "US" is not an inference-profile geography`},
		{"x." + sonnet4, `prefix "x" is not an inference-profile geography`},
		{"anthropic.claude-v1:0:1", "version suffix"},
		{"anthropic.claude-v1:", "version suffix"},
		{"anthro:pic.claude", "provider"},
		{"arn:aws:bedrock", "6 ':'-separated fields"},
		{"arn:aws:s3:us-east-1::foundation-model/" + sonnet4, `service "s3" is not bedrock`},
		{"arn:gcp:bedrock:us-east-1::foundation-model/" + sonnet4, `partition "gcp"`},
		{"arn:aws:bedrock:::foundation-model/" + sonnet4, "region field is empty"},
		{"arn:aws:bedrock:US_EAST:123456789012:inference-profile/us." + sonnet4, `region "US_EAST"`},
		{"arn:aws:bedrock:us-east-1:1234:inference-profile/us." + sonnet4, `account "1234"`},
		{"arn:aws:bedrock:us-east-1::foundation-model", "no id after the resource type"},
		{"arn:aws:bedrock:us-east-1::foundation-model/", "no id after the resource type"},
		{"arn:aws:bedrock:us-east-1::foundation-model/us." + sonnet4, "holds a plain model id"},
		{"arn:aws:bedrock:us-east-1::foundation-model/bad id", `character ' '`},
		{"arn:aws:bedrock:us-east-1::inference-profile/us." + sonnet4, "needs the account id"},
		{"arn:aws:bedrock:us-east-1:123456789012:inference-profile/" + sonnet4, "no geography prefix"},
		{"arn:aws:bedrock:us-east-1::application-inference-profile/abc", "needs the account id"},
		{"arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/ABC!", "lowercase letters and digits"},
		{"arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc", `resource type "provisioned-model" is not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want an error", tt.in, r)
			}
			if !errors.Is(err, ErrInvalidID) {
				t.Errorf("Parse(%q) error %v does not wrap ErrInvalidID", tt.in, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Parse(%q) error %q does not mention %q", tt.in, err, tt.wantMsg)
			}
			// Every error shows a valid form to copy.
			if !strings.Contains(err.Error(), "looks like") {
				t.Errorf("Parse(%q) error %q shows no valid form", tt.in, err)
			}
		})
	}
}

func TestScopeText(t *testing.T) {
	for _, s := range Scopes() {
		b, err := s.MarshalText()
		if err != nil {
			t.Fatalf("%v.MarshalText: %v", s, err)
		}
		var got Scope
		if err := got.UnmarshalText(b); err != nil || got != s {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", b, got, err, s)
		}
	}
	for in, want := range map[string]Scope{"Regional": OnDemand, "CRIS": CrossRegion, " global ": Global, "ondemand": OnDemand} {
		if got, err := ParseScope(in); err != nil || got != want {
			t.Errorf("ParseScope(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseScope("everywhere"); err == nil || !strings.Contains(err.Error(), "use on-demand, cross-region or global") {
		t.Errorf("ParseScope(everywhere) error = %v, want one listing the scopes", err)
	}
	if _, err := UnknownScope.MarshalText(); err == nil {
		t.Error("UnknownScope.MarshalText succeeded; want an error so that configuration never holds it")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"anthropic.claude-3-5-sonnet-20240620-v1:0",
		"us.anthropic.claude-sonnet-4-20250514-v1:0",
		"global.anthropic.claude-sonnet-4-5-20250929-v1:0",
		"arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0",
		"arn:aws:bedrock:us-west-2:123456789012:inference-profile/eu.meta.llama3-2-1b-instruct-v1:0",
		"arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3",
		"arn:aws:bedrock:::", "a..b", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r, err := Parse(in)
		if err != nil {
			if !errors.Is(err, ErrInvalidID) {
				t.Fatalf("Parse(%q) error %v does not wrap ErrInvalidID", in, err)
			}
			return
		}
		if r.Raw != strings.TrimSpace(in) || !utf8.ValidString(r.ID) {
			t.Fatalf("Parse(%q) = %+v: Raw is not the trimmed input", in, r)
		}
		if r.Kind != ApplicationProfileARN {
			if r.ModelID == "" || r.Scope == UnknownScope {
				t.Fatalf("Parse(%q) = %+v: no model or scope", in, r)
			}
			// The base model id parses back to itself, on demand.
			b, err := Parse(r.ModelID)
			if err != nil || b.Kind != ModelID || b.ModelID != r.ModelID {
				t.Fatalf("Parse(%q).ModelID = %q does not parse back: %+v, %v", in, r.ModelID, b, err)
			}
		}
		if r.Kind.IsARN() != (r.Region != "") {
			t.Fatalf("Parse(%q) = %+v: region set iff ARN", in, r)
		}
	})
}
