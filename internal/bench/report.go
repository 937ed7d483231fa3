package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/analyze"
	"github.com/tollgate-dev/tollgate/internal/emustats"
	"github.com/tollgate-dev/tollgate/internal/invoke"
	"github.com/tollgate-dev/tollgate/quota"
)

// Report is the outcome of a bench run. Times are emulated unless named Real.
type Report struct {
	Short          bool          `json:"short"`
	GoVersion      string        `json:"go_version"`
	Platform       string        `json:"platform"`
	CPUs           int           `json:"cpus"`
	Started        time.Time     `json:"started"`
	ElapsedSeconds float64       `json:"elapsed_real_seconds"`
	Runs           []ScenarioRun `json:"runs"`
}

// ScenarioRun is one scenario in one window mode, with a result per strategy.
type ScenarioRun struct {
	Scenario  string  `json:"scenario"`
	Window    string  `json:"window"`
	TimeScale float64 `json:"time_scale"`
	Calls     int     `json:"calls"`
	Documents string  `json:"documents"`
	// DocumentCount is how many documents the calls are drawn from.
	DocumentCount int          `json:"document_count"`
	Model         string       `json:"model"`
	Quotas        Quotas       `json:"quotas"`
	Results       []Result     `json:"results"`
	RightSizing   *RightSizing `json:"right_sizing,omitempty"`
	// Ratios is tollgate's efficiency ÷ each other strategy's, by strategy.
	Ratios map[string]float64 `json:"tollgate_ratios,omitempty"`
}

// ratios returns tollgate's efficiency ÷ each other strategy's in rs.
func ratios(rs []Result) map[string]float64 {
	i := slices.IndexFunc(rs, func(r Result) bool { return r.Strategy == "tollgate" })
	if i < 0 || rs[i].Efficiency == 0 {
		return nil
	}
	m := map[string]float64{}
	for _, r := range rs {
		if r.Strategy != "tollgate" && r.Efficiency > 0 {
			m[r.Strategy] = rs[i].Efficiency / r.Efficiency
		}
	}
	return m
}

// Quotas are the quotas the emulator enforced and the model's metering settings.
type Quotas struct {
	TokensPerMinute   int64   `json:"tokens_per_minute"`
	TokensPerDay      int64   `json:"tokens_per_day"`
	RequestsPerMinute int64   `json:"requests_per_minute,omitempty"`
	Burndown          float64 `json:"burndown"`
	DefaultMaxTokens  int     `json:"default_max_tokens"`
}

// Result is one strategy's measures.
type Result struct {
	Strategy string         `json:"strategy"`
	Settings StrategyConfig `json:"settings"`
	// MakespanSeconds runs from the start (first arrival) to the last call's end.
	MakespanSeconds float64 `json:"makespan_seconds"`
	// LowerBoundSeconds is the least time the emulator's quotas allow for the settled
	// usage (analyze.LowerBound): over every limit, the usage less what the emulator lets
	// through at once at the start (a full bucket; in clock mode the rest of the minute
	// the run starts in, then a minute's quota as each minute opens), ÷ rate; with
	// arrivals spread out, also the latest arrival time t plus the same for the calls
	// arriving at or after t. A settlement charging more than was reserved can leave the
	// bucket in debt (or a clock minute above its quota): the deepest the emulator saw
	// replaces the quota as what it let through at once, so the bound stays a bound.
	LowerBoundSeconds float64 `json:"lower_bound_seconds"`
	// Efficiency is LowerBoundSeconds ÷ MakespanSeconds, at most 1.
	Efficiency float64 `json:"efficiency"`
	// ReservationBound is the best efficiency any client could reach given the reservations made:
	// Σs ÷ Σ max(s, s + L·(R − s)) over the calls that succeeded (s settled, R reserved,
	// L the service latency in minutes).
	ReservationBound float64 `json:"reservation_bound"`
	// SimulatedMakespanSeconds is the makespan tollgate analyze predicts for the calls
	// that succeeded, with their actual input and output and the max_tokens they were
	// sent with, all arriving at once: the reservation rule (docs/analyze.md) applied call by call
	// to the client's admission (internal/analyze). 0 when not computed.
	SimulatedMakespanSeconds float64 `json:"simulated_makespan_seconds,omitempty"`
	Succeeded                int     `json:"succeeded"`
	Failed                   int     `json:"failed"`
	// Lost calls neither succeeded nor were reported failed: always 0 unless the harness
	// or a strategy is broken.
	Lost int `json:"lost"`
	// ThrottledAttempts is what the emulator refused (all limits).
	ThrottledAttempts int64   `json:"throttled_attempts"`
	ThrottledPer1000  float64 `json:"throttled_per_1000_calls"`
	Admitted          int64   `json:"admitted"`
	ReservedTokens    int64   `json:"reserved_tokens"`
	SettledTokens     int64   `json:"settled_tokens"`
	// PeakTPM is the highest tokens-per-minute usage the emulator saw (> quota: overshoot).
	PeakTPM int64 `json:"peak_tpm"`
	// Latency is, per priority class, the time from arrival to the end of calls that
	// succeeded.
	Latency map[string]Percentiles `json:"latency"`
	// Throughput is settled quota tokens per minute over time, in bins of ThroughputBin.
	Throughput  []Point `json:"throughput"`
	FirstError  string  `json:"first_error,omitempty"`
	RealSeconds float64 `json:"real_seconds"`
}

