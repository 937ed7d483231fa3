package quota

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// memory is the Store NewMemory returns. It keeps usage in process memory: for each limit a meter (see
// Meter) — for a Sliding limit a ring of sub-window sums, which errs on the safe side by
// at most 0.5% of throughput — and a table of open reservations in order of expiry.
//
// Settlement refunds into the sub-window where the reservation was charged, so the room
// comes back at once; a settlement that charges more than was reserved lands the excess
// in the current sub-window, where both a clock-window and a token-bucket provider see
// it too (the provider learns the final usage when the call ends).
//
// The zero memory is ready to use. Reserve and Settle do not allocate once the store has
// seen its limits and its peak number of open reservations.
type memory struct {
	mu      sync.Mutex
	last    time.Time // latest time seen; time never runs backwards inside the store
	meters  []account
	tickets ticketTable

	// The meters of the limits slice seen last, in its order: a Limiter passes the same
	// slice until its limits change, so the lookup is usually a comparison.
	cacheKey    *Limit
	cacheAcc    []account
	cacheMeters []meter
	// The meters of the limit set a Limiter's hot path passed last: a limitSet never
	// changes, so the lookup is one comparison.
	setKey    *limitSet
	setMeters []meter
}

// account is a limit's meter with the key it is found by: (Dimension, Per, Meter), so
// that a change of Amount keeps the usage.
type account struct {
	dim   Dimension
	per   time.Duration
	kind  Meter
	meter meter
}

var _ Store = (*memory)(nil)

// NewMemory returns an empty Store that keeps usage in process memory: the Store of a
// Limiter whose Config.Store is nil. Several Limiters may share one to share quotas
// within a process; it is safe for concurrent use. For a Sliding limit it keeps the sums
// of 200 sub-windows, for a TokenBucket limit the bucket's debt, for a ClockWindow limit
// the current window's usage, and a table of open reservations in order of expiry.
func NewMemory() Store { return new(memory) }

// at returns now, or the latest time seen when now is earlier or zero, and records it.
func (m *memory) at(now time.Time) time.Time {
	if now.IsZero() || (!m.last.IsZero() && now.Before(m.last)) {
		return m.last
	}
	m.last = now
	return now
}

// meterOf returns the meter for l, creating it on first use.
func (m *memory) meterOf(l Limit) meter {
	for _, a := range m.meters {
		if a.dim == l.Dimension && a.per == l.Per && a.kind == l.Meter {
			return a.meter
		}
	}
	a := account{dim: l.Dimension, per: l.Per, kind: l.Meter, meter: newMeter(l.Per, l.Meter, l.Dimension, m.last)}
	m.meters = append(m.meters, a)
	return a.meter
}

// metersFor returns the meters of limits, in order.
func (m *memory) metersFor(limits []Limit) []meter {
	if len(limits) == 0 {
		return nil
	}
	if &limits[0] == m.cacheKey && len(limits) == len(m.cacheAcc) {
		ok := true
		for i, a := range m.cacheAcc { // the slice may have been reused with new limits
			if a.dim != limits[i].Dimension || a.per != limits[i].Per || a.kind != limits[i].Meter {
				ok = false
				break
			}
		}
		if ok {
			return m.cacheMeters
		}
	}
	m.cacheAcc, m.cacheMeters = m.cacheAcc[:0], m.cacheMeters[:0]
	for _, l := range limits {
		r := m.meterOf(l)
		m.cacheAcc = append(m.cacheAcc, account{dim: l.Dimension, per: l.Per, kind: l.Meter})
		m.cacheMeters = append(m.cacheMeters, r)
	}
	m.cacheKey = &limits[0]
	return m.cacheMeters
}

// Reserve implements Store.
func (m *memory) Reserve(_ context.Context, now time.Time, limits []Limit, maxInFlight int, cost Cost, ttl time.Duration) (uint64, time.Time, int, error) {
	m.mu.Lock()
	adm := m.reserveLocked(m.at(now), limits, m.metersFor(limits), maxInFlight, &cost, ttl)
	m.mu.Unlock()
	return adm.ticket, adm.retryAt, adm.blocked, nil
}

// admission is a Store's answer to Reserve.
type admission struct {
	ticket  uint64 // the open reservation; zero when not admitted
	retryAt time.Time
	blocked int
}

// metersOf returns the meters of a Limiter's limit set, in order.
func (m *memory) metersOf(set *limitSet) []meter {
	if set != m.setKey {
		m.setMeters = append(m.setMeters[:0], m.metersFor(set.limits)...)
		m.setKey = set
	}
	return m.setMeters
}

