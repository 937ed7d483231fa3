package batch

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/internal/emustats"
	"github.com/tollgate-dev/tollgate/internal/estimate"
	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/internal/results"
	"github.com/tollgate-dev/tollgate/quota"
)

func byPath(recs []results.Record) map[string][]results.Record {
	m := map[string][]results.Record{}
	for _, r := range recs {
		m[r.Path] = append(m[r.Path], r)
	}
	return m
}

// TestRunSkipsBadFilesAndResumes runs a folder with broken files in it: they are reported
// and skipped, the rest is done; an interrupted run resumed later does each document once.
func TestRunSkipsBadFilesAndResumes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, 400_000, nil)
		dir := contractsDir(t, 8)
		write(t, filepath.Join(dir, "empty.txt"), nil)
		write(t, filepath.Join(dir, "blank.md"), []byte("  \n\n \t\n"))
		write(t, filepath.Join(dir, "binary.txt"), []byte{0x7f, 'E', 'L', 'F', 0, 0, 1, 2, 0xff, 0xfe})
		write(t, filepath.Join(dir, "broken.pdf"), []byte("%PDF-1.4\n1 0 obj << /Type /Catalog"))
		write(t, filepath.Join(dir, "broken.docx"), []byte("PK\x03\x04 not really a zip"))
		write(t, filepath.Join(dir, "image.png"), []byte("\x89PNG")) // not a document: not listed
		out := filepath.Join(t.TempDir(), "out.jsonl")

		// First run: interrupted once three documents are done.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		cfg := Config{Inputs: []string{dir}, Out: out, Grace: time.Millisecond}
		cfg.Limits = f.limits
		r, err := New(cfg, f.clientFor(t, cfg))
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for r.Status().Done < 3 {
				time.Sleep(time.Millisecond)
			}
			cancel()
		}()
		sum1, err := r.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !sum1.Interrupted {
			t.Fatalf("first run not interrupted: %+v", sum1.Status)
		}
		if sum1.Skipped != 5 {
			t.Errorf("skipped %d files, want the 5 broken ones: %+v", sum1.Skipped, sum1.Failures)
		}
		for _, fl := range sum1.Failures {
			if fl.Status != results.Skipped || fl.Error == "" {
				t.Errorf("failure record %+v: want skipped with a reason", fl)
			}
		}
		done1 := sum1.Done

		// Second run: does the rest, once each.
		sum2, recs := f.run(t, context.Background(), Config{Inputs: []string{dir}, Out: out})
		if sum2.Resumed != done1 {
			t.Errorf("second run resumed %d documents, want the %d done before", sum2.Resumed, done1)
		}
		if got, want := sum2.Done, 8-done1; got != want {
			t.Errorf("second run did %d documents, want %d (8 − %d already done)", got, want, done1)
		}
		paths := byPath(recs)
		done := 0
		for p, rs := range paths {
			if len(rs) != 1 {
				t.Errorf("%s has %d records, want 1", p, len(rs))
			}
			if rs[0].Status == results.Done {
				done++
				if rs[0].Output == "" || rs[0].Usage.OutputTokens == 0 || rs[0].Attempts < 1 || rs[0].Hash == "" || rs[0].Verbosity == "" {
					t.Errorf("done record of %s lacks fields: %+v", p, rs[0])
				}
			}
		}
		if done != 8 || len(paths) != 13 {
			t.Errorf("%d done records of %d paths; want 8 done of 13 (8 contracts + 5 broken files)", done, len(paths))
		}
		for _, name := range []string{"empty.txt", "blank.md", "binary.txt", "broken.pdf", "broken.docx"} {
			if rs := paths[filepath.ToSlash(filepath.Join(dir, name))]; len(rs) != 1 || rs[0].Status != results.Skipped {
				t.Errorf("%s: records %+v, want one skipped", name, rs)
			}
		}
		if _, listed := paths[filepath.ToSlash(filepath.Join(dir, "image.png"))]; listed {
			t.Error("image.png, not a document format, was listed")
		}
		if s, _ := emustats.Get(t, f.srv).Get("anthropic.claude-sonnet-4-20250514-v1:0", "cross-region"); throttled(s) != 0 {
			t.Errorf("emulator throttled %d calls", throttled(s))
		}

		// A third run has nothing left to do but the broken files.
		sum3, _ := f.run(t, context.Background(), Config{Inputs: []string{dir}, Out: out})
		if sum3.Resumed != 8 || sum3.Calls != 0 {
			t.Errorf("third run: resumed %d, calls %d; want 8 and 0", sum3.Resumed, sum3.Calls)
		}
	})
}

