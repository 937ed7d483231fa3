// Package estimate predicts what a Bedrock call will cost before it is sent: its input
// tokens, the output it is likely to produce, and the quota.Cost to reserve and to settle.
//
// Input tokens come from an offline BPE tokenizer (Base, cl100k_base, embedded in the
// binary) applied to every part of a request — system prompts, messages, documents, tool
// specifications — plus Anthropic's size formula for images, then corrected per model by a
// Calibrator that learns the ratio between Bedrock's reported input tokens and the base
// count (a half-life moving average). An OutputPredictor learns a streaming quantile of the
// output length per task, to right-size max_tokens. The cost model (ReserveCost,
// SettleCost) turns both into what Bedrock reserves when a call starts and charges when it
// ends.
//
// The package imports neither the AWS SDK, nor go-redis, nor Prometheus: requests are
// described with its own neutral types (Request), and package estimate/converse converts
// a *bedrockruntime.ConverseInput into them. See docs/estimation.md for the formulas,
// their sources and the measured accuracy.
package estimate
