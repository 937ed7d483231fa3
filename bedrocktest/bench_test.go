package bedrocktest

import (
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/quotatext"
	"github.com/tollgate-dev/tollgate/quota"
)

// BenchmarkMeter measures one reservation and its settlement, from parallel callers on
// one series, in each window mode.
func BenchmarkMeter(b *testing.B) {
	for _, mode := range []quota.Meter{quota.TokenBucket, quota.ClockWindow} {
		b.Run(quotatext.MeterName(mode), func(b *testing.B) {
			m := newMeter(mode)
			key := seriesKey{Model: "m", Scope: catalog.CrossRegion}
			lim := Limits{TokensPerMinute: 1 << 40, TokensPerDay: 1 << 50, RequestsPerMinute: 1 << 40}
			start := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					i++
					now := start.Add(time.Duration(i) * time.Millisecond)
					t, _, ok := m.reserveAt(now, key, lim, 1000)
					if !ok {
						b.Fatal("refused")
					}
					m.settleAt(now, t, 400)
				}
			})
		})
	}
}
