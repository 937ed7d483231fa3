package analyze

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/costs"
	"github.com/tollgate-dev/tollgate/internal/estimate"
	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/internal/quotatext"
	"github.com/tollgate-dev/tollgate/quota"
)

// call is one model call of an analysis: a request, or one continuation of it.
type call struct {
	req      int // index in the workload's requests
	doc      int // index in plan.docs
	prio     quota.Priority
	in, out  int // input and output tokens, as the service counts them
	max      int // max_tokens in effect
	initial  quota.Cost
	reserve  quota.Cost // what the client reserves before calibration, and after
	settle   quota.Cost
	latency  time.Duration
	tooLarge bool // its reservation exceeds a limit: it can never be admitted
}

// doc is one document: its requests (chains of calls) and the one combining them.
type doc struct {
	name    string
	prio    quota.Priority
	chains  []int // indexes in plan.chains, the combining one excluded
	combine int   // index in plan.chains of the "#combine" request, or -1
}

// plan is a workload expanded into calls for one max_tokens setting.
type plan struct {
	chains  [][]call // per request: the call and its continuations
	docs    []doc
	order   []int // documents in the order they are handed to the client
	calls   int
	initial int   // documents whose calls are estimated before calibration (Pending, or all)
	ranks   []int // position of each document in order, built on first use
}

// expand turns w into calls. maxTokens, when positive, replaces every request's
// max_tokens (for the curve and the recommendation).
func expand(m catalog.Model, limits []quota.Limit, w Workload, p Params, maxTokens int) (*plan, error) {
	mp := modelParams(m, p.ReserveBurndown)
	pl := &plan{chains: make([][]call, len(w.Requests))}
	byName := map[string]int{}
	for i, r := range w.Requests {
		if r.InputTokens < 0 || r.MaxTokens < 0 || r.OutputTokens < 0 {
			return nil, fmt.Errorf("request %q: negative token count", r.Name)
		}
		name := document(r.Name)
		d, ok := byName[name]
		if !ok {
			d = len(pl.docs)
			byName[name] = d
			pl.docs = append(pl.docs, doc{name: name, prio: r.Priority, combine: -1})
		}
		if isCombine(r.Name) && pl.docs[d].combine < 0 {
			pl.docs[d].combine = i
		} else {
			pl.docs[d].chains = append(pl.docs[d].chains, i)
		}
		pl.docs[d].prio = max(pl.docs[d].prio, r.Priority)
		mt := r.MaxTokens
		if maxTokens > 0 {
			mt = maxTokens
		}
		eff, err := mp.MaxTokens(mt)
		if err != nil {
			return nil, fmt.Errorf("request %q: %w", r.Name, err)
		}
		in := r.InputTokens
		if r.InputAddsParts && isCombine(r.Name) {
			for _, k := range pl.docs[d].chains {
				for _, c := range pl.chains[k] {
					in += c.out
				}
			}
		}
		out := r.OutputTokens
		if out == 0 {
			out = max(p.Output(in), 1)
		}
		// A reply longer than max_tokens is continued: call j resends the input with the
		// j·max_tokens produced so far.
		for j := 0; j == 0 || j*eff < out; j++ {
			c := call{req: i, doc: d, prio: r.Priority, in: in + j*eff, out: min(eff, out-j*eff), max: eff}
			if err := c.cost(mp, p); err != nil {
				return nil, fmt.Errorf("request %q: %w", r.Name, err)
			}
			for _, l := range limits {
				if costs.Get(c.initial, l.Dimension) > l.Amount || costs.Get(c.reserve, l.Dimension) > l.Amount {
					c.tooLarge = true
				}
			}
			pl.chains[i] = append(pl.chains[i], c)
			pl.calls++
		}
	}
	pl.order = make([]int, len(pl.docs))
	for i := range pl.order {
		pl.order[i] = i
	}
	sort.SliceStable(pl.order, func(a, b int) bool { return pl.docs[pl.order[a]].prio > pl.docs[pl.order[b]].prio })
	pl.initial = len(pl.docs)
	if p.Pending > 0 {
		pl.initial = min(p.Pending, len(pl.docs))
	}
	return pl, nil
}

