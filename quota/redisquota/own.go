package redisquota

import (
	"errors"
	"math"
	"slices"
	"time"

	"github.com/tollgate-dev/tollgate/quota"
)

// An instance of a set without a TokenBucket limit keeps, per limit, what it has charged
// to the shared window (own): for a Sliding limit by sub-window — the grants at the
// sub-window they were charged to, less what it gave back, and its excess charges — and
// for a ClockWindow limit by window — its grants, carries and settlements there. While
// Redis is unreachable, and until the fleet has had time to recover from it, the
// instance admits only within its own room: in every Sliding limit its own charges that
// still count in the window stay within what they were when it was capped (capAmt), so
// it admits again only as much as leaves the window of its own; in a ClockWindow limit
// its charges in the window it was capped in stay within what they were then, and in
// each later window within the same part of that window's Amount, if Redis answered it
// last in the window it found Redis gone in (else nothing). Redis counted all the
// instances' charges together within Amount, so their own rooms add up to at most
// Amount. The package documentation gives the argument.

// errStateChanged is callLocked's answer when Redis replied but neither applied nor
// granted anything: the set's state was lost, or the fleet is recovering from an
// outage. The caller asks again, within its own room.
var errStateChanged = errors.New("redisquota: the shared state changed; ask again")

// hangover is how long, in µs, an instance stays within its own room after Redis answers
// again: long enough for every other instance to reach Redis too (a breaker's backoff,
// at most a lifetime, then a quarter lifetime to the next attempt and a timeout for
// it), and so to charge again what Redis lost.
func (s *Store) hangover() int64 { return 2*s.life + 2*s.timeout.Microseconds() }

// clockLocked returns the shared time now, µs: the latest time seen plus the time elapsed
// since by this process's clock (an idle instance has seen no caller's time lately).
func (s *Store) clockLocked() int64 {
	if s.lastWall.IsZero() {
		return s.last
	}
	return s.last + time.Since(s.lastWall).Microseconds()
}

// addOwn adds v to this instance's charge of limit i at sub-window idx; now (µs) prunes
// the sub-windows that left the window.
func (st *set) addOwn(i int, idx, v, now int64) {
	if st.own[i] == nil || v == 0 {
		return
	}
	m := st.own[i]
	if m[idx] += v; m[idx] <= 0 {
		delete(m, idx)
	}
	if len(m) > 2*subWindows+8 {
		st.ownIn(i, now)
	}
}

// ownIn returns this instance's charges of limit i that count in the window at now (µs).
func (st *set) ownIn(i int, now int64) int64 {
	l := st.limits[i]
	low := now/width(l) - subWindows
	if l.Meter == quota.ClockWindow {
		low = now / perMicros(l)
	}
	var sum int64
	for idx, v := range st.own[i] {
		if idx < low {
			delete(st.own[i], idx)
			continue
		}
		sum += v
	}
	return sum
}

// holds reports whether any of this instance's charges still counts at now (µs).
func (st *set) holds(now int64) bool {
	for i := range st.own {
		if st.ownIn(i, now) > 0 {
			return true
		}
	}
	return false
}

// pendOp queues a settlement op, adding a refund or a charge at a sub-window (or a
// change to a clock window) to one queued for the same, so that an outage's admissions,
// or a grant's settlements, make one op per sub-window.
func (st *set) pendOp(o op) {
	if o.kind == 1 || o.kind == 6 || o.kind == 7 {
		k := [3]int64{int64(o.limit), int64(o.kind), o.a}
		if j, ok := st.pendAt[k]; ok {
			st.pend[j].b += o.b
			return
		}
		if st.pendAt == nil {
			st.pendAt = map[[3]int64]int{}
		}
		st.pendAt[k] = len(st.pend)
	}
	st.pend = append(st.pend, o)
}