// Percentiles of a latency, in emulated seconds.
type Percentiles struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_seconds"`
	P95 float64 `json:"p95_seconds"`
}

// Point is settled quota tokens per minute in the bin starting at Minute.
type Point struct {
	Minute          float64 `json:"minute"`
	TokensPerMinute float64 `json:"tokens_per_minute"`
}

// ThroughputBin is the width of the throughput series' bins, emulated.
const ThroughputBin = time.Minute

// RightSizing compares tollgate with and without right-sized max_tokens in one run:
// the measured efficiency ratio against the ratio the reservation rule predicts.
// PredictedRatio applies the rule call by call through tollgate analyze's simulation of
// the client's admission (whole calls in a window of TPM: a 74K reservation leaves 52K of
// a 200K minute unusable); FluidRatio is the rule's fluid form, Σs ÷ Σ(s + L·(R − s)),
// which ignores that calls are whole.
type RightSizing struct {
	MeasuredRatio  float64 `json:"measured_ratio"`
	PredictedRatio float64 `json:"predicted_ratio"`
	FluidRatio     float64 `json:"fluid_ratio"`
	// MeanReserved is the mean reservation per admitted call, with and without.
	MeanReservedWith    float64 `json:"mean_reserved_with"`
	MeanReservedWithout float64 `json:"mean_reserved_without"`
}

// settled is what the emulator charges for a call's usage: input + cache writes +
// output × burndown, rounded up.
func settled(u invoke.Usage, burndown float64) float64 {
	return float64(u.Input+u.CacheWrite) + math.Ceil(float64(u.Output)*burndown)
}

