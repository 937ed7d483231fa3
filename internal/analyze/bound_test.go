package analyze

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/quota"
)

func TestLowerBoundByReading(t *testing.T) {
	tpm := quota.Limit{Dimension: quota.Tokens, Amount: 1000, Per: time.Minute}
	rpm := quota.Limit{Dimension: quota.Requests, Amount: 10, Per: time.Minute}
	onMinute := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at20s := onMinute.Add(20 * time.Second) // 40 s of its minute left
	tests := []struct {
		name  string
		used  quota.Cost
		r     Reading
		start time.Time
		want  time.Duration
		bind  quota.Limit
	}{
		{"bucket: a full bucket at once, the rest at the rate", quota.Cost{Tokens: 3500}, BucketReading, at20s, 150 * time.Second, tpm},
		{"bucket: within the bucket", quota.Cost{Tokens: 1000}, BucketReading, at20s, 0, tpm},
		{"clock: the rest of the minute, then a minute per quota", quota.Cost{Tokens: 3500}, ClockReading, at20s, 40*time.Second + 2*time.Minute, tpm},
		{"clock: two minutes' worth needs the second minute", quota.Cost{Tokens: 1001}, ClockReading, at20s, 40 * time.Second, tpm},
		{"clock: started on the minute", quota.Cost{Tokens: 3500}, ClockReading, onMinute, 3 * time.Minute, tpm},
		{"clock: within the first minute", quota.Cost{Tokens: 1000}, ClockReading, at20s, 0, tpm},
		{"any: the smaller of the two", quota.Cost{Tokens: 3500}, AnyReading, at20s, 150 * time.Second, tpm},
		{"any: the clock's when smaller", quota.Cost{Tokens: 1500}, AnyReading, onMinute.Add(50 * time.Second), 10 * time.Second, tpm},
		{"requests bind", quota.Cost{Tokens: 1000, Requests: 40}, BucketReading, at20s, 3 * time.Minute, rpm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, bind, ok := LowerBound([]quota.Limit{tpm, rpm}, tt.used, tt.r, tt.start)
			if !ok || got != tt.want || bind != tt.bind {
				t.Errorf("LowerBound = %v, %v, %v; want %v, %v", got, bind, ok, tt.want, tt.bind)
			}
		})
	}
	if _, _, ok := LowerBound(nil, quota.Cost{Tokens: 1}, BucketReading, at20s); ok {
		t.Error("a bound without limits")
	}
	// A peak above the quota is what the provider let through at once instead.
	if got, _, _ := LowerBoundPeaks([]quota.Limit{tpm}, quota.Cost{Tokens: 3500}, BucketReading, at20s, []int64{1500}); got != 120*time.Second {
		t.Errorf("with a peak of 1500: %v; want 2m", got)
	}
	if got, _, _ := LowerBoundPeaks([]quota.Limit{tpm}, quota.Cost{Tokens: 3500}, BucketReading, at20s, []int64{800}); got != 150*time.Second {
		t.Errorf("with a peak below the quota: %v; want 2m30s (the quota)", got)
	}
}

// provider is an exact token bucket (full at first) or clock-minute meter of amount per
// minute, as Bedrock is read: a call is admitted when its reservation fits, and its
// settlement may charge more than was reserved (an overshoot, tracked as the peak).
type provider struct {
	clock        bool
	amount       int64
	level        float64 // bucket: tokens held (negative: a debt)
	last         time.Time
	window       time.Time // clock: the current minute
	used         int64     // clock: charged in it
	peak         int64     // deepest draw (bucket) or fullest minute (clock)
	settledTotal int64
}

func (p *provider) advance(now time.Time) {
	if p.clock {
		if w := now.Truncate(time.Minute); w.After(p.window) {
			p.window, p.used = w, 0
		}
		return
	}
	p.level = min(p.level+float64(p.amount)*now.Sub(p.last).Minutes(), float64(p.amount))
	p.last = now
}

