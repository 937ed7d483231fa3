package tollgate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/quota"
)

// Defaults for the zero fields of Config.
const (
	DefaultMaxAttempts  = 8
	DefaultWindowMargin = 250 * time.Millisecond
	// DefaultInitialMargin pads input estimates for a model until its calibration has
	// seen reported usage: the base tokenizer can count 15–30% fewer tokens than the
	// model's own (see docs/estimation.md).
	DefaultInitialMargin = 1.35
	// DefaultEstimateMargin pads calibrated input estimates: calibration removes the
	// tokenizer's bias, but single requests still differ from the model's count by a few
	// percent (docs/estimation.md), and a reservation below the service's own lets the
	// service see more in flight than Tollgate does. The pad is refunded at settlement.
	DefaultEstimateMargin = 0.06
	// DefaultAttemptTimeout and DefaultAttemptTimePerToken make the attempt timeout of
	// a call whose Config.AttemptTimeout is zero: a minute, for the network and the time
	// to the first token of a long input, plus 50ms per token of the call's max_tokens
	// (the model's default when unset), the time of a reply produced at 20 tokens a
	// second, slower than Bedrock's models write. 4,096 tokens give 4m25s; 64,000 give
	// 54m20s, near the hour AWS advises as the SDKs' read timeout for the longest
	// replies.
	DefaultAttemptTimeout      = time.Minute
	DefaultAttemptTimePerToken = 50 * time.Millisecond
)

// Target is one place a model can be called: a region and a model or profile id, with
// the quotas that meter calls there. Calls to a model go to the targets that serve its
// base model, each call to the one that can admit it first.
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
	// Limits are the target's quotas. Nil means: the account's applied quotas read through
	// Service Quotas when Config.DiscoverQuotas is set, else the catalog's defaults for
	// the model, scope and region. The source of each is logged.
	Limits []quota.Limit
	// MaxInFlight caps the target's calls in flight; zero means no cap.
	MaxInFlight int
	// Preference breaks ties between targets that could admit a call equally soon:
	// lower first.
	Preference int
}

// Config configures a Client. Only Targets is required.
type Config struct {
	// AWS is the SDK configuration: region and credentials. Nil means
	// config.LoadDefaultConfig (the default credential chain and region).
	AWS *aws.Config

	// Targets lists where models are called. At least one is required.
	Targets []Target

	// Catalog describes the models (burndown, output limits, quotas). Nil means
	// catalog.Default().
	Catalog *catalog.Catalog

	// DiscoverQuotas reads the applied quotas of targets without Limits through the
	// Service Quotas API at New (falling back to catalog defaults, with the reason logged,
	// when the API cannot be used). An endpoint that accepts the request but has not
	// answered within 30 seconds makes New fail with an error naming it: the account's
	// quotas may be lower than the defaults.
	DiscoverQuotas bool

	// QuotasEndpoint overrides the Service Quotas endpoint used by DiscoverQuotas (an
	// emulator). Empty means the SDK's resolution, including
	// AWS_ENDPOINT_URL_SERVICE_QUOTAS when Config.AWS comes from the default loader.
	QuotasEndpoint string

	// ReserveWithBurndown reserves max_tokens × the model's output burndown (5 for Claude
	// 3.7/4.x) instead of max_tokens: the safe reading of an undocumented Bedrock rule.
	ReserveWithBurndown bool

	// RightSizeMaxTokens sets max_tokens, when a request leaves it unset, from the learned
	// output length of the call's task (WithTask) — its 99th percentile plus 20% — instead
	// of letting Bedrock reserve the model's maximum. Until the task has 10 replies, 10
	// calls go out unsized to learn from and the task's other calls wait for them, holding
	// no quota. A reply cut at max_tokens is returned as Bedrock sends it (stop reason
	// max_tokens).
	RightSizeMaxTokens bool

	// UseCountTokens asks Bedrock's CountTokens API for the exact input of each call to a
	// model that supports it, instead of estimating (one more round trip per call).
	UseCountTokens bool

	// InitialMargin multiplies input estimates for a model until its calibration has seen
	// reported usage. Zero means DefaultInitialMargin; 1 disables it.
	InitialMargin float64

	// EstimateMargin pads calibrated input estimates by this fraction (refunded when the
	// call settles). Zero means DefaultEstimateMargin; negative means none.
	EstimateMargin float64

	// WindowMargin lengthens every limit's window by this much, to cover the time between
	// admission here and metering at the service (network latency, clock skew). Zero means
	// DefaultWindowMargin; negative means none.
	WindowMargin time.Duration

	// Pacing spreads each target's admissions at its limits' rates, with bursts of at most
	// this long's worth (see quota.Config.Pacing), so that capacity freed in a lump is not
	// sent as a burst a provider near its limit would refuse. Zero means a sixth of the
	// target's shortest limit period; negative means no pacing.
	Pacing time.Duration

	// MaxAttempts bounds the attempts of one call, throttles included. Zero means
	// DefaultMaxAttempts.
	MaxAttempts int

	// AttemptTimeout bounds how long one attempt waits for Bedrock's response to begin:
	// for Converse and InvokeModel, which answer when the reply is complete, the whole
	// reply; for the streaming operations, until the stream starts (its events are not
	// bounded). An attempt that runs out is a timeout, retried like a server error. Zero
	// means DefaultAttemptTimeout plus DefaultAttemptTimePerToken per token of the call's
	// max_tokens; negative means no bound (the context's deadline alone).
	AttemptTimeout time.Duration

	// Backoff returns how long to wait before attempt n+1 after a server error, timeout or
	// lost connection on attempt n (n ≥ 1). Nil means DefaultBackoff. Throttles do not
	// back off: the call queues again, and the lowered limit paces it.
	Backoff func(attempt int) time.Duration

	// NoFailFast turns off refusing, at once, a call whose forecast wait exceeds its
	// context's deadline (a *DeadlineError); the call then waits until the deadline.
	NoFailFast bool

	// Logger receives structured logs; nil means none.
	Logger *slog.Logger

	// Registerer receives Tollgate's Prometheus metrics; nil means none. Never the
	// global registry unless passed explicitly.
	Registerer prometheus.Registerer
}

