package bedrocktest

import (
	"math/bits"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/emustats"
	"github.com/tollgate-dev/tollgate/internal/wire"
	"github.com/tollgate-dev/tollgate/quota"
)

// limitKind indexes the limits of a series.
type limitKind uint8

const (
	limitTPD limitKind = iota // checked first: its throttle is the one that lasts
	limitTPM
	limitRPM
	numLimits
)

// limitNames are the names of the limits in the stats, by limitKind.
var limitNames = [numLimits]string{emustats.TokensPerDay, emustats.TokensPerMinute, emustats.RequestsPerMinute}

var limitMessages = [numLimits]string{wire.MsgTooManyTokensPerDay, wire.MsgTooManyTokens, wire.MsgTooManyRequests}

// window is the state of one limit in one series, in either mode.
//
// quota.TokenBucket: level is what the bucket holds, in tokens, plus frac/per of a token; it
// refills at amount per period up to amount. A reservation takes from it, a settlement
// takes the difference (actual − reserved) or gives it back, and may leave it negative
// (a debt refilled like any draw). Its usage is the draw amount − level; peak is the
// deepest draw seen.
//
// quota.ClockWindow: used is the sum charged in the current window [start, start+per), aligned
// on UTC minutes (or days). A reservation charges the window it starts in. A settlement
// that charges more adds the extra to the current window; one that refunds gives back to
// the window the reservation was charged in, if it is still current (a past window is
// closed, so the refund is dropped). peak is the highest used of any window.
type window struct {
	amount int64
	per    time.Duration

	level int64
	frac  uint64 // remainder of the refill, in units of 1/per tokens
	last  time.Time

	start time.Time
	used  int64

	peak   int64
	peakAt time.Time
}

func newWindow(amount int64, per time.Duration) *window {
	return &window{amount: amount, per: per, level: amount}
}

// advance brings the window to now.
func (w *window) advance(now time.Time, mode quota.Meter) {
	if mode == quota.ClockWindow {
		if start := now.Truncate(w.per); !start.Equal(w.start) && start.After(w.start) {
			w.start, w.used = start, 0
		}
		return
	}
	if w.last.IsZero() {
		w.last = now
		return
	}
	elapsed := now.Sub(w.last)
	if elapsed <= 0 {
		return
	}
	w.last = now
	for elapsed >= w.per && w.level < w.amount {
		w.level += w.amount
		elapsed -= w.per
	}
	if w.level >= w.amount {
		w.level, w.frac = w.amount, 0
		return
	}
	// refill = amount × elapsed / per, exactly, carrying the remainder.
	hi, lo := bits.Mul64(uint64(w.amount), uint64(elapsed))
	lo, carry := bits.Add64(lo, w.frac, 0)
	hi += carry
	q, r := bits.Div64(hi, lo, uint64(w.per)) // hi < per because amount×elapsed < amount×per < 2^64×per
	w.level += int64(q)
	w.frac = r
	if w.level >= w.amount {
		w.level, w.frac = w.amount, 0
	}
}

// fits reports whether cost can be charged now.
func (w *window) fits(cost int64, mode quota.Meter) bool {
	if w.amount == 0 {
		return false // a zero quota admits nothing
	}
	if mode == quota.ClockWindow {
		return w.used+cost <= w.amount
	}
	return w.level >= cost
}

// usage is the window's current usage: the draw of a bucket, the sum of a clock window.
func (w *window) usage(mode quota.Meter) int64 {
	if mode == quota.ClockWindow {
		return w.used
	}
	return w.amount - w.level
}

// charge takes cost (which may be negative: a refund) and records the peak.
func (w *window) charge(cost int64, now time.Time, mode quota.Meter) {
	if mode == quota.ClockWindow {
		w.used = max(w.used+cost, 0)
	} else {
		w.level = min(w.level-cost, w.amount)
		if w.level == w.amount {
			w.frac = 0
		}
	}
	if u := w.usage(mode); u > w.peak {
		w.peak, w.peakAt = u, now
	}
}

// seriesKey identifies what Bedrock meters together: an account's calls to one model in
// one scope in one region.
type seriesKey struct {
	Account, Region, Model string
	Scope                  catalog.Scope
}

// series is the metering state and the counters of one seriesKey.
type series struct {
	limits    [numLimits]*window // nil: not enforced
	admitted  int64
	inFlight  int64
	throttled [numLimits]int64
	reserved  int64
	settled   int64
}

func newSeries(l Limits) *series {
	s := &series{}
	set := func(k limitKind, amount int64, per time.Duration) {
		switch {
		case amount == noTokens:
			s.limits[k] = newWindow(0, per)
		case amount > 0:
			s.limits[k] = newWindow(amount, per)
		}
	}
	set(limitTPM, l.TokensPerMinute, time.Minute)
	set(limitTPD, l.TokensPerDay, 24*time.Hour)
	set(limitRPM, l.RequestsPerMinute, time.Minute)
	return s
}

// meter meters every series. Its methods take the emulated time explicitly; it is safe
// for concurrent use (one mutex: each operation is a handful of integer steps).
type meter struct {
	mode   quota.Meter
	mu     sync.Mutex
	series map[seriesKey]*series
}

func newMeter(mode quota.Meter) *meter {
	return &meter{mode: mode, series: make(map[seriesKey]*series)}
}

// ticket is an admitted call's reservation; settleAt ends it.
type ticket struct {
	s        *series
	reserved int64
	starts   [numLimits]time.Time // window starts the reservation was charged in (clock mode)
}

// costOf returns what limit k charges for a call that uses tokens quota tokens.
func costOf(k limitKind, tokens int64) int64 {
	if k == limitRPM {
		return 1
	}
	return tokens
}

// reserveAt admits a call reserving tokens quota tokens in the series key (created with
// limits l on first use) if every limit has room at now, and charges all of them; else it
// charges none and returns the limit that refused.
func (m *meter) reserveAt(now time.Time, key seriesKey, l Limits, tokens int64) (ticket, limitKind, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.series[key]
	if s == nil {
		s = newSeries(l)
		m.series[key] = s
	}
	for k, w := range s.limits {
		if w == nil {
			continue
		}
		w.advance(now, m.mode)
		if !w.fits(costOf(limitKind(k), tokens), m.mode) {
			s.throttled[k]++
			return ticket{}, limitKind(k), false
		}
	}
	t := ticket{s: s, reserved: tokens}
	for k, w := range s.limits {
		if w != nil {
			w.charge(costOf(limitKind(k), tokens), now, m.mode)
			t.starts[k] = w.start
		}
	}
	s.admitted++
	s.inFlight++
	s.reserved += tokens
	return t, 0, true
}

// settleAt ends a reservation with the quota tokens the call really used: the difference
// is charged or refunded per the window rules above. It must be called once per ticket.
func (m *meter) settleAt(now time.Time, t ticket, actual int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delta := actual - t.reserved
	for _, k := range [...]limitKind{limitTPM, limitTPD} {
		w := t.s.limits[k]
		if w == nil {
			continue
		}
		w.advance(now, m.mode)
		if m.mode == quota.ClockWindow && delta < 0 && !w.start.Equal(t.starts[k]) {
			continue // the window it was charged in is closed
		}
		w.charge(delta, now, m.mode)
	}
	t.s.inFlight--
	t.s.settled += actual
}

// reset forgets every series.
func (m *meter) reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.series = make(map[seriesKey]*series)
}
