package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
)

// TestBenchShortJSON runs "tollgate bench --short --json" on one scenario and two
// strategies (the full short set runs in internal/bench) and reads the JSON back.
func TestBenchShortJSON(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out, errOut bytes.Buffer
		cmd := newRootCmd()
		cmd.SetOut(&out)
		cmd.SetErr(&errOut)
		cmd.SetArgs([]string{"bench", "--short", "--json", "--scenario", "contracts", "--window", "bucket", "--strategy", "tollgate,sdk-standard", "--documents", "../../internal/estimate/testdata/contracts"})
		if err := cmd.Execute(); err != nil {
			t.Fatalf("bench: %v\n%s", err, errOut.String())
		}
		var rep struct {
			Runs []struct {
				Scenario string
				Results  []struct {
					Strategy string
					Lost     int
				}
			}
		}
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out.String())
		}
		if len(rep.Runs) != 1 || len(rep.Runs[0].Results) != 2 || rep.Runs[0].Results[0].Strategy != "tollgate" {
			t.Fatalf("report = %+v; want contracts with tollgate and sdk-standard", rep)
		}
	})
}

func TestBenchUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--window", "sliding"}, "use bucket, clock or both"},
		{[]string{"--scenario", "nope"}, "built in: bursty, contracts, max-tokens-unset"},
		{[]string{"--scenario", "missing.yaml"}, "missing.yaml"},
		{[]string{"--strategy", "magic"}, "use one of"},
		{[]string{"--set", "sdk-standard.workers"}, "STRATEGY.SETTING=VALUE"},
		{[]string{"--set", "tollgate.workers=3"}, "not a setting of tollgate"},
		{[]string{"--set", "sdk-standard.workers=many"}, "sdk-standard.workers=many"},
		{[]string{"--time-scale", "-1"}, "--time-scale"},
		{[]string{"--documents", "/nonexistent"}, "--documents"},
		{[]string{"--bogus"}, "tollgate bench --help"},
		{[]string{"extra"}, "--scenario"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cmd := newRootCmd()
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			cmd.SetArgs(append([]string{"bench"}, tt.args...))
			err := cmd.Execute()
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