// cost sets c's reservations, settlement and latency. The client reserves its estimate of
// the input — before calibration the offline tokenizer's count (the model's ÷ the
// offset) × (1 + InitialMargin), after it the model's count × (1 + EstimateMargin) — plus
// max_tokens; the service settles the input plus output × burndown.
func (c *call) cost(mp estimate.ModelParams, p Params) error {
	var err error
	pre := int(math.Ceil(float64(c.in) / p.TokenizerOffset * (1 + p.InitialMargin)))
	post := int(math.Ceil(float64(c.in) * (1 + p.EstimateMargin)))
	if c.initial, err = estimate.ReserveCost(mp, estimate.Usage{InputTokens: pre}, c.max); err != nil {
		return err
	}
	if c.reserve, err = estimate.ReserveCost(mp, estimate.Usage{InputTokens: post}, c.max); err != nil {
		return err
	}
	if c.settle, err = estimate.SettleCost(mp, estimate.Usage{InputTokens: c.in, OutputTokens: c.out}); err != nil {
		return err
	}
	c.latency = p.Latency.Of(c.out)
	return nil
}

// reservation returns what the client reserves for c: the initial estimate when the
// call's document is handed over before any reply could calibrate it.
func (pl *plan) reservation(c *call) quota.Cost {
	if pl.rank(c.doc) < pl.initial {
		return c.initial
	}
	return c.reserve
}

// rank returns the position of document d in the submission order.
func (pl *plan) rank(d int) int {
	if pl.ranks == nil {
		pl.ranks = make([]int, len(pl.order))
		for i, d := range pl.order {
			pl.ranks[d] = i
		}
	}
	return pl.ranks[d]
}

// each calls f for every call of the plan.
func (pl *plan) each(f func(c *call)) {
	for i := range pl.chains {
		for j := range pl.chains[i] {
			f(&pl.chains[i][j])
		}
	}
}

// Constraint kinds besides the limits.
const (
	concurrencyKey = "concurrency"
	pendingKey     = "pending"
	latencyKey     = "latency"
)

// need is how long one constraint alone takes to let a plan through.
type need struct {
	key, name string
	limit     quota.Limit // zero for concurrency and latency
	d         time.Duration
	settled   int64 // the plan's settled usage of the limit's dimension
	reserved  int64 // its reservations
	held      int64 // what reservations held above the settlement, averaged over the window
}

