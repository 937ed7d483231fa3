package quota

import (
	"context"
	"math"
	"time"
)

// Forecast predicts how long a call of cost with opt would wait if it called Wait now:
// from the usage in each limit's window and when it leaves, the calls queued ahead (of
// the same or a higher class, and the calls of lower waiting classes that their credit
// will let go first; see Config.MinShare), and, for the
// in-flight cap, the moving average of how long reservations are held.
//
// The model: the calls ahead and this one form a demand D in each dimension. A limit of
// Amount A whose window holds U now, of which F(τ) leaves within τ, can admit
// R(τ) = (A − U) + F(τ) by time τ within the first window span S, and A more in each
// further span (what is admitted then leaves one span later, in the same pattern). The
// wait for a limit is the least τ with R(τ) ≥ D; the prediction is the largest over the
// limits. It assumes reservations are charged as reserved; refunds at settlement make
// real waits shorter.
//
// Forecast returns the predicted wait and the limit that binds it: the zero Limit when
// nothing binds or the cap on calls in flight does. It returns an error only when cost
// can never be admitted (ErrTooLarge) or the Store fails.
func (l *Limiter) Forecast(ctx context.Context, cost Cost, opt Options) (wait time.Duration, binding Limit, err error) {
	set := l.set.Load()
	if err := set.check(cost); err != nil {
		return 0, Limit{}, err
	}
	return l.forecast(ctx, time.Now(), set, cost, opt.Priority)
}

func (l *Limiter) forecast(ctx context.Context, now time.Time, set *limitSet, cost Cost, p Priority) (wait time.Duration, binding Limit, err error) {
	c := p.class()
	l.mu.Lock()
	ahead, n := l.sched.ahead(c)
	l.mu.Unlock()

	// A demand d above a limit's Amount A takes ⌈d/A⌉−1 full spans, then the rest.
	demand := ahead.add(cost)
	need := make([]int64, len(set.limits))
	cycles := make([]int64, len(set.limits))
	for i, lim := range set.limits {
		d := demand.get(lim.Dimension)
		if d > lim.Amount {
			cycles[i] = (d - 1) / lim.Amount
			d -= cycles[i] * lim.Amount
		}
		need[i] = d
	}
	_, fits, inFlight, err := l.store.Usage(ctx, now, set.limits, need)
	if err != nil {
		return 0, Limit{}, err
	}
	for i, lim := range set.limits {
		w := time.Duration(cycles[i])*span(lim) + max(fits[i].Sub(now), 0)
		if w > wait {
			wait, binding = w, lim
		}
	}
	if m := set.maxInFlight; m > 0 {
		slots := n + 1 - (m - inFlight)
		if slots > 0 {
			hold := math.Float64frombits(l.hold.Load())
			rounds := math.Ceil(float64(slots) / float64(m))
			if w := time.Duration(rounds * hold * float64(time.Second)); w > wait {
				wait, binding = w, Limit{}
			}
		}
	}
	return wait, binding, nil
}

// Usage reports the usage counted now against each limit, in the order of Limits — it
// exceeds a limit's Amount after settlements charged more than was reserved — the
// reservations open in the Store (of every Limiter sharing it), and the calls waiting
// in each class, highest (Critical) first.
func (l *Limiter) Usage(ctx context.Context) (used []int64, inFlight int, queued [5]int, err error) {
	set := l.set.Load()
	used, _, inFlight, err = l.store.Usage(ctx, time.Now(), set.limits, nil)
	if err != nil {
		return nil, 0, queued, err
	}
	l.mu.Lock()
	for c := range queued {
		queued[c] = l.sched.q.Len(c)
	}
	l.mu.Unlock()
	return used, inFlight, queued, nil
}
