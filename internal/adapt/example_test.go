package adapt_test

import (
	"fmt"
	"time"

	"github.com/tollgate-dev/tollgate/internal/adapt"
)

// A limit configured at 400,000 tokens per minute is throttled: the effective amount
// drops by 30%, ignores the rest of the same overload, then grows back by 40,000 tokens
// per minute of successful traffic.
func Example() {
	c, err := adapt.New(adapt.Config{Configured: 400_000, Per: time.Minute})
	if err != nil {
		panic(err)
	}
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

	limit, _ := c.Throttled(t0)
	fmt.Println("after a throttle:", limit)
	limit, changed := c.Throttled(t0.Add(20 * time.Second))
	fmt.Println("a throttle within Hold:", limit, changed)

	c.Succeeded(t0.Add(time.Minute)) // the hold ends; growth starts here
	limit, _ = c.Succeeded(t0.Add(90 * time.Second))
	fmt.Println("30s of success later:", limit)
	for m := 2; m <= 5; m++ {
		limit, _ = c.Succeeded(t0.Add(time.Duration(m) * time.Minute))
	}
	fmt.Println("three and a half minutes later:", limit, "of", c.State().Ceiling)
	// Output:
	// after a throttle: 280000
	// a throttle within Hold: 280000 false
	// 30s of success later: 300000
	// three and a half minutes later: 400000 of 400000
}
