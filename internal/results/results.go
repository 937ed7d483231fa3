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
// hand) is not an error: Read reports it as Torn and Open cuts it off before appending.
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
	"sync"
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
	// Path is the document's path relative to the input folder (slash-separated), the
	// path as given for listed files, or "file.jsonl:id" for a request of a JSONL input.
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
	f, err := os.Open(path)
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

// File is an open results file: the records it held when opened, and an appender. It is
// safe for concurrent use.
type File struct {
	path string
	mu   sync.Mutex
	f    *os.File
	recs []Record
	done map[Key]int // index into recs of the last done record per key
}

// Open opens (creating it and its folder when missing) the results file at path, reads the
// records it holds, and cuts off a torn last line.
func Open(path string) (*File, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("results: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	recs, torn, err := Read(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if torn != nil {
		if err := f.Truncate(torn.Offset); err != nil {
			f.Close()
			return nil, fmt.Errorf("results: cut the torn line %d of %s: %w", torn.Line, path, err)
		}
	}
	f.Close()
	out := &File{path: path, recs: recs}
	out.index()
	if err := out.reopen(); err != nil {
		return nil, err
	}
	return out, nil
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
	fh, err := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	f.f = fh
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

// Compact rewrites the file with only the records keep returns true for, atomically: the
// kept records go to a temporary file beside it, which is synced and renamed over it. It
// does nothing when every record is kept.
func (f *File) Compact(keep func(Record) bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var kept []Record
	for _, r := range f.recs {
		if keep(r) {
			kept = append(kept, r)
		}
	}
	if len(kept) == len(f.recs) {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.path), filepath.Base(f.path)+".tmp*")
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
	if err := w.Flush(); err != nil {
		tmp.Close()
		return fmt.Errorf("results: compact: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("results: compact: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("results: compact: %w", err)
	}
	f.f.Close()
	if err := os.Rename(tmp.Name(), f.path); err != nil {
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
// file or not at all for any crash of this process.
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
	if _, err := f.f.Write(b); err != nil {
		return fmt.Errorf("results: write %s: %w", f.path, err)
	}
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

// Close syncs and closes the file.
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
	return err
}
