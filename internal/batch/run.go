package batch

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/tollgate-dev/tollgate/internal/analyze"
	"github.com/tollgate-dev/tollgate/internal/costs"
	"github.com/tollgate-dev/tollgate/internal/estimate"
	"github.com/tollgate-dev/tollgate/internal/invoke"
	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/internal/results"
	"github.com/tollgate-dev/tollgate/quota"
)

// Client is what a run needs of a model client; *pipeline.Client has it, built with
// ClientConfig (the client right-sizes max_tokens and learns the output lengths).
type Client interface {
	Converse(ctx context.Context, in *bedrockruntime.ConverseInput, optFns ...func(*bedrockruntime.Options)) (*bedrockruntime.ConverseOutput, error)
	Forecast(ctx context.Context, in *bedrockruntime.ConverseInput) (pipeline.Prediction, error)
	Predict(task string, q float64) (int, bool)
	With(o pipeline.Options) *pipeline.Client
	Config() pipeline.Config
}

var _ Client = (*pipeline.Client)(nil)

// Runner runs one batch. Build it with New, then call Run once; Status may be called at
// any time from any goroutine (a progress display polls it).
type Runner struct {
	cfg    Config
	client Client
	plan   *planner
	start  time.Time

	mu        sync.Mutex
	st        Status
	failures  []results.Record
	settled   quota.Cost
	remaining map[quota.Priority]quota.Cost // estimated cost of the documents not yet sent, per class
	inflight  quota.Cost                    // estimated cost of the documents sent and not finished
	open      map[quota.Priority]int        // documents of each class not finished yet
	latency   time.Duration                 // mean time from send to answer of the calls so far
	calls     int
	lastLevel map[quota.Priority]int
	stop      context.CancelCauseFunc
	streak    int           // documents in a row that failed with the same class of error
	lastClass string        // that class (invoke.Class)
	sent      int           // documents handed to the client whose record is not counted yet
	finished  chan struct{} // signalled (without blocking) each time sent goes down
	unsaved   []string      // documents whose record could not be written
	werr      error         // the first such write error
}

// StopAfter is how many documents in a row may fail with the same error before a run stops
// sending the rest: the error is then about the run (credentials, model access, a wrong
// region), not about the documents. Errors are the same when their class is
// (invoke.Class: the service's error code and HTTP status), not their text, which names
// each attempt's request id.
const StopAfter = 8

// errStopped is the cause of a run stopped by failures.
var errStopped = errors.New("stopped")

// Status is a run's progress at one moment.
type Status struct {
	// Total is the number of documents; Resumed those already done by an earlier run
	// (skipped now); Done, Failed and Skipped count this run's records; InFlight the
	// documents handed to the client and not finished.
	Total, Resumed, Done, Failed, Skipped, InFlight int
	// Calls counts the model calls that succeeded, Attempts the SDK attempts, Throttles
	// the attempts the service throttled.
	Calls, Attempts, Throttles int
	// Usage sums what the calls used.
	InputTokens, OutputTokens, QuotaTokens int64
	// Bottleneck is the limit that binds now; the zero Limit when none does.
	Bottleneck quota.Limit
	// Levels counts the documents sent at each verbosity level.
	Levels map[string]int
	// Elapsed is the time since the run started; ETA the forecast time to finish.
	Elapsed, ETA time.Duration
	// Interrupted is set once the run stopped admitting because its context ended.
	Interrupted bool
	// Stopped, when not empty, says why the run stopped sending documents on its own:
	// StopAfter documents in a row failed with the same class of error, or the results
	// file could not be written.
	Stopped string
}

// Summary is the outcome of a run.
type Summary struct {
	Status
	// Failures are the records of documents that failed or were skipped.
	Failures []results.Record
	// LowerBound is the shortest time any client could have taken for this run's usage
	// under the limits, what the provider lets through at once at the start taken off
	// (analyze.LowerBound, under Config.Reading), Binding the limit that sets it, and
	// Efficiency LowerBound ÷ Elapsed, at most 1.
	LowerBound time.Duration
	Binding    quota.Limit
	Efficiency float64
	// Out is the results file.
	Out string
	// Unsaved are the paths of documents that were processed but whose record could not
	// be written to Out (a full disk): a second run does them again.
	Unsaved []string
}

