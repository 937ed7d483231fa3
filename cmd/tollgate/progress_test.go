package main

import (
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tollgate-dev/tollgate/internal/batch"
)

// TestProgressShowsNoETAWhenFinished runs the example contracts with the live bar and
// checks the bar's last state: every document finished, and no ETA beside it (the last
// forecast, made while documents were still open, is stale once they are all done).
func TestProgressShowsNoETAWhenFinished(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := exampleCopy(t, false)
		out := filepath.Join(t.TempDir(), "results.jsonl")
		_, stderr, err := runCmd(t, "run", "--emulate", "--time-scale", "10", "--progress", "bar", "--json", "--out", out, dir)
		if err != nil {
			t.Fatalf("run: %v\n%s", err, stderr)
		}
		frames := strings.Split(stderr, "\r")
		last := ""
		for _, f := range frames {
			if strings.Contains(f, " out tokens") && strings.Contains(f, "/24)") {
				last = f
			}
		}
		if !strings.Contains(last, "(24/24") {
			t.Fatalf("the bar's last state is not 24/24 documents: %q", last)
		}
		if strings.Contains(last, "ETA") {
			t.Errorf("the bar shows an ETA with every document finished: %q", last)
		}
	})
}

// TestProgressLine checks the status beside the bar: an ETA while documents are open,
// none once they are all finished, whatever the last forecast said.
func TestProgressLine(t *testing.T) {
	s := &session{scale: 1}
	for _, tc := range []struct {
		name    string
		st      batch.Status
		wantETA bool
	}{
		{"half done", batch.Status{Total: 4, Done: 2, ETA: 27 * time.Second}, true},
		{"all done, stale forecast", batch.Status{Total: 4, Done: 3, Skipped: 1, ETA: 27 * time.Second}, false},
		{"all resumed, stale forecast", batch.Status{Total: 4, Resumed: 4, ETA: time.Second}, false},
		{"no forecast", batch.Status{Total: 4, Done: 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line := progressLine(tc.st, s)
			if got := strings.Contains(line, "ETA"); got != tc.wantETA {
				t.Errorf("progressLine(%+v) = %q; want an ETA: %v", tc.st, line, tc.wantETA)
			}
		})
	}
}
