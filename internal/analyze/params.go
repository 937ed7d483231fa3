package analyze

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/estimate"
	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/internal/reply"
	"github.com/tollgate-dev/tollgate/internal/sched"
	"github.com/tollgate-dev/tollgate/quota"
)

// Defaults of the zero fields of Params for the latency model: the emulator's (realistic
// for Claude Sonnet). The client's settings default to tollgate.Client's own
// (internal/pipeline's defaults, quota's MinShare).
const (
	DefaultTimeToFirstToken = 400 * time.Millisecond
	DefaultPerOutputToken   = 15 * time.Millisecond
	DefaultQuantile         = 0.95
)

// DefaultOutput is the output length assumed for a request whose OutputTokens is unknown:
// 64 + input/4 tokens, at most 1,024 — the mean of the emulator's default replies, which
// spread uniformly over 0.5–1.5× of it.
func DefaultOutput(inputTokens int) int { return reply.Mean(inputTokens) }

// Params are the assumptions of an analysis: the latency model, and the client's
// admission settings it replays. The zero Params are tollgate.Client's defaults with the
// emulator's latency model.
type Params struct {
	// Latency is the time a call takes from admission to its answer. Zero fields mean
	// DefaultTimeToFirstToken and DefaultPerOutputToken; negative ones mean none.
	Latency Latency

	// Output gives the expected output length of a request whose OutputTokens is 0, from
	// its input tokens. Nil means DefaultOutput.
	Output func(inputTokens int) int

	// ReserveBurndown reserves max_tokens × the model's burndown, as the client's
	// ReserveWithBurndown does. The default (false) reserves max_tokens, as Bedrock is
	// believed to.
	ReserveBurndown bool

	// MaxInFlight caps the calls in flight (the client's Target.MaxInFlight). Zero means
	// no cap.
	MaxInFlight int

	// WindowMargin lengthens every window but clock windows, as the client's
	// Config.WindowMargin does. Zero means the client's default
	// (pipeline.DefaultWindowMargin); negative means none.
	WindowMargin time.Duration

	// Pacing is the client's Config.Pacing: admissions are spread at each limit's rate
	// with bursts of at most this long's worth. Zero means the client's default, a sixth
	// of the shortest window after WindowMargin (pipeline.Admission); negative means none.
	Pacing time.Duration

	// InitialMargin and EstimateMargin pad the client's input estimates, as fractions,
	// before and after its calibration has seen a reply (the client's Config fields of
	// the same names). Zero means the client's defaults (pipeline.DefaultInitialMargin and
	// pipeline.DefaultEstimateMargin); negative means none.
	InitialMargin, EstimateMargin float64

	// TokenizerOffset is the model's input count ÷ the client's offline tokenizer's count,
	// which the InitialMargin pads before calibration. Zero means estimate.ReferenceOffset
	// (what the emulator's tokenizer counts more, and about what Claude's does).
	TokenizerOffset float64

	// Quantile is the quantile of the expected outputs recommended as max_tokens. Zero
	// means DefaultQuantile.
	Quantile float64

	// MinShare is the share of admissions each waiting lower class is guaranteed
	// (quota.Config.MinShare). Zero means quota's default (sched.DefaultMinShare);
	// negative means strict priority.
	MinShare float64

	// Pending is how many documents are handed to the client at once, in priority order,
	// the next one each time one finishes (tollgate run's batch.Config.Pending). Zero means
	// all at once.
	Pending int
}

// withDefaults returns p with its zero fields set, or an error naming a bad one.
func (p Params) withDefaults(limits []quota.Limit) (Params, error) {
	var errs []error
	p.Latency.TimeToFirstToken = durationDefault(p.Latency.TimeToFirstToken, DefaultTimeToFirstToken)
	p.Latency.PerOutputToken = durationDefault(p.Latency.PerOutputToken, DefaultPerOutputToken)
	p.WindowMargin = durationDefault(p.WindowMargin, pipeline.DefaultWindowMargin)
	if p.Output == nil {
		p.Output = DefaultOutput
	}
	if p.MaxInFlight < 0 {
		errs = append(errs, fmt.Errorf("max in flight %d is negative: use 0 for no cap", p.MaxInFlight))
	}
	if p.Pending < 0 {
		errs = append(errs, fmt.Errorf("pending %d is negative: use 0 for all documents at once", p.Pending))
	}
	margin := func(name string, m *float64, def float64) {
		switch {
		case *m == 0:
			*m = def
		case *m < 0:
			*m = 0
		case math.IsNaN(*m) || math.IsInf(*m, 0):
			errs = append(errs, fmt.Errorf("%s %v is not a fraction to pad estimates by (e.g. 0.35; negative for none)", name, *m))
		}
	}
	margin("initial margin", &p.InitialMargin, pipeline.DefaultInitialMargin)
	margin("estimate margin", &p.EstimateMargin, pipeline.DefaultEstimateMargin)
	switch {
	case p.TokenizerOffset == 0:
		p.TokenizerOffset = estimate.ReferenceOffset
	case p.TokenizerOffset < 0.1 || p.TokenizerOffset > 10 || math.IsNaN(p.TokenizerOffset):
		errs = append(errs, fmt.Errorf("tokenizer offset %v is not a plausible ratio of token counts (about 1.2)", p.TokenizerOffset))
	}
	switch {
	case p.Quantile == 0:
		p.Quantile = DefaultQuantile
	case !(p.Quantile > 0 && p.Quantile <= 1):
		errs = append(errs, fmt.Errorf("quantile %v is not in (0, 1]: use e.g. 0.95", p.Quantile))
	}
	switch {
	case p.MinShare == 0:
		p.MinShare = sched.DefaultMinShare
	case p.MinShare < 0:
		p.MinShare = 0
	case p.MinShare >= 0.5:
		errs = append(errs, fmt.Errorf("min share %v is not below 0.5", p.MinShare))
	}
	_, p.Pacing = pipeline.Admission(limits, p.WindowMargin, p.Pacing)
	return p, errors.Join(errs...)
}

// durationDefault returns def for zero, zero for negative, d otherwise.
func durationDefault(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// modelParams returns the cost model's view of m.
func modelParams(m catalog.Model, reserveBurndown bool) estimate.ModelParams {
	return estimate.ModelParams{OutputBurndown: m.OutputBurndown, DefaultMaxTokens: m.DefaultMaxTokens,
		MaxOutputTokens: m.MaxOutputTokens, ReserveWithBurndown: reserveBurndown}
}
