package route_test

import (
	"fmt"
	"time"

	"github.com/tollgate-dev/tollgate/internal/route"
)

// Two regions serve the same model. Calls go to the one whose quota admits them soonest;
// when one region fails repeatedly its breaker sends everything to the other until a
// probe finds it healthy again.
func Example() {
	r, err := route.New([]route.Target{
		{Name: "us-east-1/us.anthropic.claude-sonnet-4-20250514-v1:0", Preference: 0},
		{Name: "us-west-2/us.anthropic.claude-sonnet-4-20250514-v1:0", Preference: 1},
	}, route.Config{FailureThreshold: 2, OpenFor: 30 * time.Second})
	if err != nil {
		panic(err)
	}
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	name := func(i int) string { return r.Targets()[i].Name[:9] }

	// The quota forecasts: us-east-1 would queue the call for 2s, us-west-2 not at all.
	wait := func(i int) time.Duration { return []time.Duration{2 * time.Second, 0}[i] }
	i, _, _ := r.Pick(t0, wait)
	fmt.Println("least wait:", name(i))

	// Equal forecasts: the preferred target.
	now := func(i int) time.Duration { return 0 }
	i, _, _ = r.Pick(t0, now)
	fmt.Println("tie:", name(i))

	// us-east-1 returns 503 twice: its breaker opens for 30s.
	r.Failure(0, t0)
	r.Failure(0, t0)
	i, _, _ = r.Pick(t0.Add(time.Second), now)
	fmt.Println("breaker open:", name(i), r.Targets()[0].Breaker)

	// A call that us-west-2 throttled is retried elsewhere, but nothing else is available.
	_, ok, retryAt := r.Pick(t0.Add(time.Second), now, 1)
	fmt.Println("excluding us-west-2:", ok, "retry in", retryAt.Sub(t0.Add(time.Second)))

	// After 30s one probe goes to us-east-1; its success closes the breaker.
	i, _, _ = r.Pick(t0.Add(30*time.Second), now)
	fmt.Println("probe:", name(i), r.Targets()[0].Breaker)
	r.Success(i, t0.Add(31*time.Second))
	fmt.Println("after the probe:", r.Targets()[0].Breaker)
	// Output:
	// least wait: us-west-2
	// tie: us-east-1
	// breaker open: us-west-2 open
	// excluding us-west-2: false retry in 29s
	// probe: us-east-1 half-open
	// after the probe: closed
}
