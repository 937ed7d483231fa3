package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"
)

// chunkedCopy copies the four longest example contracts (about 13,000–17,000 tokens
// each) and a short one into a new folder.
func chunkedCopy(t *testing.T) string {
	t.Helper()
	src := filepath.Join("..", "..", "examples", "contracts")
	dst := t.TempDir()
	for _, name := range []string{
		"OTISWORLDWIDECORP_04_03_2020-EX-10.4-INTELLECTUAL_PROPERTY_AGREEMENT_by_and_among_UNITED_TECHNOLOGIES_CORPORATION_OTIS_WORLDWIDE_CORPORATION_and_CARRIER_1.txt",
		"ENERGYXXILTD_05_08_2015-EX-10.13-Transportation_AGREEMENT.txt",
		"HC2HOLDINGS_INC_05_14_2020-EX-10.1-COOPERATION_AGREEMENT.txt",
		"archive/AIRSPANNETWORKSINC_04_11_2000-EX-10.5-Distributor_Agreement.txt",
		"LECLANCH_S.A._-_JOINT_DEVELOPMENT_AND_MARKETING_AGREEMENT.txt",
	} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, filepath.Base(name)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// planJSON is what the tests read of a plan (tollgate run --dry-run --json, tollgate
// analyze --json).
type planJSON struct {
	Binding    string        `json:"binding"`
	Makespan   time.Duration `json:"makespan_ns"`
	Calls      int           `json:"calls"`
	Chunked    int           `json:"chunked_documents"`
	ChunkCalls int           `json:"chunked_requests"`
	TooLarge   int           `json:"too_large"`
}

// TestPlanMatchesChunkedRun plans and runs documents too long for one call under a quota
// of 20,000 tokens per minute: the dry run, the analysis and the run split the same
// documents into the same calls (a plan that ignored the quota would call them too large
// ever to be admitted and predict 0s), and the plan predicts the run's time within 10%.
func TestPlanMatchesChunkedRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := chunkedCopy(t)
		out := filepath.Join(t.TempDir(), "r.jsonl")
		args := []string{"run", "--emulate", "--time-scale", "30", "--progress", "none", "--json", "--out", out, "--tpm", "20000"}

		stdout, stderr, err := runCmd(t, append(args, "--dry-run", dir)...)
		if err != nil {
			t.Fatalf("dry run: %v\n%s", err, stderr)
		}
		var plan planJSON
		if err := json.Unmarshal([]byte(stdout), &plan); err != nil {
			t.Fatalf("plan: %v\n%s", err, stdout)
		}
		if plan.TooLarge != 0 || plan.Makespan <= 0 {
			t.Fatalf("plan: %d calls never admitted, %v to process; want every call admitted, in a positive time", plan.TooLarge, plan.Makespan)
		}
		if plan.Chunked == 0 || plan.ChunkCalls <= 2*plan.Chunked {
			t.Fatalf("plan: %d documents chunked into %d calls; want documents split (at least two chunks and a combining call each)", plan.Chunked, plan.ChunkCalls)
		}

		analysis, err := runCLI(t, "analyze", "--tpm", "20000", "--json", dir)
		if err != nil {
			t.Fatalf("analyze: %v\n%s", err, analysis)
		}
		var an planJSON
		if err := json.Unmarshal([]byte(analysis), &an); err != nil {
			t.Fatalf("analysis: %v\n%s", err, analysis)
		}
		if an.Chunked != plan.Chunked || an.ChunkCalls != plan.ChunkCalls || an.Calls != plan.Calls || an.TooLarge != 0 {
			t.Errorf("analyze: %d documents chunked into %d calls, %d calls, %d too large; the dry run: %d into %d, %d calls; want the same, none too large",
				an.Chunked, an.ChunkCalls, an.Calls, an.TooLarge, plan.Chunked, plan.ChunkCalls, plan.Calls)
		}

		stdout, stderr, err = runCmd(t, append(args, dir)...)
		if err != nil {
			t.Fatalf("run: %v\n%s", err, stderr)
		}
		var sum summaryJSON
		if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
			t.Fatalf("summary: %v\n%s", err, stdout)
		}
		if sum.Done != 5 || sum.Throttles != 0 {
			t.Fatalf("run: %d of 5 done, %d throttles; want 5 and 0", sum.Done, sum.Throttles)
		}
		chunked, chunkCalls := 0, 0
		for _, rs := range records(t, out) {
			if rs[0].Chunks > 0 {
				chunked++
				chunkCalls += rs[0].Chunks + 1
			}
		}
		if chunked != plan.Chunked || chunkCalls != plan.ChunkCalls || sum.Calls != plan.Calls {
			t.Errorf("run: %d documents chunked into %d calls, %d calls in all; plan: %d into %d, %d in all; want the same",
				chunked, chunkCalls, sum.Calls, plan.Chunked, plan.ChunkCalls, plan.Calls)
		}
		actual := time.Duration(sum.ElapsedSeconds * float64(time.Second))
		off := (plan.Makespan.Seconds() - actual.Seconds()) / actual.Seconds()
		t.Logf("predicted %v, actual %v (%+.1f%%); %d documents chunked into %d calls", plan.Makespan.Round(time.Second), actual.Round(time.Second), 100*off, plan.Chunked, plan.ChunkCalls)
		if off > 0.05 || off < -0.05 {
			t.Errorf("predicted %v, actual %v: %+.1f%% off; want within 5%%", plan.Makespan, actual, 100*off)
		}
	})
}