// New prepares a run: it validates cfg and parses the templates. Nothing is read yet.
func New(cfg Config, client Client) (*Runner, error) {
	cfg, m, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	p, err := newPlanner(cfg, m)
	if err != nil {
		return nil, err
	}
	if client != nil && cfg.MaxTokens == 0 {
		// The run leaves max_tokens unset for the client to size: a client that does not
		// would let Bedrock reserve the model's maximum on every call.
		got := client.Config()
		want, err := ClientConfig(cfg, got)
		if err != nil {
			return nil, err
		}
		if got.RightSize != want.RightSize || got.Learners != want.Learners || got.InitialMaxTokens != want.InitialMaxTokens {
			return nil, fmt.Errorf("the client right-sizes max_tokens %v with %d learners and initial max_tokens %d; a run needs %v, %d and %d: build it with batch.ClientConfig",
				got.RightSize, got.Learners, got.InitialMaxTokens, want.RightSize, want.Learners, want.InitialMaxTokens)
		}
	}
	return &Runner{cfg: cfg, client: client, plan: p, remaining: map[quota.Priority]quota.Cost{},
		lastLevel: map[quota.Priority]int{}, st: Status{Levels: map[string]int{}}, finished: make(chan struct{}, 1)}, nil
}

// Status returns the run's progress now.
func (r *Runner) Status() Status {
	r.mu.Lock()
	st := r.st
	st.Levels = make(map[string]int, len(r.st.Levels))
	for k, v := range r.st.Levels {
		st.Levels[k] = v
	}
	start := r.start
	r.mu.Unlock()
	if !start.IsZero() {
		st.Elapsed = time.Since(start)
	}
	return st
}

