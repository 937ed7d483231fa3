package quota

import (
	"fmt"
	"strconv"
	"time"
)

// A Dimension is one quantity a call uses and a provider meters: requests, quota tokens,
// input tokens or output tokens.
type Dimension uint8

// The dimensions a Limit can meter. Their order is the order of Cost's fields.
const (
	// Requests counts calls; a call's Cost normally has Requests = 1.
	Requests Dimension = iota
	// Tokens counts quota tokens: input plus output after the provider's burndown
	// (for Bedrock: input + cache writes + output × burndown). Bedrock's TPM and TPD meter this.
	Tokens
	// InputTokens counts prompt tokens alone, for providers with a separate input quota.
	InputTokens
	// OutputTokens counts generated tokens alone, for providers with a separate output quota.
	OutputTokens

	numDimensions = 4
)

var dimensionNames = [numDimensions]string{"requests", "tokens", "input-tokens", "output-tokens"}

// name returns the dimension's name as limits are written: "requests", "tokens",
// "input-tokens" or "output-tokens".
func (d Dimension) name() string {
	if int(d) < len(dimensionNames) {
		return dimensionNames[d]
	}
	return "dimension(" + strconv.Itoa(int(d)) + ")"
}

// valid reports whether d is one of the defined dimensions.
func (d Dimension) valid() bool { return d < numDimensions }

// Cost is what one call uses in each dimension. It is both what a call reserves when it
// is admitted and, passed to Reservation.Settle, what it really used. Amounts are counts
// (calls, tokens) and are never negative. The zero Cost uses nothing.
type Cost struct {
	Requests     int64 // calls; normally 1
	Tokens       int64 // quota tokens (input + cache writes + output × burndown)
	InputTokens  int64 // prompt tokens
	OutputTokens int64 // generated tokens
}

// get returns the cost's amount in dimension d, or 0 for an unknown dimension.
func (c Cost) get(d Dimension) int64 {
	switch d {
	case Requests:
		return c.Requests
	case Tokens:
		return c.Tokens
	case InputTokens:
		return c.InputTokens
	case OutputTokens:
		return c.OutputTokens
	}
	return 0
}

// add returns c + o, dimension by dimension.
func (c Cost) add(o Cost) Cost {
	return Cost{c.Requests + o.Requests, c.Tokens + o.Tokens, c.InputTokens + o.InputTokens, c.OutputTokens + o.OutputTokens}
}

// validate reports a negative amount.
func (c Cost) validate() error {
	if c.Requests < 0 || c.Tokens < 0 || c.InputTokens < 0 || c.OutputTokens < 0 {
		return fmt.Errorf("quota: negative cost %+v: every amount must be zero or more", c)
	}
	return nil
}

// A Limit caps the usage of one dimension over any trailing period: whatever interval of
// length Per one looks at, the usage admitted in it (after settlements) is at most Amount.
// "400000 tokens per minute" is Limit{Dimension: Tokens, Amount: 400000, Per: time.Minute}.
//
// That is the Sliding meter, the default; a limit metered as a TokenBucket or a
// ClockWindow admits what a token-bucket or a clock-minute provider does instead (see
// Meter).
//
// A Limiter may hold several limits on one dimension (tokens per minute and tokens per day),
// but at most one per (Dimension, Per) pair; that pair identifies the limit to SetLimit.
type Limit struct {
	Dimension Dimension
	// Meter is how usage is counted against Amount; the zero value is Sliding.
	Meter Meter
	// Amount is the most the dimension may use in any interval of length Per. It must
	// be positive.
	Amount int64
	// Per is the length of the trailing window, at least a millisecond.
	Per time.Duration
}

// Meter is how a Limit counts usage: the reading of the provider's quota it enforces.
type Meter uint8

const (
	// Sliding counts usage over every trailing Per: at most Amount in any interval of
	// that length. It keeps the sums of 200 sub-windows of Per/200 and counts the last
	// 201, which errs on the safe side by at most 0.5% of the limit's throughput. It is safe whether the provider counts clock minutes, a rolling
	// window or a token bucket, and it is the default: Bedrock does not document which
	// it does.
	Sliding Meter = iota
	// TokenBucket counts usage as a bucket of Amount, full at first, that refills at
	// Amount per Per: a cost is admitted while the bucket holds it, settlements give back
	// what was not used (never above Amount) and take any excess. It admits what a
	// token-bucket provider admits — up to Amount more than Sliding in a Per that
	// follows a quiet one — and no more, so use it only for a provider known to meter
	// that way: a provider counting clock minutes or a rolling window throttles what it
	// lets through beyond Sliding. It is written as a trailing "bucket".
	TokenBucket
	// ClockWindow counts usage in consecutive windows of Per aligned on the Unix epoch
	// (UTC minutes for a minute, UTC days for a day), as a provider counting clock
	// minutes does: a cost is admitted while the current window's usage plus the cost is
	// at most Amount; a refund goes back while the window it was charged in lasts, an
	// excess lands in the current one. A call still in flight when a window closes may
	// charge its excess to the next, so each new window starts holding the reservations
	// still open (each replaced by its excess when it settles). Nothing is admitted in the
	// first or the last Per/200 of a window (300 ms of a minute): a margin for the time
	// between admission here and metering there and for clock skew. It admits a fresh
	// Amount at every boundary, which a rolling-window or token-bucket provider
	// throttles, so use it only for a provider known to count clock minutes. It is written
	// as a trailing "clock".
	ClockWindow
)

// name returns "sliding", "bucket" or "clock".
func (m Meter) name() string {
	switch m {
	case Sliding:
		return "sliding"
	case TokenBucket:
		return "bucket"
	case ClockWindow:
		return "clock"
	}
	return "Meter(" + strconv.Itoa(int(m)) + ")"
}

// minPer is the shortest window a Limit may have.
const minPer = time.Millisecond

// validate reports what is wrong with l, if anything, and how to fix it.
func (l Limit) validate() error {
	switch {
	case !l.Dimension.valid():
		return fmt.Errorf("quota: limit has unknown dimension %d: use Requests, Tokens, InputTokens or OutputTokens", l.Dimension)
	case l.Amount <= 0:
		return fmt.Errorf("quota: limit %q has amount %d: the amount must be positive", l.String(), l.Amount)
	case l.Per < minPer:
		return fmt.Errorf("quota: limit %q has period %v: the period must be at least %v", l.String(), l.Per, minPer)
	case l.Meter > ClockWindow:
		return fmt.Errorf("quota: limit %q has unknown meter %d: use Sliding, TokenBucket or ClockWindow", l.String(), l.Meter)
	}
	return nil
}

// String formats l the way command-line flags and configuration files write a limit,
// e.g. "400000 tokens/1m" or "50 requests/1m" ("400000 tokens/1m bucket" for a
// TokenBucket limit, "… clock" for a ClockWindow one).
func (l Limit) String() string {
	s := strconv.FormatInt(l.Amount, 10) + " " + l.Dimension.name() + "/" + formatPer(l.Per)
	if l.Meter != Sliding {
		s += " " + l.Meter.name()
	}
	return s
}

// formatPer writes a period compactly: whole days as "24h", minutes as "1m", else Go syntax.
func formatPer(d time.Duration) string {
	switch {
	case d > 0 && d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d > 0 && d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return d.String()
}
