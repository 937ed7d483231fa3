package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/results"
)

// TestSecondRunOnOneResultsFile: while a run (a real process) holds a results file, a
// second run on it fails at once, naming the first one's process; after the first is
// killed, the file opens again although its lock file is left behind.
func TestSecondRunOnOneResultsFile(t *testing.T) {
	dir := exampleCopy(t, false)
	out := filepath.Join(t.TempDir(), "results.jsonl")
	first := exec.Command(os.Args[0], "run", "--emulate", "--time-scale", "1", "--progress", "none", "--out", out, dir)
	first.Env = append(os.Environ(), "TOLLGATE_MAIN=1")
	var stderr bytes.Buffer
	first.Stderr = &stderr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer first.Process.Kill()
	pid := strconv.Itoa(first.Process.Pid)
	deadline := time.Now().Add(time.Minute)
	for {
		if b, _ := os.ReadFile(out + ".lock"); strings.TrimSpace(string(b)) == pid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first run did not lock %s within a minute: %s", out, stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	_, _, err := runCmd(t, "run", "--emulate", "--time-scale", "1", "--progress", "none", "--out", out, dir)
	var le *results.LockedError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "process "+pid) {
		t.Fatalf("second run: %v; want it refused, naming process %s", err, pid)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("the second run took %v to fail; want it at once", d)
	}
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	first.Wait()
	f, err := results.Open(out)
	if err != nil {
		t.Fatalf("after the first run was killed: %v; want the file free", err)
	}
	f.Close()
}

// TestFullDiskStopsTheRun runs with a file-size limit (ulimit -f, as a full disk): the
// first write that fails stops the run, which sends no more documents, exits non-zero,
// lists the documents whose results were not saved, and leaves a results file that reads
// whole.
func TestFullDiskStopsTheRun(t *testing.T) {
	dir := exampleCopy(t, false)
	out := filepath.Join(t.TempDir(), "results.jsonl")
	cmd := exec.Command("sh", "-c", `ulimit -f 8 && exec "$0" "$@"`, os.Args[0],
		"run", "--emulate", "--time-scale", "20", "--pending", "2", "--progress", "none", "--json", "--out", out, dir)
	cmd.Env = append(os.Environ(), "TOLLGATE_MAIN=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() <= 0 {
		t.Fatalf("run under a 4 KB file-size limit: %v; want a non-zero exit\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "were not saved") {
		t.Errorf("stderr does not say results were not saved:\n%s", stderr.String())
	}
	var sum summaryJSON
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		t.Fatalf("summary: %v\n%s", err, stdout.String())
	}
	if len(sum.Unsaved) == 0 || sum.Stopped == "" {
		t.Errorf("summary: %d unsaved, stopped %q; want the unsaved documents listed and the reason", len(sum.Unsaved), sum.Stopped)
	}
	if sum.Total != 24 || sum.Calls >= sum.Total/2 {
		t.Errorf("%d calls for %d documents; want 24 documents and the run stopped at the first failed write (--pending 2)", sum.Calls, sum.Total)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	recs, torn, err := results.Read(bytes.NewReader(b))
	if err != nil || torn != nil {
		t.Fatalf("results file after the failed write: torn %+v, %v; want it whole", torn, err)
	}
	if len(recs) != sum.Done {
		t.Errorf("%d records in the file; want the %d done", len(recs), sum.Done)
	}
	t.Logf("%d done and saved, %d unsaved, %d calls; %d bytes", sum.Done, len(sum.Unsaved), sum.Calls, len(b))
}

// TestNamesAreQuoted: a file name holding a newline and terminal escapes is printed
// quoted, so it cannot fake a line of the summary or drive the terminal.
func TestNamesAreQuoted(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "docs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "good.txt"), []byte("SUPPLY AGREEMENT\n\nThe supplier delivers within 30 days.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	evil := "x\n  forged.txt (done): all fine\x1b[2J.txt"
	if err := os.WriteFile(filepath.Join(dir, evil), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, _ := runCmd(t, "run", "--emulate", "--time-scale", "20", "--progress", "none", "--out", filepath.Join(t.TempDir(), "o.jsonl"), dir)
	for _, s := range []string{stdout, stderr} {
		if strings.Contains(s, "\x1b") || strings.Contains(s, "\n  forged.txt") {
			t.Errorf("output holds the raw name:\n%s", s)
		}
	}
	if !strings.Contains(stdout, strconv.Quote(filepath.ToSlash(filepath.Join(dir, evil)))) {
		t.Errorf("output does not list the file quoted:\n%s", stdout)
	}
}

// TestNothingToPlanSaysWhy: inputs without a readable document are refused with the
// reason of each file.
func TestNothingToPlanSaysWhy(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string][]byte{"empty.txt": nil, "binary.txt": {0, 1, 2, 0xff}} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := runCmd(t, "run", "--dry-run", dir)
	if err == nil {
		t.Fatal("a dry run of unreadable files succeeded")
	}
	for _, want := range []string{"nothing to plan", "empty.txt", "no text found", "binary.txt", "binary content"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestOutMustBeAResultsFile: --out naming a device or another program's file is refused
// before anything is sent, and the file is left as it was.
func TestOutMustBeAResultsFile(t *testing.T) {
	dir := exampleCopy(t, false)
	notes := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notes, []byte("my notes"), 0o644); err != nil {
		t.Fatal(err)
	}
	for out, want := range map[string]string{"/dev/full": "not a regular file", notes: "not a tollgate results file"} {
		_, _, err := runCmd(t, "run", "--emulate", "--progress", "none", "--out", out, dir)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--out %s: %v; want %q", out, err, want)
		}
	}
	if b, _ := os.ReadFile(notes); string(b) != "my notes" {
		t.Errorf("notes.txt became %q", b)
	}
}
