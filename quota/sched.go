package quota

import (
	"container/heap"
	"context"
	"sort"
	"sync/atomic"
	"time"
)

// waiter is a call queued in Wait.
type waiter struct {
	ctx     context.Context
	cost    Cost
	opt     Options
	front   bool // a retry: it goes to the head of its tenant's queue
	service float64
	since   time.Time
	tenant  *tenant
	done    chan struct{} // closed once decided
	decided bool          // guarded by Limiter.mu
	res     Reservation
	err     error
}

// tenant is one caller's queue within a class, with its virtual token counter.
type tenant struct {
	key     string
	counter float64 // service received, lifted when the tenant starts waiting
	fifo    []*waiter
	hi      int // index in class.waiting; -1 when not waiting
}

// class is one priority's queue: its tenants, the waiting ones in a min-heap by counter.
type class struct {
	tenants map[string]*tenant
	waiting tenantHeap
	n       int     // calls waiting
	sum     Cost    // their total cost, for Forecast
	service float64 // their total service, for Forecast
	credit  float64 // service owed to this class under the MinShare guarantee
	floor   float64 // counter of the tenant served last; the lift when no tenant waits
}

// scheduler orders the waiting calls: strict priority between classes with a guaranteed
// share for the lower ones, virtual token counters between tenants of one class, and
// first come first served within a tenant. It is not safe for concurrent use.
type scheduler struct {
	classes [numClasses]class
	gain    float64 // credit earned per unit of service admitted above: s/(1-s)
	// high and low count the calls waiting in High and above, and below: read without
	// the Limiter's lock by a shared store deciding a grant (internal/backlog).
	high, low atomic.Int64
}

// count adds d to the waiting count of class cl.
func (s *scheduler) count(cl *class, d int64) {
	if cl == &s.classes[0] || cl == &s.classes[1] {
		s.high.Add(d)
	} else {
		s.low.Add(d)
	}
}

func (s *scheduler) init(minShare float64) {
	s.gain = minShare / (1 - minShare)
	for i := range s.classes {
		s.classes[i].tenants = make(map[string]*tenant)
	}
}

// top returns the index of the highest class with calls waiting, or -1.
func (s *scheduler) top() int {
	for c := range s.classes {
		if s.classes[c].n > 0 {
			return c
		}
	}
	return -1
}

// head returns the call a class would serve next: the oldest call of the waiting tenant
// with the least counter.
func (cl *class) head() *waiter { return cl.waiting[0].fifo[0] }

// next returns the call to admit next, or nil when none waits: the head of the highest
// waiting class, unless a lower waiting class has earned enough credit for its head.
func (s *scheduler) next() *waiter {
	top := s.top()
	if top < 0 {
		return nil
	}
	if s.gain > 0 {
		for c := top + 1; c < numClasses; c++ {
			cl := &s.classes[c]
			if cl.n > 0 && cl.credit >= cl.head().service {
				return cl.head()
			}
		}
	}
	return s.classes[top].head()
}

// enqueue adds w at the back of its tenant's queue, lifting the tenant's counter to the
// least counter of the tenants waiting (or to the last one served) if it was not waiting.
func (s *scheduler) enqueue(w *waiter) {
	cl := &s.classes[w.opt.Priority.class()]
	t := cl.tenants[w.opt.Tenant]
	if t == nil {
		t = &tenant{key: w.opt.Tenant, hi: -1}
		cl.tenants[t.key] = t
	}
	if t.hi < 0 {
		lift := cl.floor
		if len(cl.waiting) > 0 {
			lift = cl.waiting[0].counter
		}
		if t.counter < lift {
			t.counter = lift
		}
		heap.Push(&cl.waiting, t)
	}
	if w.front {
		t.fifo = append(t.fifo, nil)
		copy(t.fifo[1:], t.fifo)
		t.fifo[0] = w
	} else {
		t.fifo = append(t.fifo, w)
	}
	w.tenant = t
	cl.n++
	s.count(cl, 1)
	cl.sum = cl.sum.add(w.cost)
	cl.service += w.service
}

// admit takes w, which next returned, out of the queue and accounts its service: to its
// tenant's counter, against its class's credit when it was served out of turn, and as
// credit to every lower class that waits.
func (s *scheduler) admit(w *waiter) {
	c := w.opt.Priority.class()
	cl := &s.classes[c]
	x := w.service
	if c != s.top() {
		cl.credit -= x
	}
	t := w.tenant
	t.counter += x
	cl.floor = t.counter
	s.take(cl, w)
	for d := c + 1; d < numClasses; d++ {
		if s.classes[d].n > 0 {
			s.classes[d].credit += x * s.gain
		}
	}
}

