package pipeline

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/quota"
)

// TestAdmission: windows are lengthened by the margin except clock windows, the pacing
// defaults to a sixth of the shortest lengthened window, and the caller's limits are not
// changed.
func TestAdmission(t *testing.T) {
	in := []quota.Limit{
		{Dimension: quota.Tokens, Amount: 1000, Per: time.Minute},
		{Dimension: quota.Requests, Amount: 10, Per: time.Minute, Meter: quota.ClockWindow},
		{Dimension: quota.Tokens, Amount: 100_000, Per: 24 * time.Hour},
	}
	orig := append([]quota.Limit(nil), in...)
	got, pacing := Admission(in, 600*time.Millisecond, 0)
	want := []quota.Limit{
		{Dimension: quota.Tokens, Amount: 1000, Per: time.Minute + 600*time.Millisecond},
		{Dimension: quota.Requests, Amount: 10, Per: time.Minute, Meter: quota.ClockWindow},
		{Dimension: quota.Tokens, Amount: 100_000, Per: 24*time.Hour + 600*time.Millisecond},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("limits (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(orig, in); diff != "" {
		t.Errorf("the caller's limits changed (-before +after):\n%s", diff)
	}
	if pacing != 10*time.Second {
		t.Errorf("default pacing %v, want 10s (a sixth of the clock minute)", pacing)
	}
	if _, p := Admission(in, 0, 3*time.Second); p != 3*time.Second {
		t.Errorf("pacing given: %v, want 3s", p)
	}
	if _, p := Admission(in, 0, -1); p != 0 {
		t.Errorf("pacing negative: %v, want none", p)
	}
}