// Run processes the documents: it skips those the results file already answers, sends the
// rest in priority order, and appends a record for each as it finishes. When ctx ends it
// stops sending documents, lets the calls in flight finish for up to Config.Grace, cancels
// the rest (they get no record, so a second run does them), and returns the summary with
// Interrupted set. The error is for the run as a whole (unreadable inputs, a results file
// that cannot be written); failed documents are in the summary and the file.
func (r *Runner) Run(ctx context.Context) (Summary, error) {
	items, err := collect(r.cfg)
	if err != nil {
		return Summary{}, err
	}
	if len(items) == 0 {
		return Summary{}, fmt.Errorf("no documents in %s: the formats read are %s (use --include to choose files)", quoteAll(r.cfg.Inputs), strings.Join(supportedList(), ", "))
	}
	out, err := results.Open(r.cfg.Out)
	if err != nil {
		return Summary{}, err
	}
	defer out.Close()

	// Work out what is left, and drop the records this run replaces (failed and skipped
	// ones are retried; a changed document or setting is redone).
	var todo []*job
	var skipped, moved []results.Record
	redo := map[string]bool{}
	listed := map[string]bool{}
	for _, it := range items {
		listed[it.path] = true
	}
	renamed := newRenames(out.Records(), listed)
	for _, it := range items {
		key := results.Key{Path: it.path, Hash: it.hash, Settings: r.plan.settingsHash(it)}
		if it.err == nil {
			if _, ok := out.Done(key); ok {
				r.st.Resumed++
				continue
			}
			if rec, ok := renamed.find(it, key); ok {
				moved = append(moved, rec)
				r.st.Resumed++
				continue
			}
		}
		redo[it.path] = true
		if it.err != nil {
			skipped = append(skipped, r.record(it, key.Settings, results.Skipped, it.err))
			continue
		}
		j, err := r.plan.prepare(ctx, it)
		if ctx.Err() != nil {
			delete(redo, it.path) // interrupted: nothing is sent, and the records are kept as they are
			break
		}
		if err != nil {
			skipped = append(skipped, r.record(it, key.Settings, results.Skipped, err))
			continue
		}
		todo = append(todo, j)
	}
	if err := out.Compact(func(rec results.Record) bool {
		return rec.Status == results.Done && !redo[rec.Path] && !renamed.gone[rec.Path]
	}, moved...); err != nil {
		return Summary{}, err
	}
	r.mu.Lock()
	r.start = time.Now()
	r.st.Total = len(items)
	r.mu.Unlock()
	for _, rec := range skipped {
		if err := r.finish(out, rec, ""); err != nil {
			return Summary{}, err
		}
	}
	sort.SliceStable(todo, func(a, b int) bool { return todo[a].priority > todo[b].priority })
	r.mu.Lock()
	r.open = map[quota.Priority]int{}
	for _, j := range todo {
		r.remaining[j.priority] = costs.Add(r.remaining[j.priority], r.expectedCost(j))
		r.open[j.priority]++
	}
	r.mu.Unlock()

	// A run stops sending documents when ctx ends, or when too many documents in a row
	// fail the same way (no credentials, no model access): sending the rest would only
	// fail them too.
	ctx, r.stop = context.WithCancelCause(ctx)
	defer r.stop(nil)
	// Calls get a context that outlives ctx by the grace period.
	callCtx, cancelCalls := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelCalls()
	stopGrace := context.AfterFunc(ctx, func() {
		r.mu.Lock()
		r.st.Interrupted = !errors.Is(context.Cause(ctx), errStopped)
		r.mu.Unlock()
		t := time.AfterFunc(r.cfg.Grace, cancelCalls)
		context.AfterFunc(callCtx, func() { t.Stop() })
	})
	defer stopGrace()

	var (
		wg  sync.WaitGroup
		sem = make(chan struct{}, r.cfg.Pending)
	)
dispatch:
	for _, j := range todo {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break dispatch
		}
		if !r.mayProbe(ctx) || ctx.Err() != nil {
			<-sem
			break
		}
		level := r.level(callCtx, j.priority)
		r.mu.Lock()
		exp := r.expectedCost(j)
		r.remaining[j.priority] = subCost(r.remaining[j.priority], exp)
		r.inflight = costs.Add(r.inflight, exp)
		r.st.InFlight++
		r.sent++
		r.st.Levels[LevelName(level)]++
		r.mu.Unlock()
		// The next document starts once this one's first call has reached the client's
		// queue, so that calls reach it in priority order (see pipeline.Options.Queued).
		queued := make(chan struct{})
		markQueued := sync.OnceFunc(func() { close(queued) })
		wg.Add(1)
		go func(j *job, level int, exp quota.Cost) {
			defer wg.Done()
			defer func() { <-sem }()
			defer markQueued()
			rec, class, ok := r.process(callCtx, j, level, markQueued)
			r.mu.Lock()
			r.st.InFlight--
			r.inflight = subCost(r.inflight, exp)
			r.open[j.priority]--
			r.mu.Unlock()
			// A failure joins the streak before the document leaves the count of those
			// sent (defers run after finish), so that mayProbe never misses it.
			defer r.unsend()
			if !ok {
				return // cancelled by the interruption: no record, a second run does it
			}
			if err := r.finish(out, rec, class); err != nil {
				r.unsave(rec.Path, err)
			}
		}(j, level, exp)
		select {
		case <-queued:
		case <-ctx.Done():
		}
	}
	wg.Wait()
	// The context says whether the run was interrupted; the flag set when it ended may
	// not have been set yet.
	r.mu.Lock()
	r.st.Interrupted = ctx.Err() != nil && !errors.Is(context.Cause(ctx), errStopped)
	r.mu.Unlock()
	if r.werr != nil {
		return r.summary(), fmt.Errorf("%w: the results of %d document(s) were not saved, and the rest were not sent (make room, then run the same command again)",
			r.werr, len(r.unsaved))
	}
	return r.summary(), nil
}

