// Package results is the results file of `tollgate run`: one JSON record per document,
// one line each (JSONL), appended as each document finishes so that a crash loses at most
// the calls in flight, and read back to resume a run or to analyze it.
//
// # Crash safety
//
// Each record is written with a single write(2) on a file opened with O_APPEND: a process
// killed at any moment (SIGKILL included) leaves every record it finished whole, because
// the kernel holds the written bytes whatever happens to the process. A machine that loses
// power can lose the page cache; File.Sync (fsync) is there for callers that need that
// guarantee too. A torn last line (a write cut by a power loss, or a file truncated by
// hand) is not an error: Read reports it as Torn and Open cuts it off before appending. A
// write that fails part-way (a full disk, a file-size limit) is cut back by Append, so the
// file stays readable.
//
// # One writer
//
// Open locks the file for the life of the File (flock(2) on a lock file beside it,
// "<file>.lock", holding the owner's process id), so that two runs cannot pay for the same
// documents and interleave their records: a second Open fails with a *LockedError naming
// the process that holds it.
//
// # Resuming
//
// A document is identified by its path, the hash of its content and the hash of the
// settings that shape its output (model, prompts, max_tokens policy…). Open loads the done
// records; a run skips a document whose Key has a done record and does the rest. Failed
// records and records superseded by a changed document or setting are dropped by Compact,
// which rewrites the file atomically (temporary file, fsync, rename), so the final file
// holds each document once.
package results

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Status values of a Record.
const (
	// Done: the document was processed; Output holds the model's answer.
	Done = "done"
	// Failed: the document could not be processed; Error says why. A resumed run retries it.
	Failed = "failed"
	// Skipped: the document was not sent (unreadable, empty, binary, unsupported); Error
	// says why. A resumed run tries it again, in case the file was fixed.
	Skipped = "skipped"
)

// Usage is what a document's calls used, summed over its calls (chunks, continuations and
// the combining call), as Bedrock reported it.
type Usage struct {
	InputTokens      int `json:"input_tokens"`
	OutputTokens     int `json:"output_tokens"`
	CacheReadTokens  int `json:"cache_read_tokens,omitempty"`
	CacheWriteTokens int `json:"cache_write_tokens,omitempty"`
	// QuotaTokens is what the calls were charged against the tokens-per-minute quota:
	// input + cache writes + output × the model's burndown.
	QuotaTokens int `json:"quota_tokens"`
}

// Record is the result of one document (or one request of a JSONL input).
type Record struct {
	// Path names the document (slash-separated): the input folder as given joined with
	// the document's path in it ("contracts/urgent/a.txt"), the path as given for listed
	// files, or "file.jsonl:id" for a request of a JSONL input. (Earlier versions wrote a
	// folder's documents relative to the folder: "urgent/a.txt".)
	Path string `json:"path"`
	// Hash is "sha256:" and the hex SHA-256 of the document's bytes.
	Hash string `json:"hash"`
	// Settings is a hash of the settings that shape the output; a changed setting makes
	// a resumed run redo the document.
	Settings string `json:"settings"`
	// Status is Done, Failed or Skipped; Error says why for the last two.
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
	// Output is the model's answer (the combined answer for a chunked document).
	Output string `json:"output,omitempty"`
	// Model is the model or profile id called, Region where.
	Model  string `json:"model,omitempty"`
	Region string `json:"region,omitempty"`
	// Priority is the document's class ("critical", "high", "normal", "low",
	// "background"); Verbosity the template level it got.
	Priority  string `json:"priority"`
	Verbosity string `json:"verbosity,omitempty"`
	// Chunks is how many pieces the document was split into (0: it was not); a chunked
	// document's answer is combined by one more call.
	Chunks int `json:"chunks,omitempty"`
	// Calls is how many model calls succeeded for the document: 1 per chunk (or 1), one per
	// continuation, one to combine chunks. Continuations counts the calls that continued
	// a reply cut at max_tokens.
	Calls         int `json:"calls"`
	Continuations int `json:"continuations,omitempty"`
	// Attempts counts SDK attempts, Throttles those refused by the service.
	Attempts  int `json:"attempts"`
	Throttles int `json:"throttles,omitempty"`
	// MaxTokens is the max_tokens the first call sent, and InputTokensEstimated the input
	// estimated before it.
	MaxTokens            int `json:"max_tokens,omitempty"`
	InputTokensEstimated int `json:"input_tokens_estimated,omitempty"`
	// Usage is what the calls used.
	Usage Usage `json:"usage"`
	// Started is when the document was submitted; Finished when its record was written.
	// LatencyMS is the sum of its calls' times from send to answer, QueueMS the time its
	// calls waited for admission.
	Started   time.Time `json:"started"`
	Finished  time.Time `json:"finished"`
	LatencyMS int64     `json:"latency_ms"`
	QueueMS   int64     `json:"queue_ms"`
	// TimeScale, when set, says the run was against an emulator whose time ran this many
	// times faster than real time: the times above are real, and × TimeScale gives what
	// an account with the same quotas would have taken.
	TimeScale float64 `json:"time_scale,omitempty"`
}

