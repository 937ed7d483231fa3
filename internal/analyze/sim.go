package analyze

import (
	"container/heap"
	"context"
	"time"

	"github.com/tollgate-dev/tollgate/internal/costs"
	"github.com/tollgate-dev/tollgate/internal/pace"
	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/internal/quotatext"
	"github.com/tollgate-dev/tollgate/internal/sched"
	"github.com/tollgate-dev/tollgate/quota"
)

// simEpoch is the simulated time at which a simulation starts (any time would do).
var simEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// simResult is what a simulation found.
type simResult struct {
	makespan time.Duration
	finish   []time.Duration          // per document, from the start; -1 when it could not be done
	blocked  map[string]time.Duration // by need key: how long the head of the queue waited on it
	waited   time.Duration            // total time calls spent queued
	tooLarge int                      // calls never admitted: their reservation exceeds a limit
}

// simulate runs how tollgate.Client admits a plan over simulated time, with the client's
// own code: documents are handed over in priority order (all at once, or Pending at a
// time); their calls queue in internal/sched's Queue — the scheduler quota.Limiter runs,
// with its priority order, guaranteed share of lower classes (MinShare) and backfilling —
// and its Dispatch admits each when a quota.NewMemory store on the client's limits
// (pipeline.Admission: windows lengthened by WindowMargin) and the client's pacer
// (internal/pace, with pipeline.Admission's pacing) admit its reservation and the cap on
// calls in flight has room. A call is held for its latency, then settled at its real
// usage; continuations and the call combining a chunked document queue when the calls
// they follow end. The client's estimate is the initial one (InitialMargin) for calls
// planned before any call has settled, the calibrated one after.
func simulate(pl *plan, limits []quota.Limit, p Params) simResult {
	s := &sim{pl: pl, p: p, store: quota.NewMemory(), res: simResult{blocked: map[string]time.Duration{}}}
	s.limits, _ = pipeline.Admission(limits, p.WindowMargin, p.Pacing)
	s.pacing = p.Pacing // resolved by withDefaults: zero is none here
	s.pacer = pace.New(s.pacing, len(s.limits))
	s.queue = sched.New[*flight](p.MinShare)
	s.chainsLeft = make([]int, len(pl.docs))
	s.res.finish = make([]time.Duration, len(pl.docs))
	s.failed = make([]bool, len(pl.docs))
	now := simEpoch
	for s.next < len(pl.order) && (p.Pending == 0 || s.next < p.Pending) {
		s.submit(now)
	}
	var last time.Time
	for {
		at, key := s.dispatch(now)
		next := at
		if len(s.done) > 0 && (next.IsZero() || s.done[0].at.Before(next)) {
			next = s.done[0].at
		}
		if next.IsZero() {
			break // nothing in flight, nothing admissible
		}
		if !next.After(now) {
			next = now.Add(time.Millisecond)
		}
		if key != "" {
			s.res.blocked[key] += next.Sub(now)
		}
		s.res.waited += time.Duration(s.queued) * next.Sub(now)
		now = next
		for len(s.done) > 0 && !s.done[0].at.After(now) {
			f := heap.Pop(&s.done).(*flight)
			s.end(f)
			last = f.at
		}
	}
	if !last.IsZero() {
		s.res.makespan = last.Sub(simEpoch)
	}
	for d := range s.res.finish {
		if s.failed[d] {
			s.res.finish[d] = -1
		}
	}
	return s.res
}

// sim is the state of one simulation.
type sim struct {
	pl         *plan
	p          Params
	limits     []quota.Limit // as the client's limiter has them
	pacing     time.Duration
	store      quota.Store
	pacer      *pace.Pacer           // the client's pacing
	queue      *sched.Queue[*flight] // the client's scheduler
	queued     int
	done       flights // in flight, by end time
	next       int     // documents handed over so far
	pending    int     // documents handed over and not finished
	chainsLeft []int   // per document, requests not finished (the combining one excluded)
	failed     []bool
	calibrated bool
	res        simResult
}