// renames finds the done record of a document under another name: a results file of an
// earlier version (which named a folder's documents by their path in the folder), a run
// from another working folder, or a folder moved. A record answers a document when its
// content hash and settings match and its path ends with the document's path relative
// to its input (what its prompt saw) — and no document of this run has the record's own
// path.
type renames struct {
	byContent map[[2]string][]results.Record // done records by hash and settings
	listed    map[string]bool                // this run's document paths
	gone      map[string]bool                // paths of the records moved
}

func newRenames(recs []results.Record, listed map[string]bool) *renames {
	r := &renames{byContent: map[[2]string][]results.Record{}, listed: listed, gone: map[string]bool{}}
	for _, rec := range recs {
		if rec.Status == results.Done && !listed[rec.Path] {
			k := [2]string{rec.Hash, rec.Settings}
			r.byContent[k] = append(r.byContent[k], rec)
		}
	}
	return r
}

// find returns the record that answers the item of key under another name, moved to
// the item's path.
func (r *renames) find(it *item, key results.Key) (results.Record, bool) {
	for _, rec := range r.byContent[[2]string{key.Hash, key.Settings}] {
		if rec.Path == it.rel || strings.HasSuffix(rec.Path, "/"+it.rel) {
			r.gone[rec.Path] = true
			rec.Path = it.path
			return rec, true
		}
	}
	return results.Record{}, false
}

// errUnsaved stops a run whose results file cannot be written: every answer would be
// paid for and lost.
var errUnsaved = fmt.Errorf("%w: the results file cannot be written", errStopped)

// unsave notes a document whose record could not be written, and stops sending more.
func (r *Runner) unsave(path string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.unsaved = append(r.unsaved, path)
	if r.werr != nil {
		return
	}
	r.werr = err
	if r.st.Stopped == "" {
		r.st.Stopped = fmt.Sprintf("the results file cannot be written (%v), so the rest were not sent", err)
	}
	if r.stop != nil {
		r.stop(errUnsaved)
	}
}

// quoteAll joins names for a message, each quoted as Quote does.
func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = Quote(n)
	}
	return strings.Join(q, ", ")
}

// mayProbe waits, while no document of this run has been done, until the documents sent
// and not counted yet plus the current streak of identical failures are fewer than
// StopAfter: a run whose every call fails the same way (no model access, a model the
// region does not serve, a model never ready) then stops after StopAfter documents'
// attempts instead of having sent the whole batch, however many it hands the client at
// once; one document done lifts the bound. It returns false when ctx ends first.
func (r *Runner) mayProbe(ctx context.Context) bool {
	for {
		r.mu.Lock()
		ok := r.st.Done > 0 || r.sent+r.streak < StopAfter
		r.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-r.finished:
		case <-ctx.Done():
			return false
		}
	}
}

// unsend counts a sent document as finished, after its record (if any) was counted,
// and wakes mayProbe.
func (r *Runner) unsend() {
	r.mu.Lock()
	r.sent--
	r.mu.Unlock()
	select {
	case r.finished <- struct{}{}:
	default:
	}
}

func supportedList() []string {
	return append(extractFormats(), ".jsonl (requests)")
}

// finish writes a record and counts it; class is a failed record's invoke.Class.
func (r *Runner) finish(out *results.File, rec results.Record, class string) error {
	rec.Finished = time.Now().UTC()
	if err := out.Append(rec); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch rec.Status {
	case results.Done:
		r.st.Done++
		r.streak = 0
	case results.Failed:
		r.st.Failed++
		r.failures = append(r.failures, rec)
		if class == r.lastClass {
			r.streak++
		} else {
			r.streak, r.lastClass = 1, class
		}
		if r.streak == StopAfter && r.stop != nil && r.st.Stopped == "" {
			r.st.Stopped = fmt.Sprintf("%d documents in a row failed with the same error (%s), so the rest were not sent: %s", StopAfter, class, rec.Error)
			r.stop(errStopped)
		}
	case results.Skipped:
		r.st.Skipped++
		r.failures = append(r.failures, rec)
	}
	return nil
}

