package quota

import "time"

// SubWindows is the number of sub-windows a Memory store divides each limit's period
// into. A limit of Amount per Per is enforced over the last SubWindows+1 sub-windows of
// width ceil(Per/SubWindows), which together span at least Per: an interval of length Per
// can touch SubWindows+1 sub-windows, and only their sums are kept. The approximation
// therefore errs on the safe side — it never lets more than Amount into any interval of
// length Per — and costs at most 1/(SubWindows+1) ≈ 0.5% of the limit's throughput.
const SubWindows = 200

// ring is the sliding-window account of one limit: the sums charged in the last
// SubWindows+1 sub-windows, and their total. Sub-window a covers the offsets
// [a·width, (a+1)·width) from the store's epoch; head is the newest sub-window held.
//
// The zero ring is not usable; see newRing. A ring is not safe for concurrent use.
type ring struct {
	dim      Dimension
	per      time.Duration
	meter    Meter
	b        *bucket   // set for a TokenBucket limit: the ring then keeps its debt in sum
	c        *clockWin // set for a ClockWindow limit: the ring then keeps the window's usage in sum
	width    int64     // nanoseconds per sub-window
	head     int64     // absolute index of the newest sub-window
	headSlot int       // slot of head in slots
	// What an admission changes shares one cache line, apart from the slots, so that
	// callers on other cores move one line per ring: the head sub-window's sum lives in
	// headSum, not in slots, until head moves on.
	headEnd int64 // offset at which head's sub-window ends: (head+1)·width
	sum     int64 // total of the window: slots plus headSum
	headSum int64 // sum of head's sub-window (its slot in slots holds nothing)
	slots   [SubWindows + 1]int64
}

// newRing returns the account of a limit metered by m; base is the store's epoch in Unix
// nanoseconds (ClockWindow aligns on it).
func newRing(dim Dimension, per time.Duration, m Meter, base int64) *ring {
	w := (int64(per) + SubWindows - 1) / SubWindows // ceil, so SubWindows·width >= Per
	r := &ring{dim: dim, per: per, width: w, headEnd: w, meter: m}
	switch m {
	case TokenBucket:
		r.b = new(bucket)
	case ClockWindow:
		r.c = &clockWin{base: base, idx: -1}
	}
	return r
}

// start places an empty ring's head at the sub-window of off.
func (r *ring) start(off int64) {
	if r.b != nil {
		r.b.last = off
	}
	r.head = r.index(off)
	r.headSlot = slotIndex(r.head)
	r.headEnd = (r.head + 1) * r.width
}

// index returns the sub-window holding offset off (nanoseconds from the epoch).
func (r *ring) index(off int64) int64 { return off / r.width }

// slot returns the sum of sub-window a, which must lie in [head-SubWindows, head] (or
// just ahead of head, where it is zero). Before the first SubWindows sub-windows have
// passed, indices are negative; they still map to distinct, zeroed slots.
func (r *ring) slot(a int64) *int64 {
	if a == r.head {
		return &r.headSum
	}
	return &r.slots[slotIndex(a)]
}

func slotIndex(a int64) int {
	i := a % (SubWindows + 1)
	if i < 0 {
		i += SubWindows + 1
	}
	return int(i)
}

// slotBack returns the sum of the sub-window k places before head (0 <= k <= SubWindows),
// without dividing.
func (r *ring) slotBack(k int64) *int64 {
	if k == 0 {
		return &r.headSum
	}
	i := r.headSlot - int(k)
	if i < 0 {
		i += SubWindows + 1
	}
	return &r.slots[i]
}

// advance moves head forward to the sub-window of off, dropping the sums that leave the
// window (a bucket pays its debt off at amount per Per). It never moves head back.
func (r *ring) advance(off, amount int64) {
	if r.b != nil {
		r.b.advance(off, amount, r.per)
		r.sum = r.b.used()
		return
	}
	if r.c != nil {
		if i := r.c.index(off, r.per); i > r.c.idx {
			r.c.idx, r.c.rolled, r.sum = i, true, 0
		}
		return
	}
	if off < r.headEnd {
		return // still in head's sub-window (or earlier)
	}
	a := r.index(off)
	if a-r.head > SubWindows {
		r.slots = [SubWindows + 1]int64{}
		r.sum, r.headSum = 0, 0
	} else {
		r.slots[r.headSlot], r.headSum = r.headSum, 0 // head becomes an ordinary sub-window
		for i := r.head + 1; i <= a; i++ {
			s := &r.slots[slotIndex(i)] // holds sub-window i-(SubWindows+1), which leaves now
			r.sum -= *s
			*s = 0
		}
	}
	r.head = a
	r.headSlot = slotIndex(a)
	r.headEnd = (a + 1) * r.width
}

// charge adds n to the head sub-window.
func (r *ring) charge(n int64) {
	if r.b != nil {
		r.b.debt += float64(n)
		r.sum = r.b.used()
		return
	}
	if r.c != nil {
		r.sum += n
		return
	}
	r.headSum += n
	r.sum += n
}

// refund takes up to n back from sub-window a, if it is still in the window.
func (r *ring) refund(a, n int64) {
	if r.b != nil { // back into the bucket, which holds at most its Amount
		r.b.debt = max(r.b.debt-float64(n), 0)
		r.sum = r.b.used()
		return
	}
	if a > r.head || a < r.head-SubWindows {
		return // out of the window: it no longer counts
	}
	s := r.slotBack(r.head - a)
	if n > *s {
		n = *s
	}
	*s -= n
	r.sum -= n
}

// retryAt returns the offset of the earliest sub-window start at which sum + n <= amount,
// given that nothing more is charged: the oldest sub-windows leave one by one.
// It assumes n <= amount.
func (r *ring) retryAt(n, amount int64) int64 {
	if r.b != nil {
		return r.b.retryAt(n, amount, r.per)
	}
	if r.c != nil { // the next window, past its guard
		return r.c.start(r.c.idx+1, r.per) + int64(r.per/SubWindows)
	}
	need := r.sum + n - amount
	if need <= 0 {
		return r.head * r.width
	}
	for j := int64(1); j <= SubWindows; j++ {
		need -= *r.slot(r.head - SubWindows + j - 1)
		if need <= 0 {
			return (r.head + j) * r.width
		}
	}
	return (r.head + SubWindows + 1) * r.width
}

// window reports the ring's usage and when each part of it leaves, for Usage.
func (r *ring) window(epoch time.Time, amount int64) Window {
	if r.b != nil {
		return r.b.window(epoch, amount, r.per)
	}
	if r.c != nil {
		w := Window{Used: r.sum, Span: r.per}
		if r.sum != 0 {
			w.Expiring = []Expiry{{At: epoch.Add(time.Duration(r.c.start(r.c.idx+1, r.per))), Amount: r.sum}}
		}
		return w
	}
	w := Window{Used: r.sum, Span: time.Duration(r.width * (SubWindows + 1))}
	for j := int64(0); j <= SubWindows; j++ {
		if v := *r.slot(r.head - SubWindows + j); v != 0 {
			at := epoch.Add(time.Duration((r.head + j + 1) * r.width))
			w.Expiring = append(w.Expiring, Expiry{At: at, Amount: v})
		}
	}
	return w
}
