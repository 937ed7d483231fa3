package results

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLockRefusesASecondWriter: while one File is open, a second Open of the same results
// file (under its own name or through a link) fails at once, naming the holder's process;
// once the first is closed, the file opens again and the lock file is gone.
func TestLockRefusesASecondWriter(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.jsonl")
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.jsonl")
	if err := os.Symlink(p, link); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{p, link} {
		start := time.Now()
		g, err := Open(name)
		var le *LockedError
		if !errors.As(err, &le) {
			if g != nil {
				g.Close()
			}
			t.Fatalf("second Open(%s) = %v; want a *LockedError", name, err)
		}
		if le.PID != os.Getpid() || !strings.Contains(err.Error(), "process "+strconv.Itoa(os.Getpid())) {
			t.Errorf("second Open(%s): %v (PID %d); want it to name process %d", name, err, le.PID, os.Getpid())
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("second Open(%s) took %v; want it to fail at once", name, d)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p + ".lock"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file after Close: %v; want it removed", err)
	}
	g, err := Open(link)
	if err != nil {
		t.Fatalf("Open after the first was closed: %v", err)
	}
	g.Close()
}

// TestCompactOneRecordPerKey: two done records of one key (two runs that both did the
// document) compact to one, the last.
func TestCompactOneRecordPerKey(t *testing.T) {
	p := filepath.Join(t.TempDir(), "out.jsonl")
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	a1, a2 := rec("a.txt", Done), rec("a.txt", Done)
	a2.Output = "second"
	for _, r := range []Record{a1, rec("b.txt", Done), a2} {
		if err := f.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	if f, err = Open(p); err != nil {
		t.Fatal(err)
	}
	if err := f.Compact(func(Record) bool { return true }); err != nil {
		t.Fatal(err)
	}
	f.Close()
	recs, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.Path+":"+r.Output)
	}
	if strings.Join(got, ",") != "b.txt:,a.txt:second" {
		t.Errorf("after compaction: %v; want b.txt and the last a.txt", got)
	}
}

// TestCompactKeepsModeAndLink: compaction writes through a symbolic link to its target
// (the link stays a link) and keeps the file's permissions.
func TestCompactKeepsModeAndLink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "data", "out.jsonl")
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.jsonl")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	f, err := Open(link)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []Record{rec("a.txt", Done), rec("b.txt", Failed)} {
		if err := f.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	if err := os.Chmod(target, 0o640); err != nil {
		t.Fatal(err)
	}
	if f, err = Open(link); err != nil {
		t.Fatal(err)
	}
	if err := f.Compact(func(r Record) bool { return r.Status == Done }); err != nil {
		t.Fatal(err)
	}
	if err := f.Append(rec("c.txt", Done)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	li, err := os.Lstat(link)
	if err != nil || li.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("%s after compaction: %v, %v; want it still a symbolic link", link, li.Mode(), err)
	}
	fi, err := os.Stat(target)
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("target after compaction: mode %v, %v; want 0640 kept", fi.Mode().Perm(), err)
	}
	recs, err := Load(target)
	if err != nil || len(recs) != 2 || recs[0].Path != "a.txt" || recs[1].Path != "c.txt" {
		t.Errorf("target holds %d records (%v); want a.txt, c.txt", len(recs), err)
	}
}

// TestOpenRemovesLeftTemps: the temporary files of a compaction killed before its rename
// are removed by the next Open; other files beside it are left alone.
func TestOpenRemovesLeftTemps(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.jsonl")
	left := []string{"out.jsonl" + tempPrefix + "123456", "out.jsonl.tmp987654"}
	mine := []string{"out.jsonl.tmpl", "out.jsonl.tmp-notes", "other.jsonl" + tempPrefix + "1"}
	for _, n := range append(append([]string(nil), left...), mine...) {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(`{"path":"x"}`+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, n := range left {
		if _, err := os.Stat(filepath.Join(dir, n)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after Open: %v; want it removed", n, err)
		}
	}
	for _, n := range mine {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s after Open: %v; want it kept", n, err)
		}
	}
}

// TestOpenRefusesForeignFiles: a file that holds no result record is not cut as a torn
// line; Open refuses it and leaves it as it was. A record cut short is still cut.
func TestOpenRefusesForeignFiles(t *testing.T) {
	for _, content := range []string{"my notes", "my notes\n", `{"a":1}` + "\n", "line one\nline two\n", "id,name\n1,x"} {
		p := filepath.Join(t.TempDir(), "notes.txt")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := Open(p)
		if err == nil {
			f.Close()
		}
		if !errors.Is(err, ErrNotResults) || !strings.Contains(err.Error(), "another --out") {
			t.Errorf("Open of a file holding %q: %v; want ErrNotResults saying to give another --out", content, err)
		}
		if b, _ := os.ReadFile(p); string(b) != content {
			t.Errorf("file holding %q became %q", content, b)
		}
	}
	for _, torn := range []string{`{"path":"a.txt","ha`, `{"pa`, "\x00\x00\x00"} {
		p := filepath.Join(t.TempDir(), "out.jsonl")
		if err := os.WriteFile(p, []byte(torn), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := Open(p)
		if err != nil {
			t.Errorf("Open of a file holding only a torn record %q: %v", torn, err)
			continue
		}
		f.Close()
		if fi, _ := os.Stat(p); fi.Size() != 0 {
			t.Errorf("torn record %q: %d bytes left, want it cut", torn, fi.Size())
		}
	}
}

// TestOpenRefusesSpecialFiles: a device or a FIFO given as the results file is refused at
// once, without reading from it (/dev/zero never ends) or blocking (a FIFO).
func TestOpenRefusesSpecialFiles(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo.jsonl")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "zero.jsonl")
	if err := os.Symlink("/dev/zero", link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/dev/full", "/dev/zero", fifo, link} {
		done := make(chan error, 1)
		go func() {
			f, err := Open(p)
			if err == nil {
				f.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("Open(%s) = %v; want an error saying it is not a regular file", p, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Open(%s) still blocked after 10s", p)
		}
		if _, err := Load(p); err == nil {
			t.Errorf("Load(%s) succeeded; want it refused", p)
		}
	}
}
