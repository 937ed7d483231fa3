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

	// RightSizeMaxTokens sets max_tokens of Converse and ConverseStream calls, when a
	// request leaves it unset, from the learned output length of the call's task
	// (Call.Task) — its 99th percentile plus 20% — instead of letting Bedrock reserve the
	// model's maximum. Until the task has 10 replies, 10 calls go
	// out unsized to learn from and the task's other calls wait for them, holding no
	// quota. A reply cut at max_tokens is returned as Bedrock sends it (stop reason
	// max_tokens); Result.MaxTokens says what was sent.
	RightSizeMaxTokens bool

	// UseCountTokens asks Bedrock's CountTokens API for the exact input of each call to a
	// model that supports it, instead of estimating (one more round trip per call).
	UseCountTokens bool

	// InitialMargin pads input estimates for a model by this fraction until its
	// calibration has seen reported usage: the base tokenizer can count 15–30% fewer
	// tokens than the model's own (see docs/estimation.md). Zero means 0.35; negative
	// means none.
	InitialMargin float64

	// EstimateMargin pads calibrated input estimates by this fraction (refunded when the
	// call settles): single requests still differ from the model's count by a few
	// percent, and a reservation below the service's own lets the service see more in
	// flight than Tollgate does. Zero means 0.06; negative means none.
	EstimateMargin float64

	// WindowMargin lengthens every limit's window by this much, to cover the time between
	// admission here and metering at the service (network latency, clock skew). Zero means
	// 250ms; negative means none.
	WindowMargin time.Duration

	// Pacing spreads each target's admissions at its limits' rates, with bursts of at most
	// this long's worth (see quota.Config.Pacing), so that capacity freed in a lump is not
	// sent as a burst a provider near its limit would refuse. Zero means a sixth of the
	// target's shortest limit period; negative means no pacing.
	Pacing time.Duration

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

	// Backoff returns how long to wait before attempt n+1 after a server error, timeout or
	// lost connection on attempt n (n ≥ 1). Nil means exponential backoff with full
	// jitter: a uniform wait in [0, min(100ms × 2^(n−1), 20s)). Throttles do not back
	// off: the call queues again, and the lowered limit paces it.
	Backoff func(attempt int) time.Duration

	// WaitPastForecast lets a call whose forecast wait exceeds its context's deadline wait
	// anyway, until the deadline; by default it is refused at once with a *DeadlineError.
	WaitPastForecast bool

	// Logger receives structured logs; nil means none.
	Logger *slog.Logger

	// Registerer receives Tollgate's Prometheus metrics; nil means none. Never the
	// global registry unless passed explicitly.
	Registerer prometheus.Registerer
}

// pipeline checks cfg and returns the pipeline's configuration.
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
	pc := pipeline.Config{AWS: *cfg.AWS, Catalog: cfg.Catalog, DiscoverQuotas: cfg.DiscoverQuotas, QuotasEndpoint: cfg.QuotasEndpoint,
		ReserveWithBurndown: cfg.ReserveWithBurndown, RightSize: cfg.RightSizeMaxTokens,
		InitialMargin: cfg.InitialMargin, EstimateMargin: cfg.EstimateMargin, WindowMargin: cfg.WindowMargin, Pacing: cfg.Pacing,
		MaxAttempts: cfg.MaxAttempts, AttemptTimeout: cfg.AttemptTimeout, Backoff: cfg.Backoff, WaitPastForecast: cfg.WaitPastForecast,
		Logger: cfg.Logger}
	for _, t := range cfg.Targets {
		pc.Targets = append(pc.Targets, pipeline.TargetConfig{Region: t.Region, Model: t.Model, Endpoint: t.Endpoint,
			Credentials: t.Credentials, Limits: t.Limits, MaxInFlight: t.MaxInFlight, Preference: t.Preference})
	}
	return pc, nil
}