// earliest is the first time from now at which reserve fits.
func (p *provider) earliest(now time.Time, reserve int64) time.Time {
	p.advance(now)
	if p.clock {
		if p.used+reserve <= p.amount {
			return now
		}
		return p.window.Add(time.Minute)
	}
	if p.level >= float64(reserve) {
		return now
	}
	return now.Add(time.Duration((float64(reserve) - p.level) / float64(p.amount) * float64(time.Minute)))
}

// charge admits a call reserving reserve at now and settles it at once for settle.
func (p *provider) charge(now time.Time, reserve, settle int64) {
	p.advance(now)
	if p.clock {
		p.used += settle
		p.peak = max(p.peak, p.used)
	} else {
		p.level -= float64(settle)
		p.peak = max(p.peak, int64(float64(p.amount)-p.level))
	}
	p.settledTotal += settle
	_ = reserve
}

// TestLowerBoundNeverBeaten runs a greedy client — each call sent the moment the
// provider would admit it, taking no time — against exact token-bucket and clock-minute
// providers, from random starts, with random calls some of which settle above their
// reservation: no run beats its bound under its reading or under AnyReading, and a long
// backlogged run against the bucket comes close to it (the bound is not trivially low).
func TestLowerBoundNeverBeaten(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	limit := quota.Limit{Dimension: quota.Tokens, Amount: 200_000, Per: time.Minute}
	for i := range 400 {
		clock := i%2 == 1
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.Int64N(int64(time.Hour))))
		p := &provider{clock: clock, amount: limit.Amount, level: float64(limit.Amount), last: start, window: start.Truncate(time.Minute)}
		calls := 1 + rng.IntN(300)
		now := start
		for range calls {
			reserve := 2_000 + rng.Int64N(60_000)
			settle := reserve / 2
			if rng.IntN(4) == 0 {
				settle = reserve + rng.Int64N(reserve) // an overshoot
			}
			now = p.earliest(now, reserve)
			p.charge(now, reserve, settle)
		}
		makespan := now.Sub(start)
		used := quota.Cost{Tokens: p.settledTotal}
		r := BucketReading
		if clock {
			r = ClockReading
		}
		for _, rd := range []Reading{r, AnyReading} {
			b, _, _ := LowerBoundPeaks([]quota.Limit{limit}, used, rd, start, []int64{p.peak})
			if b > makespan {
				t.Fatalf("run %d (%v provider, read %v, %d calls, %d settled): bound %v beats the makespan %v", i, r, rd, calls, p.settledTotal, b, makespan)
			}
			// Clock minutes waste what is left of each minute, calls being whole: only
			// the bucket's bound is close to what a greedy client reaches.
			if rd == BucketReading && p.settledTotal > 20*limit.Amount && Efficiency(b, makespan) < 0.9 {
				t.Errorf("run %d (%v, %d calls): efficiency %.3f of a greedy client; want >= 0.9", i, r, calls, Efficiency(b, makespan))
			}
		}
	}
}

// TestReportEfficiency: tollgate analyze reports the simulated run's quota efficiency by
// the same bound, never above 1.
func TestReportEfficiency(t *testing.T) {
	r, err := New(Config{Model: sonnet4(t), ModelID: "us.anthropic.claude-sonnet-4-20250514-v1:0",
		Limits: []quota.Limit{tpm(200_000)}, Workload: same(60, 12_000, 0, 700)})
	if err != nil {
		t.Fatal(err)
	}
	if r.LowerBound <= 0 || r.LowerBound > r.Makespan || r.Efficiency <= 0 || r.Efficiency > 1 {
		t.Errorf("lower bound %v, makespan %v, efficiency %v; want 0 < bound <= makespan", r.LowerBound, r.Makespan, r.Efficiency)
	}
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "Quota efficiency") {
		t.Error("the text report does not show the quota efficiency")
	}
}
