package analyze

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/costs"
	"github.com/tollgate-dev/tollgate/internal/quotatext"
	"github.com/tollgate-dev/tollgate/quota"
)

// Config is what New analyses: a model, its quotas and a workload, under Params.
type Config struct {
	// Model is the catalog's model (burndown, default and maximum output, context window).
	Model catalog.Model
	// ModelID is the id the calls are sent with, for the report; empty means Model.ID.
	ModelID string
	// Limits are the quotas the calls are admitted under (tokens per minute, per day,
	// requests per minute…). At least one is required.
	Limits []quota.Limit
	// LimitsSource says where the limits came from, for the report ("flags", "catalog
	// default: no credentials", …). Optional.
	LimitsSource string
	// Workload is the calls to analyse. At least one request is required.
	Workload Workload
	// Params are the latency model and the client's settings; the zero value is the
	// defaults.
	Params Params
}

// Report is an analysis: which constraint binds and by how much, the throughput ceiling,
// the time to process the workload, and what max_tokens and concurrency to use. Its JSON
// form (field names in the tags) is what `tollgate analyze --json` prints; durations are
// in nanoseconds (the _ns fields), rates per minute.
type Report struct {
	Model        string `json:"model"`
	ModelID      string `json:"model_id"`
	ModelName    string `json:"model_name,omitempty"`
	Source       string `json:"source,omitempty"`
	LimitsSource string `json:"limits_source,omitempty"`
	// Burndown is what one output token counts against token quotas; DefaultMaxTokens
	// what an unset max_tokens reserves.
	Burndown         float64 `json:"output_burndown"`
	DefaultMaxTokens int     `json:"default_max_tokens"`
	ContextWindow    int     `json:"context_window"`

	// Documents and Calls count the workload (calls include continuations); the token
	// totals are as the service would count and charge them.
	Documents    int   `json:"documents"`
	Requests     int   `json:"requests"`
	Calls        int   `json:"calls"`
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
	QuotaTokens  int64 `json:"quota_tokens"`
	// Chunked counts the documents too long for one call, split into chunks and
	// combined by one more call (requests named "#chunkN" and "#combine"); ChunkCalls
	// counts those documents' requests, chunks and combining calls (continuations
	// excluded).
	Chunked    int `json:"chunked_documents,omitempty"`
	ChunkCalls int `json:"chunked_requests,omitempty"`
	// TooLarge counts calls whose reservation exceeds a limit: they can never be admitted.
	TooLarge int `json:"too_large,omitempty"`

	// Constraints has one entry per limit, one for the cap on calls in flight when there
	// is one, and the latency floor last.
	Constraints []Constraint `json:"constraints"`
	// Binding is the key of the constraint that takes longest ("tokens-per-minute",
	// "requests-per-minute", "concurrency", "pending", or "latency" when nothing else
	// binds). Demand is how much more the workload asks of it than it gives: its Need ÷
	// the time the workload would take were no limit there (the longest Need of latency
	// and pending). Next is the runner-up, Margin the binding Need ÷ Next's:
	// how much raising the binding limit alone can gain.
	Binding string  `json:"binding"`
	Demand  float64 `json:"demand"`
	Next    string  `json:"next,omitempty"`
	Margin  float64 `json:"margin,omitempty"`

	// CallsPerMinute and DocumentsPerMinute are the sustained ceiling: calls (documents)
	// ÷ the binding constraint's Need.
	CallsPerMinute     float64 `json:"calls_per_minute"`
	DocumentsPerMinute float64 `json:"documents_per_minute"`
	// Makespan is the predicted time to process the workload, by simulating the client's
	// admission; Classes splits it by priority class.
	Makespan time.Duration `json:"makespan_ns"`
	Classes  []Class       `json:"classes"`
	// LowerBound is the least time any client could take for the workload's settled
	// usage (LowerBound, against a provider whose reading is not known), and Efficiency
	// LowerBound ÷ Makespan: the quota efficiency the simulated run reaches, at most 1.
	LowerBound time.Duration `json:"lower_bound_ns"`
	Efficiency float64       `json:"efficiency"`
	// MeanWait is the mean time a call waits for admission in the simulation.
	MeanWait time.Duration `json:"mean_wait_ns"`

	// MaxTokens compares the max_tokens of the workload with the recommended one.
	MaxTokens MaxTokens `json:"max_tokens"`
	// Concurrency is the calls in flight at the ceiling (Little's law: rate × mean
	// latency), now and with the recommended max_tokens.
	Concurrency Concurrency `json:"concurrency"`
	// Curve is the throughput as a function of max_tokens, for every call sent with it.
	Curve []Point `json:"curve"`

	// TTFT and PerToken are the latency model used; MeanLatency a call's mean latency.
	TTFT        time.Duration `json:"time_to_first_token_ns"`
	PerToken    time.Duration `json:"per_output_token_ns"`
	MeanLatency time.Duration `json:"mean_latency_ns"`
	// Pacing is the client's pacing simulated (a burst of this long's worth); zero for
	// none, as tollgate run has it.
	Pacing time.Duration `json:"pacing_ns"`
	// Notes are warnings and explanations for people.
	Notes []string `json:"notes,omitempty"`
}

