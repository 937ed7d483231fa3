package batch

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tollgate-dev/tollgate/internal/results"
)

// warnings collects what a run warns about.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) warn(msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, msg)
}

func (w *warnings) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.msgs...)
}

// contract returns a short contract text, different for each n.
func contract(n string) []byte {
	return []byte("SUPPLY AGREEMENT " + n + "\n\n1. The supplier delivers the goods within 30 days.\n2. Payment is due within 60 days of delivery.\n")
}

// TestSameNamesInTwoFolders: two input folders holding files of the same name are three
// documents, all done, each recorded under its own path.
func TestSameNamesInTwoFolders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, 400_000, nil)
		root := t.TempDir()
		dA, dB := filepath.Join(root, "dA"), filepath.Join(root, "dB")
		write(t, filepath.Join(dA, "x.txt"), contract("A"))
		write(t, filepath.Join(dB, "x.txt"), contract("B"))
		write(t, filepath.Join(dB, "y.txt"), contract("C"))
		sum, recs := f.run(t, context.Background(), Config{Inputs: []string{dA, dB}, Out: filepath.Join(root, "out.jsonl")})
		if sum.Total != 3 || sum.Done != 3 {
			t.Errorf("done %d of %d; want 3 of 3", sum.Done, sum.Total)
		}
		var got []string
		for _, r := range recs {
			got = append(got, r.Path)
		}
		slices.Sort(got)
		want := []string{filepath.ToSlash(filepath.Join(dA, "x.txt")), filepath.ToSlash(filepath.Join(dB, "x.txt")), filepath.ToSlash(filepath.Join(dB, "y.txt"))}
		if !slices.Equal(got, want) {
			t.Errorf("records %v; want %v", got, want)
		}
	})
}

// TestFileNamedTwice: a folder and a file in it, or one file under two names (a link),
// make one document, done once, with a warning naming both.
func TestFileNamedTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, 400_000, nil)
		root := t.TempDir()
		dir := filepath.Join(root, "docs")
		write(t, filepath.Join(dir, "a.txt"), contract("A"))
		write(t, filepath.Join(dir, "b.txt"), contract("B"))
		other := filepath.Join(root, "other")
		if err := os.MkdirAll(other, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(dir, "b.txt"), filepath.Join(other, "b-link.txt")); err != nil {
			t.Fatal(err)
		}
		var w warnings
		sum, recs := f.run(t, context.Background(), Config{Inputs: []string{dir, filepath.Join(dir, "a.txt"), other}, Out: filepath.Join(root, "out.jsonl"), Warn: w.warn})
		if sum.Total != 2 || sum.Done != 2 || sum.Calls != 2 || len(recs) != 2 {
			t.Errorf("total %d, done %d, %d calls, %d records; want 2 documents, each done once", sum.Total, sum.Done, sum.Calls, len(recs))
		}
		msgs := w.all()
		if len(msgs) != 2 || !strings.Contains(strings.Join(msgs, "\n"), "a.txt is named twice") || !strings.Contains(strings.Join(msgs, "\n"), "b-link.txt are the same file") {
			t.Errorf("warnings %q; want one for a.txt named twice and one for b.txt and its link", msgs)
		}
	})
}

// TestResumesResultsOfEarlierVersions: a results file whose records name documents by
// their path inside the input folder (as earlier versions wrote them) still resumes: no
// document is sent again, and the records are moved to the new paths, once each. So does
// a run on the folder moved elsewhere.
func TestResumesResultsOfEarlierVersions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, 400_000, nil)
		dir := contractsDir(t, 4)
		out := filepath.Join(t.TempDir(), "out.jsonl")
		sum1, recs := f.run(t, context.Background(), Config{Inputs: []string{dir}, Out: out})
		if sum1.Done != 4 {
			t.Fatalf("first run did %d documents; want 4", sum1.Done)
		}
		var old strings.Builder
		for _, r := range recs {
			r.Path = strings.TrimPrefix(r.Path, filepath.ToSlash(dir)+"/")
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			old.Write(append(b, '\n'))
		}
		if err := os.WriteFile(out, []byte(old.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		sum2, recs := f.run(t, context.Background(), Config{Inputs: []string{dir}, Out: out})
		if sum2.Resumed != 4 || sum2.Done != 0 || sum2.Calls != 0 {
			t.Errorf("second run: %d resumed, %d done, %d calls; want 4 resumed and no call", sum2.Resumed, sum2.Done, sum2.Calls)
		}
		if len(recs) != 4 {
			t.Errorf("%d records after resuming; want 4", len(recs))
		}
		for _, r := range recs {
			if !strings.HasPrefix(r.Path, filepath.ToSlash(dir)+"/") || r.Status != results.Done {
				t.Errorf("record %s (%s); want a done record under the folder's path", r.Path, r.Status)
			}
		}

		// The folder moved (or the run started from another folder): still nothing to redo.
		moved := filepath.Join(t.TempDir(), "moved")
		if err := os.Rename(dir, moved); err != nil {
			t.Fatal(err)
		}
		sum3, recs := f.run(t, context.Background(), Config{Inputs: []string{moved}, Out: out})
		if sum3.Resumed != 4 || sum3.Calls != 0 || len(recs) != 4 {
			t.Errorf("run on the moved folder: %d resumed, %d calls, %d records; want 4 resumed, no call, 4 records", sum3.Resumed, sum3.Calls, len(recs))
		}
		for _, r := range recs {
			if !strings.HasPrefix(r.Path, filepath.ToSlash(moved)+"/") {
				t.Errorf("record %s; want it under the moved folder's path", r.Path)
			}
		}
	})
}

