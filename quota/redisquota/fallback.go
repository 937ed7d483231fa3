package redisquota

import (
	"container/heap"
	"context"
	"crypto/rand"
	"encoding/binary"
	"time"

	"github.com/tollgate-dev/tollgate/quota"
)

// randUint64 names an instance: its settlement batches are numbered under that name.
func randUint64() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

// failLocked opens the breaker after a failed round trip: no call goes to Redis for a
// backoff that doubles up to a grant lifetime. The first failure is logged.
func (s *Store) failLocked(err error) {
	s.downErr = err.Error()
	if !s.down {
		s.down, s.downSince = true, time.Now()
		s.backoff = 50 * time.Millisecond
		s.log.Warn("redisquota: Redis unreachable; admitting from the current grant until it expires, then at this instance's last share of each limit",
			"scope", s.tag, "error", err)
		for _, st := range s.sets {
			s.seedFallbackLocked(st)
		}
	} else {
		s.backoff = min(2*s.backoff, s.opts.GrantLifetime)
	}
	s.retryAt = time.Now().Add(s.backoff)
}

// recoverLocked closes the breaker after a round trip succeeded: the usage admitted while
// Redis was unreachable is charged to the shared windows, now, so that the fleet counts it.
func (s *Store) recoverLocked() {
	if !s.down {
		return
	}
	s.down = false
	s.log.Info("redisquota: Redis reachable again; sharing the quota through it", "scope", s.tag, "after", time.Since(s.downSince).Round(time.Millisecond))
	if s.fallback == nil {
		return
	}
	fb := s.fallback
	s.fallback = nil
	for _, st := range s.sets {
		windows, _, err := fb.Usage(context.Background(), s.timeAt(s.last), s.scaledLocked(st))
		if err != nil || len(windows) != len(st.limits) {
			continue
		}
		for i, l := range st.limits {
			used := windows[i].Used
			if s.last-st.seedAt < int64(windows[i].Span/time.Microsecond) {
				used -= st.seeded[i] // the seed is still in the window: it is not new usage
			}
			if used <= 0 {
				continue
			}
			kind := 2
			switch l.Meter {
			case quota.TokenBucket:
				kind = 4
			case quota.ClockWindow:
				kind = 5 // a settlement of nothing reserved, in this window: an excess
			}
			o := op{limit: i + 1, kind: kind, b: used}
			if kind == 5 {
				o = op{limit: i + 1, kind: 5, a: s.last / perMicros(l), b: 0, c: used}
			}
			st.pend = append(st.pend, o)
		}
		clear(st.seeded)
	}
}

// shareLocked is the part of limit i's Amount this instance falls back to: what it was
// granted over the last full share period, or over the current one if more.
func (st *set) shareOf(i int, now int64) float64 {
	l := st.limits[i]
	cur := float64(st.granted[i]) / float64(l.Amount)
	if el := now - st.shareAt[i]; el > perMicros(l) {
		cur *= float64(perMicros(l)) / float64(el)
	}
	return min(1, max(st.share[i], cur))
}

// scaledLocked returns st's limits scaled to this instance's share.
func (s *Store) scaledLocked(st *set) []quota.Limit {
	out := make([]quota.Limit, len(st.limits))
	for i, l := range st.limits {
		l.Amount = max(1, int64(float64(l.Amount)*st.shareOf(i, s.last)))
		out[i] = l
	}
	return out
}

// seedFallbackLocked starts the fallback store holding what this instance was granted in
// the current share period, so that its fallback rate counts the room it already used.
func (s *Store) seedFallbackLocked(st *set) {
	if s.fallback == nil {
		s.fallback = quota.NewMemory()
	}
	if st.seeded == nil {
		st.seeded = make([]int64, len(st.limits))
	}
	var c quota.Cost
	for i, l := range st.limits {
		g := st.granted[i]
		if st.g != nil {
			g -= st.g.bal[i]
		}
		g = min(max(g, 0), l.Amount)
		setDim(&c, l.Dimension, g)
	}
	adm, err := s.fallback.Reserve(context.Background(), quota.ReserveRequest{Now: s.timeAt(s.last), Limits: s.unlimited(st), Cost: c})
	if err == nil && adm.OK {
		_, _ = s.fallback.Settle(context.Background(), quota.SettleRequest{Now: s.timeAt(s.last), Limits: s.unlimited(st), Ticket: adm.Ticket, Actual: c})
		for i, l := range st.limits {
			st.seeded[i] = c.Get(l.Dimension)
		}
		st.seedAt = s.last
	}
}

// unlimited returns st's limits with Amounts large enough to take any seed.
func (s *Store) unlimited(st *set) []quota.Limit {
	out := make([]quota.Limit, len(st.limits))
	for i, l := range st.limits {
		l.Amount = 1 << 50
		out[i] = l
	}
	return out
}

func setDim(c *quota.Cost, d quota.Dimension, v int64) {
	switch d {
	case quota.Requests:
		c.Requests = v
	case quota.Tokens:
		c.Tokens = v
	case quota.InputTokens:
		c.InputTokens = v
	case quota.OutputTokens:
		c.OutputTokens = v
	}
}

// reserveFallback admits req while Redis is unreachable and this instance holds no grant
// that covers it: at this instance's last share of each limit, never more.
func (s *Store) reserveFallback(st *set, now int64, req quota.ReserveRequest) (quota.Admission, error) {
	if s.fallback == nil {
		s.seedFallbackLocked(st)
	}
	limits := s.scaledLocked(st)
	for i, l := range limits {
		if st.shareOf(i, now) == 0 || req.Cost.Get(l.Dimension) > l.Amount {
			// No share, or more than this instance's share could ever admit: wait for
			// Redis.
			return quota.Admission{Blocked: i, RetryAt: s.timeAt(now).Add(time.Until(s.retryAt))}, nil
		}
	}
	adm, err := s.fallback.Reserve(context.Background(), quota.ReserveRequest{Now: s.timeAt(now), Limits: limits, Cost: req.Cost, TTL: req.TTL})
	if err != nil {
		return quota.Admission{}, err
	}
	if !adm.OK {
		if until := s.timeAt(now).Add(time.Until(s.retryAt)); until.Before(adm.RetryAt) {
			adm.RetryAt = until // Redis may be back by then
		}
		return adm, nil
	}
	s.next++
	t := &ticket{id: s.next, set: st, cost: req.Cost, expires: now + req.TTL.Microseconds(), fb: adm.Ticket, fbm: s.fallback}
	s.tickets[t.id] = t
	heap.Push(&s.byExpiry, t)
	return quota.Admission{OK: true, Ticket: t.id}, nil
}