// Scale is the record's TimeScale, 1 when unset.
func (r Record) Scale() float64 {
	if r.TimeScale > 0 {
		return r.TimeScale
	}
	return 1
}

// Key identifies a document's work: a record answers a document when the three match.
type Key struct {
	Path, Hash, Settings string
}

// Key returns the record's key.
func (r Record) Key() Key { return Key{r.Path, r.Hash, r.Settings} }

// Torn reports a last line that is not a whole record (a write cut short); Offset is where
// it starts, so that the file can be cut there.
type Torn struct {
	Offset int64
	Line   int
}

// Read reads records from a JSONL stream. A last line that is not valid JSON or has no
// newline is reported as torn rather than as an error; a malformed line before the last is
// an error naming its line number. Blank lines are ignored.
func Read(r io.Reader) ([]Record, *Torn, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		recs   []Record
		offset int64
		line   int
	)
	for {
		b, err := br.ReadBytes('\n')
		if len(b) == 0 && err == io.EOF {
			return recs, nil, nil
		}
		if err != nil && err != io.EOF {
			return recs, nil, fmt.Errorf("results: read: %w", err)
		}
		line++
		start := offset
		offset += int64(len(b))
		whole := err == nil // ends with a newline
		t := bytes.TrimSpace(b)
		if len(t) == 0 {
			if !whole {
				return recs, nil, nil
			}
			continue
		}
		var rec Record
		if jerr := json.Unmarshal(t, &rec); jerr != nil || rec.Path == "" {
			// A bad line with more after it is corruption; the last line is a torn write.
			if !whole {
				return recs, &Torn{Offset: start, Line: line}, nil
			}
			if _, perr := br.Peek(1); perr == io.EOF {
				return recs, &Torn{Offset: start, Line: line}, nil
			}
			if jerr == nil {
				jerr = errors.New(`no "path"`)
			}
			return recs, nil, fmt.Errorf("results: line %d is not a result record (%v): fix or delete the line", line, jerr)
		}
		if !whole {
			return recs, &Torn{Offset: start, Line: line}, nil
		}
		recs = append(recs, rec)
	}
}

// Load reads the records of the results file at path (see Read); a torn last line is left
// out.
func Load(path string) ([]Record, error) {
	f, err := openRegular(path, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, _, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return recs, nil
}

// ErrNotResults means the file given as a results file holds something else: Open leaves
// it untouched.
var ErrNotResults = errors.New("not a tollgate results file")

// File is an open results file: the records it held when opened, and an appender. It is
// safe for concurrent use.
type File struct {
	path string // as given, for messages
	real string // path with symbolic links resolved: where the records are
	lock *lockFile
	mu   sync.Mutex
	f    *os.File
	size int64 // the file's length after the last whole record
	recs []Record
	done map[Key]int // index into recs of the last done record per key
}

// Open opens (creating it and its folder when missing) the results file at path, locks
// it against other runs, reads the records it holds, cuts off a torn last line, and
// removes the temporary files of a compaction that was killed. A symbolic link is
// followed: the records go to its target. Open refuses what is not a regular file (a
// device, a FIFO) and a file that holds no result records (ErrNotResults), leaving it as
// it was.
func Open(path string) (*File, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("results: %w", err)
		}
	}
	f, err := openRegular(path, os.O_RDWR|os.O_CREATE)
	if err != nil {
		return nil, err
	}
	f.Close()
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	lk, err := lock(real+".lock", path)
	if err != nil {
		return nil, err
	}
	out := &File{path: path, real: real, lock: lk}
	if err := out.load(); err != nil {
		lk.release()
		return nil, err
	}
	out.removeTemps()
	out.index()
	if err := out.reopen(); err != nil {
		lk.release()
		return nil, err
	}
	return out, nil
}

