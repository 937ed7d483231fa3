package quota

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/internal/sched"
)

// waiter is a call queued in Wait.
type waiter struct {
	call    sched.Call[*waiter] // its place in the queue: class, tenant, service
	ctx     context.Context
	cost    Cost
	opt     Options
	since   time.Time
	done    chan struct{} // closed once decided
	decided bool          // guarded by Limiter.mu
	res     Reservation
	err     error
}

// scheduler orders the waiting calls (internal/sched, the core tollgate analyze also
// runs) and keeps, per class, the total cost waiting, for Forecast. It is not safe for
// concurrent use.
type scheduler struct {
	q   *sched.Queue[*waiter]
	sum [numClasses]Cost // cost waiting per class
	// high and low count the calls waiting in High and above, and below: read without
	// the Limiter's lock by a shared store deciding a grant (internal/backlog).
	high, low atomic.Int64
}

// count adds d to the waiting count of class c.
func (s *scheduler) count(c int, d int64) {
	if c <= High.class() {
		s.high.Add(d)
	} else {
		s.low.Add(d)
	}
}

func (s *scheduler) init(minShare float64) { s.q = sched.New[*waiter](minShare) }

// enqueue adds w at the back of its tenant's queue (at the front for a retry).
func (s *scheduler) enqueue(w *waiter) {
	w.call.Item = w
	s.q.Enqueue(&w.call)
	s.count(w.call.Class, 1)
	s.sum[w.call.Class] = s.sum[w.call.Class].add(w.cost)
}

// taken accounts w, taken out of the queue, in the cost waiting.
func (s *scheduler) taken(w *waiter) {
	c := w.call.Class
	s.count(c, -1)
	s.sum[c] = s.sum[c].add(Cost{-w.cost.Requests, -w.cost.Tokens, -w.cost.InputTokens, -w.cost.OutputTokens})
	if s.q.Len(c) == 0 {
		s.sum[c] = Cost{}
	}
}

// remove takes a call that gave up out of the queue.
func (s *scheduler) remove(w *waiter) {
	s.q.Remove(&w.call)
	s.taken(w)
}

// correct adjusts a tenant's counter by the difference between the service it was
// charged at admission and the service it settled for, if the tenant is still known.
func (s *scheduler) correct(opt Options, delta float64) {
	s.q.Correct(opt.Priority.class(), opt.Tenant, delta)
}

// queuedAtOrAbove returns the number of calls waiting in class c or higher.
func (s *scheduler) queuedAtOrAbove(c int) int { return s.q.QueuedAtOrAbove(c) }

// ahead returns the cost and number of the calls that would be admitted before a call of
// class c that queued now: those of class c and above, and those of each waiting lower
// class that its credit — what it has, plus gain × the service admitted above it — lets
// go first.
func (s *scheduler) ahead(c int) (Cost, int) {
	ahead, n, service := Cost{}, 0, 0.0
	for i := 0; i <= c; i++ {
		ahead = ahead.add(s.sum[i])
		n += s.q.Len(i)
		service += s.q.Service(i)
	}
	for i := c + 1; i < numClasses && s.q.Gain() > 0; i++ {
		h := s.q.Head(i)
		if h == nil {
			continue
		}
		k := min(int((s.q.Credit(i)+s.q.Gain()*service)/h.Service), s.q.Len(i))
		for ; k > 0; k-- {
			ahead = ahead.add(h.Item.cost)
			n++
		}
	}
	return ahead, n
}

// drain empties the queue and returns the calls that were waiting.
func (s *scheduler) drain() []*waiter {
	var all []*waiter
	for _, c := range s.q.Drain() {
		all = append(all, c.Item)
	}
	s.sum = [numClasses]Cost{}
	s.high.Store(0)
	s.low.Store(0)
	return all
}

// gate is the Limiter as the dispatcher sees it: the Store and the pacing at a time.
// l.mu is held while the dispatcher runs.
type gate Limiter

var _ sched.Gate[*waiter] = (*gate)(nil)

// Reserve asks the pacing, then the Store, to admit c's cost at now.
func (g *gate) Reserve(now time.Time, c *sched.Call[*waiter]) sched.Answer {
	l := (*Limiter)(g)
	w := c.Item
	set := l.set.Load()
	if l.pacing > 0 {
		if at, i := l.pacedAt(set, w.cost); at.After(now) {
			return sched.Answer{RetryAt: at, Blocked: i, Paced: true}
		}
	}
	adm, err := l.storeReserve(w.ctx, now, set, w.cost)
	if err != nil {
		return sched.Answer{Err: err}
	}
	ok := adm.ticket != 0
	if ok && l.pacing > 0 {
		l.paceLocked(now, set, w.cost, 1)
	}
	return sched.Answer{OK: ok, Ticket: adm.ticket, RetryAt: adm.retryAt, Blocked: adm.blocked}
}

// Release refunds an admission the dispatcher takes back.
func (g *gate) Release(now time.Time, _ *sched.Call[*waiter], a sched.Answer) {
	l := (*Limiter)(g)
	_, _ = l.store.Settle(context.Background(), now, l.set.Load().limits, a.Ticket, Cost{})
}

// Decide hands w, taken out of the queue, its admission (or the Store's error).
func (g *gate) Decide(now time.Time, c *sched.Call[*waiter], a sched.Answer) {
	l := (*Limiter)(g)
	w := c.Item
	l.sched.taken(w)
	l.waiting.Add(-1)
	w.decided = true
	if a.Err != nil {
		w.err = fmt.Errorf("quota: wait: %w", a.Err)
	} else {
		w.res = Reservation{l: l, ticket: a.Ticket, cost: w.cost, at: now, opt: w.opt, waited: now.Sub(w.since)}
	}
	close(w.done)
}

// Smaller reports whether a costs less than b in some dimension.
func (*gate) Smaller(a, b *waiter) bool { return smallerSomewhere(a.cost, b.cost) }

// smallerSomewhere reports whether a costs less than b in some dimension: a call no
// smaller than b anywhere cannot fit where b does not.
func smallerSomewhere(a, b Cost) bool {
	return a.Requests < b.Requests || a.Tokens < b.Tokens || a.InputTokens < b.InputTokens || a.OutputTokens < b.OutputTokens
}

// The classes of Priority are the scheduler's: this fails to compile if they differ.
const _ = uint(numClasses-sched.Classes) + uint(sched.Classes-numClasses)