// flight is a call queued or in flight.
type flight struct {
	call       sched.Call[*flight]
	chain, idx int
	c          *call
	cost       quota.Cost // reserved
	ticket     uint64
	at         time.Time // end, once admitted
}

// submit hands the next document over.
func (s *sim) submit(now time.Time) {
	d := s.pl.order[s.next]
	s.next++
	s.pending++
	doc := s.pl.docs[d]
	s.chainsLeft[d] = len(doc.chains)
	for _, i := range doc.chains {
		s.enqueue(now, i, 0)
	}
	if len(doc.chains) == 0 {
		s.combine(now, d)
	}
}

// combine queues document d's combining call, or finishes the document when it has none.
func (s *sim) combine(now time.Time, d int) {
	if i := s.pl.docs[d].combine; i >= 0 && !s.failed[d] {
		s.enqueue(now, i, 0)
		return
	}
	s.finish(now, d)
}

// enqueue queues call idx of request chain; a call that can never be admitted fails its
// document at once.
func (s *sim) enqueue(now time.Time, chain, idx int) {
	c := &s.pl.chains[chain][idx]
	if c.tooLarge {
		s.res.tooLarge++
		s.failed[c.doc] = true
		s.chainDone(now, chain)
		return
	}
	cost := c.initial
	if s.calibrated {
		cost = c.reserve
	}
	f := &flight{chain: chain, idx: idx, c: c, cost: cost}
	f.call = sched.Call[*flight]{Item: f, Class: class(c.prio), Service: s.service(cost)}
	s.queue.Enqueue(&f.call)
	s.queued++
	s.dispatch(now) // as the Limiter's Wait does: a call comes when the ones before it are placed
}

// chainDone records that request chain has ended.
func (s *sim) chainDone(now time.Time, chain int) {
	d := s.pl.chains[chain][0].doc
	if s.pl.docs[d].combine == chain {
		s.finish(now, d)
		return
	}
	if s.chainsLeft[d]--; s.chainsLeft[d] == 0 {
		s.combine(now, d)
	}
}

// finish records document d as done and hands the next one over.
func (s *sim) finish(now time.Time, d int) {
	s.res.finish[d] = now.Sub(simEpoch)
	s.pending--
	if s.next < len(s.pl.order) && s.p.Pending > 0 {
		s.submit(now)
	}
}

// end settles a call that has ended and queues what follows it.
func (s *sim) end(f *flight) {
	ctx := context.Background()
	_, _ = s.store.Settle(ctx, f.at, s.limits, f.ticket, f.c.settle)
	if s.pacing > 0 { // as quota's Reservation.Settle: refunds give their pace back, excess takes more
		s.pacer.RefundFor(s.uses(positive(f.cost, f.c.settle)))
		s.pacer.ChargeFor(f.at, s.uses(positive(f.c.settle, f.cost)))
	}
	s.dispatch(f.at) // as the Limiter's Settle does, before what follows the call comes
	s.calibrated = true
	if f.idx+1 < len(s.pl.chains[f.chain]) {
		s.enqueue(f.at, f.chain, f.idx+1)
		return
	}
	s.chainDone(f.at, f.chain)
}

// uses is cost's use of each limit, for the pacer.
func (s *sim) uses(cost quota.Cost) []pace.Use {
	uses := make([]pace.Use, len(s.limits))
	for i, l := range s.limits {
		uses[i] = pace.Use{Per: l.Per, Amount: l.Amount, N: costs.Get(cost, l.Dimension)}
	}
	return uses
}