func (r *Runner) summary() Summary {
	st := r.Status()
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Summary{Status: st, Failures: append([]results.Record(nil), r.failures...), Out: r.cfg.Out,
		Unsaved: append([]string(nil), r.unsaved...)}
	s.ETA = 0
	if b, l, ok := analyze.LowerBound(r.cfg.Limits, r.settled, r.cfg.Reading, r.start); ok {
		s.LowerBound, s.Binding = b, l
		s.Efficiency = analyze.Efficiency(b, st.Elapsed)
	}
	return s
}

// record starts a document's record.
func (r *Runner) record(it *item, settings, status string, err error) results.Record {
	rec := results.Record{Path: it.path, Hash: it.hash, Settings: settings, Status: status,
		Model: r.cfg.Model, Region: r.cfg.Region, Priority: it.priority.String(), Started: time.Now().UTC()}
	if r.cfg.TimeScale != 1 {
		rec.TimeScale = r.cfg.TimeScale
	}
	if err != nil {
		rec.Error = err.Error()
	}
	return rec
}

// expectedCost is what a job's calls are expected to settle at: input + expected output ×
// burndown, for the ETA and the verbosity decisions.
func (r *Runner) expectedCost(j *job) quota.Cost {
	out := r.expectedOutput()
	return quota.Cost{Requests: int64(j.calls), InputTokens: int64(j.inputTokens), OutputTokens: int64(out * j.calls),
		Tokens: int64(j.inputTokens) + int64(float64(out*j.calls)*r.plan.model.OutputBurndown)}
}

// expectedOutput is the median output of a call learned so far, else half the initial
// max_tokens.
func (r *Runner) expectedOutput() int {
	if n, ok := r.client.Predict(r.task(r.plan.tmpl.Levels[len(r.plan.tmpl.Levels)-1], "doc"), 0.5); ok {
		return n
	}
	return r.plan.maxTokensPlanned(&item{}) / 2
}

func subCost(a, b quota.Cost) quota.Cost {
	return quota.Cost{Requests: max(a.Requests-b.Requests, 0), Tokens: max(a.Tokens-b.Tokens, 0),
		InputTokens: max(a.InputTokens-b.InputTokens, 0), OutputTokens: max(a.OutputTokens-b.OutputTokens, 0)}
}

// task is the key output lengths are learned under.
func (r *Runner) task(level int, kind string) string {
	return r.cfg.TemplateName + "/" + r.plan.tmpl.Hash + "/" + LevelName(level) + "/" + kind
}

// eta forecasts how long until the documents of class p and above are done, as the later
// of two estimates: the wait the client forecasts for a new call of class p (the queue
// ahead of it, as reserved) plus the lower bound of the estimated work of those classes
// not yet sent; and the lower bound of all the run's usage so far plus the expected usage
// of the documents in flight and of those classes not yet sent (settlements charge output
// × burndown, more than the reservations the client's queue holds), less the time
// elapsed. One call's latency is added to either.
func (r *Runner) eta(ctx context.Context, p quota.Priority) (time.Duration, quota.Limit) {
	in := &bedrockruntime.ConverseInput{ModelId: aws.String(r.cfg.Model),
		Messages:        []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "x"}}}},
		InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(1)}}
	var wait time.Duration
	var binding quota.Limit
	if pr, err := r.client.With(pipeline.Options{Priority: p}).Forecast(ctx, in); err == nil {
		wait, binding = pr.Wait, r.configured(pr.Limit)
	}
	r.mu.Lock()
	var rest quota.Cost
	for q, c := range r.remaining {
		if q >= p {
			rest = costs.Add(rest, c)
		}
	}
	all := costs.Add(costs.Add(r.settled, r.inflight), rest)
	lat := r.latency
	elapsed := time.Since(r.start)
	r.mu.Unlock()
	b, l, ok := analyze.RateTime(r.cfg.Limits, rest)
	if binding.Amount == 0 && ok {
		binding = l
	}
	eta := wait + b
	if whole, _, ok := analyze.RateTime(r.cfg.Limits, all); ok {
		eta = max(eta, whole-elapsed)
	}
	return eta + lat, binding
}