// Constraint is one limit (or the cap on calls in flight, or the latency floor) and what
// the workload asks of it.
type Constraint struct {
	// Key names it for programs ("tokens-per-minute"), Name for people.
	Key  string `json:"key"`
	Name string `json:"name"`
	// Limit is the quota ("200000 tokens/1m"); empty for concurrency and latency. Amount
	// and Per are its parts; Cap the cap on calls in flight.
	Limit  string        `json:"limit,omitempty"`
	Amount int64         `json:"amount,omitempty"`
	Per    time.Duration `json:"per_ns,omitempty"`
	Cap    int           `json:"cap,omitempty"`
	// Need is how long this constraint alone needs to let the workload through: usage
	// (with reservations held) ÷ rate, or the longest chain of calls for the latency.
	Need time.Duration `json:"need_ns"`
	// Demand is Need ÷ the time the workload would take with no limit at all (latency and
	// pending only): how much more the workload asks of this limit than it gives.
	Demand float64 `json:"demand"`
	// Ratio is Need ÷ the longest Need of the other constraints: above 1 it binds (by
	// that much), below 1 it is the share of its capacity used at the predicted rate.
	Ratio float64 `json:"ratio"`
	// Utilization is the share of its capacity used at the predicted rate (Need ÷ the
	// binding constraint's Need).
	Utilization float64 `json:"utilization"`
	// Settled and Reserved are the workload's usage of the limit's dimension at settlement
	// and in reservations; Held is what reservations held above settlement, averaged over
	// the window (the throughput lost to max_tokens).
	Settled  int64 `json:"settled,omitempty"`
	Reserved int64 `json:"reserved,omitempty"`
	Held     int64 `json:"held,omitempty"`
	// Blocked is how long the simulated queue waited on this constraint.
	Blocked time.Duration `json:"blocked_ns"`
}

// Class is one priority class's share of the workload and when it is done.
type Class struct {
	Priority  string        `json:"priority"`
	Documents int           `json:"documents"`
	Done      time.Duration `json:"done_ns"`      // when its last document finishes
	Mean      time.Duration `json:"mean_done_ns"` // when its documents finish on average
}

// MaxTokens is the max_tokens analysis.
type MaxTokens struct {
	// Current is the workload's max_tokens (the most common one; the model's default when
	// unset), Recommended the Quantile of the expected outputs, rounded up to a multiple
	// of 64.
	Current     int     `json:"current"`
	Unset       bool    `json:"unset"`
	Recommended int     `json:"recommended"`
	Quantile    float64 `json:"quantile"`
	// Keep reports that the quantile would be slower than Current (whose reservations
	// already hold no more than they settle): Recommended is then Current.
	Keep bool `json:"keep"`
	// OutputQuantile is that quantile of the expected outputs.
	OutputQuantile int `json:"output_quantile"`
	// Continued is how many requests would need continuations at Recommended, and
	// ExtraCalls how many calls they add.
	Continued  int `json:"continued"`
	ExtraCalls int `json:"extra_calls"`
	// CallsPerMinute, DocumentsPerMinute and Makespan are the ceiling and the predicted
	// time with Recommended; Binding what binds then.
	CallsPerMinute     float64       `json:"calls_per_minute"`
	DocumentsPerMinute float64       `json:"documents_per_minute"`
	Makespan           time.Duration `json:"makespan_ns"`
	Binding            string        `json:"binding"`
}