// capLocked holds a set to its own room from now (µs): what its charges that count now
// add up to, per limit. A set already capped keeps its room. outage says the instance
// itself lived through the outage (it lost Redis, or found Redis had lost the set's
// state), so that what Redis counted at its last reply before is a bound.
//
// A ClockWindow limit's room is reckoned from the window the instance is in now, by its
// clock since the last reply (not the last caller's time: the set may be idle). Its
// share of later windows is what it holds in this one, if Redis last answered for the
// set in this window too, out of the guard at its end: then Redis went away in this
// window, the same for every instance that keeps a share, and counted their charges in
// it together within Amount.
func (s *Store) capLocked(st *set, now int64, outage bool) {
	if st.capped {
		return
	}
	n := len(st.limits)
	st.capAmt, st.capWin, st.capAmount, st.capShare = make([]int64, n), make([]int64, n), make([]int64, n), make([]bool, n)
	f := max(s.clockLocked(), now)
	for i, l := range st.limits {
		if l.Meter != quota.ClockWindow {
			st.capAmt[i] = st.ownIn(i, now)
			continue
		}
		per := perMicros(l)
		k := f / per
		st.capAmt[i], st.capWin[i], st.capAmount[i] = st.ownIn(i, f), k, l.Amount
		st.capShare[i] = outage && st.okAt > 0 && st.okAt/per == k && f < (k+1)*per-per/subWindows
	}
	st.capped, st.capFrom = true, 0
	if outage {
		st.capFrom = st.lastAt
	}
}

// noteUsed records each window's sum a reply reports, while the set is not capped.
func (st *set) noteUsed(res *result) {
	if st.lastUsed == nil {
		st.lastUsed = make([]int64, len(st.limits))
	}
	switch {
	case res.used != nil:
		copy(st.lastUsed, res.used)
	case res.windows != nil:
		for i, w := range res.windows {
			st.lastUsed[i] = w.used
		}
	default:
		return
	}
	st.lastAt = res.now
}

// bounded reports whether limit j of a capped set cannot be exceeded by now (µs) even
// without its own room, so that a long limit (tokens per day), whose own room frees only
// as the day's charges leave it, does not stop the instance while a shorter one keeps
// every instance to its own room. A shorter limit k of the same dimension lets the fleet
// admit at most k's Amount in any k.Per, granted by Redis or within the instances' own
// rooms; so since this instance's last reply before the outage, at capFrom, the fleet
// admitted at most 2·k.Amount·(⌊elapsed/k.Per⌋+1) (once for the grants Redis made before
// it stopped, once for what was admitted since), and the calls in any window of j are
// at most what j counted then plus that.
//
// Only Sliding limits bound and are bounded so: a clock window admits up to twice its
// Amount in an interval of its Per, across a boundary.
func (st *set) bounded(j int, now int64) bool {
	if st.capFrom == 0 || st.lastUsed == nil {
		return false
	}
	lj := st.limits[j]
	if lj.Meter != quota.Sliding {
		return false
	}
	el := max(now-st.capFrom, 0)
	for k, lk := range st.limits {
		if k == j || lk.Meter != quota.Sliding || lk.Dimension != lj.Dimension || perMicros(lk) >= perMicros(lj) {
			continue
		}
		if st.lastUsed[j]+2*lk.Amount*(el/perMicros(lk)+1) <= lj.Amount {
			return true
		}
	}
	return false
}

