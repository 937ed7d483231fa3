package quota

import (
	"context"
	"math"
	"time"
)

// Prediction is Forecast's answer: how long a new call would wait, and what binds.
type Prediction struct {
	// Wait is the predicted time from now until the call is admitted.
	Wait time.Duration
	// Limit is the limit that binds the wait; the zero Limit when nothing binds or the
	// cap on calls in flight does.
	Limit Limit
}

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
// Forecast returns an error only when cost can never be admitted (*TooLargeError) or
// the Store fails.
func (l *Limiter) Forecast(ctx context.Context, cost Cost, opt Options) (Prediction, error) {
	set := l.set.Load()
	if err := set.check(cost); err != nil {
		return Prediction{}, err
	}
	return l.forecast(ctx, time.Now(), set, cost, opt.Priority)
}

func (l *Limiter) forecast(ctx context.Context, now time.Time, set *limitSet, cost Cost, p Priority) (Prediction, error) {
	windows, inFlight, err := l.store.Usage(ctx, now, set.limits)
	if err != nil {
		return Prediction{}, err
	}
	c := p.class()
	l.mu.Lock()
	ahead, n := l.sched.ahead(c)
	l.mu.Unlock()

	demand := ahead.Add(cost)
	var pred Prediction
	for i, lim := range set.limits {
		if w := waitFor(now, lim.Amount, demand.Get(lim.Dimension), windows[i]); w > pred.Wait {
			pred.Wait, pred.Limit = w, lim
		}
	}
	if m := set.maxInFlight; m > 0 {
		slots := n + 1 - (m - inFlight)
		if slots > 0 {
			hold := math.Float64frombits(l.hold.Load())
			rounds := math.Ceil(float64(slots) / float64(m))
			if w := time.Duration(rounds * hold * float64(time.Second)); w > pred.Wait {
				pred.Wait, pred.Limit = w, Limit{}
			}
		}
	}
	return pred, nil
}

// waitFor returns the least τ at which a limit of amount, whose window is w at now, has
// admitted a demand of d (see Forecast for the model).
func waitFor(now time.Time, amount, d int64, w Window) time.Duration {
	room := amount - w.Used
	if d <= room {
		return 0
	}
	var cycles int64
	if d > amount {
		cycles = (d - 1) / amount // full spans before the one in which d is reached
		d -= cycles * amount
	}
	base := time.Duration(cycles) * w.Span
	if d <= room {
		return base
	}
	need := d - room
	for _, e := range w.Expiring {
		need -= e.Amount
		if need <= 0 {
			return base + max(e.At.Sub(now), 0)
		}
	}
	return base + w.Span
}

// Snapshot is a Limiter's state at one moment, for metrics and progress displays.
type Snapshot struct {
	// Limits has one entry per limit in force, in the order of Limiter.Limits.
	Limits []LimitUsage
	// InFlight is the number of reservations open in the Store (of every Limiter
	// sharing it).
	InFlight int
	// Queued is the number of calls waiting in each class, highest first (the order of
	// Priorities).
	Queued [numClasses]int
}

// LimitUsage is the usage of one limit.
type LimitUsage struct {
	// Limit is the limit in force (its Amount as SetLimit last set it).
	Limit Limit
	// Used is the usage counted in the window now; a call of cost c fits while
	// Used + c <= Amount. It exceeds Amount after settlements charged more than was
	// reserved.
	Used int64
}

// Snapshot reports the usage of every limit, the calls in flight, and the queue depth of
// every class.
func (l *Limiter) Snapshot(ctx context.Context) (Snapshot, error) {
	now := time.Now()
	set := l.set.Load()
	windows, inFlight, err := l.store.Usage(ctx, now, set.limits)
	if err != nil {
		return Snapshot{}, err
	}
	s := Snapshot{InFlight: inFlight, Limits: make([]LimitUsage, len(set.limits))}
	for i, lim := range set.limits {
		s.Limits[i] = LimitUsage{Limit: lim, Used: windows[i].Used}
	}
	l.mu.Lock()
	for c := range s.Queued {
		s.Queued[c] = l.sched.q.Len(c)
	}
	l.mu.Unlock()
	return s, nil
}
