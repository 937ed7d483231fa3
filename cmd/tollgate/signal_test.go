package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer a process writes to while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startTollgate starts this test binary as the tollgate command with args.
func startTollgate(t *testing.T, args ...string) (cmd *exec.Cmd, stdout, stderr *syncBuffer) {
	t.Helper()
	cmd = exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "TOLLGATE_MAIN=1")
	stdout, stderr = new(syncBuffer), new(syncBuffer)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd, stdout, stderr
}

// readBytes returns how many bytes the process has read so far (Linux's /proc/PID/io),
// or -1 when that cannot be known.
func readBytes(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "rchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return -1
}

// interrupt sends SIGINT and returns how long the process took to exit after it, the
// CPU time it used after it (-1 when that cannot be known), and its exit code. It fails
// the test if a signal killed the process (the handler was not installed yet).
func interrupt(t *testing.T, cmd *exec.Cmd) (took, cpu time.Duration, code int) {
	t.Helper()
	before := cpuTime(cmd.Process.Pid)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := cmd.Wait()
	took = time.Since(start)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		t.Fatalf("the process died of the signal instead of handling it: %v", ws.Signal())
	}
	cpu = -1
	if before >= 0 {
		cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime() - before
	}
	return took, cpu, cmd.ProcessState.ExitCode()
}

// cpuTime returns the CPU time the process has used so far, user and system (Linux's
// /proc/PID/stat, in clock ticks of 1/100 s), or -1 when that cannot be known.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// The fields after the command name, which is in parentheses and may hold spaces:
	// state is the 3rd field of the line, utime the 14th and stime the 15th.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return -1
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// TestRunInterruptedEarly interrupts "tollgate run --emulate" on 40 documents as soon as
// it has started sending: it exits with 130 and says it was interrupted and how to
// resume, never "Done" with exit 0.
func TestRunInterruptedEarly(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("..", "..", "examples", "contracts", "ANIXABIOSCIENCESINC_06_09_2020-EX-10.1-COLLABORATION_AGREEMENT.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("doc%02d.txt", i)), append([]byte(fmt.Sprintf("Copy %d.\n", i)), src...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "results.jsonl")
	cmd, stdout, stderr := startTollgate(t, "run", "--emulate", "--progress", "none", "--grace", "0s", "--out", out, dir)
	for deadline := time.Now().Add(time.Minute); !strings.Contains(stderr.String(), "Emulating Bedrock"); {
		if time.Now().After(deadline) {
			t.Fatalf("no start after a minute: %s", stderr.String())
		}
		time.Sleep(time.Millisecond)
	}
	_, _, code := interrupt(t, cmd)
	if code != exitInterrupted {
		t.Errorf("exit code %d; want %d\nstdout: %s\nstderr: %s", code, exitInterrupted, stdout, stderr)
	}
	if !strings.Contains(stdout.String(), "Interrupted:") || !strings.Contains(stderr.String(), "tollgate: interrupted") {
		t.Errorf("no word of the interruption\nstdout: %s\nstderr: %s", stdout, stderr)
	}
}

// TestRunInterruptedWhileReadingALargeInput interrupts a run while it counts the tokens
// of a 50 MB document: it stops using at most 3 seconds of CPU after the signal (counting
// the whole document takes longer) and exits with 130.
func TestRunInterruptedWhileReadingALargeInput(t *testing.T) {
	dir := t.TempDir()
	var b bytes.Buffer
	for i := 0; b.Len() < 50<<20; i++ {
		fmt.Fprintf(&b, "Clause %d. The supplier shall deliver the goods within %d days of the order; payment is due on delivery.\n\n", i, i%60)
	}
	big := filepath.Join(dir, "big.txt")
	if err := os.WriteFile(big, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd, stdout, stderr := startTollgate(t, "run", "--emulate", "--progress", "none", "--out", filepath.Join(t.TempDir(), "r.jsonl"), dir)
	// Once the process has read the document it is past its signal set-up, and counting.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		n := readBytes(cmd.Process.Pid)
		if n < 0 {
			time.Sleep(time.Second)
			break
		}
		if n >= int64(b.Len()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the document was not read within a minute (%d bytes read)", n)
		}
	}
	time.Sleep(200 * time.Millisecond)
	took, cpu, code := interrupt(t, cmd)
	if code != exitInterrupted || !strings.Contains(stderr.String(), "tollgate: interrupted") {
		t.Errorf("exit code %d; want %d and word of the interruption\nstdout: %s\nstderr: %s", code, exitInterrupted, stdout, stderr)
	}
	t.Logf("stopped %v after SIGINT, using %v of CPU", took, cpu)
	// The CPU the process spends after the signal, not the wall time, which on a loaded
	// machine includes waiting for a CPU: 0.2s on an idle machine, 1.2s on a loaded one;
	// counting the rest of the document would take longer. Without /proc, the wall time.
	if cpu > 3*time.Second || (cpu < 0 && took > 3*time.Second) {
		t.Errorf("the process used %v of CPU (%v) to stop after SIGINT; want at most 3s", cpu, took)
	}
}
