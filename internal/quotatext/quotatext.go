// Package quotatext reads quota limits and priorities as command-line flags and
// configuration files write them ("400k tokens/min", "high"), writes limits back (for
// JSON reports), and names dimensions, meters and priority classes for labels and
// messages: what the CLI, the configuration parsers and the reports need of quota's
// types beyond the admission API.
package quotatext

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/quota"
)

// Validate reports what is wrong with l, if anything, and how to fix it: the check
// quota.New makes of every limit.
func Validate(l quota.Limit) error {
	_, err := quota.New(quota.Config{Limits: []quota.Limit{l}})
	return err
}

// Limit is a quota.Limit read and written as text (ParseLimit, quota.Limit.String), for
// configuration files and JSON reports.
type Limit quota.Limit

// MarshalText implements encoding.TextMarshaler with quota.Limit.String.
func (l Limit) MarshalText() ([]byte, error) { return []byte(quota.Limit(l).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseLimit.
func (l *Limit) UnmarshalText(b []byte) error {
	v, err := ParseLimit(string(b))
	if err != nil {
		return err
	}
	*l = Limit(v)
	return nil
}

// Limits converts ls to quota.Limits.
func Limits(ls []Limit) []quota.Limit {
	if ls == nil {
		return nil
	}
	out := make([]quota.Limit, len(ls))
	for i, l := range ls {
		out[i] = quota.Limit(l)
	}
	return out
}

// Texts converts ls to Limits that marshal as text.
func Texts(ls []quota.Limit) []Limit {
	if ls == nil {
		return nil
	}
	out := make([]Limit, len(ls))
	for i, l := range ls {
		out[i] = Limit(l)
	}
	return out
}

var perWords = map[string]time.Duration{
	"s": time.Second, "sec": time.Second, "second": time.Second,
	"m": time.Minute, "min": time.Minute, "minute": time.Minute,
	"h": time.Hour, "hr": time.Hour, "hour": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour,
}

var dimensionWords = map[string]quota.Dimension{
	"requests": quota.Requests, "request": quota.Requests, "req": quota.Requests, "calls": quota.Requests,
	"tokens": quota.Tokens, "token": quota.Tokens, "tok": quota.Tokens,
	"input-tokens": quota.InputTokens, "input_tokens": quota.InputTokens, "input": quota.InputTokens,
	"output-tokens": quota.OutputTokens, "output_tokens": quota.OutputTokens, "output": quota.OutputTokens,
}

// ParseLimit reads a limit written as "AMOUNT DIMENSION/PER", the form quota.Limit.String
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
func ParseLimit(s string) (quota.Limit, error) {
	const form = `write it as "AMOUNT DIMENSION/PER", e.g. "400000 tokens/1m"`
	in := strings.TrimSpace(s)
	amountText, rest, ok := strings.Cut(in, " ")
	if !ok {
		return quota.Limit{}, fmt.Errorf("quota: limit %q has no dimension: %s", s, form)
	}
	dimText, perText, ok := strings.Cut(strings.TrimSpace(rest), "/")
	if !ok {
		return quota.Limit{}, fmt.Errorf("quota: limit %q has no period after '/': %s", s, form)
	}
	amount, err := parseAmount(amountText)
	if err != nil {
		return quota.Limit{}, fmt.Errorf("quota: limit %q: %w; %s", s, err, form)
	}
	dim, ok := dimensionWords[strings.ToLower(strings.TrimSpace(dimText))]
	if !ok {
		return quota.Limit{}, fmt.Errorf("quota: limit %q has unknown dimension %q: use requests, tokens, input-tokens or output-tokens", s, strings.TrimSpace(dimText))
	}
	perText = strings.TrimSpace(perText)
	meter := quota.Sliding
	if p, m, ok := strings.Cut(perText, " "); ok {
		switch strings.ToLower(strings.TrimSpace(m)) {
		case "bucket":
			meter = quota.TokenBucket
		case "clock":
			meter = quota.ClockWindow
		case "sliding":
		default:
			return quota.Limit{}, fmt.Errorf("quota: limit %q: unknown meter %q after the period: write \"bucket\" (token bucket), \"clock\" (clock windows) or nothing (sliding window)", s, strings.TrimSpace(m))
		}
		perText = strings.TrimSpace(p)
	}
	per, err := parsePer(perText)
	if err != nil {
		return quota.Limit{}, fmt.Errorf("quota: limit %q: %w", s, err)
	}
	l := quota.Limit{Dimension: dim, Amount: amount, Per: per, Meter: meter}
	if err := Validate(l); err != nil {
		return quota.Limit{}, err
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

// ParsePriority reads a class name as quota.Priority.String writes it (case-insensitive).
func ParsePriority(s string) (quota.Priority, error) {
	for _, p := range Priorities {
		if strings.EqualFold(strings.TrimSpace(s), p.String()) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("quota: unknown priority %q: use critical, high, normal, low or background", s)
}

// Priorities lists the classes from highest to lowest, the order of
// quota.Limiter.Usage's queue lengths.
var Priorities = [5]quota.Priority{quota.Critical, quota.High, quota.Normal, quota.Low, quota.Background}

// DimensionName returns the name limits are written with: "requests", "tokens",
// "input-tokens" or "output-tokens".
func DimensionName(d quota.Dimension) string {
	switch d {
	case quota.Requests:
		return "requests"
	case quota.Tokens:
		return "tokens"
	case quota.InputTokens:
		return "input-tokens"
	case quota.OutputTokens:
		return "output-tokens"
	}
	return "dimension(" + strconv.Itoa(int(d)) + ")"
}

// MeterName returns the name a meter is written with: "sliding", "bucket" or "clock".
func MeterName(m quota.Meter) string {
	switch m {
	case quota.Sliding:
		return "sliding"
	case quota.TokenBucket:
		return "bucket"
	case quota.ClockWindow:
		return "clock"
	}
	return "meter(" + strconv.Itoa(int(m)) + ")"
}

// ParseWindow reads how an emulated provider meters its quotas, as the CLI, the bench
// and the emulator's configuration write it: "bucket" (also "token-bucket") or "clock"
// (also "clock-minute").
func ParseWindow(s string) (quota.Meter, error) {
	switch s {
	case "bucket", "token-bucket":
		return quota.TokenBucket, nil
	case "clock", "clock-minute":
		return quota.ClockWindow, nil
	}
	return 0, fmt.Errorf("unknown window mode %q: use \"bucket\" (token bucket) or \"clock\" (clock-minute windows)", s)
}