func throttled(s emustats.Series) int64 {
	var n int64
	for _, v := range s.Throttled {
		n += v
	}
	return n
}

// TestRunPriorities sends high, normal and low documents through a saturated quota: the
// high ones finish first.
func TestRunPriorities(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, 150_000, nil)
		dir := contractsDir(t, 0)
		out := filepath.Join(t.TempDir(), "out.jsonl")
		sum, recs := f.run(t, context.Background(), Config{Inputs: []string{dir}, Out: out, Pending: 8,
			Rules: []Rule{{Pattern: "urgent/**", Priority: quota.High}, {Pattern: "archive/**", Priority: quota.Low}}})
		if sum.Done != 24 || sum.Throttles != 0 {
			t.Fatalf("done %d, throttles %d; want 24 and 0", sum.Done, sum.Throttles)
		}
		mean := map[string]time.Duration{}
		n := map[string]int{}
		for _, r := range recs {
			mean[r.Priority] += r.Finished.Sub(r.Started.Add(-time.Hour)) // any common origin
			n[r.Priority]++
		}
		for p := range mean {
			mean[p] /= time.Duration(n[p])
		}
		if n["high"] != 4 || n["low"] != 4 || n["normal"] != 16 {
			t.Fatalf("classes %v; want 4 high, 16 normal, 4 low", n)
		}
		if !(mean["high"] < mean["normal"] && mean["normal"] < mean["low"]) {
			t.Errorf("mean finish times high %v, normal %v, low %v; want high < normal < low", mean["high"], mean["normal"], mean["low"])
		}
	})
}

// TestChunkingAndContinuation splits a document beyond what one call may hold and
// continues replies cut at max_tokens.
func TestChunkingAndContinuation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, 2_000_000, func(o *bedrocktest.Options) {
			o.OutputTokens = func(int, uint64) int { return 1500 }
		})
		dir := contractsDir(t, 3)
		out := filepath.Join(t.TempDir(), "out.jsonl")
		sum, recs := f.run(t, context.Background(), Config{Inputs: []string{dir}, Out: out, ChunkTokens: 3000, InitialMaxTokens: 400})
		if sum.Done != 3 {
			t.Fatalf("done %d of 3: %+v", sum.Done, sum.Failures)
		}
		chunked := 0
		for _, r := range recs {
			if r.Chunks > 1 {
				chunked++
				if r.Calls < r.Chunks+1 {
					t.Errorf("%s: %d chunks in %d calls; want at least one per chunk and one to combine", r.Path, r.Chunks, r.Calls)
				}
			}
			// 400 cut, 800 cut, 1600 ends at 1500: two continuations per call.
			if r.Continuations == 0 || !strings.Contains(r.Output, "") {
				t.Errorf("%s: %d continuations; want replies of 1,500 tokens continued past max_tokens 400", r.Path, r.Continuations)
			}
			if r.Usage.OutputTokens < 1500*r.Calls/(r.Continuations/r.Calls+1)/2 {
				t.Errorf("%s: %d output tokens over %d calls", r.Path, r.Usage.OutputTokens, r.Calls)
			}
		}
		if chunked == 0 {
			t.Errorf("no document was chunked at 3,000 tokens per call: %+v", recs)
		}
	})
}