// Concurrency is the calls in flight at the ceiling: rate × mean latency.
type Concurrency struct {
	Current     float64 `json:"current"`
	Recommended int     `json:"recommended"`
}

// Point is the throughput with every call sent with MaxTokens.
type Point struct {
	MaxTokens          int     `json:"max_tokens"`
	Calls              int     `json:"calls"`
	CallsPerMinute     float64 `json:"calls_per_minute"`
	DocumentsPerMinute float64 `json:"documents_per_minute"`
	// InFlight is the calls in flight at that rate (Little's law); AtOnce how many mean
	// reservations fit in the tightest token limit's empty window.
	InFlight float64 `json:"in_flight"`
	AtOnce   float64 `json:"at_once"`
	Binding  string  `json:"binding"`
}

// New analyses cfg: it expands the workload into calls (continuations where an output
// exceeds max_tokens), computes each constraint's need (see needs) to name the binding
// one and the ceiling, simulates the client's admission for the time to process the
// workload (see simulate), and does both again with the recommended max_tokens and over
// a range of max_tokens for the curve.
func New(cfg Config) (*Report, error) {
	if cfg.Model.ID == "" || cfg.Model.MaxOutputTokens <= 0 {
		return nil, errors.New("analyze: no model: give the catalog's model (its burndown and output limits are needed)")
	}
	if len(cfg.Limits) == 0 {
		return nil, errors.New("analyze: no limits: give at least the tokens-per-minute quota")
	}
	for _, l := range cfg.Limits {
		if err := quotatext.Validate(l); err != nil {
			return nil, fmt.Errorf("analyze: %w", err)
		}
	}
	if len(cfg.Workload.Requests) == 0 {
		return nil, errors.New("analyze: the workload has no requests")
	}
	p, err := cfg.Params.withDefaults(cfg.Limits)
	if err != nil {
		return nil, fmt.Errorf("analyze: %w", err)
	}
	m := cfg.Model
	r := &Report{Model: cfg.ModelID, ModelID: m.ID, ModelName: m.Name, Source: cfg.Workload.Source,
		LimitsSource: cfg.LimitsSource, Burndown: m.OutputBurndown, DefaultMaxTokens: m.MaxTokensDefault(),
		ContextWindow: m.ContextWindow, Documents: cfg.Workload.documents(), Requests: len(cfg.Workload.Requests),
		TTFT: p.Latency.TimeToFirstToken, PerToken: p.Latency.PerOutputToken, Pacing: p.Pacing}
	if r.Model == "" {
		r.Model = m.ID
	}
	pl, err := expand(m, cfg.Limits, cfg.Workload, p, 0)
	if err != nil {
		return nil, fmt.Errorf("analyze: %w", err)
	}
	r.Calls = pl.calls
	for _, d := range pl.docs {
		if d.combine >= 0 {
			r.Chunked++
			r.ChunkCalls += len(d.chains) + 1
		}
	}
	var busy time.Duration
	pl.each(func(c *call) {
		r.InputTokens += int64(c.in)
		r.OutputTokens += int64(c.out)
		r.QuotaTokens += c.settle.Tokens
		busy += c.latency
	})
	r.MeanLatency = busy / time.Duration(pl.calls)

	ns := pl.needs(cfg.Limits, p)
	sim := simulate(pl, cfg.Limits, p)
	r.fill(ns, sim, pl, p)
	var settled quota.Cost
	for _, ch := range pl.chains {
		for _, c := range ch {
			settled = costs.Add(settled, c.settle)
		}
	}
	// The simulation's windows start empty at its epoch, as a run's do when it starts.
	if b, _, ok := LowerBound(cfg.Limits, settled, AnyReading, simEpoch); ok {
		r.LowerBound, r.Efficiency = b, Efficiency(b, r.Makespan)
	}

	r.MaxTokens = r.maxTokens(cfg, pl, p)
	if r.recommend(cfg, p, r.MaxTokens.Recommended); r.MaxTokens.Makespan > r.Makespan && !r.MaxTokens.Unset {
		// The quantile is slower than what the workload sends (its reservations already
		// hold no more than they settle, and the quantile adds continuations): keep it.
		r.MaxTokens.Keep = true
		r.recommend(cfg, p, r.MaxTokens.Current)
	}
	r.Curve = curve(cfg, p, r)
	r.notes(cfg, p)
	return r, nil
}

