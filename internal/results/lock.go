package results

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// LockedError is Open's error for a results file that another process holds open.
type LockedError struct {
	// Path is the results file; PID the process that holds it (0 when its lock file
	// does not say).
	Path string
	PID  int
}

func (e *LockedError) Error() string {
	who := "another process"
	if e.PID > 0 {
		who = "process " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("results: %s is in use by another run (%s holds its lock): wait for that run to end, or give another --out", e.Path, who)
}

// lockFile is the held lock of a results file: an open lock file whose content is the
// holder's process id.
type lockFile struct {
	f    *os.File
	path string
}

// lock takes the lock file at path for the results file named (for messages) out. The
// lock file is removed on release; a process that opened it just before then holds a
// lock on a file no longer at path, so lock checks, once it holds the lock, that path
// still names the file it locked, and tries again if not.
func lock(path, out string) (*lockFile, error) {
	for range 100 {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("results: lock %s: %w", out, err)
		}
		if err := flock(f); err != nil {
			b, _ := io.ReadAll(io.LimitReader(f, 32))
			f.Close()
			if errors.Is(err, errLocked) {
				pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
				return nil, &LockedError{Path: out, PID: pid}
			}
			return nil, fmt.Errorf("results: lock %s: %w", out, err)
		}
		held, err1 := f.Stat()
		now, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, now) {
			if err := f.Truncate(0); err == nil {
				f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
			}
			return &lockFile{f: f, path: path}, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("results: lock %s: %s keeps being replaced", out, path)
}

// release removes the lock file, then unlocks it (in that order, see lock).
func (l *lockFile) release() {
	if l == nil || l.f == nil {
		return
	}
	os.Remove(l.path)
	l.f.Close()
	l.f = nil
}
