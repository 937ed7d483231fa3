package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/analyze"
	"github.com/tollgate-dev/tollgate/internal/emustats"
	"github.com/tollgate-dev/tollgate/internal/redistest"
	"github.com/tollgate-dev/tollgate/quota"
)

const (
	fleetModel = "anthropic.claude-3-5-sonnet-20240620-v1:0" // burndown 1: settlements never exceed reservations
	fleetTPM   = 40_000
	fleetScale = 30 // an emulated minute in 2s
)

// tollgateBinary builds the tollgate command, without the race detector or coverage
// even when the tests have them: the fleet's processes then run at their real speed.
func tollgateBinary(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tollgate")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startEmulateProcess starts "tollgate emulate" as its own process and returns its URL.
func startEmulateProcess(t testing.TB, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"emulate", "--addr", "127.0.0.1:0"}, args...)...)
	stdout, stderr := new(syncBuffer), new(syncBuffer)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		for _, line := range strings.Split(stdout.String(), "\n") {
			if u, ok := strings.CutPrefix(strings.TrimSpace(line), "export AWS_ENDPOINT_URL_BEDROCK_RUNTIME="); ok {
				return u
			}
		}
	}
	t.Fatalf("emulate printed no endpoint:\n%s\n%s", stdout, stderr)
	return ""
}