// configured returns the configured limit the client's effective limit l stands for:
// the client lengthens windows by its window margin and may have lowered the amount.
func (r *Runner) configured(l quota.Limit) quota.Limit {
	best := l
	for _, c := range r.cfg.Limits {
		if c.Dimension == l.Dimension && c.Per <= l.Per && (best == l || c.Per > best.Per) {
			best = c
		}
	}
	return best
}

// Forecast refreshes the status's ETA and bottleneck from the client's forecast; a
// progress display calls it now and then.
func (r *Runner) Forecast(ctx context.Context) {
	eta, binding := r.eta(ctx, quota.Background)
	r.mu.Lock()
	if r.st.Done+r.st.Failed+r.st.Skipped+r.st.Resumed < r.st.Total {
		r.st.ETA, r.st.Bottleneck = eta, binding
	} else {
		r.st.ETA = 0
	}
	r.mu.Unlock()
}

// level chooses the verbosity of a document of class p now. Classes with a deadline and
// documents not finished are watched: when the forecast completion of such a class q ≥ p
// passes q's deadline, documents of class p below High drop one level, or two when the
// overrun is more than half the deadline; High and Critical documents keep the richest
// level. The choice is made again for every document, so levels come back when the
// pressure passes — when the late class is done, or its forecast is back within its
// deadline.
func (r *Runner) level(ctx context.Context, p quota.Priority) int {
	levels := r.plan.tmpl.Levels
	top := len(levels) - 1
	if top == 0 || len(r.cfg.Deadlines) == 0 || p >= quota.High {
		return levels[top]
	}
	drop := 0
	elapsed := time.Since(r.start)
	for q, d := range r.cfg.Deadlines {
		r.mu.Lock()
		open := r.open[q]
		r.mu.Unlock()
		if q < p || open == 0 {
			continue
		}
		eta, _ := r.eta(ctx, q)
		over := elapsed + eta - d
		switch {
		case over > d/2:
			drop = max(drop, 2)
		case over > 0:
			drop = max(drop, 1)
		}
	}
	return levels[max(top-drop, 0)]
}

// callResult sums what a document's calls did.
type callResult struct {
	usage         results.Usage
	calls, conts  int
	attempts, thr int
	latency, wait time.Duration
	maxTokens     int
	region        string
}

func (c *callResult) add(o callResult) {
	c.usage.InputTokens += o.usage.InputTokens
	c.usage.OutputTokens += o.usage.OutputTokens
	c.usage.CacheReadTokens += o.usage.CacheReadTokens
	c.usage.CacheWriteTokens += o.usage.CacheWriteTokens
	c.usage.QuotaTokens += o.usage.QuotaTokens
	c.calls += o.calls
	c.conts += o.conts
	c.attempts += o.attempts
	c.thr += o.thr
	c.latency += o.latency
	c.wait += o.wait
	if c.maxTokens == 0 {
		c.maxTokens = o.maxTokens
	}
	if o.region != "" {
		c.region = o.region
	}
}

