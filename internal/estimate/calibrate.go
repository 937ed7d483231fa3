package estimate

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// Defaults of CalibratorConfig.
const (
	DefaultHalfLife       = time.Hour
	DefaultMinFactor      = 0.5
	DefaultMaxFactor      = 2.0
	DefaultMaxStep        = 1.5
	DefaultMinCalibTokens = 32
)

// CalibratorConfig configures a Calibrator. The zero value gives the documented defaults.
type CalibratorConfig struct {
	// HalfLife is how long an observation takes to lose half its weight. Zero means
	// DefaultHalfLife (1 h); negative is an error.
	HalfLife time.Duration
	// Initial is the factor of a model with no observations. Zero means 1.
	Initial float64
	// MinFactor and MaxFactor bound every observed ratio, and so the factor. Zero means
	// DefaultMinFactor (0.5) and DefaultMaxFactor (2).
	MinFactor, MaxFactor float64
	// MaxStep bounds how far one observation can pull the factor once a model has three or
	// more observations' weight: its ratio is clamped to [factor/MaxStep, factor×MaxStep],
	// so one outlier (a reply that included an unseen image, a truncated count) moves the
	// factor only a little. Zero means DefaultMaxStep (1.5); must otherwise exceed 1.
	MaxStep float64
	// MinTokens is the smallest estimated or reported count an observation must have to be
	// used: in tiny requests framing and rounding dominate, and their ratio says nothing
	// about the tokenizer. Zero means DefaultMinCalibTokens (32); negative is an error.
	MinTokens int
}

// Calibrator learns, per model, the factor between the tokens Bedrock reports and the
// tokens the base tokenizer counted: a half-life moving average of the ratio
// reported/estimated, weighted by tokens. With every weight decaying by 2^(−Δt/HalfLife)
// between observations,
//
//	factor = Σ wᵢ·reportedᵢ / Σ wᵢ·estimatedᵢ
//
// so the first observation sets the factor at once, later ones refine it, and a change of
// tokenizer (a new model version) replaces the old factor within a few half-lives. Time is
// a parameter; the zero time and times that go backwards are accepted (no decay).
// A Calibrator is safe for concurrent use.
type Calibrator struct {
	halfLife           time.Duration
	initial            float64
	minFactor, maxFact float64
	maxStep            float64
	minTokens          int

	mu     sync.Mutex
	models map[string]*calibration
}

type calibration struct {
	est, rep float64   // decayed sums of estimated and (clamped) reported tokens
	n        float64   // decayed number of observations
	last     time.Time // time of the latest observation
}

// NewCalibrator returns a Calibrator configured by cfg, or an error naming the first
// invalid field.
func NewCalibrator(cfg CalibratorConfig) (*Calibrator, error) {
	c := &Calibrator{
		halfLife:  cfg.HalfLife,
		initial:   cfg.Initial,
		minFactor: cfg.MinFactor,
		maxFact:   cfg.MaxFactor,
		maxStep:   cfg.MaxStep,
		minTokens: cfg.MinTokens,
		models:    map[string]*calibration{},
	}
	if c.halfLife == 0 {
		c.halfLife = DefaultHalfLife
	}
	if c.minFactor == 0 {
		c.minFactor = DefaultMinFactor
	}
	if c.maxFact == 0 {
		c.maxFact = DefaultMaxFactor
	}
	if c.initial == 0 {
		c.initial = 1
	}
	if c.maxStep == 0 {
		c.maxStep = DefaultMaxStep
	}
	if c.minTokens == 0 {
		c.minTokens = DefaultMinCalibTokens
	}
	switch {
	case c.halfLife < 0:
		return nil, fmt.Errorf("estimate: CalibratorConfig.HalfLife is %v: use 0 for the default or a positive duration", cfg.HalfLife)
	case !(c.minFactor > 0 && c.minFactor < c.maxFact) || math.IsInf(c.maxFact, 0):
		return nil, fmt.Errorf("estimate: CalibratorConfig.MinFactor %v and MaxFactor %v: need 0 < MinFactor < MaxFactor, finite", c.minFactor, c.maxFact)
	case c.initial < c.minFactor || c.initial > c.maxFact:
		return nil, fmt.Errorf("estimate: CalibratorConfig.Initial %v is outside [MinFactor %v, MaxFactor %v]", c.initial, c.minFactor, c.maxFact)
	case !(c.maxStep > 1) || math.IsInf(c.maxStep, 0):
		return nil, fmt.Errorf("estimate: CalibratorConfig.MaxStep is %v: use 0 for the default or a finite number above 1", cfg.MaxStep)
	case c.minTokens < 0:
		return nil, fmt.Errorf("estimate: CalibratorConfig.MinTokens is %d: use 0 for the default or a positive count", cfg.MinTokens)
	}
	return c, nil
}

// Observe records that a call to model estimated at estimated tokens (the tokenizer's
// count, before calibration) was reported by the service as reported tokens, at time now.
// It reports whether the observation was used: observations below MinTokens are not.
func (c *Calibrator) Observe(now time.Time, model string, estimated, reported int) bool {
	if estimated < c.minTokens || reported < c.minTokens {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.models[model]
	if m == nil {
		m = &calibration{last: now}
		c.models[model] = m
	}
	ratio := clamp(float64(reported)/float64(estimated), c.minFactor, c.maxFact)
	if m.n >= 3 {
		f := m.rep / m.est
		ratio = clamp(ratio, f/c.maxStep, f*c.maxStep)
	}
	// Decay the old weights by 2^(−Δt/HalfLife); a time that goes backwards decays nothing.
	if dt := now.Sub(m.last); dt > 0 {
		d := math.Exp2(-float64(dt) / float64(c.halfLife))
		m.est, m.rep, m.n = m.est*d, m.rep*d, m.n*d
		m.last = now
	}
	e := float64(estimated)
	m.est += e
	m.rep += ratio * e
	m.n++
	return true
}

// Factor returns model's calibration factor: the value to multiply a base-tokenizer count
// by to predict the service's count. A model with no observations gets Initial (1 unless
// configured).
func (c *Calibrator) Factor(model string) float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.models[model]
	if m == nil || m.est == 0 {
		return c.initial
	}
	return clamp(m.rep/m.est, c.minFactor, c.maxFact)
}

func clamp(x, lo, hi float64) float64 { return math.Min(math.Max(x, lo), hi) }
