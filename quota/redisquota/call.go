package redisquota

import (
	"context"
	"fmt"
	"time"

	"github.com/tollgate-dev/tollgate/internal/costs"
	"github.com/tollgate-dev/tollgate/quota"
)

type result struct {
	now, retry   int64
	epoch        string // the set's epoch
	rb           int64  // when the fleet's recovery from an outage ends; 0: none
	code         int    // 1: the state was lost; 2: recovering, ask again within own room
	ok           bool
	blocked      int
	granted, idx []int64
	used         []int64 // mode 0: each Sliding window's sum after the grant
	windows      []usageWindow
	serverUS     int64
}

type usageWindow struct {
	used, span int64
	exp        []expiry
}

type expiry struct{ at, amount, idx int64 }

// callLocked runs the script for st: mode 0 asks for need (and up to want) in every
// limit, mode 1 reports the windows. Either sends the set's settlement batch first.
func (s *Store) callLocked(ctx context.Context, st *set, mode int, need, want []int64) (*result, error) {
	if s.down && time.Now().Before(s.retryAt) {
		return nil, fmt.Errorf("redisquota: Redis unreachable since %s, next attempt in %v: %s", s.downSince.Format(time.RFC3339), time.Until(s.retryAt).Round(time.Millisecond), s.downErr)
	}
	if st.bseq == 0 && len(st.pend) > 0 {
		st.seq++
		st.batch, st.pend, st.bseq = st.pend, nil, st.seq
		clear(st.pendAt)
	}
	now := s.last
	high, low := 0, 0
	if s.opts.Backlog != nil && mode == 0 {
		high, low = s.opts.Backlog()
	}
	n := len(st.limits)
	carries := make([]int64, n)
	args := make([]any, 0, 9+8*n+1+5*len(st.batch))
	args = append(args, s.id, now, st.bseq, mode, s.life, high, low, n)
	for i, l := range st.limits {
		var nd, wt int64
		if need != nil {
			nd, wt = need[i], want[i]
		}
		cwin, carry := int64(-1), int64(0)
		if l.Meter == quota.ClockWindow {
			per := perMicros(l)
			if cur := now / per; cur > st.carried[i] {
				cwin = cur
				start := cur * per
				for _, t := range s.tickets {
					if t.set == st && t.win[i]*per < start {
						carry += costs.Get(t.cost, l.Dimension)
					}
				}
			}
		}
		carries[i] = carry
		args = append(args, int(l.Meter), l.Amount, perMicros(l), width(l), nd, wt, cwin, carry)
	}
	args = append(args, len(st.batch))
	for _, o := range st.batch {
		args = append(args, o.limit, o.kind, o.a, o.b, o.c)
	}
	expect, hang := st.epoch, int64(0)
	switch {
	case s.down:
		hang = s.clockLocked() + s.hangover()
	case st.capped || st.bUntil > s.last:
		if st.capped {
			hang = st.capUntil
		}
		hang = max(hang, st.bUntil)
	}
	args = append(args, expect, hang)
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	sent := time.Now()
	s.trips.Add(1)
	v, err := script.Run(ctx, s.opts.Client, st.keys, args...).Slice()
	rtt := time.Since(sent)
	if err != nil {
		s.failLocked(err)
		return nil, err
	}
	s.lastTrip = time.Now()
	s.recoverLocked()
	res, err := parse(v, mode, n)
	if err != nil || res.code == 0 {
		st.batch, st.bseq = nil, 0
	}
	if err != nil {
		return nil, err
	}
	if res.code == 0 {
		st.okAt = res.now
		for i, l := range st.limits {
			if l.Meter == quota.ClockWindow {
				if cur := now / perMicros(l); cur > st.carried[i] {
					st.carried[i] = cur
					if res.now/perMicros(l) == cur {
						st.addOwn(i, cur, carries[i], res.now) // Redis counted the carry in cur
					}
				}
			}
		}
	}
	// The server's clock, measured at the midpoint of the fastest round trip so far,
	// rounded to the millisecond: instances agree on time to about that.
	if res.serverUS > 0 && (s.skewRTT == 0 || rtt < s.skewRTT) {
		mid := sent.Add(rtt / 2).UnixMicro()
		skew := (res.serverUS - mid + 500) / 1000 * 1000
		if res.serverUS-mid < 0 {
			skew = -((mid - res.serverUS + 500) / 1000 * 1000)
		}
		s.skewRTT = rtt
		if d := skew - s.skew; d != 0 {
			s.skew = skew
			s.last += d
		}
	}
	if res.now > s.last {
		s.last, s.lastWall = res.now, time.Now()
	}
	st.rbKnown = res.rb
	if res.code == 0 && !st.capped {
		st.noteUsed(res)
	}
	if err := s.noteStateLocked(st, res); err != nil {
		return nil, err
	}
	return res, nil
}

func parse(v []any, mode, n int) (*result, error) {
	num := func(x any) int64 { i, _ := x.(int64); return i }
	bad := fmt.Errorf("redisquota: unexpected reply from Redis: %v", v)
	if len(v) < 6 {
		return nil, bad
	}
	res := &result{serverUS: num(v[0])*1e6 + num(v[1]), now: num(v[2]), rb: num(v[4]), code: int(num(v[5]))}
	res.epoch, _ = v[3].(string)
	if res.code != 0 {
		return res, nil
	}
	if mode == 0 && len(v) != 9+n || mode == 1 && len(v) != 6+n {
		return nil, bad
	}
	if mode == 0 {
		res.ok, res.blocked, res.retry = num(v[6]) == 1, int(num(v[7])), num(v[8])
		res.granted, res.idx, res.used = make([]int64, n), make([]int64, n), make([]int64, n)
		for i := 0; i < n; i++ {
			p, _ := v[9+i].([]any)
			if len(p) != 3 {
				return nil, bad
			}
			res.granted[i], res.idx[i], res.used[i] = num(p[0]), num(p[1]), num(p[2])
		}
		return res, nil
	}
	res.windows = make([]usageWindow, n)
	for i := 0; i < n; i++ {
		p, _ := v[6+i].([]any)
		if len(p) < 2 || (len(p)-2)%3 != 0 {
			return nil, bad
		}
		w := usageWindow{used: num(p[0]), span: num(p[1])}
		for j := 2; j < len(p); j += 3 {
			w.exp = append(w.exp, expiry{at: num(p[j]), amount: num(p[j+1]), idx: num(p[j+2])})
		}
		res.windows[i] = w
	}
	return res, nil
}