// dispatch admits queued calls at now as the client's limiter does (sched.Queue.Dispatch,
// with backfilling when there is no pacing). It returns when the call it stopped at could
// fit next (zero when nothing waits, or when only a call ending can make room) and the
// key of what holds it back.
func (s *sim) dispatch(now time.Time) (time.Time, string) {
	a, waiting := s.queue.Dispatch(now, s, s.pacing == 0)
	switch {
	case !waiting:
		return time.Time{}, ""
	case a.Paced:
		return a.RetryAt, limitKey(s.limits[a.Blocked])
	case a.Blocked < 0:
		return time.Time{}, concurrencyKey
	}
	return a.RetryAt, limitKey(s.limits[a.Blocked])
}

var _ sched.Gate[*flight] = (*sim)(nil)

// Reserve asks the pacer, then the store, to admit c's reservation at now, as the
// client's limiter does.
func (s *sim) Reserve(now time.Time, c *sched.Call[*flight]) sched.Answer {
	f := c.Item
	if s.pacing > 0 {
		if at, i := s.pacer.ReadyFor(s.uses(f.cost)); i >= 0 && at.After(now) {
			return sched.Answer{RetryAt: at, Blocked: i, Paced: true}
		}
	}
	ticket, retryAt, blocked, err := s.store.Reserve(context.Background(), now, s.limits, s.p.MaxInFlight, f.cost, 30*24*time.Hour)
	if err != nil {
		return sched.Answer{Err: err}
	}
	if ticket != 0 && s.pacing > 0 {
		s.pacer.ChargeFor(now, s.uses(f.cost))
	}
	return sched.Answer{OK: ticket != 0, Ticket: ticket, RetryAt: retryAt, Blocked: blocked}
}

// Release refunds a reservation the dispatcher takes back.
func (s *sim) Release(now time.Time, _ *sched.Call[*flight], a sched.Answer) {
	_, _ = s.store.Settle(context.Background(), now, s.limits, a.Ticket, quota.Cost{})
}

// Decide puts an admitted call in flight until its latency has passed. The memory store
// never fails; a failure would fail the call's document.
func (s *sim) Decide(now time.Time, c *sched.Call[*flight], a sched.Answer) {
	f := c.Item
	s.queued--
	if a.Err != nil {
		s.failed[f.c.doc] = true
		s.chainDone(now, f.chain)
		return
	}
	f.ticket, f.at = a.Ticket, now.Add(f.c.latency)
	heap.Push(&s.done, f)
}

// Smaller reports whether a reserves less than b in some dimension.
func (s *sim) Smaller(a, b *flight) bool {
	x, y := a.cost, b.cost
	return x.Requests < y.Requests || x.Tokens < y.Tokens || x.InputTokens < y.InputTokens || x.OutputTokens < y.OutputTokens
}

// service is a cost's dominant share of the limits (quota.Limiter's measure).
func (s *sim) service(c quota.Cost) float64 {
	var x float64
	for _, l := range s.limits {
		x = max(x, float64(costs.Get(c, l.Dimension))/float64(l.Amount))
	}
	return x + 1e-12
}

// positive returns a − b in every dimension where it is positive, zero elsewhere.
func positive(a, b quota.Cost) quota.Cost {
	return quota.Cost{Requests: max(a.Requests-b.Requests, 0), Tokens: max(a.Tokens-b.Tokens, 0),
		InputTokens: max(a.InputTokens-b.InputTokens, 0), OutputTokens: max(a.OutputTokens-b.OutputTokens, 0)}
}

// class returns the index of p in quotatext.Priorities (highest first).
func class(p quota.Priority) int {
	for i, q := range quotatext.Priorities {
		if p >= q {
			return i
		}
	}
	return len(quotatext.Priorities) - 1
}

// flights is a min-heap of calls in flight by end time.
type flights []*flight

func (h flights) Len() int           { return len(h) }
func (h flights) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h flights) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *flights) Push(x any)        { *h = append(*h, x.(*flight)) }
func (h *flights) Pop() any {
	old := *h
	f := old[len(old)-1]
	*h = old[:len(old)-1]
	return f
}