// needs computes, for every limit, the cap on calls in flight, the documents handed over
// at once (Pending) and the latency, the time
// each alone needs for the plan. A call settling s and reserving R for L
// occupies a window of length P = Per + WindowMargin (Per for a clock window) with
//
//	occ = s + max(R − s, 0) × min(L, P) / P
//
// (a reservation below the settlement loses nothing: the excess is charged when the call
// ends), so a limit of Amount A per P needs Σ occ ÷ A × P, and at X calls per P it admits
// X ≤ A / occ — the design's X ≤ TPM / (s + L·(R − s)). The cap C on calls in flight
// needs Σ L ÷ C (Little's law); the latency floor is the longest chain of calls of one
// document (a request, its continuations, then the call combining the document).
func (pl *plan) needs(limits []quota.Limit, p Params) []need {
	var out []need
	lengthened, _ := pipeline.Admission(limits, p.WindowMargin, -1)
	for i, l := range limits {
		per := lengthened[i].Per
		n := need{key: limitKey(l), name: LimitName(l), limit: l}
		var occ float64
		pl.each(func(c *call) {
			s, r := costs.Get(c.settle, l.Dimension), costs.Get(pl.reservation(c), l.Dimension)
			hold := float64(min(c.latency, per)) / float64(per)
			n.settled += s
			n.reserved += r
			extra := float64(max(r-s, 0)) * hold
			n.held += int64(extra)
			occ += float64(s) + extra
		})
		n.d = time.Duration(occ / float64(l.Amount) * float64(per))
		if p.Pacing > 0 {
			// Pacing admits a call only while the paced horizon is at most Pacing ahead of
			// now, and a call moves it R/rate ahead. A reservation worth more than Pacing
			// holds the next call back for R/rate − Pacing, or until it settles and gives
			// back R − s: calls follow each other at least min(L, R/rate − Pacing) apart.
			var spaced time.Duration
			pl.each(func(c *call) {
				r := float64(costs.Get(pl.reservation(c), l.Dimension)) / float64(l.Amount) * float64(per)
				spaced += min(c.latency, max(time.Duration(r)-p.Pacing, 0))
			})
			n.d = max(n.d, spaced)
		}
		out = append(out, n)
	}
	var busy time.Duration
	pl.each(func(c *call) { busy += c.latency })
	if p.MaxInFlight > 0 {
		out = append(out, need{key: concurrencyKey, name: "calls in flight", d: busy / time.Duration(p.MaxInFlight)})
	}
	if p.Pending > 0 && p.Pending < len(pl.docs) {
		// Documents handed over Pending at a time cap the calls in flight at Pending (a
		// chunked document's calls count as one for this bound).
		out = append(out, need{key: pendingKey, name: "documents at once (pending)", d: busy / time.Duration(p.Pending)})
	}
	var floor time.Duration
	for _, d := range pl.docs {
		var longest time.Duration
		for _, i := range d.chains {
			longest = max(longest, pl.chainLatency(i))
		}
		if d.combine >= 0 {
			longest += pl.chainLatency(d.combine)
		}
		floor = max(floor, longest)
	}
	out = append(out, need{key: latencyKey, name: "latency", d: floor})
	return out
}

// chainLatency returns the time request i's calls take one after the other.
func (pl *plan) chainLatency(i int) time.Duration {
	var d time.Duration
	for _, c := range pl.chains[i] {
		d += c.latency
	}
	return d
}

// binding returns the index of the need that takes longest and of the next one (-1 when
// there is none). Needs within 0.5% of each other tie, and the first listed wins: the
// limits in the order given (tokens per minute before tokens per day, whose default
// allows the same rate), then concurrency, pending and the latency.
func binding(ns []need) (first, second int) {
	first, second = -1, -1
	for i, n := range ns {
		switch {
		case first < 0 || float64(n.d) > 1.005*float64(ns[first].d):
			first, second = i, first
		case second < 0 || float64(n.d) > 1.005*float64(ns[second].d):
			second = i
		}
	}
	return first, second
}

// limitKey names a limit in JSON and flags: "tokens-per-minute", "requests-per-minute",
// "tokens-per-day", "input-tokens-per-10s".
func limitKey(l quota.Limit) string {
	return quotatext.DimensionName(l.Dimension) + "-per-" + PerWord(l.Per)
}

// LimitName names a limit for people: "tokens per minute", "input tokens per day".
func LimitName(l quota.Limit) string {
	d := quotatext.DimensionName(l.Dimension)
	if l.Dimension == quota.InputTokens || l.Dimension == quota.OutputTokens {
		d = d[:len(d)-len("-tokens")] + " tokens"
	}
	return d + " per " + PerWord(l.Per)
}

// PerWord names a window for people: "minute", "day", or the duration ("10s"). A window
// within 5% of a second, minute, hour or day is named for it: windows read off a client
// are lengthened by its window margin, and those of a time-scaled emulator run are
// scaled back to emulated time with rounding.
func PerWord(per time.Duration) string {
	for _, p := range []struct {
		d    time.Duration
		name string
	}{{time.Second, "second"}, {time.Minute, "minute"}, {time.Hour, "hour"}, {24 * time.Hour, "day"}} {
		if math.Abs(float64(per-p.d)) <= 0.05*float64(p.d) {
			return p.name
		}
	}
	return per.Round(time.Millisecond).String()
}
