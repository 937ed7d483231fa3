package quota

import (
	"context"
	"sync"
	"time"
)

// Memory is a Store that keeps usage in process memory: for each limit a ring of
// SubWindows+1 sub-window sums (see SubWindows for the approximation and its safe side)
// or, for a TokenBucket limit, the bucket's debt; and a table of open reservations in
// order of expiry.
//
// Settlement refunds into the sub-window where the reservation was charged, so the room
// comes back at once; a settlement that charges more than was reserved lands the excess
// in the current sub-window, where both a clock-window and a token-bucket provider see
// it too (the provider learns the final usage when the call ends).
//
// The zero Memory is ready to use. A Memory is safe for concurrent use, and several
// Limiters may share one to share quotas within a process. Reserve and Settle do not
// allocate once the store has seen its limits and its peak number of open reservations.
type Memory struct {
	mu      sync.Mutex
	epoch   time.Time // time of the first request; offsets are reckoned from it
	started bool
	last    int64 // latest offset seen; time never runs backwards inside the store
	rings   []*ring
	tickets ticketTable

	// The rings of the limits slice seen last, in its order: a Limiter passes the same
	// slice until its limits change, so the lookup is usually a comparison.
	cacheKey   *Limit
	cacheRings []*ring
	// The rings of the limit set a Limiter's hot path passed last: a limitSet never
	// changes, so the lookup is a comparison (see ringsOf).
	setKey   *limitSet
	setRings []*ring
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty Memory store.
func NewMemory() *Memory { return new(Memory) }

// offset converts now to nanoseconds since the epoch, never less than an earlier offset.
// The zero time means the latest offset seen.
func (m *Memory) offset(now time.Time) int64 {
	if now.IsZero() {
		return m.last
	}
	return m.offsetAt(&now, 0)
}

// offsetAt is offset for the time base.Add(since), without building it (see
// Limiter.clock).
func (m *Memory) offsetAt(base *time.Time, since time.Duration) int64 {
	if !m.started {
		m.epoch, m.started = base.Add(since), true
	}
	off := int64(base.Sub(m.epoch) + since)
	if off < m.last {
		off = m.last
	}
	m.last = off
	return off
}

// ring returns the ring for l, creating it on first use. Rings are keyed by
// (Dimension, Per, Meter), so a change of Amount keeps the usage.
func (m *Memory) ring(l Limit) *ring {
	for _, r := range m.rings {
		if r.dim == l.Dimension && r.per == l.Per && r.meter == l.Meter {
			return r
		}
	}
	r := newRing(l.Dimension, l.Per, l.Meter, m.epoch.UnixNano())
	r.start(m.last)
	m.rings = append(m.rings, r)
	return r
}

// ringsOf returns the rings of a Limiter's limit set, in order.
func (m *Memory) ringsOf(set *limitSet) []*ring {
	if set == m.setKey {
		return m.setRings
	}
	m.setRings = append(m.setRings[:0], m.ringsFor(set.limits)...)
	m.setKey = set
	return m.setRings
}

// ringsFor returns the rings of limits, in order.
func (m *Memory) ringsFor(limits []Limit) []*ring {
	if len(limits) == 0 {
		return nil
	}
	if &limits[0] == m.cacheKey && len(limits) == len(m.cacheRings) {
		ok := true
		for i, r := range m.cacheRings { // the slice may have been reused with new limits
			if r.dim != limits[i].Dimension || r.per != limits[i].Per || r.meter != limits[i].Meter {
				ok = false
				break
			}
		}
		if ok {
			return m.cacheRings
		}
	}
	m.cacheRings = m.cacheRings[:0]
	for _, l := range limits {
		m.cacheRings = append(m.cacheRings, m.ring(l))
	}
	m.cacheKey = &limits[0]
	return m.cacheRings
}

// Reserve implements Store.
func (m *Memory) Reserve(_ context.Context, req ReserveRequest) (Admission, error) {
	m.mu.Lock()
	off := m.offset(req.Now)
	adm := m.reserveLocked(off, req.Limits, m.ringsFor(req.Limits), req.MaxInFlight, &req.Cost, req.TTL)
	m.mu.Unlock()
	return adm, nil
}

// reserveAt is Reserve for a Limiter's hot path, which calls its Memory store directly:
// the time is the Limiter's clock reading (base plus since), and it reports only the
// ticket of an admitted call.
func (m *Memory) reserveAt(base *time.Time, since time.Duration, set *limitSet, cost *Cost, ttl time.Duration) (uint64, bool) {
	m.mu.Lock()
	adm := m.reserveLocked(m.offsetAt(base, since), set.limits, m.ringsOf(set), set.maxInFlight, cost, ttl)
	m.mu.Unlock()
	return adm.Ticket, adm.OK
}

// reserveLocked is Reserve at offset off, with m.mu held.
func (m *Memory) reserveLocked(off int64, limits []Limit, rings []*ring, maxInFlight int, cost *Cost, ttl time.Duration) Admission {
	if m.tickets.open > 0 && m.tickets.slots[m.tickets.head].expires <= off {
		m.tickets.expire(off)
	}

	adm := Admission{Blocked: -2}
	var latest int64 = -1
	for i, l := range limits {
		r := rings[i]
		r.advance(off, l.Amount)
		n := cost.Get(l.Dimension)
		if r.c != nil {
			m.carry(r, l.Dimension)
			if at := r.c.guardedUntil(off, l.Per); at >= 0 && n > 0 {
				if at > latest {
					latest, adm.Blocked = at, i
				}
				continue
			}
		}
		if r.sum+n <= l.Amount {
			continue
		}
		if n > l.Amount {
			n = l.Amount // never admissible; the Limiter refuses such costs before asking
		}
		if at := r.retryAt(n, l.Amount); at > latest {
			latest, adm.Blocked = at, i
		}
	}
	if latest < 0 && maxInFlight > 0 && m.tickets.open >= maxInFlight {
		latest, adm.Blocked = m.tickets.oldestExpiry(), -1
	}
	if latest >= 0 {
		adm.RetryAt = m.epoch.Add(time.Duration(latest))
		return adm
	}
	for i, l := range limits {
		rings[i].charge(cost.Get(l.Dimension))
	}
	adm.OK, adm.Blocked = true, 0
	adm.Ticket = m.tickets.open1(off, off+int64(ttl), *cost)
	return adm
}

// Settle implements Store.
func (m *Memory) Settle(_ context.Context, req SettleRequest) (bool, error) {
	return m.settle(req.Now, req.Limits, nil, req.Ticket, &req.Actual), nil
}

// settle is Settle for a Limiter that calls its Memory store directly, with its limit
// set (nil: look the rings of limits up).
func (m *Memory) settle(now time.Time, limits []Limit, set *limitSet, ticket uint64, actualCost *Cost) bool {
	m.mu.Lock()
	off := m.offset(now)
	if !now.IsZero() { // without a clock reading, time has not moved: nothing new lapsed
		m.tickets.expire(off)
	}
	t := m.tickets.lookup(ticket)
	if t == nil {
		m.mu.Unlock()
		return false
	}
	var rings []*ring
	if set != nil {
		rings = m.ringsOf(set)
	} else {
		rings = m.ringsFor(limits)
	}
	for i, l := range limits {
		r := rings[i]
		r.advance(off, l.Amount)
		reserved, actual := t.cost.Get(l.Dimension), actualCost.Get(l.Dimension)
		if r.c != nil {
			m.carry(r, l.Dimension)
			if r.c.index(t.at, l.Per) < r.c.idx { // carried into this window: its excess replaces it
				r.sum -= min(reserved, r.sum)
				r.sum += max(actual-reserved, 0)
			} else {
				r.sum = max(r.sum+actual-reserved, 0)
			}
			continue
		}
		switch {
		case actual < reserved:
			a := r.head // charged in the head sub-window: no division needed
			if t.at < r.headEnd-r.width {
				a = r.index(t.at)
			}
			r.refund(a, reserved-actual)
		case actual > reserved:
			r.charge(actual - reserved)
		}
	}
	m.tickets.close(ticket)
	m.mu.Unlock()
	return true
}

// carry starts a ClockWindow ring's new window holding the reservations still open that
// were charged in earlier windows: each may charge its excess to this window when it
// settles, where a clock-minute provider sees it (Settle then replaces it by its excess).
func (m *Memory) carry(r *ring, dim Dimension) {
	if !r.c.rolled {
		return
	}
	r.c.rolled = false
	start := r.c.start(r.c.idx, r.per)
	for i := m.tickets.head; m.tickets.open > 0 && i >= 0; i = m.tickets.slots[i].next {
		if t := &m.tickets.slots[i]; t.at < start {
			r.sum += t.cost.Get(dim)
		}
	}
}

// Usage implements Store.
func (m *Memory) Usage(_ context.Context, now time.Time, limits []Limit) (Usage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	off := m.offset(now)
	m.tickets.expire(off)
	u := Usage{Windows: make([]Window, len(limits)), InFlight: m.tickets.open}
	for i, l := range limits {
		r := m.ring(l)
		r.advance(off, l.Amount)
		if r.c != nil {
			m.carry(r, l.Dimension)
		}
		u.Windows[i] = r.window(m.epoch, l.Amount)
	}
	return u, nil
}

// ticketTable holds the open reservations in a slab with a free list, linked in order of
// expiry so that lapsed ones are found at the front. A ticket is the slot index plus one
// in its low 32 bits and the slot's generation in its high 32 bits, so a ticket that was
// ended (and its slot reused) is recognised as stale.
type ticketTable struct {
	slots      []ticket
	free       int32 // first free slot, -1 when none (valid once slots is non-empty)
	head, tail int32 // open tickets, soonest expiry first; -1 when none
	open       int
	inited     bool
}

type ticket struct {
	gen        uint32
	live       bool
	prev, next int32
	at         int64 // offset at which it was charged
	expires    int64 // offset at which it lapses
	cost       Cost
}

func (tt *ticketTable) init() {
	if !tt.inited {
		tt.free, tt.head, tt.tail, tt.inited = -1, -1, -1, true
	}
}

// open1 opens a ticket charged at offset at and lapsing at expires.
func (tt *ticketTable) open1(at, expires int64, cost Cost) uint64 {
	tt.init()
	var i int32
	if tt.free >= 0 {
		i = tt.free
		tt.free = tt.slots[i].next
	} else {
		tt.slots = append(tt.slots, ticket{})
		i = int32(len(tt.slots) - 1)
	}
	t := &tt.slots[i]
	t.gen++
	t.live, t.at, t.expires, t.cost = true, at, expires, cost
	// Insert in expiry order, searching from the back: with one TTL per Limiter the new
	// ticket goes last.
	p := tt.tail
	for p >= 0 && tt.slots[p].expires > expires {
		p = tt.slots[p].prev
	}
	t.prev = p
	if p >= 0 {
		t.next = tt.slots[p].next
		tt.slots[p].next = i
	} else {
		t.next = tt.head
		tt.head = i
	}
	if t.next >= 0 {
		tt.slots[t.next].prev = i
	} else {
		tt.tail = i
	}
	tt.open++
	return uint64(t.gen)<<32 | uint64(i+1)
}

// lookup returns the open ticket id names, or nil.
func (tt *ticketTable) lookup(id uint64) *ticket {
	i := int64(id&0xffffffff) - 1
	if i < 0 || i >= int64(len(tt.slots)) {
		return nil
	}
	t := &tt.slots[i]
	if !t.live || t.gen != uint32(id>>32) {
		return nil
	}
	return t
}

// close ends an open ticket and frees its slot.
func (tt *ticketTable) close(id uint64) {
	i := int32(id&0xffffffff) - 1
	t := &tt.slots[i]
	if t.prev >= 0 {
		tt.slots[t.prev].next = t.next
	} else {
		tt.head = t.next
	}
	if t.next >= 0 {
		tt.slots[t.next].prev = t.prev
	} else {
		tt.tail = t.prev
	}
	t.live = false
	t.next = tt.free
	tt.free = i
	tt.open--
}

// expire closes the tickets that lapsed at or before off; their charges stay in full.
func (tt *ticketTable) expire(off int64) {
	for tt.open > 0 && tt.slots[tt.head].expires <= off {
		h := tt.head
		tt.close(uint64(tt.slots[h].gen)<<32 | uint64(h+1))
	}
}

// oldestExpiry returns the offset at which the first open ticket lapses.
func (tt *ticketTable) oldestExpiry() int64 { return tt.slots[tt.head].expires }
