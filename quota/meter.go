package quota

import (
	"math"
	"time"
)

// meter is the account the memory store keeps for one limit, one implementation per Meter:
// sliding (a ring of sub-window sums), bucket (a token bucket's debt) and clockWin (the
// usage of the current clock window). Every method that depends on the time takes it;
// none reads the clock. A meter is not safe for concurrent use (the Memory's mutex
// guards it).
//
// Each method that takes now first brings the meter to now (never back), dropping what
// left its window; open are the reservations still open, which a new clock window
// starts holding.
type meter interface {
	// admit reports whether n more fits beside the usage counted at now under amount,
	// and if not, the earliest time it could, if nothing more is charged.
	admit(now time.Time, n, amount int64, open *ticketTable) (ok bool, retry time.Time)
	// charge adds n at the time of the last admit.
	charge(n int64)
	// settle replaces a reservation of reserved, charged at at, by actual: a refund goes
	// where the charge was made, an excess lands at now.
	settle(now, at time.Time, reserved, actual, amount int64, open *ticketTable)
	// window reports the usage counted at now and when each part of it leaves.
	window(now time.Time, amount int64, open *ticketTable) window
}

// newMeter returns the account of a limit of per metered by m, for a store whose time
// starts at epoch.
func newMeter(per time.Duration, m Meter, dim Dimension, epoch time.Time) meter {
	switch m {
	case TokenBucket:
		return &bucket{per: per, last: epoch}
	case ClockWindow:
		return &clockWin{per: per, dim: dim, idx: math.MinInt64, origin: epoch, base: epoch.UnixNano()}
	}
	return newSliding(per, epoch)
}

// bucket is the token-bucket account of a TokenBucket limit: the debt owed to a bucket
// of Amount that refills at Amount per Per (a full bucket owes nothing). A charge adds to
// the debt, time pays it off at the rate, a refund pays it off at once, down to nothing
// (the bucket never holds more than Amount).
type bucket struct {
	per  time.Duration
	debt float64   // tokens owed, ≥ 0
	last time.Time // when the debt was reckoned
}

func (b *bucket) advance(now time.Time, amount int64, _ *ticketTable) {
	if !now.After(b.last) {
		return
	}
	b.debt = max(b.debt-float64(now.Sub(b.last))*float64(amount)/float64(b.per), 0)
	b.last = now
}

// used is the debt rounded up: what a cost must fit beside.
func (b *bucket) used() int64 { return int64(math.Ceil(b.debt - 1e-9)) }

func (b *bucket) admit(now time.Time, n, amount int64, open *ticketTable) (bool, time.Time) {
	b.advance(now, amount, open)
	if b.used()+n <= amount {
		return true, time.Time{}
	}
	// The debt must fall until min(n, amount) more fits: at the refill rate.
	need := b.debt + float64(min(n, amount)-amount)
	if need <= 0 {
		return false, b.last
	}
	return false, b.last.Add(time.Duration(math.Ceil(need * float64(b.per) / float64(amount))))
}

func (b *bucket) charge(n int64) { b.debt += float64(n) }

func (b *bucket) settle(now, _ time.Time, reserved, actual, amount int64, open *ticketTable) {
	b.advance(now, amount, open)
	if actual < reserved { // back into the bucket, which holds at most its Amount
		b.debt = max(b.debt-float64(reserved-actual), 0)
	} else {
		b.debt += float64(actual - reserved)
	}
}

// bucketParts is how many parts a bucket's debt is reported in (window.expiring): the
// debt drains continuously, and forecasts read the parts as steps.
const bucketParts = 8

// window reports the debt as usage that leaves at the refill rate, in bucketParts steps.
func (b *bucket) window(now time.Time, amount int64, open *ticketTable) window {
	b.advance(now, amount, open)
	w := window{used: b.used(), span: b.per}
	if b.debt <= 0 {
		return w
	}
	part := b.debt / bucketParts
	step := part * float64(b.per) / float64(amount)
	left := w.used
	for i := 1; i <= bucketParts && left > 0; i++ {
		v := min(int64(math.Ceil(part)), left)
		if i == bucketParts {
			v = left
		}
		left -= v
		w.expiring = append(w.expiring, expiry{at: b.last.Add(time.Duration(float64(i) * step)), amount: v})
	}
	return w
}

// clockWin is the account of a ClockWindow limit: the usage of the current window of
// Per aligned on the Unix epoch (UTC minutes for a minute). idx is that window's index
// (Unix nanoseconds ÷ Per).
//
// A time is placed on the Unix epoch as the wall-clock reading of origin (the time the
// meter was made) plus the time elapsed since, which time.Time.Sub takes from the
// monotonic clock when both readings have one: windows then stay where they were
// placed while the wall clock is slewed or stepped, as a provider's, or an emulator's
// counting elapsed time, do.
//
// A call still in flight when a window closes may charge its excess to the next, so a
// new window starts holding the reservations still open from earlier windows; each is
// replaced by its excess when it settles. Nothing is admitted in the guard at either end
// of a window (clockGuard): a margin for the time between admission here and metering
// there, and for clock skew.
type clockWin struct {
	per    time.Duration
	dim    Dimension
	origin time.Time
	base   int64 // origin's Unix nanoseconds
	idx    int64
	used   int64
}

// clockGuard is the part at each end of a ClockWindow limit's window in which nothing is
// admitted: Per/200, 300 ms of a minute.
func clockGuard(per time.Duration) time.Duration { return per / subWindows }

// index returns the window that holds t.
func (c *clockWin) index(t time.Time) int64 { return (c.base + int64(t.Sub(c.origin))) / int64(c.per) }

// start returns the time window i starts.
func (c *clockWin) start(i int64) time.Time {
	return c.origin.Add(time.Duration(i*int64(c.per) - c.base))
}

func (c *clockWin) advance(now time.Time, _ int64, open *ticketTable) {
	i := c.index(now)
	if i <= c.idx {
		return
	}
	c.idx, c.used = i, 0
	start := c.start(i)
	for j := open.head; open.open > 0 && j >= 0; j = open.slots[j].next {
		if t := &open.slots[j]; t.at.Before(start) {
			c.used += t.cost.get(c.dim)
		}
	}
}

func (c *clockWin) admit(now time.Time, n, amount int64, open *ticketTable) (bool, time.Time) {
	c.advance(now, amount, open)
	if n > 0 {
		g := clockGuard(c.per)
		start := c.start(c.index(now))
		switch pos := now.Sub(start); {
		case pos < g:
			return false, start.Add(g)
		case pos >= c.per-g:
			return false, start.Add(c.per + g)
		}
	}
	if c.used+n <= amount {
		return true, time.Time{}
	}
	return false, c.start(c.idx + 1).Add(clockGuard(c.per)) // the next window, past its guard
}

func (c *clockWin) charge(n int64) { c.used += n }

func (c *clockWin) settle(now, at time.Time, reserved, actual, amount int64, open *ticketTable) {
	c.advance(now, amount, open)
	if c.index(at) < c.idx { // carried into this window: its excess replaces it
		c.used -= min(reserved, c.used)
		c.used += max(actual-reserved, 0)
		return
	}
	c.used = max(c.used+actual-reserved, 0)
}

func (c *clockWin) window(now time.Time, amount int64, open *ticketTable) window {
	c.advance(now, amount, open)
	w := window{used: c.used, span: c.per}
	if c.used != 0 {
		w.expiring = []expiry{{at: c.start(c.idx + 1), amount: c.used}}
	}
	return w
}