// TestVerbosityUnderLoad gives the normal class a deadline it cannot meet: normal
// documents, and low ones sent while normal ones are unfinished, get leaner prompts; high
// ones keep the full one.
func TestVerbosityUnderLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, 150_000, nil)
		dir := contractsDir(t, 0)
		out := filepath.Join(t.TempDir(), "out.jsonl")
		_, recs := f.run(t, context.Background(), Config{Inputs: []string{dir}, Out: out, Pending: 4,
			Rules:     []Rule{{Pattern: "urgent/**", Priority: quota.High}, {Pattern: "archive/**", Priority: quota.Low}},
			Deadlines: map[quota.Priority]time.Duration{quota.Normal: emulated(30 * time.Second)}})
		var lastNormal time.Time
		for _, r := range recs {
			if r.Priority == "normal" && r.Finished.After(lastNormal) {
				lastNormal = r.Finished
			}
		}
		leanLow := 0
		for _, r := range recs {
			switch {
			case r.Priority == "high":
				if r.Verbosity != "full" {
					t.Errorf("high %s got %s; want full", r.Path, r.Verbosity)
				}
			case r.Priority == "normal" || r.Started.Before(lastNormal):
				if r.Verbosity == "full" {
					t.Errorf("%s %s got full under a deadline it cannot meet", r.Priority, r.Path)
				}
				if r.Priority == "low" {
					leanLow++
				}
			}
		}
		if leanLow == 0 {
			t.Error("no low document was sent while normal ones were late")
		}
		// Without a deadline every document gets the full prompt.
		out2 := filepath.Join(t.TempDir(), "out.jsonl")
		_, recs = f.run(t, context.Background(), Config{Inputs: []string{contractsDir(t, 3)}, Out: out2})
		for _, r := range recs {
			if r.Verbosity != "full" {
				t.Errorf("%s got %s without pressure; want full", r.Path, r.Verbosity)
			}
		}
	})
}

// TestRequestsJSONL runs a JSONL file of requests with a malformed line among them.
func TestRequestsJSONL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, 400_000, nil)
		dir := t.TempDir()
		in := filepath.Join(dir, "requests.jsonl")
		write(t, in, []byte(`{"id": "a", "prompt": "Name the parties of a lease.", "priority": "high", "max_tokens": 200}
{"id": "b", "prompt": "Summarise a non-disclosure agreement.", "system": "Be brief.", "metadata": {"client": "acme"}}
{"id": "c", "prompt": 
{"id": "a", "prompt": "duplicate id"}
{"id": "d", "prompt": "x", "bogus": 1}
`))
		_, recs := f.run(t, context.Background(), Config{Inputs: []string{in}, Out: filepath.Join(dir, "out.jsonl")})
		got := map[string]string{}
		for _, r := range recs {
			got[strings.TrimPrefix(r.Path, filepath.ToSlash(in)+":")] = r.Status
		}
		want := map[string]string{"a": "done", "b": "done", "line3": "skipped", "line4": "skipped", "line5": "skipped"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("request %s: %q, want %q (all: %v)", k, got[k], v, got)
			}
		}
		for _, r := range recs {
			if strings.HasSuffix(r.Path, ":a") && (r.Priority != "high" || r.MaxTokens != 200) {
				t.Errorf("request a: priority %s, max_tokens %d; want high and 200", r.Priority, r.MaxTokens)
			}
		}
	})
}