// recommend sets the max_tokens recommendation to v and its predicted effect.
func (r *Report) recommend(cfg Config, p Params, v int) {
	r.MaxTokens.Recommended = v
	if rec, err := expand(cfg.Model, cfg.Limits, cfg.Workload, p, v); err == nil {
		rn := rec.needs(cfg.Limits, p)
		b, _ := binding(rn)
		r.MaxTokens.CallsPerMinute, r.MaxTokens.DocumentsPerMinute = rates(rec, rn[b].d, r.Documents)
		r.MaxTokens.Binding = rn[b].key
		r.MaxTokens.Makespan = simulate(rec, cfg.Limits, p).makespan
		r.MaxTokens.ExtraCalls = rec.calls - len(cfg.Workload.Requests)
		r.MaxTokens.Continued = 0
		for _, ch := range rec.chains {
			if len(ch) > 1 {
				r.MaxTokens.Continued++
			}
		}
		var recBusy time.Duration
		rec.each(func(c *call) { recBusy += c.latency })
		if b := rn[b].d; b > 0 {
			r.Concurrency.Recommended = int(math.Ceil(float64(recBusy) / float64(b)))
		}
	}
}

// fill sets the constraints, the verdict, the rates and the classes from the needs and a
// simulation of the workload as given.
func (r *Report) fill(ns []need, sim simResult, pl *plan, p Params) {
	b, next := binding(ns)
	longest := ns[b].d
	var free time.Duration // the time with no limit: latency, pending
	for _, n := range ns {
		if n.key == latencyKey || n.key == pendingKey {
			free = max(free, n.d)
		}
	}
	for i, n := range ns {
		c := Constraint{Key: n.key, Name: n.name, Need: n.d, Settled: n.settled, Reserved: n.reserved, Held: n.held,
			Blocked: sim.blocked[n.key]}
		if n.limit.Amount > 0 {
			c.Limit, c.Amount, c.Per = n.limit.String(), n.limit.Amount, n.limit.Per
		}
		if n.key == concurrencyKey {
			c.Cap = p.MaxInFlight
		}
		other := time.Duration(0)
		for j, o := range ns {
			if j != i {
				other = max(other, o.d)
			}
		}
		if other > 0 {
			c.Ratio = float64(n.d) / float64(other)
		}
		if free > 0 {
			c.Demand = float64(n.d) / float64(free)
		}
		if longest > 0 {
			c.Utilization = float64(n.d) / float64(longest)
		}
		r.Constraints = append(r.Constraints, c)
	}
	r.Binding = ns[b].key
	r.Demand = r.Constraints[b].Demand
	if next >= 0 {
		r.Next = ns[next].key
		if ns[next].d > 0 {
			r.Margin = float64(longest) / float64(ns[next].d)
		}
	}
	r.CallsPerMinute, r.DocumentsPerMinute = rates(pl, longest, r.Documents)
	r.Makespan = sim.makespan
	r.TooLarge = sim.tooLarge
	r.MeanWait = sim.waited / time.Duration(max(pl.calls, 1))
	if longest > 0 {
		r.Concurrency.Current = float64(r.MeanLatency) * float64(pl.calls) / float64(longest)
	}
	byClass := map[quota.Priority]*Class{}
	for d, doc := range pl.docs {
		c := byClass[doc.prio]
		if c == nil {
			c = &Class{Priority: doc.prio.String()}
			byClass[doc.prio] = c
		}
		c.Documents++
		if f := sim.finish[d]; f >= 0 {
			c.Done = max(c.Done, f)
			c.Mean += f
		}
	}
	for _, q := range quotatext.Priorities {
		if c := byClass[q]; c != nil {
			c.Mean /= time.Duration(c.Documents)
			r.Classes = append(r.Classes, *c)
		}
	}
}

