package quota

import (
	"math"
	"time"
)

// bucket is the token-bucket account of one limit metered as TokenBucket: the debt owed
// to a bucket of Amount that refills at Amount per Per (a full bucket owes nothing). A
// charge adds to the debt, time pays it off at the rate, a refund pays it off at once,
// down to nothing (the bucket never holds more than Amount). It lives in a ring, whose
// sum carries the debt rounded up, so the Memory store checks both meters alike.
type bucket struct {
	debt float64 // tokens owed, ≥ 0
	last int64   // offset the debt is reckoned at
}

// advance pays the debt off for the time from b.last to off at amount per per.
func (b *bucket) advance(off, amount int64, per time.Duration) {
	if off <= b.last {
		return
	}
	b.debt = max(b.debt-float64(off-b.last)*float64(amount)/float64(per), 0)
	b.last = off
}

// used is the debt rounded up: what a cost must fit beside.
func (b *bucket) used() int64 { return int64(math.Ceil(b.debt - 1e-9)) }

// retryAt returns the offset at which the debt will have fallen enough for n more to fit
// under amount, if nothing more is charged.
func (b *bucket) retryAt(n, amount int64, per time.Duration) int64 {
	need := b.debt + float64(n-amount)
	if need <= 0 {
		return b.last
	}
	return b.last + int64(math.Ceil(need*float64(per)/float64(amount)))
}

// bucketParts is how many parts a bucket's debt is reported in (Window.Expiring): the
// debt drains continuously, and forecasts read the parts as steps.
const bucketParts = 8

// window reports the debt as usage that leaves at the refill rate, in bucketParts steps.
func (b *bucket) window(epoch time.Time, amount int64, per time.Duration) Window {
	w := Window{Used: b.used(), Span: per}
	if b.debt <= 0 {
		return w
	}
	part := b.debt / bucketParts
	step := part * float64(per) / float64(amount)
	left := w.Used
	for i := 1; i <= bucketParts && left > 0; i++ {
		v := min(int64(math.Ceil(part)), left)
		if i == bucketParts {
			v = left
		}
		left -= v
		w.Expiring = append(w.Expiring, Expiry{At: epoch.Add(time.Duration(b.last + int64(float64(i)*step))), Amount: v})
	}
	return w
}

// clockWin is the account of one limit metered as ClockWindow: the usage of the current
// window of Per aligned on the Unix epoch lives in the ring's sum; idx is that window's
// index (Unix nanoseconds ÷ Per), base the store's epoch in Unix nanoseconds, and rolled
// says a new window began and its sum awaits the reservations still open (see Memory).
type clockWin struct {
	base, idx int64
	rolled    bool
}

// index returns the window holding offset off.
func (c *clockWin) index(off int64, per time.Duration) int64 { return (c.base + off) / int64(per) }

// start returns the offset at which window i starts.
func (c *clockWin) start(i int64, per time.Duration) int64 { return i*int64(per) - c.base }

// guardedUntil returns, when off lies in the guard at either end of its window (see
// Limit.ClockGuard), the offset from which a window admits again; -1 otherwise.
func (c *clockWin) guardedUntil(off int64, per time.Duration) int64 {
	g := int64(per / SubWindows)
	i := c.index(off, per)
	switch pos := c.base + off - i*int64(per); {
	case pos < g:
		return c.start(i, per) + g
	case pos >= int64(per)-g:
		return c.start(i+1, per) + g
	}
	return -1
}
