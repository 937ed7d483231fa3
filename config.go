package tollgate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/quota"
)

// Target is one place a model can be called: a region and a model or profile id, with
// the quotas that meter calls there. Calls to a model go to the targets that serve its
// base model, each call to the one that can admit it first; of targets that could admit
// it equally soon, the one listed first in Config.Targets.
type Target struct {
	// Region is the AWS region to call, e.g. "us-east-1". Empty means Config.AWS.Region.
	Region string
	// Model is the modelId to send: a model id, an inference-profile id ("us.…",
	// "global.…") or an ARN. Its base model (see catalog.Parse) selects the calls it
	// serves: a call for "anthropic.claude-sonnet-4-…" or "us.anthropic.claude-sonnet-4-…"
	// may go to any target of Sonnet 4.
	Model string
	// Endpoint overrides the Bedrock Runtime endpoint (an emulator, a VPC endpoint).
	// Empty means the SDK's resolution, including AWS_ENDPOINT_URL_BEDROCK_RUNTIME.
	Endpoint string
	// Credentials for this target; nil means Config.AWS.Credentials (the default chain).
	Credentials aws.CredentialsProvider
	// Limits are the target's quotas. Nil means the catalog's defaults for the model,
	// scope and region (logged as the source); give the account's applied quotas when
	// they differ (`tollgate quotas` reads them).
	Limits []quota.Limit
	// MaxInFlight caps the target's calls in flight; zero means no cap.
	MaxInFlight int
}

// Config configures a Client. Only Targets is required.
type Config struct {
	// AWS is the SDK configuration: region and credentials. Nil means
	// config.LoadDefaultConfig (the default credential chain and region).
	AWS *aws.Config

	// Targets lists where models are called, preferred first. At least one is required.
	Targets []Target

	// Catalog describes the models (burndown, output limits, quotas). Nil means
	// catalog.Default().
	Catalog *catalog.Catalog

	// RightSizeMaxTokens sets max_tokens of Converse and ConverseStream calls, when a
	// request leaves it unset, from the learned output length of the call's task
	// (Call.Task) — its 99th percentile plus 20% — instead of letting Bedrock reserve the
	// model's maximum. Until the task has 10 replies, 10 calls go out unsized to learn
	// from and the task's other calls wait for them, holding no quota. A reply cut at
	// max_tokens is returned as Bedrock sends it (stop reason max_tokens);
	// Result.MaxTokens says what was sent.
	RightSizeMaxTokens bool

	// UseCountTokens asks Bedrock's CountTokens API for the exact input of each Converse
	// call to a model that supports it, instead of estimating (one more round trip per
	// call).
	UseCountTokens bool

	// MaxAttempts bounds the attempts of one call, throttles included. Zero means 8.
	MaxAttempts int

	// AttemptTimeout bounds how long one attempt waits for Bedrock's response to begin:
	// for Converse and InvokeModel, which answer when the reply is complete, the whole
	// reply; for the streaming operations, until the stream starts (its events are not
	// bounded). An attempt that runs out is a timeout, retried like a server error. Zero
	// means a minute (for the network and the time to the first token of a long input)
	// plus 50ms per token of the call's max_tokens (the model's default when unset): a
	// reply written at 20 tokens a second, slower than Bedrock's models write; 4,096
	// tokens give 4m25s, 64,000 give 54m20s, near the hour AWS advises as the SDKs' read
	// timeout for the longest replies. Negative means no bound (the context's deadline
	// alone).
	AttemptTimeout time.Duration

	// Logger receives structured logs; nil means none.
	Logger *slog.Logger

	// Redis, when set, shares every target's quota with the other processes — gateways,
	// batch runs, services — that use the same Redis and name the same AWS account,
	// region and model, so that together they stay within the account's quota. It is a
	// Redis URL, redis://[user:password@]host:port[/db] (rediss:// for TLS, unix:///path),
	// whose query may add account=NAME, the pool's account ("default" when absent:
	// processes calling two AWS accounts through one Redis must each name theirs),
	// scope=NAME (a further split), grant=DURATION (how long an instance may admit
	// from room it was granted, 2s when absent) and fallback=none (admit nothing beyond
	// the current grant while Redis is unreachable; by default an instance admits within
	// its own part of each limit, its last share). New fails when Redis does not answer.
	// See docs/fleet.md.
	Redis string

	// Registerer receives Tollgate's Prometheus metrics; nil means none. Never the
	// global registry unless passed explicitly.
	Registerer prometheus.Registerer
}

// pipeline checks cfg and returns the pipeline's configuration: the fields Config has,
// and the pipeline's defaults for the rest (its margins, pacing, backoff, the refusal of
// a call whose forecast wait exceeds its deadline).
func (cfg Config) pipeline(ctx context.Context) (pipeline.Config, error) {
	if len(cfg.Targets) == 0 {
		return pipeline.Config{}, errors.New("tollgate: no targets: give Config.Targets at least one {Region, Model}")
	}
	if cfg.AWS == nil {
		c, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return pipeline.Config{}, fmt.Errorf("tollgate: loading the AWS configuration: %w", err)
		}
		cfg.AWS = &c
	}
	pc := pipeline.Config{AWS: *cfg.AWS, Catalog: cfg.Catalog, RightSize: cfg.RightSizeMaxTokens, UseCountTokens: cfg.UseCountTokens,
		MaxAttempts: cfg.MaxAttempts, AttemptTimeout: cfg.AttemptTimeout, Logger: cfg.Logger, Redis: cfg.Redis}
	for _, t := range cfg.Targets {
		pc.Targets = append(pc.Targets, pipeline.TargetConfig{Region: t.Region, Model: t.Model, Endpoint: t.Endpoint,
			Credentials: t.Credentials, Limits: t.Limits, MaxInFlight: t.MaxInFlight})
	}
	return pc, nil
}
