package quota

import "time"

// Pacer is the pacing of Config.Pacing as a value, for the Limiter and for simulations
// that replay it (tollgate analyze): per limit, a horizon — the time by which everything
// charged would have been delivered at the limit's rate (Amount per Per), less refunds.
// A cost is admitted when every horizon of a dimension it uses is at most Burst ahead of
// now. Idle time is not banked: a charge moves a horizon in the past up to now first.
//
// The zero Pacer paces nothing. A Pacer is not safe for concurrent use; the Limiter
// guards its own with its mutex.
type Pacer struct {
	// Burst is how far ahead of now the horizons may be when a cost is admitted.
	Burst   time.Duration
	horizon []time.Time
}

// NewPacer returns a Pacer allowing bursts of burst's worth, for n limits.
func NewPacer(burst time.Duration, n int) *Pacer {
	return &Pacer{Burst: burst, horizon: make([]time.Time, n)}
}

// At returns the earliest time at which the pacing admits cost under limits (the zero
// Time when at once is fine), and the index of the limit whose horizon sets it.
func (p *Pacer) At(limits []Limit, cost Cost) (time.Time, int) {
	var at time.Time
	bind := 0
	for i, l := range limits {
		if i >= len(p.horizon) || cost.Get(l.Dimension) == 0 {
			continue
		}
		if t := p.horizon[i].Add(-p.Burst); t.After(at) {
			at, bind = t, i
		}
	}
	return at, bind
}

// Charge moves each limit's horizon forward by cost at the limit's rate, from now at the
// earliest.
func (p *Pacer) Charge(now time.Time, limits []Limit, cost Cost) { p.move(now, limits, cost, 1) }

// Refund moves each limit's horizon back by cost at the limit's rate.
func (p *Pacer) Refund(limits []Limit, cost Cost) { p.move(time.Time{}, limits, cost, -1) }

func (p *Pacer) move(now time.Time, limits []Limit, cost Cost, sign int) {
	for i, l := range limits {
		n := cost.Get(l.Dimension)
		if n == 0 || i >= len(p.horizon) {
			continue
		}
		d := time.Duration(float64(l.Per) * float64(n) / float64(l.Amount))
		if sign > 0 {
			if p.horizon[i].Before(now) {
				p.horizon[i] = now
			}
			p.horizon[i] = p.horizon[i].Add(d)
		} else {
			p.horizon[i] = p.horizon[i].Add(-d)
		}
	}
}