// fleetSets splits the example contracts into n disjoint folders.
func fleetSets(t testing.TB, n int) []string {
	t.Helper()
	src := exampleCopy(t, false)
	files, err := filepath.Glob(filepath.Join(src, "*.txt"))
	if err != nil || len(files) < n {
		t.Fatalf("example contracts: %v (%d files)", err, len(files))
	}
	root := t.TempDir()
	dirs := make([]string, n)
	for i := range dirs {
		dirs[i] = filepath.Join(root, fmt.Sprintf("set%d", i))
		if err := os.MkdirAll(dirs[i], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i, f := range files {
		if err := os.Rename(f, filepath.Join(dirs[i%n], filepath.Base(f))); err != nil {
			t.Fatal(err)
		}
	}
	return dirs
}

// runProcesses runs one "tollgate run" process per input list, all at once, as account
// key, and returns the time from the first start to the last end.
func runProcesses(t testing.TB, bin, endpoint, key string, extra []string, inputs [][]string) time.Duration {
	t.Helper()
	start := time.Now()
	var wg sync.WaitGroup
	for i, in := range inputs {
		args := append([]string{"run", "--endpoint", endpoint, "--time-scale", fmt.Sprint(fleetScale),
			"--tpm", fmt.Sprint(fleetTPM), "--tpd", "100000000", "--model", fleetModel, "--region", "us-east-1",
			"--max-tokens", "200", "--progress", "none", "--json", "--out", filepath.Join(t.TempDir(), "out.jsonl")}, extra...)
		cmd := exec.Command(bin, append(args, in...)...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+key, "AWS_SECRET_ACCESS_KEY=emulated",
			"AWS_SESSION_TOKEN=", "AWS_PROFILE=", "AWS_REGION=us-east-1")
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("run %d: %v\n%s", i, err, out)
				return
			}
			var sum struct{ Total, Done, Throttles int }
			if i := strings.Index(string(out), "{"); i < 0 || json.Unmarshal(out[i:], &sum) != nil || sum.Done != sum.Total || sum.Total == 0 {
				t.Errorf("run %d did not finish every document:\n%s", i, out)
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// fleetStats reads the emulator's stats of account key.
func fleetStats(t testing.TB, endpoint, key string) emustats.Series {
	t.Helper()
	s, _ := fleetStatsAt(t, endpoint, key)
	return s
}

// fleetStatsAt reads the emulator's stats of account key, and its emulated time.
func fleetStatsAt(t testing.TB, endpoint, key string) (emustats.Series, time.Time) {
	t.Helper()
	snap := readStats(t, endpoint)
	for _, s := range snap.Series {
		if s.Model == fleetModel && strings.Contains(s.Account, key) {
			return s, snap.Now
		}
	}
	t.Fatalf("the emulator metered nothing for account %s: %+v", key, snap.Series)
	return emustats.Series{}, time.Time{}
}

// checkReferee checks the emulator's stats of a fleet: no call throttled, and no
// limit's peak usage above its amount.
func checkReferee(t testing.TB, fleet emustats.Series) {
	t.Helper()
	checkNoThrottle(t, fleet)
	for _, l := range fleet.Limits {
		if l.Peak > l.Amount {
			t.Errorf("the fleet's peak usage of %s was %d, above its amount %d (at %v)", l.Name, l.Peak, l.Amount, l.PeakAt)
		}
	}
}

// checkNoThrottle checks that the emulator throttled no call of the fleet.
func checkNoThrottle(t testing.TB, fleet emustats.Series) {
	t.Helper()
	throttled := int64(0)
	for _, n := range fleet.Throttled {
		throttled += n
	}
	if throttled != 0 {
		t.Errorf("the emulator throttled %d calls of the fleet (%v), want 0", throttled, fleet.Throttled)
	}
}

// readStats reads the emulator's stats.
func readStats(t testing.TB, endpoint string) emustats.Snapshot {
	t.Helper()
	resp, err := http.Get(endpoint + emustats.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var snap emustats.Snapshot
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
		t.Fatal(err)
	}
	return snap
}

// efficiency is the quota-rate lower bound of what s settled ÷ the makespan, in
// emulated time.
func efficiency(t testing.TB, s emustats.Series, makespan time.Duration) float64 {
	t.Helper()
	tpm := quota.Limit{Dimension: quota.Tokens, Amount: fleetTPM, Per: time.Minute}
	bound, _, ok := analyze.LowerBound([]quota.Limit{tpm}, quota.Cost{Tokens: s.SettledTokens}, analyze.BucketReading, time.Time{})
	if !ok {
		t.Fatalf("no lower bound for %d tokens", s.SettledTokens)
	}
	return bound.Seconds() / (makespan.Seconds() * fleetScale)
}

// Four "tollgate run" processes (the command built with go build) over disjoint
// documents share one emulated account's quota through one Redis. The emulator, a
// "tollgate emulate" process of its own, is the referee: no call is throttled and no
// limit's usage ever exceeds its amount. (The fleet's quota efficiency is logged; the
// ratio to one instance alone is measured on the gateways' finer load, in
// BenchmarkFleetEfficiency: these 16 documents are each about a quarter of a minute's
// quota, so a run ends in one emulated minute or the next by how they pack.)
func TestFleetOfRunsSharesOneQuota(t *testing.T) {
	bin := tollgateBinary(t)
	srv := redistest.Start(t)
	endpoint := startEmulateProcess(t, bin, "--time-scale", fmt.Sprint(fleetScale),
		"--tpm", fleetModel+"="+fmt.Sprint(fleetTPM), "--tpd", fleetModel+"=100000000", "--output-tokens", "100")
	dirs := fleetSets(t, 4)

	inputs := make([][]string, len(dirs))
	for i, d := range dirs {
		inputs[i] = []string{d}
	}
	took := runProcesses(t, bin, endpoint, "AKIDFLEET", []string{"--redis", srv.URL() + "/0?account=fleet&grant=30ms"}, inputs)
	fleet := fleetStats(t, endpoint, "AKIDFLEET")
	checkReferee(t, fleet)
	t.Logf("fleet of 4: %d tokens in %v (emulated %v), efficiency %.3f",
		fleet.SettledTokens, took.Round(time.Millisecond), (took * fleetScale).Round(time.Second), efficiency(t, fleet, took))
}

// --redis fails at start, naming the fix, for a bad URL, a Redis that does not answer,
// and with --emulate, whose emulator no other process shares.
func TestRunSharedRedisErrors(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDERRORS")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "emulated")
	t.Setenv("AWS_REGION", "us-east-1")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("A short agreement between two parties."), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"run", "--progress", "none", "--out", filepath.Join(t.TempDir(), "out.jsonl"), "--model", fleetModel}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--emulate", "--redis", "redis://127.0.0.1:6379"}, `start "tollgate emulate" once`},
		{[]string{"--endpoint", "http://127.0.0.1:1", "--tpm", "1000", "--redis", "http://127.0.0.1:6379"}, "bad Redis URL"},
		{[]string{"--endpoint", "http://127.0.0.1:1", "--tpm", "1000", "--redis", "redis://:sekrit@127.0.0.1:1/0"}, "does not answer"},
		{[]string{"--endpoint", "http://127.0.0.1:1"}, "give the quotas with --tpm"},
		{[]string{"--time-scale", "30", "--tpm", "1000"}, "--time-scale applies with --emulate, or with --endpoint"},
	} {
		_, stderr, err := runCmd(t, append(append(base, tc.args...), dir)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run %v: %v; want an error saying %q", tc.args, err, tc.want)
		}
		if strings.Contains(fmt.Sprint(err)+stderr, "sekrit") {
			t.Errorf("run %v shows the Redis password: %v %s", tc.args, err, stderr)
		}
	}
}

// On a time-scaled endpoint the default grant lifetime follows its clock; a grant the
// URL names is kept.
func TestRunSharedRedisGrantFollowsTimeScale(t *testing.T) {
	for _, tc := range []struct {
		url   string
		scale float64
		want  string
	}{
		{"redis://h:6379/0?account=a", 1, "redis://h:6379/0?account=a"},
		{"redis://h:6379/0?account=a", 20, "redis://h:6379/0?account=a&grant=100ms"},
		{"redis://h:6379/0?grant=1s", 20, "redis://h:6379/0?grant=1s"},
		{"redis://h:6379/0", 1000, "redis://h:6379/0?grant=10ms"},
	} {
		if got := scaleGrant(tc.url, tc.scale); got != tc.want {
			t.Errorf("scaleGrant(%q, %g) = %q, want %q", tc.url, tc.scale, got, tc.want)
		}
	}
}