// load reads the records, under the lock (another run may have just renamed a compacted
// file into place).
func (f *File) load() error {
	fh, err := openRegular(f.real, os.O_RDWR)
	if err != nil {
		return err
	}
	defer fh.Close()
	recs, torn, err := Read(fh)
	if err != nil {
		if len(recs) == 0 {
			return fmt.Errorf("results: %s is %w (its first line is not a result record): give another --out, or move the file away", f.path, ErrNotResults)
		}
		return fmt.Errorf("%s: %w", f.path, err)
	}
	if torn != nil {
		if len(recs) == 0 && !recordStart(fh, torn.Offset) {
			return fmt.Errorf("results: %s is %w (it holds no result record): give another --out, or move the file away", f.path, ErrNotResults)
		}
		if err := fh.Truncate(torn.Offset); err != nil {
			return fmt.Errorf("results: cut the torn line %d of %s: %w", torn.Line, f.path, err)
		}
	}
	f.recs = recs
	return nil
}

// recordStart reports whether the line at offset of fh could be the start of a record
// cut short: every record begins `{"path":`, and a power loss may leave NUL bytes.
func recordStart(fh *os.File, offset int64) bool {
	const start = `{"path":`
	b := make([]byte, len(start))
	n, err := fh.ReadAt(b, offset)
	if err != nil && err != io.EOF {
		return false
	}
	b = bytes.TrimRight(bytes.TrimSpace(b[:n]), "\x00")
	return bytes.HasPrefix([]byte(start), b)
}

// tempPrefix starts the names of Compact's temporary files, after the results file's own
// name: "out.jsonl.tmp-compact-123456".
const tempPrefix = ".tmp-compact-"

