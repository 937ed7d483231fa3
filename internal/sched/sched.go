// Package sched is the scheduling core of quota.Limiter: the order in which waiting calls
// are admitted, and the dispatcher that admits them at a given time for as long as the
// quota admits the next one. It reads no clock and owns no goroutine or timer, so that
// quota.Limiter runs it on the real clock and tollgate analyze runs the same code over
// simulated time to predict what the client will do.
//
// The order: strict priority between classes with a guaranteed share for the lower ones
// (MinShare), virtual token counters between the tenants of one class (Sheng et al.,
// "Fairness in Serving Large Language Models", OSDI 2024), and first come first served
// within a tenant; see quota.Limiter for the guarantees.
package sched

import (
	"container/heap"
	"sort"
	"time"
)

// Classes is the number of priority classes; class 0 is the highest.
const Classes = 5

// DefaultMinShare is the share of service guaranteed to a waiting lower class when none
// is configured (quota.Config.MinShare's default).
const DefaultMinShare = 0.05

// Call is a call waiting in a Queue. Item is the caller's own record of it.
type Call[T any] struct {
	Item T
	// Class is the call's priority class, 0 (highest) to Classes−1.
	Class int
	// Tenant names the caller for fairness within the class.
	Tenant string
	// Service is the call's service: its dominant share of the limits.
	Service float64
	// Front puts the call at the head of its tenant's queue (a retry).
	Front bool

	tenant *tenant[T]
}

// tenant is one caller's queue within a class, with its virtual token counter.
type tenant[T any] struct {
	key     string
	counter float64 // service received, lifted when the tenant starts waiting
	fifo    []*Call[T]
	hi      int // index in class.waiting; -1 when not waiting
}

// class is one priority's queue: its tenants, the waiting ones in a min-heap by counter.
type class[T any] struct {
	tenants map[string]*tenant[T]
	waiting tenantHeap[T]
	n       int     // calls waiting
	service float64 // their total service
	credit  float64 // service owed to this class under the MinShare guarantee
	floor   float64 // counter of the tenant served last; the lift when no tenant waits
}

// Queue orders the waiting calls. It is not safe for concurrent use.
type Queue[T any] struct {
	classes [Classes]class[T]
	gain    float64 // credit earned per unit of service admitted above: s/(1-s)
}

// New returns an empty Queue guaranteeing each waiting lower class minShare of the
// service (0 for strict priority; it must be below 0.5): while class c has calls
// waiting, every admission of service x to a higher class earns c a credit of
// x·minShare/(1−minShare), and c is served out of turn whenever its credit covers its
// next call.
func New[T any](minShare float64) *Queue[T] {
	q := &Queue[T]{gain: minShare / (1 - minShare)}
	for i := range q.classes {
		q.classes[i].tenants = make(map[string]*tenant[T])
	}
	return q
}

// Gain is the credit a waiting lower class earns per unit of service admitted above it.
func (q *Queue[T]) Gain() float64 { return q.gain }

// Len returns the number of calls waiting in class c.
func (q *Queue[T]) Len(c int) int { return q.classes[c].n }

// Service returns the total service of the calls waiting in class c.
func (q *Queue[T]) Service(c int) float64 { return q.classes[c].service }

// Credit returns the service class c is owed under the MinShare guarantee.
func (q *Queue[T]) Credit(c int) float64 { return q.classes[c].credit }

// Head returns the call class c would serve next (nil when none waits): the oldest call
// of the waiting tenant with the least counter.
func (q *Queue[T]) Head(c int) *Call[T] {
	if q.classes[c].n == 0 {
		return nil
	}
	return q.classes[c].waiting[0].fifo[0]
}

// top returns the index of the highest class with calls waiting, or -1.
func (q *Queue[T]) top() int {
	for c := range q.classes {
		if q.classes[c].n > 0 {
			return c
		}
	}
	return -1
}

// Next returns the call to admit next, or nil when none waits: the head of the highest
// waiting class, unless a lower waiting class has earned enough credit for its head.
func (q *Queue[T]) Next() *Call[T] {
	top := q.top()
	if top < 0 {
		return nil
	}
	if q.gain > 0 {
		for c := top + 1; c < Classes; c++ {
			if h := q.Head(c); h != nil && q.classes[c].credit >= h.Service {
				return h
			}
		}
	}
	return q.Head(top)
}

