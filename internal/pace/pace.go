// Package pace spreads admissions over time at each limit's rate: the pacing of
// quota.Config.Pacing, shared with simulations that replay the client (tollgate analyze).
//
// Per limit, a Pacer keeps a horizon — the time by which everything charged would have
// been delivered at the limit's rate, less refunds. A cost is admitted when every horizon
// of a limit it uses is at most Burst ahead of now. Idle time is not banked: a charge
// moves a horizon in the past up to now first. Every method takes the time it applies
// at; none reads the clock.
package pace

import "time"

// Pacer is the pacing of n limits. The zero Pacer paces nothing. A Pacer is not safe for
// concurrent use.
type Pacer struct {
	burst   time.Duration
	horizon []time.Time
}

// New returns a Pacer allowing bursts of burst's worth, for n limits.
func New(burst time.Duration, n int) *Pacer {
	return &Pacer{burst: burst, horizon: make([]time.Time, n)}
}

// Duration is how long a limit of amount per per takes to deliver n: per·n/amount.
func Duration(per time.Duration, amount, n int64) time.Duration {
	return time.Duration(float64(per) * float64(n) / float64(amount))
}

// Ready returns the earliest time at which limit i admits a cost that uses it: its
// horizon less the burst.
func (p *Pacer) Ready(i int) time.Time {
	if i >= len(p.horizon) {
		return time.Time{}
	}
	return p.horizon[i].Add(-p.burst)
}

// Charge moves limit i's horizon forward by d, from now at the earliest.
func (p *Pacer) Charge(now time.Time, i int, d time.Duration) {
	if d == 0 || i >= len(p.horizon) {
		return
	}
	if p.horizon[i].Before(now) {
		p.horizon[i] = now
	}
	p.horizon[i] = p.horizon[i].Add(d)
}

// Refund moves limit i's horizon back by d.
func (p *Pacer) Refund(i int, d time.Duration) {
	if d == 0 || i >= len(p.horizon) {
		return
	}
	p.horizon[i] = p.horizon[i].Add(-d)
}

// Use is a cost's use of one limit of Amount per Per: N of it.
type Use struct {
	Per       time.Duration
	Amount, N int64
}

// ReadyFor returns the earliest time at which the pacing admits a cost using uses[i] of
// limit i — the latest Ready of the limits it uses (N > 0) — and the index of that limit,
// or the zero Time and -1 when it uses none.
func (p *Pacer) ReadyFor(uses []Use) (time.Time, int) {
	var at time.Time
	bind := -1
	for i, u := range uses {
		if u.N == 0 {
			continue
		}
		if t := p.Ready(i); bind < 0 || t.After(at) {
			at, bind = t, i
		}
	}
	return at, bind
}

// ChargeFor moves the horizon of every limit a cost uses forward by its use at the
// limit's rate, from now at the earliest. Negative uses are skipped.
func (p *Pacer) ChargeFor(now time.Time, uses []Use) {
	for i, u := range uses {
		if u.N > 0 {
			p.Charge(now, i, Duration(u.Per, u.Amount, u.N))
		}
	}
}

// RefundFor moves the horizon of every limit back by a refund's use at the limit's rate.
// Negative uses are skipped.
func (p *Pacer) RefundFor(uses []Use) {
	for i, u := range uses {
		if u.N > 0 {
			p.Refund(i, Duration(u.Per, u.Amount, u.N))
		}
	}
}

// DefaultBurst is the client's pacing when none is configured: a sixth of the shortest
// of the windows pers (as the client lengthens them), or zero when there are none.
func DefaultBurst(pers ...time.Duration) time.Duration {
	var b time.Duration
	for _, per := range pers {
		if b == 0 || per/6 < b {
			b = per / 6
		}
	}
	return b
}