// TestInputErrors covers inputs that cannot work at all.
func TestInputErrors(t *testing.T) {
	f := newFixture(t, 400_000, nil)
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"missing", Config{Inputs: []string{"/nonexistent/folder"}}, "no such file"},
		{"no input", Config{}, "no input"},
		{"bad glob", Config{Inputs: []string{t.TempDir()}, Include: []string{"[a"}}, "not valid"},
		{"empty folder", Config{Inputs: []string{t.TempDir()}}, "no documents"},
		{"bad template", Config{Inputs: []string{t.TempDir()}, Template: "{{.Nope"}, "template"},
		{"bad level", Config{Inputs: []string{t.TempDir()}, Template: `{{if level "verbose"}}x{{end}}`}, "unknown verbosity level"},
		{"bad model", Config{Inputs: []string{t.TempDir()}, Model: "acme.unknown-v1"}, "not in the catalog"},
		{"max tokens", Config{Inputs: []string{t.TempDir()}, MaxTokens: 10_000_000}, "accepts at most"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Out = filepath.Join(t.TempDir(), "out.jsonl")
			r, err := New(tc.cfg, f.clientFor(t, tc.cfg))
			if err == nil {
				_, err = r.Run(context.Background())
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v; want one containing %q", err, tc.want)
			}
		})
	}
	if os.Geteuid() == 0 {
		return // root reads unreadable files
	}
	dir := contractsDir(t, 1)
	p := filepath.Join(dir, "locked.txt")
	write(t, p, []byte("text"))
	if err := os.Chmod(p, 0); err != nil {
		t.Fatal(err)
	}
	_, recs := f.run(t, context.Background(), Config{Inputs: []string{dir}, Out: filepath.Join(t.TempDir(), "o.jsonl")})
	for _, r := range recs {
		if r.Path == filepath.ToSlash(p) && r.Status != results.Skipped {
			t.Errorf("unreadable file: %+v", r)
		}
	}
}

// TestRunStopsOnRepeatedFailure calls a model the emulator does not serve: after
// StopAfter documents fail the same way the run stops sending the rest, and says why.
func TestRunStopsOnRepeatedFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, 400_000, nil)
		out := filepath.Join(t.TempDir(), "out.jsonl")
		cfg := Config{Inputs: []string{contractsDir(t, 0)}, Out: out, Pending: 1, Model: "us.anthropic.claude-3-5-sonnet-20240620-v1:0"}
		r, err := New(cfg, f.clientFor(t, cfg))
		if err != nil {
			t.Fatal(err)
		}
		sum, err := r.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if sum.Failed != StopAfter || sum.Stopped == "" || sum.Interrupted {
			t.Errorf("failed %d, stopped %q, interrupted %v; want %d failed and a reason to stop", sum.Failed, sum.Stopped, sum.Interrupted, StopAfter)
		}
		recs, err := results.Load(out)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != StopAfter {
			t.Errorf("%d records; want the %d failed ones, the rest left for a later run", len(recs), StopAfter)
		}
	})
}

// TestVerbosityComesBack gives the high class a deadline it cannot meet: normal documents
// sent while high ones are unfinished get a leaner prompt, and those sent after the last
// high one is done get the full prompt again.
func TestVerbosityComesBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, 150_000, nil)
		out := filepath.Join(t.TempDir(), "out.jsonl")
		_, recs := f.run(t, context.Background(), Config{Inputs: []string{contractsDir(t, 0)}, Out: out, Pending: 2,
			Rules:     []Rule{{Pattern: "urgent/**", Priority: quota.High}, {Pattern: "archive/**", Priority: quota.Normal}},
			Deadlines: map[quota.Priority]time.Duration{quota.High: emulated(time.Second)}})
		var lastHigh time.Time
		for _, r := range recs {
			if r.Priority == "high" && r.Finished.After(lastHigh) {
				lastHigh = r.Finished
			}
		}
		lean, fullAfter := 0, 0
		for _, r := range recs {
			switch {
			case r.Priority == "high" && r.Verbosity != "full":
				t.Errorf("high %s got %s; want full", r.Path, r.Verbosity)
			case r.Priority == "normal" && r.Started.Before(lastHigh) && r.Verbosity != "full":
				lean++
			case r.Priority == "normal" && r.Started.After(lastHigh):
				if r.Verbosity == "full" {
					fullAfter++
				} else {
					t.Errorf("normal %s sent after the last high document finished got %s; want full", r.Path, r.Verbosity)
				}
			}
		}
		if lean == 0 || fullAfter == 0 {
			t.Errorf("%d normal documents leaner while high ones were late, %d full after; want some of each", lean, fullAfter)
		}
	})
}