// Enqueue adds w at the back of its tenant's queue (at the front when w.Front), lifting
// the tenant's counter to the least counter of the tenants waiting (or to the last one
// served) if it was not waiting.
func (q *Queue[T]) Enqueue(w *Call[T]) {
	cl := &q.classes[w.Class]
	t := cl.tenants[w.Tenant]
	if t == nil {
		t = &tenant[T]{key: w.Tenant, hi: -1}
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
	if w.Front {
		t.fifo = append(t.fifo, nil)
		copy(t.fifo[1:], t.fifo)
		t.fifo[0] = w
	} else {
		t.fifo = append(t.fifo, w)
	}
	w.tenant = t
	cl.n++
	cl.service += w.Service
}

// admit takes w, which Next returned, out of the queue and accounts its service: to its
// tenant's counter, against its class's credit when it was served out of turn, and as
// credit to every lower class that waits.
func (q *Queue[T]) admit(w *Call[T]) {
	cl := &q.classes[w.Class]
	x := w.Service
	if w.Class != q.top() {
		cl.credit -= x
	}
	t := w.tenant
	t.counter += x
	cl.floor = t.counter
	q.take(w)
	for d := w.Class + 1; d < Classes; d++ {
		if q.classes[d].n > 0 {
			q.classes[d].credit += x * q.gain
		}
	}
}

// candidates returns up to most of the calls waiting besides head that could fit where
// head does not (smaller reports a call smaller than head in some dimension), in the
// queue's order: by class, highest first, then by tenant counter and arrival.
func (q *Queue[T]) candidates(head *Call[T], most int, smaller func(a, b T) bool) []*Call[T] {
	var out []*Call[T]
	for c := range q.classes {
		cl := &q.classes[c]
		if cl.n == 0 {
			continue
		}
		ts := append(tenantHeap[T](nil), cl.waiting...)
		sort.Slice(ts, func(i, j int) bool { return ts.Less(i, j) })
		for _, t := range ts {
			for _, w := range t.fifo {
				if w != head && smaller(w.Item, head.Item) {
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

// backfill takes w out of the queue, admitted ahead of its turn into room the call whose
// turn it is cannot use: its tenant is charged its service, and no class's credit
// changes (it was not served in another class's stead).
func (q *Queue[T]) backfill(w *Call[T]) {
	w.tenant.counter += w.Service
	q.take(w)
}

// Remove takes a call that gave up out of the queue.
func (q *Queue[T]) Remove(w *Call[T]) { q.take(w) }

// take removes w from its tenant's queue and its class's counts.
func (q *Queue[T]) take(w *Call[T]) {
	cl := &q.classes[w.Class]
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
	cl.service -= w.Service
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

// Correct adjusts a tenant's counter in class c by the difference between the service it
// was charged at admission and the service it settled for, if the tenant is still known.
func (q *Queue[T]) Correct(c int, tenantKey string, delta float64) {
	cl := &q.classes[c]
	if t := cl.tenants[tenantKey]; t != nil {
		t.counter += delta
		if t.hi >= 0 {
			heap.Fix(&cl.waiting, t.hi)
		}
	}
}

// QueuedAtOrAbove returns the number of calls waiting in class c or higher.
func (q *Queue[T]) QueuedAtOrAbove(c int) int {
	n := 0
	for i := 0; i <= c; i++ {
		n += q.classes[i].n
	}
	return n
}

// Drain empties the queue and returns the calls that were waiting.
func (q *Queue[T]) Drain() []*Call[T] {
	var all []*Call[T]
	for c := range q.classes {
		cl := &q.classes[c]
		for _, t := range cl.waiting {
			all = append(all, t.fifo...)
			t.fifo, t.hi = nil, -1
		}
		cl.waiting, cl.n, cl.credit, cl.service = nil, 0, 0, 0
	}
	return all
}

// tenantHeap is a min-heap of waiting tenants by counter (ties by key, for determinism).
type tenantHeap[T any] []*tenant[T]

func (h tenantHeap[T]) Len() int { return len(h) }
func (h tenantHeap[T]) Less(i, j int) bool {
	if h[i].counter != h[j].counter {
		return h[i].counter < h[j].counter
	}
	return h[i].key < h[j].key
}
func (h tenantHeap[T]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hi, h[j].hi = i, j
}
func (h *tenantHeap[T]) Push(x any) {
	t := x.(*tenant[T])
	t.hi = len(*h)
	*h = append(*h, t)
}
func (h *tenantHeap[T]) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.hi = -1
	return t
}

// Answer is what a Gate says about a call at a time.
type Answer struct {
	// OK reports that the call was charged and admitted.
	OK bool
	// Ticket identifies the admission when OK.
	Ticket uint64
	// RetryAt is, when not OK, the earliest time the call could be admitted.
	RetryAt time.Time
	// Blocked is, when not OK, the index of the limit that refuses (whose pacing, when
	// Paced), or -1 for the cap on calls in flight.
	Blocked int
	// Paced reports that the pacing, not the usage, refused (RetryAt is when it admits).
	Paced bool
	// Err is the quota's failure; the call is then taken out of the queue and handed it.
	Err error
}

// A Gate is the quota a Dispatch admits against.
type Gate[T any] interface {
	// Reserve charges the call at now if the quota (and its pacing) admits it.
	Reserve(now time.Time, c *Call[T]) Answer
	// Release takes back a charge Reserve made (a backfill that would delay the head).
	Release(now time.Time, c *Call[T], a Answer)
	// Decide hands a call taken out of the queue its admission (a.OK) or failure (a.Err).
	Decide(now time.Time, c *Call[T], a Answer)
	// Smaller reports whether a costs less than b in some dimension: a call no smaller
	// than b anywhere cannot fit where b does not.
	Smaller(a, b T) bool
}

// MaxBackfillTries bounds the calls one backfill looks at and the Gate requests it
// makes, so that a long queue costs a bounded amount of work and of round trips (with a
// networked store) per dispatch.
const MaxBackfillTries = 64

// Dispatch admits waiting calls at now in the queue's order for as long as g admits the
// next one, handing each to g.Decide (a call the Gate fails, Answer.Err, is taken out
// and decided too). It returns g's answer for the call it stopped at and true, or false
// when nothing waits any more.
//
// With backfill, while the call whose turn it is waits for room the quota refuses it
// (not pacing, not the cap on calls in flight), calls behind it that fit now are
// admitted if the head's earliest admission stays where it was: usage in a sliding
// window leaves in lumps, and the room a lump frees beyond what the head needs would
// otherwise stay empty until the lump after (on average half a call's worth of every
// window). A call is tried by charging it and asking again for the head; if the head's
// time moved later, the charge is released at once. Calls are tried in the queue's order,
// highest class first; one admitted so is not served out of turn (its class's credit is
// untouched), and its tenant is charged its service as for any admission.
func (q *Queue[T]) Dispatch(now time.Time, g Gate[T], backfill bool) (Answer, bool) {
	for {
		w := q.Next()
		if w == nil {
			return Answer{}, false
		}
		a := g.Reserve(now, w)
		if a.Err == nil && !a.OK {
			if !backfill || a.Paced || a.Blocked < 0 || !q.backfillFor(now, g, w, a.RetryAt) {
				return a, true
			}
			continue // the head itself fitted meanwhile (a settlement made room)
		}
		q.admit(w)
		g.Decide(now, w, a)
	}
}

// backfillFor admits calls behind head that fit now without moving head's earliest
// admission, headAt, later (see Dispatch). It reports true when head itself was
// admitted meanwhile.
func (q *Queue[T]) backfillFor(now time.Time, g Gate[T], head *Call[T], headAt time.Time) bool {
	tries := 0
	for _, b := range q.candidates(head, MaxBackfillTries, g.Smaller) {
		if tries >= MaxBackfillTries {
			break
		}
		tries++
		a := g.Reserve(now, b)
		if a.Err != nil || !a.OK {
			continue
		}
		tries++
		again := g.Reserve(now, head)
		switch {
		case again.Err == nil && again.OK: // head fits after all: admit both
			q.backfill(b)
			g.Decide(now, b, a)
			q.admit(head)
			g.Decide(now, head, again)
			return true
		case again.Err != nil || again.Blocked < 0 || again.RetryAt.After(headAt):
			g.Release(now, b, a)
			continue
		}
		q.backfill(b)
		g.Decide(now, b, a)
	}
	return false
}
