package pace

import (
	"testing"
	"time"
)

// TestPacer: charges move the horizon at the limit's rate (idle time not banked), refunds
// move it back, and Ready admits within the burst of it.
func TestPacer(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := New(10*time.Second, 2)                  // 0: 60000 tokens/min, 1: 60 requests/min
	tok := Duration(time.Minute, 60_000, 20_000) // 20s of tokens
	req := Duration(time.Minute, 60, 1)          // 1s of requests
	if tok != 20*time.Second || req != time.Second {
		t.Fatalf("Duration = %v, %v; want 20s, 1s", tok, req)
	}
	if !p.Ready(0).Before(t0) || !p.Ready(1).Before(t0) {
		t.Fatalf("a fresh pacer waits until %v, %v", p.Ready(0), p.Ready(1))
	}
	p.Charge(t0, 0, tok)
	p.Charge(t0, 1, req)
	if got, want := p.Ready(0), t0.Add(10*time.Second); !got.Equal(want) {
		t.Errorf("after 20s of tokens: Ready = %v, want %v", got, want)
	}
	if got := p.Ready(1); !got.Before(t0) {
		t.Errorf("after 1s of requests: Ready = %v, want before %v", got, t0)
	}
	p.Refund(0, Duration(time.Minute, 60_000, 15_000))
	if got := p.Ready(0); !got.Before(t0) {
		t.Errorf("after a 15s refund: Ready = %v, want before %v", got, t0)
	}
	// An hour later the horizon is in the past: a charge starts from now.
	later := t0.Add(time.Hour)
	p.Charge(later, 0, tok)
	if got := p.Ready(0); !got.Equal(later.Add(10 * time.Second)) {
		t.Errorf("idle time was banked: Ready = %v", got)
	}
	if got := p.Ready(5); !got.IsZero() {
		t.Errorf("Ready of an unknown limit = %v, want the zero time", got)
	}
}

// TestPacerUses: a cost paces only the limits it uses, binds at the latest of them, and
// a refund gives back what a charge took.
func TestPacerUses(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := New(10*time.Second, 2)
	uses := func(tokens, requests int64) []Use {
		return []Use{{Per: time.Minute, Amount: 60_000, N: tokens}, {Per: time.Minute, Amount: 60, N: requests}}
	}
	if at, i := p.ReadyFor(uses(0, 0)); !at.IsZero() || i != -1 {
		t.Errorf("a cost using no limit: ReadyFor = %v, %d; want the zero time, -1", at, i)
	}
	p.ChargeFor(t0, uses(30_000, 1)) // 30 s of tokens, 1 s of requests
	if at, i := p.ReadyFor(uses(1, 1)); !at.Equal(t0.Add(20*time.Second)) || i != 0 {
		t.Errorf("after 30 s of tokens: ReadyFor = %v, %d; want %v, 0", at, i, t0.Add(20*time.Second))
	}
	if at, i := p.ReadyFor(uses(0, 1)); !at.Before(t0) || i != 1 {
		t.Errorf("a call of requests only: ReadyFor = %v, %d; want before %v, 1", at, i, t0)
	}
	p.RefundFor(uses(30_000, -5)) // negative uses are no refund
	if got := p.Ready(0); !got.Equal(t0.Add(-10 * time.Second)) {
		t.Errorf("after the refund: Ready(0) = %v, want %v", got, t0.Add(-10*time.Second))
	}
	if got := p.Ready(1); !got.Equal(t0.Add(-9 * time.Second)) {
		t.Errorf("a negative use refunded: Ready(1) = %v, want %v", got, t0.Add(-9*time.Second))
	}
}

func TestDefaultBurst(t *testing.T) {
	if got := DefaultBurst(); got != 0 {
		t.Errorf("DefaultBurst() = %v, want 0", got)
	}
	if got := DefaultBurst(time.Hour, time.Minute+250*time.Millisecond, 24*time.Hour); got != 10*time.Second+250*time.Millisecond/6 {
		t.Errorf("DefaultBurst = %v, want a sixth of 1m0.25s", got)
	}
}
