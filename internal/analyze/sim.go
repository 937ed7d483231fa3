package analyze

import (
	"container/heap"
	"context"
	"time"

	"github.com/tollgate-dev/tollgate/internal/costs"
	"github.com/tollgate-dev/tollgate/internal/pace"
	"github.com/tollgate-dev/tollgate/internal/quotatext"
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

// simulate replays how tollgate.Client admits a plan, on simulated time: documents are
// handed over in priority order (all at once, or Pending at a time), their calls queue in
// priority order with the guaranteed share of lower classes, and each is admitted when a
// quota.NewMemory store — the client's own sliding windows, on windows lengthened by
// WindowMargin — and the pacing (Params.Pacing, as quota.Config.Pacing) admit its
// reservation and the cap on calls in flight has room. A call is held for its latency,
// then settled at its real usage; continuations and the call combining a chunked
// document queue when the calls they follow end. The client's estimate is the initial
// one (InitialMargin) for calls planned before any call has settled, the calibrated one
// after.
func simulate(pl *plan, limits []quota.Limit, p Params) simResult {
	s := &sim{pl: pl, p: p, store: quota.NewMemory(), res: simResult{blocked: map[string]time.Duration{}}}
	for _, l := range limits {
		l.Per += p.WindowMargin
		s.limits = append(s.limits, l)
	}
	s.pacer = pace.New(max(p.Pacing, 0), len(s.limits))
	s.gain = p.MinShare / (1 - p.MinShare)
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
	limits     []quota.Limit // with WindowMargin
	store      quota.Store
	pacer      *pace.Pacer // the client's pacing, replayed
	queue      [len(quotatext.Priorities)][]*flight
	credit     [len(quotatext.Priorities)]float64
	gain       float64
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
	chain, idx int
	c          *call
	cost       quota.Cost // reserved
	service    float64
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
	f := &flight{chain: chain, idx: idx, c: c, cost: cost, service: s.service(cost)}
	k := class(c.prio)
	s.queue[k] = append(s.queue[k], f)
	s.queued++
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
	if s.p.Pacing > 0 {
		s.pace(f.at, positive(f.cost, f.c.settle), -1)
		s.pace(f.at, positive(f.c.settle, f.cost), 1)
	}
	s.calibrated = true
	if f.idx+1 < len(s.pl.chains[f.chain]) {
		s.enqueue(f.at, f.chain, f.idx+1)
		return
	}
	s.chainDone(f.at, f.chain)
}

// pacedAt returns the earliest time at which the client's pacing admits cost (the zero
// Time when at once is fine), and the index of the limit whose horizon sets it.
func (s *sim) pacedAt(cost quota.Cost) (time.Time, int) {
	var at time.Time
	bind := 0
	for i, l := range s.limits {
		if costs.Get(cost, l.Dimension) == 0 {
			continue
		}
		if t := s.pacer.Ready(i); t.After(at) {
			at, bind = t, i
		}
	}
	return at, bind
}

// pace moves each limit's pacing horizon by cost at the limit's rate: forward from now
// (sign > 0) for a charge, back for a refund.
func (s *sim) pace(now time.Time, cost quota.Cost, sign int) {
	for i, l := range s.limits {
		if n := costs.Get(cost, l.Dimension); n > 0 {
			if d := pace.Duration(l.Per, l.Amount, n); sign > 0 {
				s.pacer.Charge(now, i, d)
			} else {
				s.pacer.Refund(i, d)
			}
		}
	}
}

// dispatch admits queued calls in scheduler order while they fit. It returns when the
// head could fit next (zero when nothing waits, or when only a call ending can make
// room) and the key of what holds it back.
func (s *sim) dispatch(now time.Time) (time.Time, string) {
	ctx := context.Background()
	for {
		f, k := s.head()
		if f == nil {
			return time.Time{}, ""
		}
		if s.p.Pacing > 0 {
			if at, i := s.pacedAt(f.cost); at.After(now) {
				return at, limitKey(s.limits[i])
			}
		}
		ticket, retryAt, blocked, err := s.store.Reserve(ctx, now, s.limits, s.p.MaxInFlight, f.cost, 30*24*time.Hour)
		if err != nil || ticket == 0 {
			if err != nil || blocked < 0 {
				return time.Time{}, concurrencyKey
			}
			return retryAt, limitKey(s.limits[blocked])
		}
		if s.p.Pacing > 0 {
			s.pace(now, f.cost, 1)
		}
		s.admit(f, k)
		f.ticket, f.at = ticket, now.Add(f.c.latency)
		heap.Push(&s.done, f)
	}
}

// head returns the call to admit next and its class: the first of the highest class
// waiting, unless a lower waiting class has earned the credit for its first call.
func (s *sim) head() (*flight, int) {
	top := -1
	for k := range s.queue {
		if len(s.queue[k]) > 0 {
			top = k
			break
		}
	}
	if top < 0 {
		return nil, -1
	}
	if s.gain > 0 {
		for k := top + 1; k < len(s.queue); k++ {
			if len(s.queue[k]) > 0 && s.credit[k] >= s.queue[k][0].service {
				return s.queue[k][0], k
			}
		}
	}
	return s.queue[top][0], top
}

// admit takes the first call of class k out of the queue and accounts its service as
// quota.Limiter does: against k's credit when served out of turn, as credit to every
// lower class waiting.
func (s *sim) admit(f *flight, k int) {
	for j := range k {
		if len(s.queue[j]) > 0 {
			s.credit[k] -= f.service
			break
		}
	}
	s.queue[k] = s.queue[k][1:]
	s.queued--
	if len(s.queue[k]) == 0 {
		s.credit[k] = 0
	}
	for d := k + 1; d < len(s.queue); d++ {
		if len(s.queue[d]) > 0 {
			s.credit[d] += f.service * s.gain
		}
	}
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