// measure turns the calls' outcomes and the emulator's stats into a Result.
func measure(cfg StrategyConfig, e *env, t0 time.Time, calls []*call, st emustats.Series) Result {
	r := Result{Strategy: cfg.Name, Settings: cfg, Admitted: st.Admitted, ReservedTokens: st.ReservedTokens, SettledTokens: st.SettledTokens, Latency: map[string]Percentiles{}}
	var end time.Time
	lat := map[tollgate.Priority][]float64{}
	type arrived struct {
		at time.Duration
		s  float64
	}
	var arrivals []arrived
	var sumS, sumW float64
	var reqs []analyze.Request
	bins := map[int]float64{}
	for _, c := range calls {
		c.mu.Lock()
		finished, cend, out, err, mts := c.finished, c.end, c.out, c.err, c.maxTokensSent
		c.mu.Unlock()
		switch {
		case !finished:
			r.Lost++
			continue
		case err != nil:
			r.Failed++
			if r.FirstError == "" {
				r.FirstError = err.Error()
			}
		default:
			r.Succeeded++
		}
		if cend.After(end) {
			end = cend
		}
		if err != nil {
			continue
		}
		u := invoke.ConverseUsage(out)
		s := settled(u, e.burndown)
		arrivals = append(arrivals, arrived{c.arrival, s})
		lat[c.priority] = append(lat[c.priority], (cend.Sub(t0) - c.arrival).Seconds())
		bins[int(cend.Sub(t0)/ThroughputBin)] += s
		if mts == 0 {
			mts = e.defaultMaxTokens
		}
		res := float64(u.Input+u.CacheRead+u.CacheWrite) + float64(mts)
		var l float64
		if out.Metrics != nil && out.Metrics.LatencyMs != nil {
			l = float64(*out.Metrics.LatencyMs) / 60_000
		}
		sumS += s
		sumW += max(s, s+l*(res-s))
		reqs = append(reqs, analyze.Request{Name: fmt.Sprint(len(reqs)), Priority: c.priority,
			InputTokens: int(u.Input + u.CacheRead + u.CacheWrite), OutputTokens: int(u.Output), MaxTokens: c.maxTokensSent})
	}
	if strings.HasPrefix(cfg.Name, "tollgate") {
		r.SimulatedMakespanSeconds = simulate(e, reqs).Seconds()
	}
	if sumW > 0 {
		r.ReservationBound = sumS / sumW
	}
	if !end.IsZero() {
		r.MakespanSeconds = end.Sub(t0).Seconds()
	}
	// Lower bound: every limit's settled usage, less what the emulator let through at
	// once at the start, ÷ rate (analyze.LowerBoundPeaks) …
	reading := analyze.BucketReading
	if e.mode == quota.ClockWindow {
		reading = analyze.ClockReading
	}
	var limits []quota.Limit
	var peaks []int64
	for _, l := range st.Limits {
		if l.Amount <= 0 {
			continue
		}
		d := quota.Tokens
		if l.Name == emustats.RequestsPerMinute {
			d = quota.Requests
		}
		limits = append(limits, quota.Limit{Dimension: d, Amount: l.Amount, Per: l.Per})
		peaks = append(peaks, l.Peak)
		if l.Name == emustats.TokensPerMinute {
			r.PeakTPM = l.Peak
		}
	}
	lb, _, _ := analyze.LowerBoundPeaks(limits, quota.Cost{Tokens: st.SettledTokens, Requests: st.Admitted}, reading, t0, peaks)
	// … and, with arrivals spread out, the work arriving at or after each time t, less
	// what the emulator lets through at once from t, ÷ rate, after t.
	sort.Slice(arrivals, func(i, j int) bool { return arrivals[i].at < arrivals[j].at })
	var tail float64
	var tailN int64
	for i := len(arrivals) - 1; i >= 0; i-- {
		tail += arrivals[i].s
		tailN++
		if i > 0 && arrivals[i-1].at == arrivals[i].at {
			continue
		}
		at := arrivals[i].at
		b, _, _ := analyze.LowerBoundPeaks(limits, quota.Cost{Tokens: int64(tail), Requests: tailN}, reading, t0.Add(at), peaks)
		lb = max(lb, at+b)
	}
	r.LowerBoundSeconds = lb.Seconds()
	if r.MakespanSeconds > 0 {
		r.Efficiency = r.LowerBoundSeconds / r.MakespanSeconds
	}
	for _, n := range st.Throttled {
		r.ThrottledAttempts += n
	}
	if len(calls) > 0 {
		r.ThrottledPer1000 = float64(r.ThrottledAttempts) * 1000 / float64(len(calls))
	}
	for p, xs := range lat {
		slices.Sort(xs)
		r.Latency[priorityName(p)] = Percentiles{N: len(xs), P50: quantile(xs, 0.50), P95: quantile(xs, 0.95)}
	}
	last := 0
	for b := range bins {
		last = max(last, b)
	}
	if len(bins) > 0 {
		for b := 0; b <= last; b++ {
			r.Throughput = append(r.Throughput, Point{Minute: (time.Duration(b) * ThroughputBin).Minutes(), TokensPerMinute: bins[b] / ThroughputBin.Minutes()})
		}
	}
	return r
}

// quantile is the nearest-rank q-quantile of sorted xs.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(xs)))) - 1
	return xs[min(max(i, 0), len(xs)-1)]
}

func priorityName(p tollgate.Priority) string {
	switch p {
	case tollgate.High:
		return "high"
	case tollgate.Low:
		return "low"
	}
	return "normal"
}

// rightSizing compares tollgate with tollgate-no-rightsize when both ran.
func rightSizing(rs []Result) *RightSizing {
	var with, without *Result
	for i := range rs {
		switch rs[i].Strategy {
		case "tollgate":
			with = &rs[i]
		case "tollgate-no-rightsize":
			without = &rs[i]
		}
	}
	if with == nil || without == nil || without.Efficiency == 0 || without.ReservationBound == 0 || with.Admitted == 0 || without.Admitted == 0 {
		return nil
	}
	predicted := with.ReservationBound / without.ReservationBound
	if with.SimulatedMakespanSeconds > 0 && without.SimulatedMakespanSeconds > 0 {
		predicted = (with.LowerBoundSeconds / with.SimulatedMakespanSeconds) / (without.LowerBoundSeconds / without.SimulatedMakespanSeconds)
	}
	return &RightSizing{
		MeasuredRatio:       with.Efficiency / without.Efficiency,
		PredictedRatio:      predicted,
		FluidRatio:          with.ReservationBound / without.ReservationBound,
		MeanReservedWith:    float64(with.ReservedTokens) / float64(with.Admitted),
		MeanReservedWithout: float64(without.ReservedTokens) / float64(without.Admitted),
	}
}

