package quota_test

// Benchmarks of the limiter's overhead beside golang.org/x/time/rate, the anchor it is
// measured against: rate.Limiter.ReserveN on one limit, against quota reserving and
// settling one call against three limits (RPM, TPM, TPD). Both read the clock with
// time.Now once per call (x/time/rate's caller, as its API takes a time). Amounts are
// large enough that every call is admitted at once: this measures the cost of admission
// itself, not waiting. Results and the command: docs/benchmarks.md.

import (
	"context"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/tollgate-dev/tollgate/quota"
)

const benchTokens = 5_000

func BenchmarkXRateReserveN(b *testing.B) {
	l := rate.NewLimiter(rate.Limit(1e12), 1<<40)
	b.ReportAllocs()
	for b.Loop() {
		l.ReserveN(time.Now(), benchTokens)
	}
}

func BenchmarkXRateReserveNParallel(b *testing.B) {
	l := rate.NewLimiter(rate.Limit(1e12), 1<<40)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.ReserveN(time.Now(), benchTokens)
		}
	})
}

func benchLimiter(b *testing.B) *quota.Limiter {
	l, err := quota.New(quota.Config{Limits: []quota.Limit{
		{Dimension: quota.Requests, Amount: 1 << 50, Per: time.Minute},
		{Dimension: quota.Tokens, Amount: 1 << 50, Per: time.Minute},
		{Dimension: quota.Tokens, Amount: 1 << 52, Per: 24 * time.Hour},
	}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}

var (
	benchCost    = quota.Cost{Requests: 1, Tokens: benchTokens}
	benchSettled = quota.Cost{Requests: 1, Tokens: benchTokens / 2}
)

func BenchmarkReserveSettle3Limits(b *testing.B) {
	l := benchLimiter(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r, err := l.Wait(ctx, benchCost, quota.Options{})
		if err != nil {
			b.Fatal(err)
		}
		r.Settle(benchSettled)
	}
}

func BenchmarkReserveSettle3LimitsParallel(b *testing.B) {
	l := benchLimiter(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r, err := l.Wait(ctx, benchCost, quota.Options{})
			if err != nil {
				b.Error(err)
				return
			}
			r.Settle(benchSettled)
		}
	})
}
