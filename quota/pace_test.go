package quota

import (
	"testing"
	"time"
)

// TestPacer: charges move the horizon at the limit's rate (idle time not banked), refunds
// move it back, and At admits within Burst of it.
func TestPacer(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	limits := []Limit{{Dimension: Tokens, Amount: 60_000, Per: time.Minute}, {Dimension: Requests, Amount: 60, Per: time.Minute}}
	p := NewPacer(10*time.Second, len(limits))
	cost := Cost{Requests: 1, Tokens: 20_000} // 20s of tokens, 1s of requests
	if at, _ := p.At(limits, cost); !at.IsZero() {
		t.Fatalf("a fresh pacer waits until %v", at)
	}
	p.Charge(t0, limits, cost)
	at, bind := p.At(limits, cost)
	if want := t0.Add(10 * time.Second); !at.Equal(want) || bind != 0 {
		t.Errorf("after 20s of tokens: At = %v (limit %d), want %v (tokens)", at, bind, want)
	}
	p.Refund(limits, Cost{Tokens: 15_000})
	if at, _ := p.At(limits, cost); !at.Before(t0) {
		t.Errorf("after a 15s refund: At = %v, want before %v", at, t0)
	}
	// An hour later the horizon is in the past: a charge starts from now.
	later := t0.Add(time.Hour)
	p.Charge(later, limits, cost)
	if at, _ := p.At(limits, cost); !at.Equal(later.Add(10 * time.Second)) {
		t.Errorf("idle time was banked: At = %v", at)
	}
	if at, _ := p.At(limits, Cost{Requests: 1}); !at.Before(later) {
		t.Errorf("a call using only requests waits on the tokens horizon: %v", at)
	}
}
