package estimate

import (
	"fmt"
	"math"
	"sync"
)

// RightSizeHeadroom multiplies a predicted output quantile to set max_tokens: the
// quantile of a few dozen replies is close to their maximum and errs low for the next
// ones, and a reply cut at max_tokens costs a continuation (its input sent again) or a
// truncated answer, far more than the headroom's reservation.
const RightSizeHeadroom = 1.2

// Defaults of PredictorConfig.
const (
	DefaultMinObservations = 20
	DefaultOutputFloor     = 256
	DefaultPredictorWindow = 1000
)

// bucketGrowth is the ratio between successive histogram bucket bounds: a prediction is at
// most 5 % above the true quantile of what was observed.
const bucketGrowth = 1.05

// numBuckets covers output lengths up to bucketGrowth^numBuckets ≈ 1.1 million tokens.
const numBuckets = 285

var lnGrowth = math.Log(bucketGrowth)

// PredictorConfig configures an OutputPredictor. The zero value gives the defaults.
type PredictorConfig struct {
	// MinObservations is how many outputs a task must have shown before Predict answers.
	// Zero means DefaultMinObservations (20); negative is an error.
	MinObservations int
	// Floor is the smallest prediction, in tokens, so that a task whose replies happened to
	// be short never gets a max_tokens too small to answer at all. Zero means
	// DefaultOutputFloor (256); negative is an error.
	Floor int
	// Window is, roughly, how many recent observations a task's estimate reflects: when a
	// task's total weight reaches 2 × Window every count is halved, so older replies fade
	// out. Zero means DefaultPredictorWindow (1000); negative is an error.
	Window int
}

// OutputPredictor learns, per task key (a prompt template, a job name), how many output
// tokens replies take, and predicts a quantile of it to right-size max_tokens. Each task
// keeps a streaming histogram with logarithmic buckets (bounds growing by 5 %, from 1 to
// about a million tokens, 285 buckets, 2.3 KB per task): quantiles are answered with the
// upper bound of the bucket that holds them, so a prediction errs upward by at most 5 % of
// the observed quantile, never downward. Task keys should name kinds of work (a template, a
// job), not single requests: each key keeps its histogram for the predictor's lifetime.
// It is safe for concurrent use.
type OutputPredictor struct {
	minObs, floor int
	window        float64

	mu    sync.Mutex
	tasks map[string]*histogram
}

type histogram struct {
	counts [numBuckets]float64
	total  float64 // sum of counts
	seen   int     // observations ever made, for MinObservations
}

// NewPredictor returns an OutputPredictor configured by cfg, or an error naming the first
// invalid field.
func NewPredictor(cfg PredictorConfig) (*OutputPredictor, error) {
	for _, f := range []struct {
		name string
		v    int
	}{{"MinObservations", cfg.MinObservations}, {"Floor", cfg.Floor}, {"Window", cfg.Window}} {
		if f.v < 0 {
			return nil, fmt.Errorf("estimate: PredictorConfig.%s is %d: use 0 for the default or a positive number", f.name, f.v)
		}
	}
	return &OutputPredictor{
		minObs: orDefault(cfg.MinObservations, DefaultMinObservations),
		floor:  orDefault(cfg.Floor, DefaultOutputFloor),
		window: float64(orDefault(cfg.Window, DefaultPredictorWindow)),
		tasks:  map[string]*histogram{},
	}, nil
}

// bucket returns the index of the bucket holding n tokens: the smallest i with
// n ≤ 1.05^i (equivalently n ≤ floor(1.05^i), n being whole).
func bucket(n int) int {
	if n <= 1 {
		return 0
	}
	i := int(math.Ceil(math.Log(float64(n)) / lnGrowth))
	// Guard against rounding in Log.
	for float64(n) > bucketUpper(i) {
		i++
	}
	for i > 0 && float64(n) <= bucketUpper(i-1) {
		i--
	}
	return min(i, numBuckets-1)
}

// bucketUpper returns the upper bound of bucket i, in tokens: floor(1.05^i), the largest
// whole number of tokens the bucket holds.
func bucketUpper(i int) float64 { return math.Floor(math.Pow(bucketGrowth, float64(i))) }

// Observe records that a reply for task took outputTokens output tokens. A reply that
// stopped on max_tokens was cut short; record it all the same (its true length was at
// least that). Negative counts are ignored.
func (p *OutputPredictor) Observe(task string, outputTokens int) {
	if outputTokens < 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.tasks[task]
	if h == nil {
		h = &histogram{}
		p.tasks[task] = h
	}
	if h.total >= 2*p.window {
		for i := range h.counts {
			h.counts[i] /= 2
		}
		h.total /= 2
	}
	h.counts[bucket(outputTokens)]++
	h.total++
	h.seen++
}

// Predict returns the q-quantile (0 < q ≤ 1; 0.95 is a good max_tokens) of task's output
// length in tokens, rounded up to its bucket's bound and at least Floor. ok is false, and
// tokens 0, when q is out of range or the task has fewer than MinObservations replies.
func (p *OutputPredictor) Predict(task string, q float64) (tokens int, ok bool) {
	if !(q > 0 && q <= 1) {
		return 0, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.tasks[task]
	if h == nil || h.seen < p.minObs {
		return 0, false
	}
	target := q * h.total
	var cum float64
	i := 0
	for ; i < numBuckets-1; i++ {
		cum += h.counts[i]
		if cum >= target {
			break
		}
	}
	return max(int(bucketUpper(i)), p.floor), true
}
