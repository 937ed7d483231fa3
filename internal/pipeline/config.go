package pipeline

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/quota"
)

// Defaults for the zero fields of Config.
const (
	DefaultMaxAttempts = 8
	// DefaultWindowMargin covers the time between admission here and metering at the
	// service: network latency and clock skew.
	DefaultWindowMargin = 250 * time.Millisecond
	// DefaultInitialMargin pads input estimates for a model, as a fraction, until its
	// calibration has seen reported usage: the base tokenizer can count 15–30% fewer
	// tokens than the model's own (see docs/estimation.md).
	DefaultInitialMargin = 0.35
	// DefaultEstimateMargin pads calibrated input estimates, as a fraction: calibration
	// removes the tokenizer's bias, but single requests still differ from the model's
	// count by a few percent (docs/estimation.md), and a reservation below the service's
	// own lets the service see more in flight than Tollgate does. The pad is refunded at
	// settlement.
	DefaultEstimateMargin = 0.06
	// DefaultAttemptTimeout and DefaultAttemptTimePerToken make the attempt timeout of a
	// call whose Config.AttemptTimeout is zero: a minute, for the network and the time to
	// the first token of a long input, plus 50ms per token of the call's max_tokens (the
	// model's default when unset), the time of a reply produced at 20 tokens a second,
	// slower than Bedrock's models write. 4,096 tokens give 4m25s; 64,000 give 54m20s,
	// near the hour AWS advises as the SDKs' read timeout for the longest replies.
	DefaultAttemptTimeout      = time.Minute
	DefaultAttemptTimePerToken = 50 * time.Millisecond
	// DefaultLearners is how many calls of a task go out unsized before its output length
	// is learned (Config.Learners): as many as the predictor needs replies before it
	// answers (fewer than estimate.DefaultMinObservations: each learner may reserve the
	// model's maximum, and the 20% headroom covers what ten replies leave unknown).
	DefaultLearners = 10
)

// TargetConfig is one place a model can be called: tollgate.Target's fields (documented
// there), and Preference.
type TargetConfig struct {
	Region, Model, Endpoint string
	Credentials             aws.CredentialsProvider
	Limits                  []quota.Limit
	MaxInFlight             int
	// Preference breaks ties between targets that could admit a call equally soon: lower
	// first, then the earlier in Config.Targets.
	Preference int
}