// TestSpecialFilesAreSkipped: a link to /dev/zero, a FIFO and a link to a FIFO, in a
// folder or given as inputs, are skipped with the reason, at once; the run goes on.
func TestSpecialFilesAreSkipped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, 400_000, nil)
		root := t.TempDir()
		dir := filepath.Join(root, "docs")
		write(t, filepath.Join(dir, "a.txt"), contract("A"))
		fifo := filepath.Join(dir, "pipe.txt")
		if err := syscall.Mkfifo(fifo, 0o644); err != nil {
			t.Fatal(err)
		}
		for link, target := range map[string]string{"zero.txt": "/dev/zero", "to-pipe.md": fifo} {
			if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
				t.Fatal(err)
			}
		}
		lone := filepath.Join(root, "lone.txt")
		if err := syscall.Mkfifo(lone, 0o644); err != nil {
			t.Fatal(err)
		}
		type result struct {
			sum  Summary
			recs []results.Record
		}
		done := make(chan result, 1)
		go func() {
			sum, recs := f.run(t, context.Background(), Config{Inputs: []string{dir, lone, "/dev/zero"}, Out: filepath.Join(root, "out.jsonl")})
			done <- result{sum, recs}
		}()
		var res result
		select {
		case res = <-done:
		case <-time.After(time.Minute):
			t.Fatal("the run is still going after a minute: a special file blocked it")
		}
		if res.sum.Done != 1 || res.sum.Skipped != 5 {
			t.Errorf("done %d, skipped %d; want a.txt done and the 5 special files skipped: %+v", res.sum.Done, res.sum.Skipped, res.sum.Failures)
		}
		for _, r := range res.sum.Failures {
			if !strings.Contains(r.Error, "not a regular file") {
				t.Errorf("%s skipped for %q; want the reason: not a regular file", r.Path, r.Error)
			}
		}
	})
}

// TestLongRequestLine: one line of a JSONL input longer than MaxRequestLine is skipped
// with the reason; the lines before and after it are read.
func TestLongRequestLine(t *testing.T) {
	p := filepath.Join(t.TempDir(), "reqs.jsonl")
	fh, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	fh.WriteString(`{"id":"a","prompt":"Summarise the contract."}` + "\n")
	fh.WriteString(`{"id":"big","prompt":"`)
	chunk := strings.Repeat("word ", 1<<16)
	for n := 0; n <= MaxRequestLine; n += len(chunk) {
		fh.WriteString(chunk)
	}
	fh.WriteString(`"}` + "\n")
	fh.WriteString(`{"id":"c","prompt":"List the parties."}`)
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
	w, skipped, err := Plan(context.Background(), Config{Inputs: []string{p}})
	if err != nil {
		t.Fatalf("Plan: %v; want the long line skipped, not the input failed", err)
	}
	if w.Documents != 2 || len(skipped) != 1 {
		t.Fatalf("%d requests planned, %d skipped; want a and c planned, the long line skipped", w.Documents, len(skipped))
	}
	if s := skipped[0]; !strings.HasSuffix(s.Path, ":line2") || !strings.Contains(s.Error, "longer than the 64 MB") {
		t.Errorf("skipped %s: %q; want line 2 skipped as longer than 64 MB", s.Path, s.Error)
	}
}

// FuzzReadRequests: no JSONL input makes readRequests fail or panic; every non-blank line
// becomes one item, a request or a skipped line with the reason.
func FuzzReadRequests(f *testing.F) {
	f.Add("{\"id\":\"a\",\"prompt\":\"p\"}\n{\"prompt\":\"q\"}")
	f.Add("\n\n{\"id\":1}\nnot json\r\n{\"id\":\"a\",\"prompt\":\"x\"}\n{\"id\":\"a\",\"prompt\":\"y\"}\n")
	f.Add("{\"prompt\":\"p\",\"max_tokens\":-1,\"priority\":\"urgent\"}")
	f.Fuzz(func(t *testing.T, data string) {
		p := filepath.Join(t.TempDir(), "r.jsonl")
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		items, err := readRequests(p, Config{})
		if err != nil {
			t.Fatalf("readRequests: %v", err)
		}
		lines := 0
		for l := range strings.Lines(data) {
			if len(strings.TrimSpace(l)) > 0 {
				lines++
			}
		}
		if len(items) != lines {
			t.Errorf("%d items for %d non-blank lines", len(items), lines)
		}
		for _, it := range items {
			if it.path == "" || (it.err == nil && strings.TrimSpace(it.text) == "") {
				t.Errorf("item %+v: want a path, and a prompt or a reason", it)
			}
		}
	})
}

// TestSpecialRequestsInput: a JSONL input that is a FIFO is refused at once, as a missing
// input is, without waiting for a writer.
func TestSpecialRequestsInput(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "reqs.jsonl")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := Plan(context.Background(), Config{Inputs: []string{fifo}})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file (it is a named pipe (FIFO))") {
			t.Errorf("Plan of a FIFO input: %v; want it refused as a named pipe", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Plan of a FIFO input still blocked after 10s")
	}
}
