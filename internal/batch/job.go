package batch

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/chunk"
	"github.com/tollgate-dev/tollgate/internal/estimate"
	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/quota"
)

// job is an item made ready to send: its chunks when it is too long for one call, and
// what its calls are estimated to cost.
type job struct {
	*item
	chunks []chunk.Chunk // nil: the document goes in one call
	// inputTokens is the estimated input of its calls (in the model's count), summed.
	inputTokens int
	calls       int // model calls planned: 1, or chunks + 1
	// chunkInputs are the estimated inputs of the chunk calls, combineInput that of the
	// combining call, of which combineOwn is its prompt's own part, the rest being the
	// chunks' answers (all zero for a document sent whole).
	chunkInputs              []int
	combineInput, combineOwn int
}

// planner turns items into jobs and prompts; it holds the parsed templates and the
// model's facts.
type planner struct {
	cfg     Config
	model   *catalog.Model
	tmpl    *Template
	combine *Template
	count   func(string) int // offline tokenizer count
	// stopped reports that the work should end now (see watching); nil means never.
	stopped func() bool
}

func newPlanner(cfg Config, m *catalog.Model) (*planner, error) {
	t, err := ParseTemplate(cfg.TemplateName, cfg.Template)
	if err != nil {
		return nil, err
	}
	c, err := ParseTemplate("combine", cfg.CombineTemplate)
	if err != nil {
		return nil, err
	}
	return &planner{cfg: cfg, model: m, tmpl: t, combine: c, count: estimate.Base().Count}, nil
}

// errPrepareStopped is what prepareJob returns when stopped; prepare replaces it with
// the context's cause.
var errPrepareStopped = errors.New("stopped")

// stop reports whether the planner's work should end now.
func (p *planner) stop() bool { return p.stopped != nil && p.stopped() }

// tokens converts an offline count to the model's own count.
func (p *planner) tokens(text string) int {
	return int(math.Ceil(float64(p.count(text)) * p.cfg.InputFactor))
}

// maxTokensPlanned is the max_tokens a call is planned with before anything is learned.
func (p *planner) maxTokensPlanned(it *item) int {
	switch {
	case it.maxTokens > 0:
		return it.maxTokens
	case p.cfg.MaxTokens > 0:
		return p.cfg.MaxTokens
	default:
		return p.cfg.InitialMaxTokens
	}
}

// inputBudget is the most input tokens (model count) one call may carry: what fits in the
// context window beside max_tokens, and what the tightest token limit can admit given that
// the client reserves the input estimate with its initial margin
// (the default, a run client's) plus max_tokens. Only the limits'
// amounts count, so the limits of a time-scaled emulator's client split as the
// unscaled ones of a plan do. A run and its plan (Plan) both decide here.
func (p *planner) inputBudget(maxTokens int) int {
	b := p.model.ContextWindow - maxTokens - 1024
	burn := 1.0
	if p.cfg.ReserveWithBurndown {
		burn = p.model.OutputBurndown
	}
	for _, l := range p.cfg.Limits {
		if l.Dimension != quota.Tokens && l.Dimension != quota.InputTokens {
			continue
		}
		room := (0.9*float64(l.Amount) - float64(maxTokens)*burn) / (1 + pipeline.DefaultInitialMargin)
		b = min(b, int(room))
	}
	if p.cfg.ChunkTokens > 0 {
		b = min(b, p.cfg.ChunkTokens)
	}
	return b
}

// system returns the system prompt of an item's calls.
func (p *planner) system(it *item) string {
	if it.system != nil {
		return *it.system
	}
	if it.request {
		return ""
	}
	return p.cfg.System
}

