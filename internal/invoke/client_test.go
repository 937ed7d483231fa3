package invoke_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/internal/emustats"
	"github.com/tollgate-dev/tollgate/internal/invoke"
)

// loadConfig loads an aws.Config the way a program does, isolated from the machine's
// files, with static credentials (nothing reaches AWS).
func loadConfig(t *testing.T, opts ...func(*config.LoadOptions) error) aws.Config {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIDCONFIG", "secret", "")))
	cfg, err := config.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		t.Fatalf("LoadDefaultConfig: %v", err)
	}
	return cfg
}

// TestNewClientTarget checks what NewClient takes from its arguments and what from the
// aws.Config: the endpoint from AWS_ENDPOINT_URL_BEDROCK_RUNTIME when none is given,
// the credentials (the emulator meters by access key id), the signing region, and one
// attempt whatever the config's retry settings.
func TestNewClientTarget(t *testing.T) {
	e := startEmulator(t, options(100_000, 5))
	t.Setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", e.URL)
	t.Setenv("AWS_MAX_ATTEMPTS", "5")
	cfg := loadConfig(t, config.WithRegion("eu-west-1"))
	if cfg.RetryMaxAttempts != 5 {
		t.Fatalf("config RetryMaxAttempts = %d, want 5 from AWS_MAX_ATTEMPTS", cfg.RetryMaxAttempts)
	}

	tests := []struct {
		name    string
		region  string
		creds   aws.CredentialsProvider
		account string
		wantReg string
	}{
		{"config's credentials and region", "", nil, "AKIDCONFIG", "eu-west-1"},
		{"target's credentials and region", "us-west-2", credentials.NewStaticCredentialsProvider("AKIDTARGET", "secret", ""), "AKIDTARGET", "us-west-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.Reset()
			client := invoke.NewClient(cfg, tt.region, "", tt.creds)
			if _, err := client.Converse(ctxT(t), converseInput("hi", 8)); err != nil {
				t.Fatalf("Converse: %v", err)
			}
			st := emustats.Get(t, e)
			if len(st.Series) != 1 || st.Series[0].Account != tt.account || st.Series[0].Region != tt.wantReg {
				t.Errorf("series = %+v, want account %s in %s", st.Series, tt.account, tt.wantReg)
			}
		})
	}

	t.Run("one attempt despite AWS_MAX_ATTEMPTS", func(t *testing.T) {
		if err := e.SetFaults(bedrocktest.Faults{ServiceUnavailable: 1}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.SetFaults(bedrocktest.Faults{}) })
		before := e.Requests()
		_, err := invoke.NewClient(cfg, "", "", nil).Converse(ctxT(t), converseInput("hi", 8))
		if o := invoke.Classify(err); o.Kind != invoke.ServerError {
			t.Fatalf("Classify(%v) = %v, want server error", err, o.Kind)
		}
		if got := e.Requests() - before; got != 1 {
			t.Errorf("%d attempts, want 1", got)
		}
	})

	t.Run("explicit endpoint wins", func(t *testing.T) {
		other := startEmulator(t, options(100_000, 5))
		if _, err := invoke.NewClient(cfg, "", other.URL, nil).Converse(ctxT(t), converseInput("hi", 8)); err != nil {
			t.Fatalf("Converse: %v", err)
		}
		if other.Requests() != 1 {
			t.Errorf("the endpoint given saw %d requests, want 1", other.Requests())
		}
	})
}
