// Package reply is the emulator's default reply-length rule, shared by bedrocktest, which
// draws reply lengths from it, and analyze, which assumes its mean for requests whose
// output length is unknown.
package reply

// Mean is the mean reply length for a prompt of inputTokens tokens: 64 + input/4, at most
// 1,024.
func Mean(inputTokens int) int { return min(64+inputTokens/4, 1024) }

// Tokens is the default reply length: deterministic in seed (a hash of the prompt),
// uniform between 0.5× and 1.5× of Mean, at least 1. max_tokens clamps it afterwards.
func Tokens(inputTokens int, seed uint64) int {
	u := float64(seed>>11) / (1 << 53) // [0,1)
	return max(1, int(float64(Mean(inputTokens))*(0.5+u)))
}
