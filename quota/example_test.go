package quota_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tollgate-dev/tollgate/quota"
)

// A Limiter for a Bedrock model's tokens per minute and per day: reserve input +
// max_tokens, then settle with what the call really used.
func Example() {
	lim, err := quota.New(quota.Config{
		Limits: []quota.Limit{
			{Dimension: quota.Tokens, Amount: 400_000, Per: time.Minute},
			{Dimension: quota.Tokens, Amount: 576_000_000, Per: 24 * time.Hour},
		},
		MaxInFlight: 32,
	})
	if err != nil {
		panic(err)
	}
	defer lim.Close()

	ctx := context.Background()
	r, err := lim.Wait(ctx, quota.Cost{Requests: 1, Tokens: 3_000 + 4_096}, quota.Options{Priority: quota.High, Tenant: "legal"})
	if err != nil {
		panic(err)
	}
	// ... the call runs: 3,000 input tokens, 310 output tokens at a burndown of 5 ...
	r.Settle(quota.Cost{Requests: 1, Tokens: 3_000 + 5*310})

	used, _, _, _ := lim.Usage(ctx)
	fmt.Println(lim.Limits()[0], "used:", used[0])
	// Output: 400000 tokens/1m used: 4550
}

// A call larger than a limit can never be admitted; it fails at once.
func Example_tooLarge() {
	lim, _ := quota.New(quota.Config{Limits: []quota.Limit{{Dimension: quota.Tokens, Amount: 200_000, Per: time.Minute}}})
	_, err := lim.Wait(context.Background(), quota.Cost{Requests: 1, Tokens: 250_000}, quota.Options{})
	fmt.Println(errors.Is(err, quota.ErrTooLarge))
	fmt.Println(err)
	// Output:
	// true
	// quota: a cost of 250000 tokens can never be admitted under the limit "200000 tokens/1m": split the call or raise the limit
}

// Reserve never waits: a call it cannot admit now comes back not OK, with how long to
// wait; Forecast names the limit that binds.
func ExampleLimiter_Reserve() {
	lim, _ := quota.New(quota.Config{Limits: []quota.Limit{{Dimension: quota.Requests, Amount: 1, Per: time.Minute}}})
	ctx := context.Background()
	first, _ := lim.Reserve(ctx, quota.Cost{Requests: 1}, quota.Options{})
	r, _ := lim.Reserve(ctx, quota.Cost{Requests: 1}, quota.Options{})
	_, binding, _ := lim.Forecast(ctx, quota.Cost{Requests: 1}, quota.Options{})
	fmt.Println("first admitted:", first.OK(), "second:", r.OK())
	fmt.Println("binding:", binding, "retry in about a minute:", r.Delay() > 59*time.Second && r.Delay() <= time.Minute+time.Second)
	// Output:
	// first admitted: true second: false
	// binding: 1 requests/1m retry in about a minute: true
}
