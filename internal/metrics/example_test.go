package metrics_test

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate-dev/tollgate/internal/metrics"
)

func Example() {
	reg := prometheus.NewRegistry() // never the global registry unless asked
	m, err := metrics.New(reg)
	if err != nil {
		fmt.Println(err)
		return
	}
	const model, target = "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "us-east-1/us.anthropic.claude-sonnet-4-5-20250929-v1:0"
	m.QueueWait(model, "high", 120*time.Millisecond)
	m.Attempt(model, target, metrics.ResultOK)
	m.Tokens(model, target, metrics.KindInput, 1834)
	m.Call(model, target, "high", metrics.OutcomeOK)

	mfs, err := reg.Gather()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, mf := range mfs {
		for _, s := range mf.GetMetric() {
			switch {
			case s.GetCounter() != nil:
				fmt.Println(mf.GetName(), s.GetCounter().GetValue())
			case s.GetHistogram() != nil:
				fmt.Println(mf.GetName(), "count", s.GetHistogram().GetSampleCount(), "sum", s.GetHistogram().GetSampleSum())
			}
		}
	}
	// Output:
	// tollgate_attempts_total 1
	// tollgate_calls_total 1
	// tollgate_queue_wait_seconds count 1 sum 0.12
	// tollgate_tokens_total 1834
}

func ExampleNew_off() {
	m, err := metrics.New(nil) // no Registerer: metrics off
	fmt.Println(m == nil, err)
	m.Call("model", "target", "high", metrics.OutcomeOK) // records nothing, costs a nil check
	// Output: true <nil>
}
