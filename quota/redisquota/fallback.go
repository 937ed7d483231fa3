package redisquota

import (
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
		then := "then only within this instance's own part of each limit, never the whole limit"
		if s.opts.NoFallback {
			then = "then nothing until Redis answers (NoFallback)"
		}
		s.log.Warn("redisquota: Redis unreachable; admitting from the current grant until it expires, "+then,
			"scope", s.tag, "error", err)
		for _, st := range s.sets {
			s.capLocked(st, s.last, true)
			if st.bucket && !s.opts.NoFallback {
				s.startLocalLocked(st)
			}
		}
	} else {
		s.backoff = min(2*s.backoff, s.opts.GrantLifetime)
	}
	s.retryAt = time.Now().Add(s.backoff)
}

// recoverLocked closes the breaker after a round trip succeeded. Each set keeps to its
// own room, and to its local buckets, for a hangover more, while the other instances
// reach Redis too; what it admitted meanwhile is queued at the sub-windows (or windows)
// it was charged to.
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
}

// reserveFallback admits req while Redis is unreachable and this instance holds no grant
// that covers it, or while the fleet recovers from an outage: within this instance's own
// room in every Sliding and ClockWindow limit, and from its local bucket of every
// TokenBucket limit; never more. With Options.NoFallback, nothing while Redis is away.
func (s *Store) reserveFallback(st *set, now int64, req reserveRequest) admission {
	if s.down && s.opts.NoFallback {
		return admission{RetryAt: s.retryLocked(st, now)}
	}
	if !st.bucket {
		return s.reserveOwnLocked(st, now, req)
	}
	if ok, blocked, at := st.localRoom(now, req.Cost); !ok {
		retry := s.retryLocked(st, now)
		if at >= 0 && s.timeAt(at).Before(retry) {
			retry = s.timeAt(at)
		}
		return admission{Blocked: blocked, RetryAt: retry}
	}
	adm := s.reserveOwnLocked(st, now, req)
	if adm.Ticket != 0 {
		st.drawLocal(now, req.Cost)
		s.tickets[adm.Ticket].lb = true
	}
	return adm
}

// retryLocked is when a call refused within the set's own room or local buckets may ask
// again at the latest: when the breaker lets a round trip through (Redis may be back by
// then), or, Redis reachable, when the fleet's recovery ends.
func (s *Store) retryLocked(st *set, now int64) time.Time {
	if !s.down {
		return s.timeAt(max(now, st.bUntil))
	}
	return s.timeAt(now).Add(time.Until(s.retryAt))
}

// reserveOwnLocked admits req within this instance's own room of each Sliding and
// ClockWindow limit of the set (reserveFallback checks its TokenBucket limits). It
// charges a Sliding limit like a grant, at the sub-window a lifetime ahead: it counts
// until a lifetime after a window has passed, as a grant's calls do. It charges a
// ClockWindow limit to the current window, and, as a grant is, is not admitted in its
// guards, where the instances' clocks may disagree on the window.
func (s *Store) reserveOwnLocked(st *set, now int64, req reserveRequest) admission {
	s.capLocked(st, now, true) // a set first used while Redis is away holds no room
	need := make([]int64, len(st.limits))
	for i, l := range st.limits {
		need[i] = costs.Get(req.Cost, l.Dimension)
	}
	breaker := s.retryLocked(st, now)
	for i, l := range st.limits {
		if l.Meter != quota.ClockWindow {
			continue
		}
		if cur := now / perMicros(l); cur > st.carried[i] {
			// Calls charged in an earlier window and still open count in this one too,
			// as a round trip would carry them: within this window's own room.
			var carry int64
			for _, t := range s.tickets {
				if t.set == st && t.win[i] < cur {
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
		switch l.Meter {
		case quota.TokenBucket:
			continue
		case quota.ClockWindow:
			kind, win[i] = 7, now/perMicros(l)
		default:
			win[i] = (now + s.life) / width(l)
		}
		if need[i] > 0 {
			st.addOwn(i, win[i], need[i], now)
			st.pendOp(op{limit: i + 1, kind: kind, a: win[i], b: need[i]})
		}
	}
	return admission{Ticket: s.openLocked(st, nil, win, req, now)}
}