// reserve is Reserve for a Limiter's hot path, which calls its memory store directly and
// needs only the ticket of an admitted call.
func (m *memory) reserve(now time.Time, set *limitSet, cost *Cost, ttl time.Duration) (uint64, bool) {
	m.mu.Lock()
	adm := m.reserveLocked(m.at(now), set.limits, m.metersOf(set), set.maxInFlight, cost, ttl)
	m.mu.Unlock()
	return adm.ticket, adm.ticket != 0
}

// reserveLocked is Reserve at now, with m.mu held.
func (m *memory) reserveLocked(now time.Time, limits []Limit, meters []meter, maxInFlight int, cost *Cost, ttl time.Duration) admission {
	if m.tickets.open > 0 && !m.tickets.slots[m.tickets.head].expires.After(now) {
		m.tickets.expire(now)
	}
	adm := admission{blocked: -2}
	var latest time.Time
	for i, l := range limits {
		if ok, at := meters[i].admit(now, cost.get(l.Dimension), l.Amount, &m.tickets); !ok && (latest.IsZero() || at.After(latest)) {
			latest, adm.blocked = at, i
		}
	}
	if latest.IsZero() && maxInFlight > 0 && m.tickets.open >= maxInFlight {
		latest, adm.blocked = m.tickets.slots[m.tickets.head].expires, -1
	}
	if !latest.IsZero() {
		adm.retryAt = latest
		return adm
	}
	for i, l := range limits {
		meters[i].charge(cost.get(l.Dimension))
	}
	adm.blocked = 0
	adm.ticket = m.tickets.open1(now, now.Add(ttl), *cost)
	return adm
}

// Settle implements Store.
func (m *memory) Settle(_ context.Context, now time.Time, limits []Limit, ticket uint64, actual Cost) (bool, error) {
	return m.settle(now, limits, nil, ticket, &actual), nil
}

// settle is Settle for a Limiter that calls its memory store directly, with its limit
// set (nil: look the meters of limits up).
func (m *memory) settle(now time.Time, limits []Limit, set *limitSet, ticket uint64, actual *Cost) bool {
	m.mu.Lock()
	lapse := !now.IsZero() // without a clock reading, time has not moved: nothing new lapsed
	now = m.at(now)
	if lapse {
		m.tickets.expire(now)
	}
	t := m.tickets.lookup(ticket)
	if t == nil {
		m.mu.Unlock()
		return false
	}
	var meters []meter
	if set != nil {
		meters = m.metersOf(set)
	} else {
		meters = m.metersFor(limits)
	}
	for i, l := range limits {
		meters[i].settle(now, t.at, t.cost.get(l.Dimension), actual.get(l.Dimension), l.Amount, &m.tickets)
	}
	m.tickets.close(ticket)
	m.mu.Unlock()
	return true
}

// Usage implements Store.
func (m *memory) Usage(_ context.Context, now time.Time, limits []Limit, need []int64) ([]int64, []time.Time, int, error) {
	if need != nil && len(need) != len(limits) {
		return nil, nil, 0, fmt.Errorf("quota: Usage got %d needs for %d limits: pass one per limit, or nil", len(need), len(limits))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now = m.at(now)
	m.tickets.expire(now)
	used := make([]int64, len(limits))
	var fits []time.Time
	if need != nil {
		fits = make([]time.Time, len(limits))
	}
	for i, l := range limits {
		w := m.meterOf(l).window(now, l.Amount, &m.tickets)
		used[i] = w.used
		if need != nil {
			fits[i] = w.fitAt(now, l.Amount, need[i])
		}
	}
	return used, fits, m.tickets.open, nil
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
	at         time.Time // when it was charged
	expires    time.Time // when it lapses
	cost       Cost
}

func (tt *ticketTable) init() {
	if !tt.inited {
		tt.free, tt.head, tt.tail, tt.inited = -1, -1, -1, true
	}
}

// open1 opens a ticket charged at at and lapsing at expires.
func (tt *ticketTable) open1(at, expires time.Time, cost Cost) uint64 {
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
	for p >= 0 && tt.slots[p].expires.After(expires) {
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

// expire closes the tickets that lapsed at or before now; their charges stay in full.
func (tt *ticketTable) expire(now time.Time) {
	for tt.open > 0 && !tt.slots[tt.head].expires.After(now) {
		h := tt.head
		tt.close(uint64(tt.slots[h].gen)<<32 | uint64(h+1))
	}
}
