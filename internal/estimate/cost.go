package estimate

import (
	"fmt"
	"math"

	"github.com/tollgate-dev/tollgate/quota"
)

// ModelParams are the facts about a model the cost model needs. They mirror
// catalog.Model field for field: OutputBurndown ← Model.OutputBurndown, DefaultMaxTokens ←
// Model.DefaultMaxTokens, MaxOutputTokens ← Model.MaxOutputTokens; ReserveWithBurndown is a
// Tollgate setting, not a model fact (Bedrock does not document it). The zero value is a
// model with burndown 1 and no known output limit.
type ModelParams struct {
	// OutputBurndown is how many quota tokens one output token consumes: 5 for Anthropic
	// Claude 3.7 and 4.x, 1 for others. Zero means 1; negative is an error.
	OutputBurndown float64
	// DefaultMaxTokens is the max_tokens Bedrock applies and reserves when a request leaves
	// it unset. Zero means MaxOutputTokens.
	DefaultMaxTokens int
	// MaxOutputTokens is the largest max_tokens the model accepts. Zero means unknown: an
	// unset max_tokens is then an error, since its reservation cannot be known.
	MaxOutputTokens int
	// ReserveWithBurndown multiplies the reserved max_tokens by OutputBurndown. Whether
	// Bedrock does so is not documented; reserving with it is the safe reading.
	ReserveWithBurndown bool
}

// Usage is the token usage of one call, as Bedrock reports it (Converse usage,
// InvokeModel headers, the last event of a stream).
type Usage struct {
	InputTokens      int // inputTokens: prompt tokens neither read from nor written to the cache
	OutputTokens     int // outputTokens
	CacheReadTokens  int // cacheReadInputTokens
	CacheWriteTokens int // cacheWriteInputTokens
}

func (m ModelParams) burndown() float64 {
	if m.OutputBurndown == 0 {
		return 1
	}
	return m.OutputBurndown
}

func (m ModelParams) validate() error {
	if m.OutputBurndown < 0 || math.IsNaN(m.OutputBurndown) || math.IsInf(m.OutputBurndown, 0) {
		return fmt.Errorf("estimate: output burndown %v: must be positive (5 for Claude 3.7/4.x, 1 for others)", m.OutputBurndown)
	}
	if m.DefaultMaxTokens < 0 || m.MaxOutputTokens < 0 {
		return fmt.Errorf("estimate: model output limits %d/%d: must be 0 (unknown) or positive", m.DefaultMaxTokens, m.MaxOutputTokens)
	}
	return nil
}

// MaxTokens returns the max_tokens a request really gets: requested when set (positive),
// else the model's DefaultMaxTokens, else its MaxOutputTokens. It is an error when
// requested is negative or above MaxOutputTokens (Bedrock rejects such a call), or when it
// is unset and the model's limits are unknown.
func (m ModelParams) MaxTokens(requested int) (int, error) {
	switch {
	case requested < 0:
		return 0, fmt.Errorf("estimate: max_tokens %d is negative: leave it 0 (unset) or give a positive cap", requested)
	case m.MaxOutputTokens > 0 && requested > m.MaxOutputTokens:
		return 0, fmt.Errorf("estimate: max_tokens %d exceeds the model's maximum output of %d tokens: lower it", requested, m.MaxOutputTokens)
	case requested > 0:
		return requested, nil
	case m.DefaultMaxTokens > 0:
		return m.DefaultMaxTokens, nil
	case m.MaxOutputTokens > 0:
		return m.MaxOutputTokens, nil
	}
	return 0, fmt.Errorf("estimate: max_tokens is unset and the model's maximum output is unknown: set max_tokens or the model's max output tokens")
}

// ReserveCost returns what Bedrock reserves when a call starts, and so what Tollgate must
// reserve before sending it:
//
//	Tokens       = input + cacheRead + cacheWrite + maxTokens × (burndown if ReserveWithBurndown, else 1)
//	InputTokens  = input + cacheRead + cacheWrite
//	OutputTokens = maxTokens
//	Requests     = 1
//
// where maxTokens is m.MaxTokens(requestedMaxTokens) (the model's default when unset: the
// most common cause of surprise throttles) and in holds the input estimate split as the
// service will count it (for a request with no cache point, all of it in InputTokens).
// Quota tokens are rounded up.
func ReserveCost(m ModelParams, in Usage, requestedMaxTokens int) (quota.Cost, error) {
	if err := m.validate(); err != nil {
		return quota.Cost{}, err
	}
	if err := in.validate(); err != nil {
		return quota.Cost{}, err
	}
	maxTokens, err := m.MaxTokens(requestedMaxTokens)
	if err != nil {
		return quota.Cost{}, err
	}
	input := int64(in.InputTokens) + int64(in.CacheReadTokens) + int64(in.CacheWriteTokens)
	out := float64(maxTokens)
	if m.ReserveWithBurndown {
		out *= m.burndown()
	}
	return quota.Cost{
		Requests:     1,
		Tokens:       input + int64(math.Ceil(out)),
		InputTokens:  input,
		OutputTokens: int64(maxTokens),
	}, nil
}

// SettleCost returns what Bedrock charges for a finished call with usage u:
//
//	Tokens       = input + cacheWrite + output × burndown
//	InputTokens  = input + cacheWrite
//	OutputTokens = output
//	Requests     = 1
//
// Cache reads are reserved but not charged. Quota tokens are rounded up. Negative usage is
// an error.
func SettleCost(m ModelParams, u Usage) (quota.Cost, error) {
	if err := m.validate(); err != nil {
		return quota.Cost{}, err
	}
	if err := u.validate(); err != nil {
		return quota.Cost{}, err
	}
	input := int64(u.InputTokens) + int64(u.CacheWriteTokens)
	return quota.Cost{
		Requests:     1,
		Tokens:       input + int64(math.Ceil(float64(u.OutputTokens)*m.burndown())),
		InputTokens:  input,
		OutputTokens: int64(u.OutputTokens),
	}, nil
}

func (u Usage) validate() error {
	if u.InputTokens < 0 || u.OutputTokens < 0 || u.CacheReadTokens < 0 || u.CacheWriteTokens < 0 {
		return fmt.Errorf("estimate: negative usage %+v: token counts must be zero or more", u)
	}
	return nil
}

// Reserve estimates r's input for model and returns what to reserve for the call,
// ReserveCost(m, Usage{InputTokens: in.Tokens}, r.MaxTokens), together with the estimate
// itself, which Observe takes back when the call settles. (Cache reads and writes are
// reserved like plain input, so the estimate need not be split.)
func (e *Estimator) Reserve(model string, m ModelParams, r *Request) (quota.Cost, Input, error) {
	in := e.Input(model, r)
	c, err := ReserveCost(m, Usage{InputTokens: in.Tokens}, r.MaxTokens)
	return c, in, err
}
