//go:build linux || darwin

package results

import (
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestShortWriteIsCutBack: a write that the file system cuts short (here the file-size
// limit RLIMIT_FSIZE, as a full disk would) fails Append and leaves no partial line: the
// file still reads whole, and a later append lands on a clean line. The limit is set in
// a child process (this test binary, re-run), so it binds nothing else.
func TestShortWriteIsCutBack(t *testing.T) {
	if p := os.Getenv("RESULTS_SHORT_WRITE_FILE"); p != "" {
		shortWriteChild(p)
		return
	}
	p := filepath.Join(t.TempDir(), "out.jsonl")
	cmd := exec.Command(os.Args[0], "-test.run=^TestShortWriteIsCutBack$", "-test.count=1")
	cmd.Env = append(os.Environ(), "RESULTS_SHORT_WRITE_FILE="+p)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "append failed: results: write") {
		t.Fatalf("child did not see the cut write fail:\n%s", out)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	recs, torn, err := Read(strings.NewReader(string(b)))
	if err != nil || torn != nil {
		t.Fatalf("file after a cut write: torn %+v, %v; want it whole:\n%q", torn, err, b)
	}
	if len(recs) != 2 || recs[0].Path != "a.txt" || recs[1].Path != "c.txt" {
		t.Errorf("file holds %d records; want a.txt then c.txt (b.txt's cut write removed):\n%s", len(recs), b)
	}
}

// shortWriteChild appends a record, lowers the file-size limit to just past it, appends
// a long one (cut short), raises the limit and appends a third.
func shortWriteChild(p string) {
	signal.Ignore(syscall.SIGXFSZ) // get EFBIG from write instead of being killed
	f, err := Open(p)
	if err != nil {
		panic(err)
	}
	if err := f.Append(rec("a.txt", Done)); err != nil {
		panic(err)
	}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		panic(err)
	}
	lim := old
	lim.Cur = uint64(f.size) + 100
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		panic(err)
	}
	long := rec("b.txt", Done)
	long.Output = strings.Repeat("x", 1000)
	err = f.Append(long)
	println("append failed:", err.Error())
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		panic(err)
	}
	if err := f.Append(rec("c.txt", Done)); err != nil {
		panic(err)
	}
	if err := f.Close(); err != nil {
		panic(err)
	}
}
