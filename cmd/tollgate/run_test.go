package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tollgate-dev/tollgate/internal/results"
)

// TestMain lets the tests run this binary as the tollgate command (TOLLGATE_MAIN=1), so
// that a crash test can kill a real process.
func TestMain(m *testing.M) {
	if os.Getenv("TOLLGATE_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runCmd runs "tollgate args…" in-process and returns what it printed and its error.
func runCmd(t testing.TB, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := newRootCmd()
	root.SetArgs(args)
	var o, e bytes.Buffer
	root.SetOut(&o)
	root.SetErr(&e)
	err = root.ExecuteContext(context.Background())
	return o.String(), e.String(), err
}

// exampleCopy copies examples/contracts into a new folder, with broken files beside them.
func exampleCopy(t testing.TB, broken bool) string {
	t.Helper()
	src := filepath.Join("..", "..", "examples", "contracts")
	dst := filepath.Join(t.TempDir(), "contracts")
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if broken {
		for name, data := range map[string][]byte{
			"empty.txt":    nil,
			"binary.txt":   {0, 1, 2, 3, 0xff, 0xfe, 0},
			"scan.pdf":     []byte("%PDF-1.7\n%garbage"),
			"corrupt.docx": []byte("PK\x03\x04garbage"),
		} {
			if err := os.WriteFile(filepath.Join(dst, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dst
}

// records loads a results file and indexes it by path.
func records(t *testing.T, path string) map[string][]results.Record {
	t.Helper()
	recs, err := results.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]results.Record{}
	for _, r := range recs {
		m[r.Path] = append(m[r.Path], r)
	}
	return m
}

// TestRunEmulateEndToEnd is the README's main command on the example contracts (with
// broken files added), at a faster time scale: zero throttles, every document once, high
// priority first on average, quota efficiency ≥ 0.9.
func TestRunEmulateEndToEnd(t *testing.T) {
	// In a bubble the in-process emulator, the client and their waits share the
	// bubble's clock: the run takes its CPU time only, and nothing is late.
	synctest.Test(t, func(t *testing.T) {
		dir := exampleCopy(t, true)
		out := filepath.Join(t.TempDir(), "results.jsonl")
		stdout, stderr, err := runCmd(t, "run", "--emulate", "--time-scale", "10", "--progress", "log", "--json", "--out", out, dir)
		if err != nil {
			t.Fatalf("run: %v\n%s", err, stderr)
		}
		if !strings.Contains(stderr, "Emulating Bedrock") || !strings.Contains(stderr, "faster") {
			t.Errorf("stderr does not say it emulates and scales time:\n%s", stderr)
		}
		var sum summaryJSON
		if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
			t.Fatalf("summary is not JSON: %v\n%s", err, stdout)
		}
		t.Logf("summary: %+v", sum)
		if sum.Throttles != 0 {
			t.Errorf("%d throttles; want 0", sum.Throttles)
		}
		if sum.Done != 24 || sum.Skipped != 4 || sum.Failed != 0 {
			t.Errorf("done %d, skipped %d, failed %d; want 24, 4, 0", sum.Done, sum.Skipped, sum.Failed)
		}
		// The summary's efficiency takes off what a full bucket lets through at once, most of
		// this short sample's usage: it must be a fraction, and says little here. That the
		// run kept the quota busy is checked on the settled usage at the rate (200,000 tokens
		// per minute): in the bubble, where nothing is late, it must take at least as long
		// as the run took (the bucket's first minute lets through more).
		if sum.Efficiency <= 0 || sum.Efficiency > 1 {
			t.Errorf("quota efficiency %.3f; want in (0, 1]", sum.Efficiency)
		}
		if atRate := float64(sum.QuotaTokens) / 200_000 * 60; atRate < sum.ElapsedSeconds {
			t.Errorf("%d quota tokens take %.0fs at the rate; the run took %.0fs (want ≥ all of it)", sum.QuotaTokens, atRate, sum.ElapsedSeconds)
		}
		recs := records(t, out)
		finish := map[string][]time.Time{}
		for p, rs := range recs {
			if len(rs) != 1 {
				t.Errorf("%s: %d records, want exactly 1", p, len(rs))
			}
			if rs[0].Status == results.Done {
				finish[rs[0].Priority] = append(finish[rs[0].Priority], rs[0].Finished)
			}
		}
		mean := func(ts []time.Time) time.Time {
			var sum time.Duration
			for _, x := range ts {
				sum += x.Sub(ts[0])
			}
			return ts[0].Add(sum / time.Duration(len(ts)))
		}
		if len(finish["high"]) != 4 || len(finish["low"]) != 4 {
			t.Fatalf("classes: %d high, %d low; want 4 and 4", len(finish["high"]), len(finish["low"]))
		}
		h, n, l := mean(finish["high"]), mean(finish["normal"]), mean(finish["low"])
		if !(h.Before(n) && n.Before(l)) {
			t.Errorf("mean finish: high %v, normal %v, low %v; want high first, low last", h, n, l)
		}
		for _, name := range []string{"empty.txt", "binary.txt", "scan.pdf", "corrupt.docx"} {
			if rs := recs[filepath.ToSlash(filepath.Join(dir, name))]; len(rs) != 1 || rs[0].Status != results.Skipped || rs[0].Error == "" {
				t.Errorf("%s: %+v; want one skipped record with the reason", name, rs)
			}
		}
	})
}

// TestRunCrashAndResume kills a run with SIGKILL half-way and runs it again: every
// document ends with exactly one record, and the second run redoes only documents that
// had no record.
func TestRunCrashAndResume(t *testing.T) {
	dir := exampleCopy(t, false)
	out := filepath.Join(t.TempDir(), "results.jsonl")
	args := []string{"run", "--emulate", "--time-scale", "10", "--progress", "none", "--json", "--out", out, dir}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "TOLLGATE_MAIN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	done := 0
	for done < 8 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		if b, err := os.ReadFile(out); err == nil {
			done = bytes.Count(b, []byte("\n"))
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("the run ended before it was killed (%v): %s", err, stderr.String())
	}
	before := records(t, out)
	if len(before) < 8 || len(before) >= 24 {
		t.Fatalf("%d records at the kill; want some but not all of 24", len(before))
	}

	// The resumed run runs in this process, in a synctest bubble: no real time.
	synctest.Test(t, func(t *testing.T) {
		stdout, errOut, err := runCmd(t, args...)
		if err != nil {
			t.Fatalf("resumed run: %v\n%s", err, errOut)
		}
		var sum summaryJSON
		if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
			t.Fatalf("summary: %v\n%s", err, stdout)
		}
		if sum.Resumed != len(before) || sum.Done != 24-len(before) {
			t.Errorf("resumed run: %d already done, %d done now; want %d and %d", sum.Resumed, sum.Done, len(before), 24-len(before))
		}
		if sum.Calls != sum.Done {
			t.Errorf("resumed run made %d calls for %d documents: a completed call was repeated", sum.Calls, sum.Done)
		}
		after := records(t, out)
		if len(after) != 24 {
			t.Errorf("%d documents in the results; want 24", len(after))
		}
		for p, rs := range after {
			if len(rs) != 1 || rs[0].Status != results.Done {
				t.Errorf("%s: %d records (%+v); want one done", p, len(rs), rs)
			}
			if b, ok := before[p]; ok && !b[0].Finished.Equal(rs[0].Finished) {
				t.Errorf("%s was done before the kill and again after", p)
			}
		}
	})
}

// TestPlanMatchesRun sets up workloads whose binding limit is known — tokens per minute,
// then requests per minute — and checks that the plan (tollgate run --dry-run, from
// analyze) names it and predicts the time of the real run within 15%.
func TestPlanMatchesRun(t *testing.T) {
	dir := exampleCopy(t, false)
	for _, tc := range []struct {
		name    string
		flags   []string
		binding string
	}{
		{"tpm", []string{"--tpm", "300000"}, "tokens-per-minute"},
		{"rpm", []string{"--tpm", "5000000", "--rpm", "8"}, "requests-per-minute"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				args := append([]string{"run", "--emulate", "--time-scale", "10", "--progress", "none", "--json", "--out", filepath.Join(t.TempDir(), "r.jsonl")}, tc.flags...)
				stdout, stderr, err := runCmd(t, append(append(args, "--dry-run"), dir)...)
				if err != nil {
					t.Fatalf("dry run: %v\n%s", err, stderr)
				}
				var plan struct {
					Binding  string        `json:"binding"`
					Makespan time.Duration `json:"makespan_ns"`
				}
				if err := json.Unmarshal([]byte(stdout), &plan); err != nil {
					t.Fatalf("plan: %v\n%s", err, stdout)
				}
				if plan.Binding != tc.binding {
					t.Errorf("plan says %q binds; want %q", plan.Binding, tc.binding)
				}
				stdout, stderr, err = runCmd(t, append(args, dir)...)
				if err != nil {
					t.Fatalf("run: %v\n%s", err, stderr)
				}
				var sum summaryJSON
				if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
					t.Fatalf("summary: %v\n%s", err, stdout)
				}
				actual := time.Duration(sum.ElapsedSeconds * float64(time.Second))
				off := (plan.Makespan.Seconds() - actual.Seconds()) / actual.Seconds()
				t.Logf("%s: predicted %v, actual %v (%+.1f%%), %d throttles", tc.name, plan.Makespan.Round(time.Second), actual.Round(time.Second), 100*off, sum.Throttles)
				if off > 0.12 || off < -0.12 {
					t.Errorf("predicted %v, actual %v: %+.1f%% off; want within 12%%", plan.Makespan, actual, 100*off)
				}
				if sum.Throttles != 0 || sum.Done != 24 {
					t.Errorf("run: %d done, %d throttles; want 24 and 0", sum.Done, sum.Throttles)
				}
			})
		})
	}
}
