package quota

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
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

// String returns the dimension's name as ParseLimit reads it: "requests", "tokens",
// "input-tokens" or "output-tokens".
func (d Dimension) String() string {
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

// Get returns the cost's amount in dimension d, or 0 for an unknown dimension.
func (c Cost) Get(d Dimension) int64 {
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

// Add returns c + o, dimension by dimension.
func (c Cost) Add(o Cost) Cost {
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
	// lets through beyond Sliding. ParseLimit reads it as a trailing "bucket".
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
	// throttles, so use it only for a provider known to count clock minutes. ParseLimit
	// reads a trailing "clock".
	ClockWindow
)

// String returns "sliding", "bucket" or "clock".
func (m Meter) String() string {
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

// Validate reports what is wrong with l, if anything, and how to fix it.
func (l Limit) Validate() error {
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

// String formats l the way ParseLimit reads it, e.g. "400000 tokens/1m" or "50 requests/1m"
// ("400000 tokens/1m bucket" for a TokenBucket limit).
func (l Limit) String() string {
	s := strconv.FormatInt(l.Amount, 10) + " " + l.Dimension.String() + "/" + formatPer(l.Per)
	if l.Meter != Sliding {
		s += " " + l.Meter.String()
	}
	return s
}

// MarshalText implements encoding.TextMarshaler with the String form.
func (l Limit) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseLimit.
func (l *Limit) UnmarshalText(b []byte) error {
	v, err := ParseLimit(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
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

var perWords = map[string]time.Duration{
	"s": time.Second, "sec": time.Second, "second": time.Second,
	"m": time.Minute, "min": time.Minute, "minute": time.Minute,
	"h": time.Hour, "hr": time.Hour, "hour": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour,
}

var dimensionWords = map[string]Dimension{
	"requests": Requests, "request": Requests, "req": Requests, "calls": Requests,
	"tokens": Tokens, "token": Tokens, "tok": Tokens,
	"input-tokens": InputTokens, "input_tokens": InputTokens, "input": InputTokens,
	"output-tokens": OutputTokens, "output_tokens": OutputTokens, "output": OutputTokens,
}

// ParseLimit reads a limit written as "AMOUNT DIMENSION/PER", the form Limit.String
// produces and command-line flags and configuration files use:
//
//	400000 tokens/1m       400k tokens/min      576M tokens/day
//	50 requests/1m         2000 output-tokens/10s
//
// AMOUNT is a positive integer with an optional k, M or G suffix (×1e3, ×1e6, ×1e9) and
// optional '_' or ',' separators. DIMENSION is requests, tokens, input-tokens or
// output-tokens. PER is a Go duration ("1m", "90s", "24h") or one of s, sec, second,
// m, min, minute, h, hour, d, day, optionally preceded by a count ("5min"). A trailing
// "bucket" ("200000 tokens/1m bucket") meters the limit as a TokenBucket, a trailing
// "clock" as a ClockWindow.
func ParseLimit(s string) (Limit, error) {
	const form = `write it as "AMOUNT DIMENSION/PER", e.g. "400000 tokens/1m"`
	in := strings.TrimSpace(s)
	amountText, rest, ok := strings.Cut(in, " ")
	if !ok {
		return Limit{}, fmt.Errorf("quota: limit %q has no dimension: %s", s, form)
	}
	dimText, perText, ok := strings.Cut(strings.TrimSpace(rest), "/")
	if !ok {
		return Limit{}, fmt.Errorf("quota: limit %q has no period after '/': %s", s, form)
	}
	amount, err := parseAmount(amountText)
	if err != nil {
		return Limit{}, fmt.Errorf("quota: limit %q: %w; %s", s, err, form)
	}
	dim, ok := dimensionWords[strings.ToLower(strings.TrimSpace(dimText))]
	if !ok {
		return Limit{}, fmt.Errorf("quota: limit %q has unknown dimension %q: use requests, tokens, input-tokens or output-tokens", s, strings.TrimSpace(dimText))
	}
	perText = strings.TrimSpace(perText)
	meter := Sliding
	if p, m, ok := strings.Cut(perText, " "); ok {
		switch strings.ToLower(strings.TrimSpace(m)) {
		case "bucket":
			meter = TokenBucket
		case "clock":
			meter = ClockWindow
		case "sliding":
		default:
			return Limit{}, fmt.Errorf("quota: limit %q: unknown meter %q after the period: write \"bucket\" (token bucket), \"clock\" (clock windows) or nothing (sliding window)", s, strings.TrimSpace(m))
		}
		perText = strings.TrimSpace(p)
	}
	per, err := parsePer(perText)
	if err != nil {
		return Limit{}, fmt.Errorf("quota: limit %q: %w", s, err)
	}
	l := Limit{Dimension: dim, Amount: amount, Per: per, Meter: meter}
	if err := l.Validate(); err != nil {
		return Limit{}, err
	}
	return l, nil
}

var errAmountRange = errors.New("amount out of range")

// parseAmount reads a positive integer with an optional k/M/G suffix.
func parseAmount(s string) (int64, error) {
	t := strings.NewReplacer("_", "", ",", "").Replace(s)
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k', 'K':
			mult, t = 1e3, t[:n-1]
		case 'M':
			mult, t = 1e6, t[:n-1]
		case 'G':
			mult, t = 1e9, t[:n-1]
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("amount %q is not a positive integer", s)
	}
	if v > math.MaxInt64/mult {
		return 0, errAmountRange
	}
	return v * mult, nil
}

// parsePer reads a window length: a Go duration, or a unit word with an optional count.
func parsePer(s string) (time.Duration, error) {
	if d, ok := perWords[strings.ToLower(s)]; ok {
		return d, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i > 0 && i < len(s) {
		n, err := strconv.ParseInt(s[:i], 10, 64)
		unit, ok := perWords[strings.ToLower(s[i:])]
		if err == nil && ok && n > 0 && n <= int64(math.MaxInt64/unit) {
			return time.Duration(n) * unit, nil
		}
	}
	return 0, fmt.Errorf("period %q is not a duration: use e.g. 1m, 24h, min or day", s)
}
