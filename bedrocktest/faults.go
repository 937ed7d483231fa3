package bedrocktest

import (
	"fmt"
	"math/rand/v2"
)

// Faults are injected failures. Each field is the probability, in [0, 1], that one call
// meets the fault; the draws are deterministic in Seed and the call's number (valid calls
// are numbered from 1 in arrival order), so a sequential run replays exactly. Faults that fail a call before admission (the first
// three) do not touch the quotas.
type Faults struct {
	// Seed seeds the draws.
	Seed uint64 `yaml:"seed"`
	// ServiceUnavailable answers 503 ServiceUnavailableException before admission.
	ServiceUnavailable float64 `yaml:"service_unavailable"`
	// InternalError answers 500 InternalServerException before admission.
	InternalError float64 `yaml:"internal_error"`
	// ModelNotReady answers 429 ModelNotReadyException before admission.
	ModelNotReady float64 `yaml:"model_not_ready"`
	// StreamThrottle ends an admitted stream halfway with a throttlingException frame;
	// the call is settled at the output produced so far.
	StreamThrottle float64 `yaml:"stream_throttle"`
	// StreamUnavailable ends an admitted stream halfway with a
	// serviceUnavailableException frame, settled likewise.
	StreamUnavailable float64 `yaml:"stream_unavailable"`
	// Slow multiplies an admitted call's latency by SlowFactor.
	Slow float64 `yaml:"slow"`
	// SlowFactor is the latency multiplier of slow calls, 1 to 1000. Zero
	// means 10.
	SlowFactor float64 `yaml:"slow_factor"`
	// Drop closes the connection of an admitted call without an answer; the call is
	// settled at its input tokens (no output was produced).
	Drop float64 `yaml:"drop"`
}

// faultKind is the fault drawn for a call.
type faultKind uint8

const (
	faultNone faultKind = iota
	faultUnavailable
	faultInternal
	faultNotReady
	faultStreamThrottle
	faultStreamUnavailable
	faultSlow
	faultDrop
	numFaults
)

var faultNames = [numFaults]string{"none", "service-unavailable", "internal-error", "model-not-ready",
	"stream-throttle", "stream-unavailable", "slow", "drop"}

func (f Faults) probabilities() [numFaults]float64 {
	return [numFaults]float64{0, f.ServiceUnavailable, f.InternalError, f.ModelNotReady,
		f.StreamThrottle, f.StreamUnavailable, f.Slow, f.Drop}
}

func (f Faults) validate() error {
	sum := 0.0
	for k, p := range f.probabilities() {
		if !(p >= 0 && p <= 1) { // also rejects NaN
			return fmt.Errorf("bedrocktest: fault %s: probability %v must be between 0 and 1", faultNames[k], p)
		}
		sum += p
	}
	if sum > 1+1e-9 {
		return fmt.Errorf("bedrocktest: fault probabilities add up to %v: a call meets at most one fault, so they must add up to at most 1", sum)
	}
	if f.SlowFactor != 0 && !(f.SlowFactor >= 1 && f.SlowFactor <= maxSlowFactor) { // also NaN
		return fmt.Errorf("bedrocktest: fault slow factor %v: use 1 to %d (0 means 10)", f.SlowFactor, maxSlowFactor)
	}
	return nil
}

func (f Faults) slowFactor() float64 {
	if f.SlowFactor == 0 {
		return 10
	}
	return f.SlowFactor
}

// draw picks the fault of call number seq: one uniform draw against the cumulative
// probabilities, so at most one fault per call.
func (f Faults) draw(seq uint64) faultKind {
	u := rand.New(rand.NewPCG(f.Seed, seq)).Float64()
	acc := 0.0
	for k, p := range f.probabilities() {
		if p == 0 {
			continue
		}
		acc += p
		if u < acc {
			return faultKind(k)
		}
	}
	return faultNone
}
