package main

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Numeric flags are checked before a command does anything: a value out of range is
// refused with the flag's name, the range it accepts and what the ends mean, never
// passed on to wrap around, divide by zero or come out as a negative duration. NaN and
// the infinities are out of every range.

// Upper bounds of the numeric flags, far beyond any real use and far below where the
// arithmetic on them could overflow.
const (
	maxTokensFlag     = 1_000_000         // max_tokens and overlap: no model comes near
	maxChunkFlag      = 100_000_000       // input tokens of one chunk
	maxQuotaFlag      = 1_000_000_000_000 // tokens or requests per minute or day
	maxCountFlag      = 1_000_000         // documents or calls at once
	maxLatencyFlag    = time.Hour         // one token's latency, or the first one's (bedrocktest.New's bound)
	maxSlowFactorFlag = 1000              // the emulator's slow-reply multiplier (bedrocktest.New's bound)
	maxGraceFlag      = 24 * time.Hour    // after Ctrl-C
	maxTimeout        = 24 * time.Hour    // a network operation
	minTimeScale      = 0.001             // the emulator's time scale (bedrocktest.New's bounds)
	maxTimeScale      = 1000
)

// intRange checks an integer flag: lo ≤ v ≤ hi. meaning says what the ends or a
// special value mean ("0 for none").
func intRange(flag string, v, lo, hi int64, meaning string) error {
	if v >= lo && v <= hi {
		return nil
	}
	return usageError{fmt.Errorf("--%s %d is out of range: use %s to %s (%s)", flag, v, group(lo), group(hi), meaning)}
}

// floatRange checks a float flag: lo ≤ v ≤ hi, or 0 when zeroOK.
func floatRange(flag string, v, lo, hi float64, zeroOK bool, meaning string) error {
	if (v >= lo && v <= hi) || (zeroOK && v == 0) {
		return nil
	}
	alt := ""
	if zeroOK {
		alt = ", or 0"
	}
	return usageError{fmt.Errorf("--%s %s is out of range: use %s to %s%s (%s)", flag, strconv.FormatFloat(v, 'g', -1, 64),
		strconv.FormatFloat(lo, 'g', -1, 64), strconv.FormatFloat(hi, 'g', -1, 64), alt, meaning)}
}

// durationRange checks a duration flag: lo ≤ v ≤ hi.
func durationRange(flag string, v, lo, hi time.Duration, meaning string) error {
	if v >= lo && v <= hi {
		return nil
	}
	if lo == math.MinInt64 {
		return usageError{fmt.Errorf("--%s %v is out of range: use at most %v (%s)", flag, v, hi, meaning)}
	}
	return usageError{fmt.Errorf("--%s %v is out of range: use %v to %v (%s)", flag, v, lo, hi, meaning)}
}

// firstError returns the first non-nil error.
func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// validate checks the job's numeric flags.
func (f *jobFlags) validate() error {
	return firstError(
		intRange("max-tokens", int64(f.maxTokens), 0, maxTokensFlag, "0 right-sizes it"),
		intRange("initial-max-tokens", int64(f.initialMaxTokens), 1, maxTokensFlag, "max_tokens of the first calls"),
		intRange("chunk-tokens", int64(f.chunkTokens), 0, maxChunkFlag, "0 for what the context window and quotas allow"),
		intRange("overlap-tokens", int64(f.overlapTokens), 0, maxTokensFlag, "0 for no overlap"),
		intRange("tpm", f.tpm, 0, maxQuotaFlag, "0 reads the quota from Service Quotas"),
		intRange("tpd", f.tpd, 0, maxQuotaFlag, "0 reads the quota from Service Quotas"),
		intRange("rpm", f.rpm, 0, maxQuotaFlag, "0 for none"),
	)
}

// validate checks run's numeric flags.
func (f *runFlags) validate() error {
	return firstError(
		f.job.validate(),
		floatRange("time-scale", f.timeScale, minTimeScale, maxTimeScale, true, "emulated seconds per real second; 0 picks one so the run takes about a minute"),
		intRange("pending", int64(f.pending), 1, maxCountFlag, "documents handed to the queue at once"),
		durationRange("grace", f.grace, 0, maxGraceFlag, "0 cancels the calls in flight at once"),
		durationRange("attempt-timeout", f.attemptTimeout, 0, maxTimeout, "0 for 1m + 50ms per token of max_tokens"),
	)
}

// validate checks analyze's numeric flags, after the configuration file was applied.
func (f *analyzeFlags) validate() error {
	return firstError(
		f.job.validate(),
		intRange("max-in-flight", int64(f.maxInFlight), 0, maxCountFlag, "0 for no cap"),
		intRange("pending", int64(f.pending), 0, maxCountFlag, "0 hands every document to the queue at once"),
		durationRange("ttft", f.ttft, math.MinInt64, maxLatencyFlag, "0 for the default or the measured one, negative for none"),
		durationRange("per-token", f.perToken, math.MinInt64, maxLatencyFlag, "0 for the default or the measured one, negative for none"),
		floatRange("quantile", f.quantile, math.SmallestNonzeroFloat64, 1, false, "a quantile in (0, 1], e.g. 0.95"),
	)
}

// validate checks bench's numeric flags.
func (f *benchFlags) validate() error {
	return floatRange("time-scale", f.timeScale, minTimeScale, maxTimeScale, true, "emulated seconds per real second; 0 for the scenario's")
}

// validate checks emulate's numeric flags (the configuration file's values are checked
// by bedrocktest.New).
func (f *emulateFlags) validate() error {
	return firstError(
		floatRange("time-scale", f.timeScale, minTimeScale, maxTimeScale, true, "emulated seconds per real second; 0 means 1"),
		durationRange("ttft", f.ttft, math.MinInt64, maxLatencyFlag, "0 for 400ms, negative for none"),
		durationRange("per-token", f.perToken, math.MinInt64, maxLatencyFlag, "0 for 15ms, negative for none"),
		intRange("output-tokens", int64(f.outputTokens), 0, maxChunkFlag, "0 lets the reply follow the prompt"),
		floatRange("slow-factor", f.slowFactor, 1, maxSlowFactorFlag, true, "latency multiplier of slow replies; 0 means 10"),
	)
}
