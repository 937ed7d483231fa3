package metrics_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate-dev/tollgate/internal/metrics"
)

// The anchor is client_golang's own cost for one labelled increment,
// CounterVec.WithLabelValues(...).Inc(), with the four labels of tollgate_calls_total.
// Metrics.Call adds the label guards (a switch and three lock-free lookups) on top.
const (
	benchModel  = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
	benchTarget = "us-east-1/us.anthropic.claude-sonnet-4-5-20250929-v1:0"
)

func BenchmarkRecord(b *testing.B) {
	anchor := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "anchor_total", Help: "Anchor."},
		[]string{"model", "target", "priority", "outcome"})
	m, _ := newMetrics(b)
	var off *metrics.Metrics

	b.Run("CounterVecAnchor", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			anchor.WithLabelValues(benchModel, benchTarget, "high", "ok").Inc()
		}
	})
	b.Run("Call", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.Call(benchModel, benchTarget, "high", metrics.OutcomeOK)
		}
	})
	b.Run("CallOff", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			off.Call(benchModel, benchTarget, "high", metrics.OutcomeOK)
		}
	})
	b.Run("QueueWait", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.QueueWait(benchModel, "high", 42*time.Millisecond)
		}
	})
	b.Run("Limit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.Limit(benchTarget, "tokens_per_minute", 300000, 400000, 500000)
		}
	})
	b.Run("CounterVecAnchorParallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				anchor.WithLabelValues(benchModel, benchTarget, "high", "ok").Inc()
			}
		})
	})
	b.Run("CallParallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.Call(benchModel, benchTarget, "high", metrics.OutcomeOK)
			}
		})
	})
}