// removeTemps removes the temporary files a killed compaction left beside the file.
func (f *File) removeTemps() {
	dir, base := filepath.Split(f.real)
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if IsTemp(e.Name(), base) && e.Name() != base+".lock" && e.Type().IsRegular() {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// IsTemp reports whether name is the name of a temporary or lock file that the results
// file named base has beside it: "base.lock", "base.tmp-compact-…", or "base.tmp" and
// digits (the temporary files of earlier versions).
func IsTemp(name, base string) bool {
	rest, ok := strings.CutPrefix(name, base)
	if !ok {
		return false
	}
	if rest == ".lock" || strings.HasPrefix(rest, tempPrefix) {
		return true
	}
	digits, ok := strings.CutPrefix(rest, ".tmp")
	return ok && digits != "" && strings.Trim(digits, "0123456789") == ""
}

// openRegular opens name with flag and checks that it is a regular file (after following
// links). O_NONBLOCK makes the open return at once on a FIFO, which is then refused
// like a device or a socket: reading one could block for ever or never end.
func openRegular(name string, flag int) (*os.File, error) {
	fh, err := os.OpenFile(name, flag|syscall.O_NONBLOCK, 0o644)
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	fi, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("results: %w", err)
	}
	if !fi.Mode().IsRegular() {
		fh.Close()
		return nil, fmt.Errorf("results: %s is not a regular file (%s): give a file path", name, Kind(fi.Mode()))
	}
	return fh, nil
}

// Kind names the kind of file of mode for messages: "a character device", "a named pipe
// (FIFO)".
func Kind(mode os.FileMode) string {
	switch {
	case mode.IsRegular():
		return "a regular file"
	case mode.IsDir():
		return "a folder"
	case mode&os.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case mode&os.ModeSocket != 0:
		return "a socket"
	case mode&os.ModeCharDevice != 0:
		return "a character device"
	case mode&os.ModeDevice != 0:
		return "a device"
	case mode&os.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "not a regular file"
}

func (f *File) index() {
	f.done = make(map[Key]int, len(f.recs))
	for i, r := range f.recs {
		if r.Status == Done {
			f.done[r.Key()] = i
		}
	}
}

func (f *File) reopen() error {
	fh, err := openRegular(f.real, os.O_WRONLY|os.O_APPEND)
	if err != nil {
		return err
	}
	fi, err := fh.Stat()
	if err != nil {
		fh.Close()
		return fmt.Errorf("results: %w", err)
	}
	f.f, f.size = fh, fi.Size()
	return nil
}

// Path returns the file's path.
func (f *File) Path() string { return f.path }

// Records returns the records the file held when opened (after Compact, those kept).
func (f *File) Records() []Record {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Record(nil), f.recs...)
}

// Done returns the done record of k, if the file holds one.
func (f *File) Done(k Key) (Record, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, ok := f.done[k]
	if !ok {
		return Record{}, false
	}
	return f.recs[i], true
}

// Compact rewrites the file with the records keep returns true for, then the records of
// add, and one record per Key (the last): atomically, the records go to a temporary
// file beside it, which gets the file's permissions, is synced and renamed over it. It
// does nothing when that leaves the file as it is.
func (f *File) Compact(keep func(Record) bool, add ...Record) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var kept []Record
	for _, r := range f.recs {
		if keep(r) {
			kept = append(kept, r)
		}
	}
	kept = append(kept, add...)
	last := make(map[Key]int, len(kept))
	for i, r := range kept {
		last[r.Key()] = i
	}
	if len(last) < len(kept) {
		uniq := kept[:0:0]
		for i, r := range kept {
			if last[r.Key()] == i {
				uniq = append(uniq, r)
			}
		}
		kept = uniq
	}
	if len(kept) == len(f.recs) && len(add) == 0 {
		return nil
	}
	fi, err := os.Stat(f.real)
	if err != nil {
		return fmt.Errorf("results: compact: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.real), filepath.Base(f.real)+tempPrefix+"*")
	if err != nil {
		return fmt.Errorf("results: compact: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	w := bufio.NewWriter(tmp)
	for _, r := range kept {
		b, err := marshal(r)
		if err != nil {
			tmp.Close()
			return err
		}
		w.Write(b)
	}
	err = w.Flush()
	if err == nil {
		err = tmp.Chmod(fi.Mode().Perm())
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("results: compact %s: %w", f.path, err)
	}
	f.f.Close()
	if err := os.Rename(tmp.Name(), f.real); err != nil {
		f.reopen()
		return fmt.Errorf("results: compact: %w", err)
	}
	f.recs = kept
	f.index()
	return f.reopen()
}

func marshal(r Record) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("results: encode the record of %s: %w", r.Path, err)
	}
	return append(b, '\n'), nil
}

// Append writes r as one line with a single write, so that it is either wholly in the
// file or not at all for any crash of this process. A write that fails part-way (a full
// disk) is cut back, so that the file ends with a whole record.
func (f *File) Append(r Record) error {
	b, err := marshal(r)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.f == nil {
		return errors.New("results: append to a closed file")
	}
	n, err := f.f.Write(b)
	if err != nil {
		err = fmt.Errorf("results: write %s: %w", f.path, err)
		if n > 0 {
			if terr := f.f.Truncate(f.size); terr != nil {
				err = fmt.Errorf("%w; cutting the partial line back also failed (%v): the next run cuts it off", err, terr)
			}
		}
		return err
	}
	f.size += int64(n)
	return nil
}

// Sync flushes the file to stable storage (fsync), for a guarantee across power loss.
func (f *File) Sync() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.f == nil {
		return nil
	}
	return f.f.Sync()
}

// Close syncs and closes the file, and releases its lock.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.f == nil {
		return nil
	}
	err := f.f.Sync()
	if cerr := f.f.Close(); err == nil {
		err = cerr
	}
	f.f = nil
	f.lock.release()
	return err
}
