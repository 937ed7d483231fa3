package redisquota

import (
	"container/heap"
	"context"
	"crypto/rand"
	"encoding/binary"
	"time"

	"github.com/tollgate-dev/tollgate/internal/costs"
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
		s.log.Warn("redisquota: Redis unreachable; admitting from the current grant until it expires, then only within this instance's own part of each limit, never the whole limit",
			"scope", s.tag, "error", err)
		for _, st := range s.sets {
			if st.exact {
				s.capLocked(st, s.last, true)
			} else {
				s.seedFallbackLocked(st)
				s.startLocalLocked(st)
			}
		}
	} else {
		s.backoff = min(2*s.backoff, s.opts.GrantLifetime)
	}
	s.retryAt = time.Now().Add(s.backoff)
}

// recoverLocked closes the breaker after a round trip succeeded. A Sliding set keeps to
// its own room for a hangover more, while the other instances reach Redis too; what it
// admitted meanwhile is queued at the sub-windows it was charged to. Any other set's
// usage admitted meanwhile is charged to the shared windows, now, so that the fleet
// counts it.
func (s *Store) recoverLocked() {
	if !s.down {
		return
	}
	s.down = false
	s.log.Info("redisquota: Redis reachable again; sharing the quota through it", "scope", s.tag, "after", time.Since(s.downSince).Round(time.Millisecond))
	for _, st := range s.sets {
		if st.capped {
			st.capUntil = max(st.capUntil, s.clockLocked()+s.hangover())
		}
		if st.lb != nil {
			st.bUntil = max(st.bUntil, s.clockLocked()+s.hangover())
		}
	}
	if s.fallback == nil {
		return
	}
	fb := s.fallback
	s.fallback = nil
	for _, st := range s.sets {
		if st.exact {
			continue
		}
		usage, _, _, err := fb.Usage(context.Background(), s.timeAt(s.last), s.scaledLocked(st), nil)
		if err != nil || len(usage) != len(st.limits) {
			continue
		}
		for i, l := range st.limits {
			used := usage[i]
			if s.last-st.seedAt < spanMicros(l) {
				used -= st.seeded[i] // the seed is still in the window: it is not new usage
			}
			if used <= 0 {
				continue
			}
			kind := 2
			switch l.Meter {
			case quota.TokenBucket:
				continue // Redis holds the bucket empty through the recovery instead
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
		if l.Meter == quota.TokenBucket {
			l.Amount = 1 << 50 // the local buckets hold it (bucket.go)
		}
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
		costs.Set(&c, l.Dimension, g)
	}
	ticket, _, _, err := s.fallback.Reserve(context.Background(), s.timeAt(s.last), s.unlimited(st), 0, c, 0)
	if err == nil && ticket != 0 {
		_, _ = s.fallback.Settle(context.Background(), s.timeAt(s.last), s.unlimited(st), ticket, c)
		for i, l := range st.limits {
			st.seeded[i] = costs.Get(c, l.Dimension)
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

// spanMicros is how long usage counts in a limit's window, in µs: Per, plus one
// sub-window for a Sliding limit.
func spanMicros(l quota.Limit) int64 {
	if l.Meter != quota.Sliding {
		return perMicros(l)
	}
	return width(l) * (subWindows + 1)
}

// reserveFallback admits req while Redis is unreachable and this instance holds no grant
// that covers it: a Sliding set within its own room, any other at this instance's last
// share of each limit; never more.
func (s *Store) reserveFallback(st *set, now int64, req reserveRequest) (admission, error) {
	if st.exact {
		return s.reserveOwnLocked(st, now, req), nil
	}
	if s.fallback == nil {
		s.seedFallbackLocked(st)
	}
	limits := s.scaledLocked(st)
	if ok, blocked, at := st.localRoom(now, req.Cost); !ok {
		retry := s.timeAt(now).Add(time.Until(s.retryAt))
		if !s.down {
			retry = s.timeAt(st.bUntil)
		}
		if at >= 0 && s.timeAt(at).Before(retry) {
			retry = s.timeAt(at)
		}
		return admission{Blocked: blocked, RetryAt: retry}, nil
	}
	for i, l := range limits {
		if l.Meter == quota.TokenBucket {
			continue
		}
		if st.shareOf(i, now) == 0 || costs.Get(req.Cost, l.Dimension) > l.Amount {
			// No share, or more than this instance's share could ever admit: wait for
			// Redis.
			return admission{Blocked: i, RetryAt: s.timeAt(now).Add(time.Until(s.retryAt))}, nil
		}
	}
	var adm admission
	var err error
	adm.Ticket, adm.RetryAt, adm.Blocked, err = s.fallback.Reserve(context.Background(), s.timeAt(now), limits, 0, req.Cost, req.TTL)
	if err != nil {
		return admission{}, err
	}
	if adm.Ticket == 0 {
		if until := s.timeAt(now).Add(time.Until(s.retryAt)); until.Before(adm.RetryAt) {
			adm.RetryAt = until // Redis may be back by then
		}
		return adm, nil
	}
	st.drawLocal(now, req.Cost)
	s.next++
	t := &ticket{id: s.next, set: st, cost: req.Cost, expires: now + req.TTL.Microseconds(), fb: adm.Ticket, fbm: s.fallback, lb: true}
	s.tickets[t.id] = t
	heap.Push(&s.byExpiry, t)
	return admission{Ticket: t.id}, nil
}

// reserveOwnLocked admits req for a set without a TokenBucket limit within this
// instance's own room. It charges a Sliding limit like a grant, at the sub-window a
// lifetime ahead: it counts until a lifetime after a window has passed, as a grant's
// calls do. It charges a ClockWindow limit to the current window, and, as a grant is,
// is not admitted in its guards, where the instances' clocks may disagree on the window.
func (s *Store) reserveOwnLocked(st *set, now int64, req reserveRequest) admission {
	s.capLocked(st, now, true) // a set first used while Redis is away holds no room
	need := make([]int64, len(st.limits))
	for i, l := range st.limits {
		need[i] = costs.Get(req.Cost, l.Dimension)
	}
	breaker := s.timeAt(now).Add(time.Until(s.retryAt)) // Redis may be back by then
	for i, l := range st.limits {
		if l.Meter != quota.ClockWindow {
			continue
		}
		if cur := now / perMicros(l); cur > st.carried[i] {
			// Calls charged in an earlier window and still open count in this one too,
			// as a round trip would carry them: within this window's own room.
			var carry int64
			for _, t := range s.tickets {
				if t.set == st && t.fb == 0 && t.win[i] < cur {
					carry += costs.Get(t.cost, l.Dimension)
				}
			}
			st.carried[i] = cur
			if carry > 0 {
				st.addOwn(i, cur, carry, now)
				st.pendOp(op{limit: i + 1, kind: 7, a: cur, b: carry})
			}
		}
	}
	for i, l := range st.limits {
		if l.Meter != quota.ClockWindow || need[i] == 0 {
			continue
		}
		per := perMicros(l)
		g, start := per/subWindows, now/per*per
		at := int64(-1)
		switch pos := now - start; {
		case pos < g:
			at = start + g
		case pos >= per-g:
			at = start + per + g
		}
		if at >= 0 {
			retry := s.timeAt(at)
			if breaker.Before(retry) {
				retry = breaker
			}
			return admission{Blocked: i, RetryAt: retry}
		}
	}
	if ok, blocked, at := s.roomLocked(st, now, need, nil); !ok {
		retry := breaker
		if at >= 0 && s.timeAt(at).Before(retry) {
			retry = s.timeAt(at)
		}
		return admission{Blocked: blocked, RetryAt: retry}
	}
	win := make([]int64, len(st.limits))
	for i, l := range st.limits {
		kind := 6
		win[i] = (now + s.life) / width(l)
		if l.Meter == quota.ClockWindow {
			kind, win[i] = 7, now/perMicros(l)
		}
		if need[i] > 0 {
			st.addOwn(i, win[i], need[i], now)
			st.pendOp(op{limit: i + 1, kind: kind, a: win[i], b: need[i]})
		}
	}
	return admission{Ticket: s.openLocked(st, nil, win, req, now)}
}