// DefaultBackoff is exponential backoff with full jitter: a uniform wait in
// [0, min(100ms × 2^(attempt−1), 20s)).
func DefaultBackoff(attempt int) time.Duration {
	ceil := 100 * time.Millisecond << min(attempt-1, 8)
	ceil = min(ceil, 20*time.Second)
	return time.Duration(rand.Int64N(int64(ceil)))
}

// validate checks cfg and fills in defaults.
func (cfg Config) validate(ctx context.Context) (Config, error) {
	if len(cfg.Targets) == 0 {
		return cfg, errors.New("tollgate: no targets: give Config.Targets at least one {Region, Model}")
	}
	if cfg.AWS == nil {
		c, err := loadDefaultConfig(ctx)
		if err != nil {
			return cfg, fmt.Errorf("tollgate: loading the AWS configuration: %w", err)
		}
		cfg.AWS = &c
	}
	if cfg.Catalog == nil {
		cfg.Catalog = catalog.Default()
	}
	switch {
	case cfg.InitialMargin == 0:
		cfg.InitialMargin = DefaultInitialMargin
	case cfg.InitialMargin < 1:
		return cfg, fmt.Errorf("tollgate: InitialMargin %v is below 1: use 1 for none", cfg.InitialMargin)
	}
	switch {
	case cfg.EstimateMargin == 0:
		cfg.EstimateMargin = DefaultEstimateMargin
	case cfg.EstimateMargin < 0:
		cfg.EstimateMargin = 0
	}
	switch {
	case cfg.WindowMargin == 0:
		cfg.WindowMargin = DefaultWindowMargin
	case cfg.WindowMargin < 0:
		cfg.WindowMargin = 0
	}
	switch {
	case cfg.MaxAttempts == 0:
		cfg.MaxAttempts = DefaultMaxAttempts
	case cfg.MaxAttempts < 0:
		return cfg, fmt.Errorf("tollgate: MaxAttempts %d: use a positive number, or zero for %d", cfg.MaxAttempts, DefaultMaxAttempts)
	}
	if cfg.Backoff == nil {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	for i, t := range cfg.Targets {
		if t.Model == "" {
			return cfg, fmt.Errorf("tollgate: target %d has no Model: give the model or profile id to call", i)
		}
		if t.Region == "" {
			t.Region = cfg.AWS.Region
		}
		if t.Region == "" {
			return cfg, fmt.Errorf("tollgate: target %d (%s) has no Region and the AWS configuration has none: set Target.Region or AWS_REGION", i, t.Model)
		}
		cfg.Targets[i] = t
	}
	return cfg, nil
}
