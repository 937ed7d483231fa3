package estimate

import (
	"fmt"
	"testing"
)

func newPredictor(tb testing.TB, cfg PredictorConfig) *OutputPredictor {
	tb.Helper()
	p, err := NewPredictor(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func TestPredictQuantiles(t *testing.T) {
	p := newPredictor(t, PredictorConfig{Floor: 1})
	for i := 1; i <= 1000; i++ {
		p.Observe("summary", i*2) // 2 … 2000 tokens, uniform
	}
	for _, q := range []float64{0.5, 0.9, 0.95, 1} {
		exact := q * 2000
		got, ok := p.Predict("summary", q)
		if !ok {
			t.Fatalf("Predict(%v) not ok", q)
		}
		// Never below the true quantile, at most one bucket (5 %) above.
		if float64(got) < exact || float64(got) > exact*1.05+1 {
			t.Errorf("Predict(%v) = %d, want within [%v, %v]", q, got, exact, exact*1.05+1)
		}
	}
}

func TestPredictMinObservationsFloorAndRange(t *testing.T) {
	p := newPredictor(t, PredictorConfig{MinObservations: 5, Floor: 300})
	for range 4 {
		p.Observe("short", 20)
	}
	if _, ok := p.Predict("short", 0.9); ok {
		t.Error("Predict answered after 4 of the 5 observations it needs")
	}
	p.Observe("short", 20)
	if got, ok := p.Predict("short", 0.9); !ok || got != 300 {
		t.Errorf("Predict = %d, %v; want the floor 300, true", got, ok)
	}
	for _, q := range []float64{0, -1, 1.5} {
		if _, ok := p.Predict("short", q); ok {
			t.Errorf("Predict(q=%v) ok, want false", q)
		}
	}
	if _, ok := p.Predict("unknown", 0.9); ok {
		t.Error("Predict answered for a task never observed")
	}
}

func TestPredictForgetsOldReplies(t *testing.T) {
	p := newPredictor(t, PredictorConfig{Window: 100, Floor: 1})
	for range 200 {
		p.Observe("t", 1000)
	}
	for range 1000 {
		p.Observe("t", 100)
	}
	got, _ := p.Predict("t", 0.95)
	if got > 105 {
		t.Errorf("Predict after the task's replies shrank = %d, want ≤ 105 (old replies forgotten)", got)
	}
}

func TestBucketBounds(t *testing.T) {
	for n := 0; n < 200_000; n += 1 + n/50 {
		i := bucket(n)
		if float64(n) > bucketUpper(i) || (i > 0 && float64(n) <= bucketUpper(i-1)) {
			t.Fatalf("bucket(%d) = %d with bounds (%v, %v]", n, i, bucketUpper(i-1), bucketUpper(i))
		}
	}
}

func TestPredictorConfigErrors(t *testing.T) {
	for _, cfg := range []PredictorConfig{{MinObservations: -1}, {Floor: -1}, {Window: -2}} {
		if _, err := NewPredictor(cfg); err == nil {
			t.Errorf("NewPredictor(%+v) succeeded, want an error", cfg)
		}
	}
}

// ExampleOutputPredictor right-sizes max_tokens from the replies a task has produced.
func ExampleOutputPredictor() {
	p, _ := NewPredictor(PredictorConfig{})
	for i := range 100 {
		p.Observe("summarise-contract", 400+i*4) // replies of 400 to 796 tokens
	}
	// The 95th percentile is 776 tokens; the prediction rounds it up to its bucket's bound.
	maxTokens, ok := p.Predict("summarise-contract", 0.95)
	fmt.Println(maxTokens, ok)
	// Output: 799 true
}