// process does a document's calls and returns its record, with the class of its error
// (invoke.Class) when it failed; ok is false when the run's interruption cancelled it
// before it finished. queued runs once the document's first calls (all its chunks) have
// reached the client's queue.
func (r *Runner) process(ctx context.Context, j *job, level int, queued func()) (rec results.Record, class string, ok bool) {
	rec = r.record(j.item, r.plan.settingsHash(j.item), results.Done, nil)
	rec.Verbosity = LevelName(level)
	rec.InputTokensEstimated = j.inputTokens
	var res callResult
	var text string
	var err error
	if j.chunks == nil {
		var prompt string
		prompt, err = r.plan.prompt(j, level, nil)
		if err == nil {
			text, err = r.call(ctx, queued, j, prompt, level, "doc", &res)
		}
	} else {
		text, err = r.chunked(ctx, j, level, &res, queued)
		rec.Chunks = len(j.chunks)
	}
	rec.Output = text
	rec.Calls, rec.Continuations, rec.Attempts, rec.Throttles = res.calls, res.conts, res.attempts, res.thr
	rec.Usage, rec.MaxTokens = res.usage, res.maxTokens
	rec.LatencyMS, rec.QueueMS = res.latency.Milliseconds(), res.wait.Milliseconds()
	if res.region != "" {
		rec.Region = res.region
	}
	if err != nil {
		if ctx.Err() != nil {
			return rec, "", false
		}
		rec.Status, rec.Error = results.Failed, err.Error()
		class = invoke.Class(err)
	}
	return rec, class, true
}

// chunked reviews each chunk (concurrently: the client queues them) and combines the
// answers with one more call. The chunks' calls reach the client's queue in chunk order,
// each once the one before is queued, as the plan (Plan) lists them: which calls share a
// window depends on that order, and the plan's time assumes it. queued runs once every
// chunk is queued.
func (r *Runner) chunked(ctx context.Context, j *job, level int, res *callResult, queued func()) (string, error) {
	parts := make([]string, len(j.chunks))
	partRes := make([]callResult, len(j.chunks))
	errs := make([]error, len(j.chunks))
	var wg sync.WaitGroup
	for i := range j.chunks {
		inQueue := make(chan struct{})
		mark := sync.OnceFunc(func() { close(inQueue) })
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer mark() // a call that failed before reaching the queue
			prompt, err := r.plan.prompt(j, level, &j.chunks[i])
			if err != nil {
				errs[i] = err
				return
			}
			parts[i], errs[i] = r.call(ctx, mark, j, prompt, level, "chunk", &partRes[i])
		}(i)
		select {
		case <-inQueue:
		case <-ctx.Done():
		}
	}
	queued()
	wg.Wait()
	for i := range partRes {
		res.add(partRes[i])
	}
	for i, err := range errs {
		if err != nil {
			return "", fmt.Errorf("chunk %d of %d: %w", i+1, len(j.chunks), err)
		}
	}
	prompt, err := r.plan.combinePrompt(j, level, parts)
	if err != nil {
		return "", err
	}
	text, err := r.call(ctx, nil, j, prompt, level, "combine", res)
	if err != nil {
		return "", fmt.Errorf("combining %d chunks: %w", len(j.chunks), err)
	}
	return text, nil
}

// maxTokens is the max_tokens a call sends: the request's or the fixed setting, else 0,
// unset, for the client to right-size from the task's learned output length
// (ClientConfig).
func (r *Runner) maxTokens(j *job) int {
	if n := j.maxTokens; n > 0 {
		return n
	}
	return r.cfg.MaxTokens
}