// rates returns the calls and documents per minute of a plan that takes d.
func rates(pl *plan, d time.Duration, docs int) (float64, float64) {
	if d <= 0 {
		return 0, 0
	}
	mins := d.Minutes()
	return float64(pl.calls) / mins, float64(docs) / mins
}

// maxTokens compares the workload's max_tokens with the recommendation: the Quantile of
// the expected outputs, rounded up to a multiple of 64, within the model's maximum. An
// output left unknown counts at the Quantile of a spread of 0.5–1.5× its default mean
// (the emulator's), so the recommendation covers the replies that run long too.
func (r *Report) maxTokens(cfg Config, pl *plan, p Params) MaxTokens {
	mt := MaxTokens{Quantile: p.Quantile}
	counts := map[int]int{}
	var outs []int
	for _, q := range cfg.Workload.Requests {
		counts[q.MaxTokens]++
		o := q.OutputTokens
		if o == 0 {
			o = int(math.Ceil(float64(max(p.Output(q.InputTokens), 1)) * (0.5 + p.Quantile)))
		}
		outs = append(outs, o)
	}
	most, n := 0, -1
	for k, v := range counts {
		if v > n || v == n && k > most {
			most, n = k, v
		}
	}
	mt.Unset = most == 0
	mt.Current = most
	if most == 0 {
		mt.Current = cfg.Model.MaxTokensDefault()
	}
	mt.OutputQuantile = quantile(outs, p.Quantile)
	mt.Recommended = min((mt.OutputQuantile+63)/64*64, cfg.Model.MaxOutputTokens)
	return mt
}

// curve computes the throughput over max_tokens from 64 (or less than the smallest
// output) to the model's default, on a geometric grid with the current and recommended
// values added.
func curve(cfg Config, p Params, r *Report) []Point {
	hi := max(cfg.Model.MaxTokensDefault(), r.MaxTokens.Current)
	lo := max(min(64, r.MaxTokens.Recommended/4), 16)
	grid := map[int]bool{r.MaxTokens.Current: true, r.MaxTokens.Recommended: true}
	const steps = 48
	for i := 0; i <= steps; i++ {
		v := float64(lo) * math.Pow(float64(hi)/float64(lo), float64(i)/steps)
		grid[int(math.Round(v))] = true
	}
	var xs []int
	for v := range grid {
		if v > 0 && v <= cfg.Model.MaxOutputTokens {
			xs = append(xs, v)
		}
	}
	sort.Ints(xs)
	var pts []Point
	for _, v := range xs {
		pl, err := expand(cfg.Model, cfg.Limits, cfg.Workload, p, v)
		if err != nil {
			continue
		}
		ns := pl.needs(cfg.Limits, p)
		b, _ := binding(ns)
		pt := Point{MaxTokens: v, Calls: pl.calls, Binding: ns[b].key}
		pt.CallsPerMinute, pt.DocumentsPerMinute = rates(pl, ns[b].d, r.Documents)
		var busy time.Duration
		var reserved int64
		pl.each(func(c *call) {
			busy += c.latency
			reserved += pl.reservation(c).Tokens
		})
		if ns[b].d > 0 {
			pt.InFlight = float64(busy) / float64(ns[b].d)
		}
		mean := float64(reserved) / float64(pl.calls)
		for _, l := range cfg.Limits {
			if l.Dimension == quota.Tokens && mean > 0 {
				if a := float64(l.Amount) / mean; pt.AtOnce == 0 || a < pt.AtOnce {
					pt.AtOnce = a
				}
			}
		}
		pts = append(pts, pt)
	}
	return pts
}

// notes explains what a reader may miss.
func (r *Report) notes(cfg Config, p Params) {
	if r.TooLarge > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d calls can never be admitted: their reservation (input + max_tokens) exceeds a limit; lower max_tokens or split the documents", r.TooLarge))
	}
	if r.MaxTokens.Unset {
		r.Notes = append(r.Notes, fmt.Sprintf("max_tokens is unset: Bedrock reserves the model's default, %s tokens, for every call until it ends", Group(int64(r.DefaultMaxTokens))))
	}
	if p.ReserveBurndown {
		r.Notes = append(r.Notes, "reservations count max_tokens × the burndown (--reserve-burndown)")
	}
}
