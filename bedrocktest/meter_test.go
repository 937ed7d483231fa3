package bedrocktest

import (
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/quotatext"
	"github.com/tollgate-dev/tollgate/quota"
)

// step is one operation on the meter at an emulated offset from the start of a minute.
type step struct {
	at      time.Duration
	reserve int64 // > 0: reserve this many tokens
	settle  int   // ≥ 1: settle the reservation of step number settle (1-based) …
	actual  int64 // … at this many tokens
	wantOK  bool  // for a reserve: admitted?
	// After the step: the TPM window's usage and peak (checked when wantUsage ≥ 0).
	wantUsage, wantPeak int64
}

func TestMeterArithmetic(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	const skip = -1
	tests := []struct {
		name  string
		mode  quota.Meter
		tpm   int64
		steps []step
	}{
		{"clock: reservations add up to the limit", quota.ClockWindow, 1000, []step{
			{at: 0, reserve: 600, wantOK: true, wantUsage: 600, wantPeak: 600},
			{at: 10 * time.Second, reserve: 401, wantOK: false, wantUsage: 600, wantPeak: 600},
			{at: 11 * time.Second, reserve: 400, wantOK: true, wantUsage: 1000, wantPeak: 1000},
		}},
		{"clock: a refund in the same minute frees room", quota.ClockWindow, 1000, []step{
			{at: 0, reserve: 600, wantOK: true, wantUsage: 600, wantPeak: 600},
			{at: 20 * time.Second, settle: 1, actual: 300, wantUsage: 300, wantPeak: 600},
			{at: 30 * time.Second, reserve: 700, wantOK: true, wantUsage: 1000, wantPeak: 1000},
			{at: 31 * time.Second, reserve: 1, wantOK: false, wantUsage: 1000, wantPeak: 1000},
		}},
		{"clock: the next minute starts empty", quota.ClockWindow, 1000, []step{
			{at: 0, reserve: 1000, wantOK: true, wantUsage: 1000, wantPeak: 1000},
			{at: 59*time.Second + 999*time.Millisecond, reserve: 1, wantOK: false, wantUsage: 1000, wantPeak: 1000},
			{at: 60 * time.Second, reserve: 1000, wantOK: true, wantUsage: 1000, wantPeak: 1000},
		}},
		{"clock: a refund after its minute closed is dropped", quota.ClockWindow, 1000, []step{
			{at: 50 * time.Second, reserve: 900, wantOK: true, wantUsage: 900, wantPeak: 900},
			{at: 70 * time.Second, settle: 1, actual: 100, wantUsage: 0, wantPeak: 900},
			{at: 71 * time.Second, reserve: 1000, wantOK: true, wantUsage: 1000, wantPeak: 1000},
		}},
		{"clock: an extra charge lands in the current minute", quota.ClockWindow, 1000, []step{
			{at: 10 * time.Second, reserve: 100, wantOK: true, wantUsage: 100, wantPeak: 100},
			{at: 65 * time.Second, settle: 1, actual: 600, wantUsage: 500, wantPeak: 500},
			{at: 66 * time.Second, reserve: 501, wantOK: false, wantUsage: 500, wantPeak: 500},
		}},
		{"clock: settlement can overshoot the limit", quota.ClockWindow, 1000, []step{
			{at: 0, reserve: 900, wantOK: true, wantUsage: 900, wantPeak: 900},
			{at: 5 * time.Second, settle: 1, actual: 1500, wantUsage: 1500, wantPeak: 1500},
		}},
		{"bucket: a full draw refills at the rate", quota.TokenBucket, 600, []step{ // 10 tokens a second
			{at: 0, reserve: 600, wantOK: true, wantUsage: 600, wantPeak: 600},
			{at: 500 * time.Millisecond, reserve: 10, wantOK: false, wantUsage: 595, wantPeak: 600},
			{at: time.Second, reserve: 10, wantOK: true, wantUsage: 600, wantPeak: 600},
			{at: 61 * time.Second, reserve: 600, wantOK: true, wantUsage: 600, wantPeak: 600},
		}},
		{"bucket: a refund goes back at once", quota.TokenBucket, 600, []step{
			{at: 0, reserve: 600, wantOK: true, wantUsage: 600, wantPeak: 600},
			{at: 0, settle: 1, actual: 100, wantUsage: 100, wantPeak: 600},
			{at: 0, reserve: 500, wantOK: true, wantUsage: 600, wantPeak: 600},
		}},
		{"bucket: a refund never fills past capacity", quota.TokenBucket, 600, []step{
			{at: 0, reserve: 300, wantOK: true, wantUsage: 300, wantPeak: 300},
			{at: 60 * time.Second, settle: 1, actual: 0, wantUsage: 0, wantPeak: 300},
			{at: 60 * time.Second, reserve: 601, wantOK: false, wantUsage: 0, wantPeak: 300},
		}},
		{"bucket: nearly twice the limit passes in one clock minute", quota.TokenBucket, 600, []step{
			{at: 0, reserve: 600, wantOK: true, wantUsage: 600, wantPeak: 600},
			{at: 59 * time.Second, reserve: 590, wantOK: true, wantUsage: 600, wantPeak: 600},
		}},
		{"bucket: an extra charge is a debt", quota.TokenBucket, 600, []step{
			{at: 0, reserve: 600, wantOK: true, wantUsage: 600, wantPeak: 600},
			{at: 0, settle: 1, actual: 1200, wantUsage: 1200, wantPeak: 1200},
			{at: 60 * time.Second, reserve: 1, wantOK: false, wantUsage: 600, wantPeak: 1200},
			{at: 120 * time.Second, reserve: 600, wantOK: true, wantUsage: 600, wantPeak: 1200},
		}},
		{"bucket: refill is exact, fractions carry", quota.TokenBucket, 10, []step{ // one token per 6s
			{at: 0, reserve: 10, wantOK: true, wantUsage: 10, wantPeak: 10},
			{at: 3 * time.Second, reserve: 1, wantOK: false, wantUsage: 10, wantPeak: 10},
			{at: 5999 * time.Millisecond, reserve: 1, wantOK: false, wantUsage: 10, wantPeak: 10},
			{at: 6 * time.Second, reserve: 1, wantOK: true, wantUsage: 10, wantPeak: 10},
			{at: 18 * time.Second, reserve: 2, wantOK: true, wantUsage: 10, wantPeak: 10},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMeter(tt.mode)
			key := seriesKey{Model: "m", Scope: catalog.OnDemand}
			lim := Limits{TokensPerMinute: tt.tpm, TokensPerDay: 1 << 40}
			tickets := map[int]ticket{}
			for i, s := range tt.steps {
				now := t0.Add(s.at)
				if s.settle > 0 {
					m.settleAt(now, tickets[s.settle], s.actual)
				} else {
					tk, refused, ok := m.reserveAt(now, key, lim, s.reserve)
					if ok != s.wantOK {
						t.Fatalf("step %d: reserve %d admitted = %v, want %v", i+1, s.reserve, ok, s.wantOK)
					}
					if !ok && refused != limitTPM {
						t.Fatalf("step %d: refused by %s, want tokens-per-minute", i+1, limitNames[refused])
					}
					tickets[i+1] = tk
				}
				if s.wantUsage == skip {
					continue
				}
				w := m.series[key].limits[limitTPM]
				w.advance(now, tt.mode)
				if got := w.usage(tt.mode); got != s.wantUsage {
					t.Errorf("step %d: usage = %d, want %d", i+1, got, s.wantUsage)
				}
				if w.peak != s.wantPeak {
					t.Errorf("step %d: peak = %d, want %d", i+1, w.peak, s.wantPeak)
				}
			}
		})
	}
}