// Config configures an Engine: tollgate.Config's fields (AWS, Targets, Catalog,
// MaxAttempts, AttemptTimeout, Logger; RightSize and UseCountTokens for
// RightSizeMaxTokens and UseCountTokens, documented there), and the knobs the public
// client keeps at their defaults. New fills in the defaults of the zero values.
type Config struct {
	AWS     aws.Config
	Targets []TargetConfig
	Catalog *catalog.Catalog

	// DiscoverQuotas reads the applied quotas of targets without Limits through the
	// Service Quotas API at New (falling back to catalog defaults, with the reason logged,
	// when the API cannot be used). An endpoint that accepts the request but has not
	// answered within 30 seconds makes New fail with an error naming it: the account's
	// quotas may be lower than the defaults.
	DiscoverQuotas bool
	// QuotasEndpoint overrides the Service Quotas endpoint of DiscoverQuotas (an
	// emulator). Empty means the SDK's resolution.
	QuotasEndpoint string

	// ReserveWithBurndown reserves max_tokens × the model's output burndown (5 for Claude
	// 3.7/4.x) instead of max_tokens: the safe reading of an undocumented Bedrock rule.
	ReserveWithBurndown bool
	// RightSize sets max_tokens of calls that leave it unset (and allow it, Call.RightSize)
	// from the learned output length of their task.
	RightSize bool
	// Learners is how many replies of a task are learned from before its output length is
	// predicted, and, without InitialMaxTokens, how many calls of the task go out unsized
	// meanwhile (the others wait for their replies). Zero means DefaultLearners.
	Learners int
	// InitialMaxTokens, when positive, is the max_tokens right-sized calls of a task send
	// while its output length is being learned: all of them go out at once, none waits.
	// Zero means unset (the model's maximum is reserved), with the Learners gate.
	InitialMaxTokens int
	// UseCountTokens asks Bedrock's CountTokens API for the exact input of each Converse
	// call to a model that supports it, instead of estimating.
	UseCountTokens bool

	// InitialMargin pads input estimates for a model by this fraction until its
	// calibration has seen reported usage; EstimateMargin pads calibrated estimates
	// (refunded when the call settles). Zero means DefaultInitialMargin and
	// DefaultEstimateMargin; negative means none.
	InitialMargin, EstimateMargin float64
	// WindowMargin lengthens every limit's window by this much, to cover the time between
	// admission here and metering at the service (network latency, clock skew). Zero
	// means DefaultWindowMargin; negative means none.
	WindowMargin time.Duration
	// Pacing spreads each target's admissions at its limits' rates, with bursts of at
	// most this long's worth (see quota.Config.Pacing), so that capacity freed in a lump
	// is not sent as a burst a provider near its limit would refuse. Zero means a sixth of
	// the target's shortest limit period; negative means no pacing.
	Pacing         time.Duration
	MaxAttempts    int
	AttemptTimeout time.Duration
	// Backoff returns how long to wait before attempt n+1 after a server error, timeout or
	// lost connection on attempt n (n ≥ 1). Nil means DefaultBackoff. Throttles do not back
	// off: the call queues again, and the lowered limit paces it.
	Backoff func(attempt int) time.Duration
	// WaitPastForecast lets a call whose forecast wait exceeds its context's deadline
	// wait anyway, until the deadline; otherwise it is refused at once (ErrDeadline).
	WaitPastForecast bool
	Logger           *slog.Logger

	// Redis, when set, is the URL of a Redis (redis://[user:password@]host:port[/db],
	// rediss:// for TLS, unix:///path) in which every target holds its quota with the
	// other instances — gateways, runs, services — that name the same account, region,
	// model and scope, so that together they stay within it (see quota/redisquota). The
	// query may add account=NAME (DefaultAccount when absent: instances calling two AWS
	// accounts must name them), scope=NAME (a further split, such as one pool per team
	// under its own quota), grant=DURATION (the grant lifetime, 2s when absent) and
	// fallback=none (while Redis is unreachable, nothing beyond the current grant; by
	// default the instance's own part of each limit).
	Redis string
}

// DefaultBackoff is exponential backoff with full jitter: a uniform wait in
// [0, min(100ms × 2^(attempt−1), 20s)).
func DefaultBackoff(attempt int) time.Duration {
	ceil := 100 * time.Millisecond << min(attempt-1, 8)
	ceil = min(ceil, 20*time.Second)
	return time.Duration(rand.Int64N(int64(ceil)))
}

// validate checks cfg and fills in defaults.
func (cfg Config) validate() (Config, error) {
	if len(cfg.Targets) == 0 {
		return cfg, errors.New("tollgate: no targets: give Config.Targets at least one {Region, Model}")
	}
	if cfg.Catalog == nil {
		cfg.Catalog = catalog.Default()
	}
	margin := func(m *float64, def float64) {
		switch {
		case *m == 0:
			*m = def
		case *m < 0:
			*m = 0
		}
	}
	margin(&cfg.InitialMargin, DefaultInitialMargin)
	margin(&cfg.EstimateMargin, DefaultEstimateMargin)
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
	switch {
	case cfg.Learners == 0:
		cfg.Learners = DefaultLearners
	case cfg.Learners < 0:
		return cfg, fmt.Errorf("tollgate: Learners %d: use a positive number, or zero for %d", cfg.Learners, DefaultLearners)
	}
	if cfg.InitialMaxTokens < 0 {
		return cfg, fmt.Errorf("tollgate: InitialMaxTokens %d: use a positive number, or zero to leave max_tokens unset while learning", cfg.InitialMaxTokens)
	}
	if cfg.Backoff == nil {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Targets = append([]TargetConfig(nil), cfg.Targets...)
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