// TestRunRightSizesThroughTheClient runs requests one at a time whose replies are 300
// tokens: the first RightSizeLearners send the initial max_tokens, the rest what the
// client learned (its 99th percentile plus 20%) — the run has no predictor of its own,
// and the client's learning is what sizes its calls.
func TestRunRightSizesThroughTheClient(t *testing.T) {
	f := newFixture(t, 4_000_000, func(o *bedrocktest.Options) {
		o.OutputTokens = func(int, uint64) int { return 300 }
	})
	dir := t.TempDir()
	in := filepath.Join(dir, "requests.jsonl")
	var lines strings.Builder
	const n = RightSizeLearners + 6
	for i := range n {
		fmt.Fprintf(&lines, `{"id": "r%02d", "prompt": "Summarise agreement number %d."}`+"\n", i, i)
	}
	write(t, in, []byte(lines.String()))
	cfg := Config{Inputs: []string{in}, Out: filepath.Join(dir, "out.jsonl"), Pending: 1, InitialMaxTokens: 1000}
	cfg.Limits = f.limits
	c := f.clientFor(t, cfg)
	r, err := New(cfg, c)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := r.Run(context.Background())
	if err != nil || sum.Done != n {
		t.Fatalf("run: %d of %d done, %v: %+v", sum.Done, n, err, sum.Failures)
	}
	recs, err := results.Load(sum.Out)
	if err != nil {
		t.Fatal(err)
	}
	p99, ok := c.Predict(r.task(r.plan.tmpl.Levels[len(r.plan.tmpl.Levels)-1], "doc"), 0.99)
	if !ok {
		t.Fatalf("the client learned nothing of the run's task")
	}
	sized := int(math.Ceil(float64(p99) * estimate.RightSizeHeadroom))
	if sized < 300 || sized >= 1000 {
		t.Fatalf("the client sizes the task's calls at %d; want between the replies' 300 and the initial 1,000", sized)
	}
	sort.Slice(recs, func(a, b int) bool { return recs[a].Started.Before(recs[b].Started) })
	for i, rec := range recs {
		want := 1000
		if i >= RightSizeLearners {
			want = sized
		}
		if rec.MaxTokens != want || rec.Continuations != 0 {
			t.Errorf("request %d (%s): max_tokens %d, %d continuations; want %d, none", i, rec.Path, rec.MaxTokens, rec.Continuations, want)
		}
	}
}

// TestRunRefusesAClientThatDoesNotRightSize: a run leaves max_tokens unset for its client
// to size, so a client built without ClientConfig (which would let Bedrock reserve the
// model's maximum on every call) is refused, naming the fix; with max_tokens fixed, any
// client will do.
func TestRunRefusesAClientThatDoesNotRightSize(t *testing.T) {
	f := newFixture(t, 400_000, nil)
	plain, err := pipeline.NewClient(context.Background(), f.pc, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { plain.Close() })
	cfg := Config{Inputs: []string{contractsDir(t, 1)}, Out: filepath.Join(t.TempDir(), "out.jsonl"), Limits: f.limits}
	if _, err := New(cfg, plain); err == nil || !strings.Contains(err.Error(), "batch.ClientConfig") {
		t.Errorf("New with a client that does not right-size: %v; want an error naming batch.ClientConfig", err)
	}
	if _, err := New(cfg, f.clientFor(t, cfg)); err != nil {
		t.Errorf("New with a client built with ClientConfig: %v", err)
	}
	cfg.MaxTokens = 500
	if _, err := New(cfg, plain); err != nil {
		t.Errorf("New with max_tokens fixed and a plain client: %v; want it accepted", err)
	}
}