// prompt renders the prompt of a whole document, or of chunk c (nil: whole), at level.
func (p *planner) prompt(j *job, level int, c *chunk.Chunk) (string, error) {
	if j.request {
		return j.text, nil
	}
	d := Data{Document: j.text, Name: j.meta["name"], Path: j.path, Meta: j.meta}
	if c != nil {
		d.Document = c.Text
		d.Part = &Part{Index: c.Index + 1, Total: len(j.chunks), Heading: c.Heading}
	}
	return p.tmpl.Execute(level, d)
}

// combinePrompt renders the prompt that joins the answers of a chunked document.
func (p *planner) combinePrompt(j *job, level int, parts []string) (string, error) {
	return p.combine.Execute(level, Data{Name: j.meta["name"], Path: j.path, Meta: j.meta, Parts: parts})
}

// prepareJob decides whether an item needs chunks and estimates its input.
func (p *planner) prepareJob(it *item) (*job, error) {
	if it.maxTokens > p.model.MaxOutputTokens {
		return nil, fmt.Errorf("max_tokens %d: %s accepts at most %d; lower the request's max_tokens", it.maxTokens, p.model.ID, p.model.MaxOutputTokens)
	}
	j := &job{item: it, calls: 1}
	maxTok := p.maxTokensPlanned(it)
	budget := p.inputBudget(maxTok)
	sys := p.tokens(p.system(it))
	level := p.tmpl.Levels[len(p.tmpl.Levels)-1]
	whole, err := p.prompt(j, level, nil)
	if err != nil {
		return nil, err
	}
	n := p.tokens(whole) + sys
	if p.stop() {
		return nil, errPrepareStopped
	}
	if n <= budget {
		j.inputTokens = n
		return j, nil
	}
	if it.request {
		return nil, fmt.Errorf("the request's prompt is about %d tokens, more than one call can take (%d): shorten it or split it into several requests", n, budget)
	}
	// The template's own text (everything but the document) is repeated in every chunk.
	overhead := n - p.tokens(it.text)
	room := budget - overhead - sys
	if room < 4*max(p.cfg.OverlapTokens, 64) {
		return nil, fmt.Errorf("the prompt template leaves too little room for the document in one call (%d tokens of %d): shorten the template or raise the limits", max(room, 0), budget)
	}
	// Chunks are counted with the offline tokenizer: convert the budget to its count.
	chunks, err := chunk.Split(it.text, chunk.Config{
		MaxTokens:     int(float64(room) / p.cfg.InputFactor),
		OverlapTokens: min(p.cfg.OverlapTokens, int(float64(room)/p.cfg.InputFactor)/4),
		Count:         p.count,
	})
	if err != nil {
		return nil, fmt.Errorf("split into chunks: %w", err)
	}
	j.chunks = chunks
	j.calls = len(chunks) + 1
	for i := range chunks {
		// A stopped count undercounts, so the chunks may be few and long: rendering
		// them would take long for nothing.
		if p.stop() {
			return nil, errPrepareStopped
		}
		pr, err := p.prompt(j, level, &chunks[i])
		if err != nil {
			return nil, err
		}
		n := p.tokens(pr) + sys
		j.chunkInputs = append(j.chunkInputs, n)
		j.inputTokens += n
	}
	// The combining call reads every part's answer: about max_tokens each at most; plan
	// with half of that.
	j.combineOwn = overhead
	j.combineInput = len(chunks)*maxTok/2 + j.combineOwn
	j.inputTokens += j.combineInput
	return j, nil
}

// settingsHash identifies the settings that shape an item's output, for resuming.
func (p *planner) settingsHash(it *item) string {
	var b strings.Builder
	fmt.Fprintf(&b, "model=%s\ntemplate=%s\ncombine=%s\nsystem=%s\n", p.cfg.Model, p.tmpl.Hash, p.combine.Hash, p.system(it))
	fmt.Fprintf(&b, "max_tokens=%d\nchunk=%d/%d\n", p.cfg.MaxTokens, p.cfg.ChunkTokens, p.cfg.OverlapTokens)
	return hashOf([]byte(b.String()))[7:23]
}
