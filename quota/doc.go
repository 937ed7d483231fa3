// Package quota is an admission engine for calls metered in several dimensions at once:
// requests, tokens, input and output tokens, each limited over any period (a minute, a
// day), plus a cap on calls in flight.
//
// A Limiter admits a call only when every limit has room for its Cost at the same time,
// queues the rest by Priority — strictly, with a guaranteed share for lower classes and
// fairness between tenants within a class — and settles each admitted call against what
// it really used: Reservation.Settle refunds the difference or charges the excess,
// Reservation.Cancel refunds everything. This is what a token-metered API such as Amazon
// Bedrock needs: it reserves input + max_tokens when a call starts and charges
// input + output × burndown when it ends.
//
//	lim, err := quota.New(quota.Config{
//		Limits: []quota.Limit{
//			{Dimension: quota.Tokens, Amount: 400_000, Per: time.Minute},
//			{Dimension: quota.Tokens, Amount: 576_000_000, Per: 24 * time.Hour},
//		},
//		MaxInFlight: 32,
//	})
//	...
//	r, err := lim.Wait(ctx, quota.Cost{Requests: 1, Tokens: 5_024}, quota.Options{Priority: quota.High})
//	if err != nil {
//		return err // ctx ended, or the cost can never fit (errors.Is(err, quota.ErrTooLarge))
//	}
//	out, err := callTheModel(ctx)
//	if err != nil {
//		r.Cancel()
//		return err
//	}
//	r.Settle(quota.Cost{Requests: 1, Tokens: out.Usage.QuotaTokens})
//
// Wait blocks until the call is admitted, as x/time/rate's Wait does; Reserve never
// blocks, and a call it cannot admit now comes back as a Reservation that is not OK,
// with the Delay to wait before trying again. Forecast predicts the wait without
// reserving. The Limiter reads the clock with time.Now, so that tests can run it on the
// fake clock of a testing/synctest bubble; the meters and the pacing underneath are
// functions of the time they are given.
//
// # Windows
//
// Over any interval of length Per, the usage admitted after settlements stays at most
// Amount. That is what a provider counting clock minutes checks, and it also keeps a
// provider running a token bucket of Amount refilled over Per from ever running dry. A
// token bucket on the client side would not do: it lets nearly twice Amount through in
// one clock minute. Usage is counted in 200 sub-windows of Per/200; the approximation
// errs on the safe side, by at most 0.5% of throughput.
//
// Refunds go back to the sub-window where the reservation was charged, so room returns at
// once. Excess charges (a settlement above the reservation, as when output counts five
// times but max_tokens was reserved once) land in the current sub-window, where both
// provider readings see them; they can push a window above Amount, since the call has
// already run, and then no call is admitted until the window drains.
//
// # Stores
//
// The usage lives in a Store — in process (NewMemory), or a shared one (Redis) so that many
// processes share one account's quotas with one round trip per reserve and per settle.
// The queue, priorities and waiting always stay in process. Package quota/quotatest holds
// the conformance suite every Store passes.
package quota