// WriteJSON writes the report as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteTable writes one table per scenario run.
func (rep *Report) WriteTable(w io.Writer) error {
	for i, sr := range rep.Runs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		q := sr.Quotas
		fmt.Fprintf(w, "%s, %s window: %d calls to %s; TPM %d, output ×%g; time scale %g×\n",
			sr.Scenario, sr.Window, sr.Calls, sr.Model, q.TokensPerMinute, q.Burndown, sr.TimeScale)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "strategy\tmakespan\tlower bound\tefficiency\tthrottled/1k\tfailed\tlost\thigh p50/p95\tnormal p50/p95\tlow p50/p95\treserved\tsettled\t")
		for _, r := range sr.Results {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.3f\t%.0f\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t\n", r.Strategy,
				seconds(r.MakespanSeconds), seconds(r.LowerBoundSeconds), r.Efficiency, r.ThrottledPer1000, r.Failed, r.Lost,
				latency(r.Latency["high"]), latency(r.Latency["normal"]), latency(r.Latency["low"]),
				tokens(r.ReservedTokens), tokens(r.SettledTokens))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if len(sr.Ratios) > 0 {
			var parts []string
			for _, r := range sr.Results {
				if x, ok := sr.Ratios[r.Strategy]; ok {
					note := ""
					if r.Failed > 0 {
						note = fmt.Sprintf(" (%d failed)", r.Failed)
					}
					parts = append(parts, fmt.Sprintf("%s ×%.2f%s", r.Strategy, x, note))
				}
			}
			fmt.Fprintf(w, "tollgate's efficiency ÷ each other's: %s\n", strings.Join(parts, ", "))
		}
		if rs := sr.RightSizing; rs != nil {
			fmt.Fprintf(w, "right-sized max_tokens: efficiency ×%.2f measured, ×%.2f predicted by the reservation rule (simulated; ×%.2f in its fluid form) (mean reservation %s → %s per call)\n",
				rs.MeasuredRatio, rs.PredictedRatio, rs.FluidRatio, tokens(int64(rs.MeanReservedWithout)), tokens(int64(rs.MeanReservedWith)))
		}
	}
	return nil
}

func seconds(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Second).String()
}

func latency(p Percentiles) string {
	if p.N == 0 {
		return "-"
	}
	return fmt.Sprintf("%s/%s", seconds(p.P50), seconds(p.P95))
}

func tokens(n int64) string {
	switch {
	case n >= 10_000_000:
		return fmt.Sprintf("%.0fM", float64(n)/1e6)
	case n >= 1_000_000:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 10_000:
		return fmt.Sprintf("%.0fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

// trace writes one line per call, in the order of their last attempt: when it arrived,
// was sent and ended, its priority, input and output tokens and its max_tokens. It is
// for investigating a strategy's timeline (TOLLGATE_BENCH_TRACE=1).
func trace(w io.Writer, e *env, t0 time.Time, calls []*call) {
	cs := slices.Clone(calls)
	sort.Slice(cs, func(i, j int) bool { return cs[i].sent.Before(cs[j].sent) })
	for _, c := range cs {
		u := invoke.ConverseUsage(c.out)
		fmt.Fprintf(w, "%s call %3d %-6s arrived %6.1fs sent %6.1fs ended %6.1fs in %6d out %5d max_tokens %5d err %v\n", e.cfg.Name, c.id, priorityName(c.priority),
			c.arrival.Seconds(), c.sent.Sub(t0).Seconds(), c.end.Sub(t0).Seconds(), u.Input, u.Output, c.maxTokensSent, c.err)
	}
}

// simulate predicts, with tollgate analyze, how long the client takes for reqs on the
// scenario's model, quotas and latency (emulated time; 0 if it cannot).
func simulate(e *env, reqs []analyze.Request) time.Duration {
	if len(reqs) == 0 {
		return 0
	}
	m, _, err := catalog.Default().Lookup(e.sc.Model)
	if err != nil {
		return 0
	}
	limits := []quota.Limit{{Dimension: quota.Tokens, Amount: e.tpm, Per: time.Minute}}
	if e.tpd > 0 {
		limits = append(limits, quota.Limit{Dimension: quota.Tokens, Amount: e.tpd, Per: 24 * time.Hour})
	}
	if e.rpm > 0 {
		limits = append(limits, quota.Limit{Dimension: quota.Requests, Amount: e.rpm, Per: time.Minute})
	}
	margin := e.windowMargin()
	rep, err := analyze.New(analyze.Config{Model: m, ModelID: e.sc.Model, Limits: limits,
		Workload: analyze.Workload{Requests: reqs, Documents: len(reqs)},
		Params: analyze.Params{Latency: analyze.Latency{TimeToFirstToken: e.sc.Latency.TimeToFirstToken, PerOutputToken: e.sc.Latency.PerOutputToken},
			WindowMargin: margin, Pacing: e.pacing()}})
	if err != nil {
		return 0
	}
	return rep.Makespan
}
