package batch

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tollgate-dev/tollgate/quota"
)

// TestHugeRequestMaxTokens gives a JSONL request max_tokens 10^12: it is skipped with a
// reason naming the model's maximum, no negative number, and the others are done.
func TestHugeRequestMaxTokens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, 400_000, nil)
		dir := t.TempDir()
		in := filepath.Join(dir, "requests.jsonl")
		write(t, in, []byte(`{"id": "huge", "prompt": "Name the parties.", "max_tokens": 1000000000000}
{"id": "fine", "prompt": "Name the parties.", "max_tokens": 100}
`))
		sum, recs := f.run(t, context.Background(), Config{Inputs: []string{in}, Out: filepath.Join(dir, "out.jsonl")})
		if sum.Done != 1 || sum.Skipped != 1 || len(recs) != 2 {
			t.Fatalf("done %d, skipped %d, %d records; want one of each", sum.Done, sum.Skipped, len(recs))
		}
		for _, r := range recs {
			if !strings.HasSuffix(r.Path, ":huge") {
				continue
			}
			if !strings.Contains(r.Error, "max_tokens 1000000000000") || !strings.Contains(r.Error, "accepts at most") {
				t.Errorf("reason %q; want the request's max_tokens and the model's maximum", r.Error)
			}
			if negative.MatchString(r.Error) {
				t.Errorf("reason %q has a negative number", r.Error)
			}
		}
	})
}

// TestLimitTooSmallForACall gives a tokens-per-minute limit of 1: New refuses it, naming
// the limit, what one call needs and what to change, instead of skipping every document
// with a negative room.
func TestLimitTooSmallForACall(t *testing.T) {
	for _, tt := range []struct {
		name  string
		limit quota.Limit
		max   int
	}{
		{"one token", quota.Limit{Dimension: quota.Tokens, Amount: 1, Per: time.Minute}, 0},
		{"below max_tokens", quota.Limit{Dimension: quota.Tokens, Amount: 5000, Per: time.Minute}, 4096},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Config{Inputs: []string{"x"}, Limits: []quota.Limit{tt.limit}, MaxTokens: tt.max}, nil)
			if err == nil || !strings.Contains(err.Error(), "cannot admit a call") || !strings.Contains(err.Error(), "--tpm") {
				t.Fatalf("New = %v; want an error saying the limit cannot admit a call and what to change", err)
			}
			if negative.MatchString(err.Error()) {
				t.Errorf("error %q has a negative number", err)
			}
		})
	}
	if _, err := New(Config{Inputs: []string{"x"}, Limits: []quota.Limit{{Dimension: quota.Tokens, Amount: 20_000, Per: time.Minute}}}, nil); err != nil {
		t.Errorf("a limit that fits a call: %v", err)
	}
}

// negative matches a negative number in a message (not a hyphen inside a name).
var negative = regexp.MustCompile(`(^|[^\w.])-\d`)
