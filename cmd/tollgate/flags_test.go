package main

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNumericFlagsOutOfRange gives every numeric flag of run, analyze, bench and emulate
// values out of its range — negative, NaN, infinite, past overflow — through the cobra
// command: each is refused before anything runs, as a usage error (exit code 2) naming
// the flag and the range it accepts.
func TestNumericFlagsOutOfRange(t *testing.T) {
	dir := t.TempDir()
	doc := filepath.Join(dir, "a.txt")
	if err := os.WriteFile(doc, []byte("A short agreement between two parties."), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run", "--overlap-tokens", "-7", doc}, "--overlap-tokens -7 is out of range: use 0 to 1,000,000"},
		{[]string{"run", "--grace", "-1s", doc}, "--grace -1s is out of range: use 0s to 24h0m0s"},
		{[]string{"run", "--emulate", "--time-scale", "1e308", doc}, "--time-scale 1e+308 is out of range: use 0.001 to 1000, or 0"},
		{[]string{"run", "--emulate", "--time-scale", "0.000001", doc}, "--time-scale 1e-06 is out of range"},
		{[]string{"run", "--emulate", "--time-scale", "NaN", doc}, "--time-scale NaN is out of range"},
		{[]string{"run", "--emulate", "--time-scale", "-Inf", doc}, "--time-scale -Inf is out of range"},
		{[]string{"run", "--pending", "0", doc}, "--pending 0 is out of range: use 1 to"},
		{[]string{"run", "--max-tokens", "-1", doc}, "--max-tokens -1 is out of range"},
		{[]string{"run", "--initial-max-tokens", "0", doc}, "--initial-max-tokens 0 is out of range"},
		{[]string{"run", "--chunk-tokens", "-5", doc}, "--chunk-tokens -5 is out of range"},
		{[]string{"run", "--tpm", "-1", doc}, "--tpm -1 is out of range"},
		{[]string{"run", "--tpd", "9223372036854775807", doc}, "--tpd 9223372036854775807 is out of range"},
		{[]string{"run", "--rpm", "-3", doc}, "--rpm -3 is out of range"},
		{[]string{"run", "--emulate", "--tpm", "1", doc}, "cannot admit a call"},
		{[]string{"analyze", "--overlap-tokens", "-7", doc}, "--overlap-tokens -7 is out of range"},
		{[]string{"analyze", "--ttft", "2h", doc}, "--ttft 2h0m0s is out of range: use at most 1h0m0s"},
		{[]string{"analyze", "--per-token", "1000000h", doc}, "--per-token 1000000h0m0s is out of range"},
		{[]string{"analyze", "--quantile", "NaN", doc}, "--quantile NaN is out of range"},
		{[]string{"analyze", "--max-in-flight", "-1", doc}, "--max-in-flight -1 is out of range"},
		{[]string{"analyze", "--pending", "-1", doc}, "--pending -1 is out of range"},
		{[]string{"bench", "--time-scale", "NaN"}, "--time-scale NaN is out of range"},
		{[]string{"bench", "--time-scale", "1e308"}, "--time-scale 1e+308 is out of range"},
		{[]string{"emulate", "--time-scale", "1e308"}, "--time-scale 1e+308 is out of range"},
		{[]string{"emulate", "--time-scale", "0.000001"}, "--time-scale 1e-06 is out of range"},
		{[]string{"emulate", "--per-token", "1000000h"}, "--per-token 1000000h0m0s is out of range: use at most 1h0m0s"},
		{[]string{"emulate", "--ttft", "2h"}, "--ttft 2h0m0s is out of range"},
		{[]string{"emulate", "--slow-factor", "NaN"}, "--slow-factor NaN is out of range: use 1 to 1000, or 0"},
		{[]string{"emulate", "--slow-factor", "+Inf"}, "--slow-factor +Inf is out of range"},
		{[]string{"emulate", "--output-tokens", "-1"}, "--output-tokens -1 is out of range"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, _, err := runCmd(t, tt.args...)
			var ue usageError
			if !errors.As(err, &ue) {
				t.Fatalf("error %v is not a usage error (exit code 2)", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

// TestFlagRangesAcceptTheirEnds checks the ranges' ends are accepted: the bounds are
// inclusive, and 0 keeps its documented meaning where it has one.
func TestFlagRangesAcceptTheirEnds(t *testing.T) {
	for _, err := range []error{
		floatRange("time-scale", minTimeScale, minTimeScale, maxTimeScale, true, ""),
		floatRange("time-scale", maxTimeScale, minTimeScale, maxTimeScale, true, ""),
		floatRange("time-scale", 0, minTimeScale, maxTimeScale, true, ""),
		intRange("overlap-tokens", 0, 0, maxTokensFlag, ""),
		durationRange("grace", 0, 0, maxGraceFlag, ""),
		durationRange("ttft", math.MinInt64, math.MinInt64, maxLatencyFlag, ""),
	} {
		if err != nil {
			t.Error(err)
		}
	}
	if floatRange("x", math.NaN(), math.Inf(-1), math.Inf(1), true, "") == nil {
		t.Error("NaN accepted in (-Inf, +Inf)")
	}
}
