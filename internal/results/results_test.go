package results

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func rec(path, status string) Record {
	return Record{Path: path, Hash: "sha256:" + path, Settings: "s1", Status: status, Priority: "normal", Calls: 1}
}

// TestAppendReopenResume appends records, reopens the file and finds the done ones by key.
func TestAppendReopenResume(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "out.jsonl")
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []Record{rec("a.txt", Done), rec("b.txt", Failed), rec("c.txt", Skipped)}
	for _, r := range want {
		if err := f.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Append(rec("d.txt", Done)); err == nil {
		t.Error("Append after Close succeeded")
	}
	f, err = Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if diff := cmp.Diff(want, f.Records()); diff != "" {
		t.Errorf("records after reopening (-want +got):\n%s", diff)
	}
	if _, ok := f.Done(want[0].Key()); !ok {
		t.Error("the done record of a.txt is not found by its key")
	}
	if _, ok := f.Done(want[1].Key()); ok {
		t.Error("a failed record counts as done")
	}
	changed := want[0].Key()
	changed.Settings = "s2"
	if _, ok := f.Done(changed); ok {
		t.Error("a done record answers a key with other settings")
	}
}

// TestTornLastLine: a last line cut short (a crash mid-write, or a truncated file) is not an
// error; Open cuts it off so that the next append starts a clean line. A bad line before
// the last is an error naming it.
func TestTornLastLine(t *testing.T) {
	p := filepath.Join(t.TempDir(), "out.jsonl")
	good := `{"path":"a.txt","hash":"h","settings":"s","status":"done","priority":"normal","calls":1,"attempts":1,"usage":{"input_tokens":1,"output_tokens":1,"quota_tokens":6},"started":"2026-11-26T00:00:00Z","finished":"2026-11-26T00:00:01Z","latency_ms":1,"queue_ms":0}` + "\n"
	for _, torn := range []string{`{"path":"b.txt","hash":"h","sett`, `{"path":"b.txt"}`, "garbage\n"} {
		if err := os.WriteFile(p, []byte(good+torn), 0o644); err != nil {
			t.Fatal(err)
		}
		recs, tr, err := Read(strings.NewReader(good + torn))
		if err != nil || tr == nil || len(recs) != 1 || tr.Line != 2 || tr.Offset != int64(len(good)) {
			t.Errorf("Read(good + %q) = %d records, torn %+v, %v; want 1 record and line 2 torn at %d", torn, len(recs), tr, err, len(good))
		}
		f, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Append(rec("c.txt", Done)); err != nil {
			t.Fatal(err)
		}
		f.Close()
		recs, err = Load(p)
		if err != nil || len(recs) != 2 || recs[1].Path != "c.txt" {
			t.Errorf("after cutting %q and appending: %d records, %v; want a.txt and c.txt", torn, len(recs), err)
		}
	}
	_, _, err := Read(strings.NewReader(good + "not json\n" + good))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("a bad middle line: %v; want an error naming line 2", err)
	}
}

// TestCompact keeps the records asked for, atomically, and appends after them.
func TestCompact(t *testing.T) {
	p := filepath.Join(t.TempDir(), "out.jsonl")
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []Record{rec("a.txt", Done), rec("b.txt", Failed), rec("c.txt", Done)} {
		if err := f.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	f, err = Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Compact(func(r Record) bool { return r.Status == Done && r.Path != "c.txt" }); err != nil {
		t.Fatal(err)
	}
	if err := f.Append(rec("b.txt", Done)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	recs, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, r := range recs {
		paths = append(paths, r.Path+":"+r.Status)
	}
	if diff := cmp.Diff([]string{"a.txt:done", "b.txt:done"}, paths); diff != "" {
		t.Errorf("after compacting and appending (-want +got):\n%s", diff)
	}
	left, _ := filepath.Glob(p + ".tmp*")
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestScale reads the time scale of records of emulated runs.
func TestScale(t *testing.T) {
	if got := (Record{}).Scale(); got != 1 {
		t.Errorf("Scale of a real run = %v, want 1", got)
	}
	if got := (Record{TimeScale: 20}).Scale(); got != 20 {
		t.Errorf("Scale = %v, want 20", got)
	}
}

// FuzzRead: no input makes Read panic, and what it returns is consistent.
func FuzzRead(f *testing.F) {
	f.Add(`{"path":"a","status":"done"}` + "\n" + `{"pa`)
	f.Add("\n\n")
	f.Add(`{"path":1}` + "\n")
	f.Fuzz(func(t *testing.T, s string) {
		recs, torn, err := Read(strings.NewReader(s))
		if err != nil && torn != nil {
			t.Errorf("both an error and a torn line")
		}
		for _, r := range recs {
			if r.Path == "" {
				t.Errorf("a record without a path: %+v", r)
			}
		}
		if torn != nil && (torn.Offset < 0 || torn.Offset > int64(len(s))) {
			t.Errorf("torn offset %d outside the input of %d bytes", torn.Offset, len(s))
		}
	})
}
