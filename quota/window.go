package quota

import "time"

// subWindows is the number of sub-windows a Sliding limit's period is divided into. A
// limit of Amount per Per is enforced over the last subWindows+1 sub-windows of width
// ceil(Per/subWindows), which together span at least Per: an interval of length Per can
// touch subWindows+1 sub-windows, and only their sums are kept. The approximation
// therefore errs on the safe side — it never lets more than Amount into any interval of
// length Per — and costs at most 1/(subWindows+1) ≈ 0.5% of the limit's throughput.
const subWindows = 200

// sliding is the account of a Sliding limit: the sums charged in the last subWindows+1
// sub-windows, and their total. Sub-window a covers [epoch + a·width, epoch + (a+1)·width);
// head is the newest sub-window held. Times are kept as nanoseconds since epoch, the
// time the meter was made, so that moving on costs a subtraction and a comparison.
type sliding struct {
	epoch    time.Time
	width    int64 // nanoseconds per sub-window
	head     int64 // index of the newest sub-window
	headSlot int   // slot of head in slots
	// What an admission changes shares one cache line, apart from the slots, so that
	// callers on other cores move one line per meter: the head sub-window's sum lives in
	// headSum, not in slots, until head moves on.
	headEnd int64 // where head's sub-window ends: (head+1)·width
	sum     int64 // total of the window: slots plus headSum
	headSum int64 // sum of head's sub-window (its slot in slots holds nothing)
	slots   [subWindows + 1]int64
}

func newSliding(per time.Duration, epoch time.Time) *sliding {
	w := (int64(per) + subWindows - 1) / subWindows // ceil, so subWindows·width >= Per
	return &sliding{epoch: epoch, width: w, headEnd: w}
}

// slot returns the sum of sub-window a, which must lie in [head-subWindows, head].
func (r *sliding) slot(a int64) *int64 {
	if a == r.head {
		return &r.headSum
	}
	return &r.slots[slotIndex(a)]
}

func slotIndex(a int64) int {
	i := a % (subWindows + 1)
	if i < 0 {
		i += subWindows + 1
	}
	return int(i)
}

// slotBack returns the sum of the sub-window k places before head (0 <= k <= subWindows),
// without dividing.
func (r *sliding) slotBack(k int64) *int64 {
	if k == 0 {
		return &r.headSum
	}
	i := r.headSlot - int(k)
	if i < 0 {
		i += subWindows + 1
	}
	return &r.slots[i]
}

// advance moves head forward to the sub-window of now, dropping the sums that leave the
// window. It never moves head back.
func (r *sliding) advance(now time.Time) {
	off := int64(now.Sub(r.epoch))
	if off < r.headEnd {
		return // still in head's sub-window (or earlier)
	}
	a := off / r.width
	if a-r.head > subWindows {
		r.slots = [subWindows + 1]int64{}
		r.sum, r.headSum = 0, 0
	} else {
		r.slots[r.headSlot], r.headSum = r.headSum, 0 // head becomes an ordinary sub-window
		for i := r.head + 1; i <= a; i++ {
			s := &r.slots[slotIndex(i)] // holds sub-window i-(subWindows+1), which leaves now
			r.sum -= *s
			*s = 0
		}
	}
	r.head = a
	r.headSlot = slotIndex(a)
	r.headEnd = (a + 1) * r.width
}

// admit's retry time is the earliest sub-window start at which sum + n <= amount, given
// that nothing more is charged: the oldest sub-windows leave one by one.
func (r *sliding) admit(now time.Time, n, amount int64, _ *ticketTable) (bool, time.Time) {
	r.advance(now)
	if r.sum+n <= amount {
		return true, time.Time{}
	}
	need := r.sum + min(n, amount) - amount
	for j := int64(1); j <= subWindows; j++ {
		need -= *r.slot(r.head - subWindows + j - 1)
		if need <= 0 {
			return false, r.at(r.head + j)
		}
	}
	return false, r.at(r.head + subWindows + 1)
}

// at returns the time sub-window a starts.
func (r *sliding) at(a int64) time.Time { return r.epoch.Add(time.Duration(a * r.width)) }

func (r *sliding) charge(n int64) {
	r.headSum += n
	r.sum += n
}

func (r *sliding) settle(now, at time.Time, reserved, actual, _ int64, _ *ticketTable) {
	r.advance(now)
	switch {
	case actual > reserved:
		r.charge(actual - reserved)
	case actual < reserved:
		off := int64(at.Sub(r.epoch))
		a := r.head // charged in the head sub-window: no division needed
		if off < r.headEnd-r.width {
			a = off / r.width
		}
		if a > r.head || a < r.head-subWindows {
			return // out of the window: it no longer counts
		}
		s := r.slotBack(r.head - a)
		n := min(reserved-actual, *s)
		*s -= n
		r.sum -= n
	}
}

func (r *sliding) window(now time.Time, _ int64, _ *ticketTable) window {
	r.advance(now)
	w := window{used: r.sum, span: time.Duration(r.width * (subWindows + 1))}
	for j := int64(0); j <= subWindows; j++ {
		if v := *r.slot(r.head - subWindows + j); v != 0 {
			w.expiring = append(w.expiring, expiry{at: r.at(r.head + j + 1), amount: v})
		}
	}
	return w
}