func TestMeterTokensPerDayAndRequests(t *testing.T) {
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	for _, mode := range []quota.Meter{quota.ClockWindow, quota.TokenBucket} {
		t.Run(quotatext.MeterName(mode), func(t *testing.T) {
			m := newMeter(mode)
			key := seriesKey{Model: "m", Scope: catalog.CrossRegion}
			lim := Limits{TokensPerMinute: 1000, TokensPerDay: 1500, RequestsPerMinute: 2}
			reserve := func(at time.Duration, tokens int64) (limitKind, bool) {
				_, refused, ok := m.reserveAt(day.Add(at), key, lim, tokens)
				return refused, ok
			}
			if _, ok := reserve(23*time.Hour, 1000); !ok {
				t.Fatal("first call refused")
			}
			// Two minutes later TPM has room again but the day has only 500 left.
			if refused, ok := reserve(23*time.Hour+2*time.Minute, 600); ok || refused != limitTPD {
				t.Fatalf("got admitted=%v refused=%s, want a tokens-per-day throttle", ok, limitNames[refused])
			}
			for range 2 {
				if _, ok := reserve(23*time.Hour+2*time.Minute, 10); !ok {
					t.Fatal("small call refused")
				}
			}
			if refused, ok := reserve(23*time.Hour+2*time.Minute, 10); ok || refused != limitRPM {
				t.Fatalf("third call in a minute: admitted=%v refused=%s, want a requests-per-minute throttle", ok, limitNames[refused])
			}
			// The next day: the clock day starts empty; the bucket has refilled
			// 1500 × 1h/24h = 62.5 tokens (plus its remaining 480).
			want := map[quota.Meter]int64{quota.ClockWindow: 1000, quota.TokenBucket: 480 + 62}[mode]
			if _, ok := reserve(24*time.Hour+2*time.Minute, want); !ok {
				t.Errorf("%s: %d tokens refused the next day", quotatext.MeterName(mode), want)
			}
			if _, ok := reserve(24*time.Hour+2*time.Minute, 501); ok {
				t.Errorf("%s: a call past the daily amount was admitted", quotatext.MeterName(mode))
			}
			s := m.series[key]
			if s.throttled[limitTPD] != 2 || s.throttled[limitRPM] != 1 || s.admitted != 4 {
				t.Errorf("counters: throttled %v, admitted %d", s.throttled, s.admitted)
			}
		})
	}
}

func TestZeroQuotaAdmitsNothing(t *testing.T) {
	m := newMeter(quota.TokenBucket)
	_, refused, ok := m.reserveAt(time.Now(), seriesKey{}, Limits{TokensPerMinute: 100, TokensPerDay: noTokens}, 1)
	if ok || refused != limitTPD {
		t.Fatalf("admitted = %v, refused = %s; want a tokens-per-day throttle", ok, limitNames[refused])
	}
}