// candidates returns up to most of the calls waiting besides head that could fit where
// head does not (smaller than head in some dimension), in the scheduler's order: by
// class, highest first, then by tenant counter and arrival.
func (s *scheduler) candidates(head *waiter, most int) []*waiter {
	var out []*waiter
	for c := range s.classes {
		cl := &s.classes[c]
		if cl.n == 0 {
			continue
		}
		ts := append(tenantHeap(nil), cl.waiting...)
		sort.Slice(ts, func(i, j int) bool { return ts.Less(i, j) })
		for _, t := range ts {
			for _, w := range t.fifo {
				if w != head && smallerSomewhere(w.cost, head.cost) {
					out = append(out, w)
					if len(out) == most {
						return out
					}
				}
			}
		}
	}
	return out
}

// smallerSomewhere reports whether a costs less than b in some dimension: a call no
// smaller than b anywhere cannot fit where b does not.
func smallerSomewhere(a, b Cost) bool {
	return a.Requests < b.Requests || a.Tokens < b.Tokens || a.InputTokens < b.InputTokens || a.OutputTokens < b.OutputTokens
}

// backfill takes w out of the queue, admitted ahead of its turn into room the call whose
// turn it is cannot use: its tenant is charged its service, and no class's credit
// changes (it was not served in another class's stead).
func (s *scheduler) backfill(w *waiter) {
	cl := &s.classes[w.opt.Priority.class()]
	t := w.tenant
	t.counter += w.service
	s.take(cl, w)
}

// remove takes a call that gave up out of the queue.
func (s *scheduler) remove(w *waiter) {
	cl := &s.classes[w.opt.Priority.class()]
	s.take(cl, w)
}

// take removes w from its tenant's queue and its class's counts.
func (s *scheduler) take(cl *class, w *waiter) {
	t := w.tenant
	for i, v := range t.fifo {
		if v == w {
			copy(t.fifo[i:], t.fifo[i+1:])
			t.fifo[len(t.fifo)-1] = nil
			t.fifo = t.fifo[:len(t.fifo)-1]
			break
		}
	}
	if len(t.fifo) == 0 {
		heap.Remove(&cl.waiting, t.hi)
		t.fifo = nil
	} else {
		heap.Fix(&cl.waiting, t.hi)
	}
	cl.n--
	s.count(cl, -1)
	cl.sum = cl.sum.add(Cost{-w.cost.Requests, -w.cost.Tokens, -w.cost.InputTokens, -w.cost.OutputTokens})
	cl.service -= w.service
	if cl.n == 0 {
		cl.credit, cl.service = 0, 0
		// Tenants at or below the floor would be lifted to it anyway: forget them.
		for k, v := range cl.tenants {
			if v.counter <= cl.floor {
				delete(cl.tenants, k)
			}
		}
	}
}

// correct adjusts a tenant's counter by the difference between the service it was
// charged at admission and the service it settled for, if the tenant is still known.
func (s *scheduler) correct(opt Options, delta float64) {
	cl := &s.classes[opt.Priority.class()]
	if t := cl.tenants[opt.Tenant]; t != nil {
		t.counter += delta
		if t.hi >= 0 {
			heap.Fix(&cl.waiting, t.hi)
		}
	}
}

// queuedAtOrAbove returns the number of calls waiting in class c or higher.
func (s *scheduler) queuedAtOrAbove(c int) int {
	n := 0
	for i := 0; i <= c; i++ {
		n += s.classes[i].n
	}
	return n
}

// drain empties the queue and returns the calls that were waiting.
func (s *scheduler) drain() []*waiter {
	var all []*waiter
	for c := range s.classes {
		cl := &s.classes[c]
		for _, t := range cl.waiting {
			all = append(all, t.fifo...)
			t.fifo, t.hi = nil, -1
		}
		cl.waiting, cl.n, cl.sum, cl.credit, cl.service = nil, 0, Cost{}, 0, 0
	}
	s.high.Store(0)
	s.low.Store(0)
	return all
}

// tenantHeap is a min-heap of waiting tenants by counter (ties by key, for determinism).
type tenantHeap []*tenant

func (h tenantHeap) Len() int { return len(h) }
func (h tenantHeap) Less(i, j int) bool {
	if h[i].counter != h[j].counter {
		return h[i].counter < h[j].counter
	}
	return h[i].key < h[j].key
}
func (h tenantHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hi, h[j].hi = i, j
}
func (h *tenantHeap) Push(x any) {
	t := x.(*tenant)
	t.hi = len(*h)
	*h = append(*h, t)
}
func (h *tenantHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.hi = -1
	return t
}