// roomLocked reports whether need fits the set's own room at now (µs) in every limit;
// if so it lowers want to the room (want may be nil). If not, it returns the limit that
// refuses and when its own charges will have freed enough (µs; -1: never, the need is
// more than the room).
func (s *Store) roomLocked(st *set, now int64, need, want []int64) (ok bool, blocked int, at int64) {
	ok, at = true, 0
	for i, l := range st.limits {
		if l.Meter == quota.TokenBucket || st.bounded(i, now) {
			continue
		}
		if l.Meter == quota.ClockWindow {
			per := perMicros(l)
			cur := now / per
			room := st.capIn(i, cur) - st.ownIn(i, now)
			if need[i] <= room {
				if want != nil {
					want[i] = min(want[i], room)
				}
				continue
			}
			free := int64(-1) // nothing of its own leaves a clock window: the next one
			if need[i] <= st.capIn(i, cur+1) {
				free = (cur+1)*per + per/subWindows
			}
			if ok || (at >= 0 && (free < 0 || free > at)) {
				blocked, at = i, free
			}
			ok = false
			continue
		}
		used := st.ownIn(i, now)
		room := st.capAmt[i] - used
		if need[i] <= room {
			if want != nil {
				want[i] = min(want[i], room)
			}
			continue
		}
		free := int64(-1)
		if need[i] <= st.capAmt[i] {
			idxs := make([]int64, 0, len(st.own[i]))
			for idx := range st.own[i] {
				idxs = append(idxs, idx)
			}
			slices.Sort(idxs)
			u := used
			for _, idx := range idxs {
				if u -= st.own[i][idx]; u+need[i] <= st.capAmt[i] {
					free = (idx + subWindows + 1) * width(l)
					break
				}
			}
		}
		if ok || (at >= 0 && (free < 0 || free > at)) {
			blocked, at = i, free
		}
		ok = false
	}
	return ok, blocked, at
}

// capIn is the own room of ClockWindow limit i of a capped set in window w.
func (st *set) capIn(i int, w int64) int64 {
	switch {
	case w == st.capWin[i]:
		return st.capAmt[i]
	case w < st.capWin[i] || !st.capShare[i] || st.capAmount[i] <= 0:
		return 0
	case st.limits[i].Amount == st.capAmount[i]:
		return st.capAmt[i]
	}
	// The Amount changed: the same part of the new one.
	return int64(math.Floor(float64(st.capAmt[i]) * float64(st.limits[i].Amount) / float64(st.capAmount[i])))
}

// rebuildLocked queues, for a Redis that lost the set's state, every charge of this
// instance that still counts, at the sub-window (or the clock window) it was charged to;
// the batch in flight and the queued settlements are in them already.
func (s *Store) rebuildLocked(st *set) {
	st.batch, st.bseq, st.pend = nil, 0, nil
	clear(st.pendAt)
	for i, l := range st.limits {
		switch l.Meter {
		case quota.TokenBucket:
			continue // the bucket starts from empty (see bucket.go)
		case quota.ClockWindow:
			cur := s.last / perMicros(l)
			if v := st.own[i][cur]; v > 0 {
				st.pendOp(op{limit: i + 1, kind: 7, a: cur, b: v})
			}
			continue
		}
		low := s.last/width(l) - subWindows
		idxs := make([]int64, 0, len(st.own[i]))
		for idx := range st.own[i] {
			if idx >= low {
				idxs = append(idxs, idx)
			}
		}
		slices.Sort(idxs)
		for _, idx := range idxs {
			st.pendOp(op{limit: i + 1, kind: 6, a: idx, b: st.own[i][idx]})
		}
	}
}

// noteStateLocked takes in what a reply says of the set's state: a new epoch (Redis lost
// the state: charge again what this instance holds, and keep to its own room and its
// local buckets), or a recovery under way in the fleet (keep to them until it ends). An
// instance that did not live through the outage has no local buckets: a set with a
// TokenBucket limit waits for the recovery's end, and Redis holds the bucket empty until
// then.
func (s *Store) noteStateLocked(st *set, res *result) error {
	hold := func(outage bool, until int64) {
		s.capLocked(st, s.last, outage)
		st.capUntil = max(st.capUntil, until)
		if st.bucket {
			st.bUntil = max(st.bUntil, until)
		}
	}
	switch res.code {
	case 1:
		st.epoch = res.epoch
		hold(true, max(s.clockLocked()+s.hangover(), res.rb))
		s.rebuildLocked(st)
		s.log.Warn("redisquota: Redis lost the shared quota's state (restarted empty?); charging again what this instance holds, and admitting within its own part of each limit while the fleet does the same",
			"scope", s.tag)
		return errStateChanged
	case 2:
		hold(false, res.rb)
		return errStateChanged
	}
	if st.epoch == "" {
		st.epoch = res.epoch
	}
	if res.rb > s.last {
		hold(false, res.rb)
	}
	return nil
}
