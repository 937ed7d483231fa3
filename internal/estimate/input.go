package estimate

import (
	"fmt"
	"math"
	"time"
)

// Defaults of Config's fixed token amounts.
const (
	// DefaultMessageTokens is the framing each message adds (role markers, separators).
	DefaultMessageTokens = 4
	// DefaultToolPromptTokens is the tool-use system prompt Anthropic adds whenever a request
	// offers tools: 346 tokens for Claude 3.7 Sonnet and Claude 4 models with tool_choice
	// "auto" (https://docs.anthropic.com/en/docs/build-with-claude/tool-use, "Pricing").
	DefaultToolPromptTokens = 346
	// DefaultPDFPageTokens is what one PDF page costs: on Bedrock, Claude's visual PDF mode
	// uses "approximately 7,000 tokens" for a 3-page PDF, about 2,334 a page
	// (https://docs.claude.com/en/docs/build-with-claude/pdf-support, "Amazon Bedrock PDF
	// Support").
	DefaultPDFPageTokens = 2334
	// BinaryBytesPerToken is how many bytes of a binary document whose text cannot be read
	// (doc, xls, or a damaged docx/xlsx) count as one token: a deliberately high estimate.
	BinaryBytesPerToken = 4
)

// Config configures an Estimator. The zero Config counts with Base, applies no
// calibration and uses the documented default overheads.
type Config struct {
	// Counter counts text. Nil means Base().
	Counter Counter
	// Calibrator corrects the counts per model. Nil means factor 1 for every model.
	Calibrator *Calibrator
	// MessageTokens is added per message, in tokens. Zero means DefaultMessageTokens;
	// negative is an error.
	MessageTokens int
	// ToolPromptTokens is added once when a request offers tools, in tokens. Zero means
	// DefaultToolPromptTokens; negative is an error.
	ToolPromptTokens int
	// PDFPageTokens is what one PDF page costs, in tokens. Zero means DefaultPDFPageTokens;
	// negative is an error.
	PDFPageTokens int
}

// Estimator estimates the input tokens of requests. It is safe for concurrent use.
type Estimator struct {
	counter          Counter
	cal              *Calibrator
	messageTokens    int
	toolPromptTokens int
	pdfPageTokens    int
}

// New returns an Estimator configured by cfg, or an error naming the first invalid field.
func New(cfg Config) (*Estimator, error) {
	for _, f := range []struct {
		name string
		v    int
	}{{"MessageTokens", cfg.MessageTokens}, {"ToolPromptTokens", cfg.ToolPromptTokens}, {"PDFPageTokens", cfg.PDFPageTokens}} {
		if f.v < 0 {
			return nil, fmt.Errorf("estimate: Config.%s is %d: use 0 for the default or a positive token count", f.name, f.v)
		}
	}
	e := &Estimator{
		counter:          cfg.Counter,
		cal:              cfg.Calibrator,
		messageTokens:    orDefault(cfg.MessageTokens, DefaultMessageTokens),
		toolPromptTokens: orDefault(cfg.ToolPromptTokens, DefaultToolPromptTokens),
		pdfPageTokens:    orDefault(cfg.PDFPageTokens, DefaultPDFPageTokens),
	}
	if e.counter == nil {
		e.counter = Base()
	}
	return e, nil
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Input is the estimate of a request's input tokens, in parts.
type Input struct {
	// Counted is what the tokenizer counted in the request's text (system, messages, tool
	// specs and inputs, text documents), before calibration.
	Counted int
	// Fixed is what formulas add: images, PDF pages, binary documents, the tool-use system
	// prompt and per-message framing. Calibration does not scale it.
	Fixed int
	// Factor is the model's calibration factor applied to Counted (1 when uncalibrated).
	Factor float64
	// Tokens is the estimate: ceil(Counted × Factor) + Fixed.
	Tokens int
	// Cacheable is the part of Tokens before the request's last cache point (tools, then
	// system, then messages, in Anthropic's prefix order); 0 when it has none.
	Cacheable int
}

// tally accumulates counted and fixed tokens, and remembers them at the last cache point.
type tally struct {
	counted, fixed         int
	cachedCount, cachedFix int
}

func (t *tally) cachePoint() { t.cachedCount, t.cachedFix = t.counted, t.fixed }

// Input estimates r's input tokens for model: the tokenizer's count of every text part,
// scaled by the model's calibration factor, plus the fixed costs of images, documents,
// tools and message framing. A nil request counts as empty.
func (e *Estimator) Input(model string, r *Request) Input {
	if r == nil {
		r = &Request{}
	}
	var t tally
	if len(r.Tools) > 0 {
		t.fixed += e.toolPromptTokens
		for _, tool := range r.Tools {
			t.counted += e.counter.Count(tool.Name) + e.counter.Count(tool.Description) + e.counter.Count(tool.Schema)
		}
		if r.ToolsCachePoint {
			t.cachePoint()
		}
	}
	e.blocks(&t, r.System)
	for _, m := range r.Messages {
		t.fixed += e.messageTokens
		e.blocks(&t, m.Content)
	}
	factor := 1.0
	if e.cal != nil {
		factor = e.cal.Factor(model)
	}
	scaled := func(counted, fixed int) int { return int(math.Ceil(float64(counted)*factor)) + fixed }
	in := Input{Counted: t.counted, Fixed: t.fixed, Factor: factor, Tokens: scaled(t.counted, t.fixed)}
	if t.cachedCount+t.cachedFix > 0 {
		in.Cacheable = scaled(t.cachedCount, t.cachedFix)
	}
	return in
}

// Observe feeds the usage Bedrock reported for a request estimated as in to the
// calibrator, at time now: the reported input tokens (inputTokens + cacheReadInputTokens +
// cacheWriteInputTokens) less the fixed part, against the counted part. It does nothing
// without a Calibrator.
func (e *Estimator) Observe(now time.Time, model string, in Input, reportedInput int) {
	if e.cal != nil {
		e.cal.Observe(now, model, in.Counted, reportedInput-in.Fixed)
	}
}

// blocks adds the tokens of a list of blocks to t.
func (e *Estimator) blocks(t *tally, bs []Block) {
	for i := range bs {
		b := &bs[i]
		switch b.Kind {
		case Text, Reasoning:
			t.counted += e.counter.Count(b.Text)
		case ToolUse:
			t.counted += e.counter.Count(b.Name) + e.counter.Count(b.Text)
		case ToolResult:
			e.blocks(t, b.Content)
		case Image:
			t.fixed += imageTokens(b.Image)
		case Document:
			e.document(t, b.Document)
		case CachePoint:
			t.cachePoint()
		}
	}
}