// call makes one model call and its continuations, and returns the whole reply. queued,
// when set, runs once the call has reached the client's queue (pipeline.Options.Queued).
func (r *Runner) call(ctx context.Context, queued func(), j *job, prompt string, level int, kind string, res *callResult) (string, error) {
	maxTok := r.maxTokens(j)
	client := r.client.With(pipeline.Options{Priority: j.priority, Task: r.task(level, kind), Queued: queued})
	in := &bedrockruntime.ConverseInput{ModelId: aws.String(r.cfg.Model),
		Messages: []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: prompt}}}}}
	if sys := r.plan.system(j.item); sys != "" {
		in.System = []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: sys}}
	}
	var reply strings.Builder
	for k := 0; ; k++ {
		in.InferenceConfig = nil
		if maxTok > 0 {
			in.InferenceConfig = &types.InferenceConfiguration{MaxTokens: aws.Int32(int32(maxTok))}
		}
		sent := time.Now()
		resp, err := client.Converse(ctx, in)
		took := time.Since(sent)
		cs, _ := pipeline.ErrorResult(err)
		if err == nil {
			cs, _ = pipeline.ResultOf(resp.ResultMetadata)
		}
		res.attempts += cs.Attempts
		res.thr += cs.Throttles
		res.wait += cs.Waited
		res.region = cs.Region
		if res.maxTokens == 0 {
			res.maxTokens = cs.MaxTokens
		}
		r.mu.Lock()
		r.st.Attempts += cs.Attempts
		r.st.Throttles += cs.Throttles
		r.mu.Unlock()
		if err != nil {
			return "", err
		}
		res.latency += took - cs.Waited
		text := replyText(resp)
		reply.WriteString(text)
		u := results.Usage{}
		if resp.Usage != nil {
			u.InputTokens = int(aws.ToInt32(resp.Usage.InputTokens))
			u.OutputTokens = int(aws.ToInt32(resp.Usage.OutputTokens))
			u.CacheReadTokens = int(aws.ToInt32(resp.Usage.CacheReadInputTokens))
			u.CacheWriteTokens = int(aws.ToInt32(resp.Usage.CacheWriteInputTokens))
		}
		settle, _ := estimate.SettleCost(estimate.ModelParams{OutputBurndown: r.plan.model.OutputBurndown},
			estimate.Usage{InputTokens: u.InputTokens, OutputTokens: u.OutputTokens, CacheReadTokens: u.CacheReadTokens, CacheWriteTokens: u.CacheWriteTokens})
		u.QuotaTokens = int(settle.Tokens)
		settle.Requests = 1
		res.usage.InputTokens += u.InputTokens
		res.usage.OutputTokens += u.OutputTokens
		res.usage.CacheReadTokens += u.CacheReadTokens
		res.usage.CacheWriteTokens += u.CacheWriteTokens
		res.usage.QuotaTokens += u.QuotaTokens
		res.calls++
		r.mu.Lock()
		r.settled = costs.Add(r.settled, settle)
		r.st.Calls++
		r.st.InputTokens += int64(u.InputTokens)
		r.st.OutputTokens += int64(u.OutputTokens)
		r.st.QuotaTokens += int64(u.QuotaTokens)
		r.calls++
		r.latency += (took - cs.Waited - r.latency) / time.Duration(r.calls)
		r.mu.Unlock()
		if resp.StopReason != types.StopReasonMaxTokens || k >= r.cfg.MaxContinuations || j.maxTokens > 0 || r.cfg.MaxTokens > 0 {
			break
		}
		// Cut at max_tokens: continue the reply from where it stopped (the assistant turn
		// is prefilled with it; Claude refuses a prefill that ends in white space), with
		// twice the max_tokens the cut call sent. A continuation is a call of its own: it
		// sends its max_tokens and, under no task, teaches the client nothing about the
		// task's calls (the client learns each call's output, the cut one's included).
		res.conts++
		sofar := strings.TrimRight(reply.String(), " \t\r\n")
		in.Messages = []types.Message{in.Messages[0], {Role: types.ConversationRoleAssistant, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: sofar}}}}
		cut := cs.MaxTokens
		if cut == 0 { // sent unset: the model's default capped it
			cut = r.plan.model.MaxTokensDefault()
		}
		maxTok = min(cut*2, r.plan.model.MaxOutputTokens)
		client = client.With(pipeline.Options{Priority: j.priority})
	}
	return reply.String(), nil
}

// replyText returns the text blocks of a Converse reply.
func replyText(resp *bedrockruntime.ConverseOutput) string {
	msg, ok := resp.Output.(*types.ConverseOutputMemberMessage)
	if !ok {
		return ""
	}
	var b strings.Builder
	for _, c := range msg.Value.Content {
		if t, ok := c.(*types.ContentBlockMemberText); ok {
			b.WriteString(t.Value)
		}
	}
	return b.String()
}
