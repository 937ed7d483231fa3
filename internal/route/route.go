// Package route picks, for each call, one target among several — regions, inference
// profiles, accounts — each with its own quotas, and keeps a circuit breaker per target.
//
// A call goes to the target whose quota forecast admits it soonest, ties broken by the
// configured preference and then by the order of the targets. A target that fails
// repeatedly (5xx, connection errors) is taken out by its breaker for a while and then
// probed with a single call; a target that throttles is avoided for a short cool-down, and
// its effective limit is lowered by the adaptive controller (internal/adapt), which the
// caller's forecast then reflects.
//
// The package is pure: no goroutines, timers or clock reads. Every event carries its time
// as a now argument, so the router is tested on simulated time.
package route

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrInvalidConfig is matched (errors.Is) by every error New returns for targets or a
// Config it cannot use.
var ErrInvalidConfig = errors.New("route: invalid config")

// The defaults that zero Config fields stand for.
const (
	// DefaultFailureThreshold is Config.FailureThreshold's default.
	DefaultFailureThreshold = 5
	// DefaultOpenFor is Config.OpenFor's default.
	DefaultOpenFor = 30 * time.Second
	// DefaultMaxOpenFor is Config.MaxOpenFor's default (raised to OpenFor if that is longer).
	DefaultMaxOpenFor = 5 * time.Minute
	// DefaultThrottleCoolDown is Config.ThrottleCoolDown's default.
	DefaultThrottleCoolDown = time.Second
)

// The states a target's breaker can be in, as TargetState.Breaker reports them.
const (
	// BreakerClosed admits calls; consecutive failures are counted.
	BreakerClosed = "closed"
	// BreakerOpen refuses calls until OpenUntil.
	BreakerOpen = "open"
	// BreakerHalfOpen admits one probe call at a time; its outcome closes or re-opens the
	// breaker.
	BreakerHalfOpen = "half-open"
)

// Config tunes the circuit breakers and the throttle cool-down. The zero Config uses the
// defaults given for each field.
type Config struct {
	// FailureThreshold is how many consecutive failures (Router.Failure, with no
	// Router.Success between them) open a target's breaker. It must not be negative.
	// Zero means DefaultFailureThreshold (5).
	FailureThreshold int

	// OpenFor is how long a breaker refuses calls after it opens. When the probe sent after
	// that fails, the breaker re-opens for twice as long as the last time, up to MaxOpenFor;
	// a successful probe resets it to OpenFor. It must not be negative. Zero means
	// DefaultOpenFor (30s).
	OpenFor time.Duration

	// MaxOpenFor bounds the doubling of OpenFor. It must not be negative nor, when set,
	// less than OpenFor. Zero means DefaultMaxOpenFor (5m), or OpenFor if that is longer.
	MaxOpenFor time.Duration

	// ProbeTimeout is how long a half-open breaker waits for the outcome of its probe
	// before it admits another one, in case the caller never reported it. It must not be
	// negative. Zero means MaxOpenFor (after its default).
	ProbeTimeout time.Duration

	// ThrottleCoolDown is how long a target is avoided after Router.Throttled: until then
	// Pick treats its wait as at least the cool-down left, so another target that can
	// admit the call sooner is preferred, while the throttled one stays available when it is
	// still the soonest. Zero means DefaultThrottleCoolDown (1s); a negative value disables
	// the cool-down.
	ThrottleCoolDown time.Duration
}

// Target is one place a call can go.
type Target struct {
	// Name identifies the target in logs and metrics, for example
	// "us-east-1/us.anthropic.claude-sonnet-4-20250514-v1:0". Names must be non-empty
	// and unique within a Router.
	Name string
	// Preference orders targets whose waits are equal: lower is preferred. Targets with
	// equal Preference are ordered by their index.
	Preference int
}

// TargetState is a snapshot of one target, for logs and metrics.
type TargetState struct {
	// Name is the Target's Name.
	Name string
	// Preference is the Target's Preference.
	Preference int
	// Breaker is BreakerClosed, BreakerOpen or BreakerHalfOpen. A breaker is reported
	// open until Pick finds its OpenUntil passed and moves it to half-open.
	Breaker string
	// ConsecutiveFailures counts failures since the last success.
	ConsecutiveFailures int
	// OpenUntil is when an open breaker half-opens; zero when the breaker has never opened.
	OpenUntil time.Time
	// ProbeInFlight says a half-open breaker has admitted its probe and awaits its outcome.
	ProbeInFlight bool
	// Throttles counts Router.Throttled calls for this target.
	Throttles int
	// CoolUntil is when the throttle cool-down ends; zero or past when there is none.
	CoolUntil time.Time
}

// breaker is the state of one target's circuit breaker.
type breaker uint8

const (
	closed breaker = iota
	open
	halfOpen
)

func (b breaker) String() string {
	switch b {
	case open:
		return BreakerOpen
	case halfOpen:
		return BreakerHalfOpen
	default:
		return BreakerClosed
	}
}

// target is a Target with its breaker state. Router.mu guards every field but Target.
type target struct {
	Target
	breaker    breaker
	failures   int           // consecutive failures
	openFor    time.Duration // how long the breaker opened for the last time; 0 before it has
	openUntil  time.Time
	probing    bool      // half-open with its probe in flight
	probeStart time.Time // when the probe in flight was picked
	throttles  int
	coolUntil  time.Time
}

// Router picks targets and keeps their breakers. The zero Router is not usable; build one
// with New. A Router is safe for concurrent use.
//
// Every call Pick returns should be reported exactly once, with Success, Failure,
// Throttled or Cancel, so that a breaker's probe ends.
type Router struct {
	settings // immutable after New

	mu      sync.Mutex
	targets []target
}

// settings is a Config with its defaults applied.
type settings struct {
	threshold    int
	openFor      time.Duration
	maxOpenFor   time.Duration
	probeTimeout time.Duration
	coolDown     time.Duration // ≤ 0: no cool-down
}

// New validates targets and cfg, applies cfg's defaults and returns a Router with every
// breaker closed. Errors wrap ErrInvalidConfig.
func New(targets []Target, cfg Config) (*Router, error) {
	bad := func(format string, args ...any) (*Router, error) {
		return nil, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	if len(targets) == 0 {
		return bad("no targets")
	}
	seen := make(map[string]int, len(targets))
	for i, t := range targets {
		if t.Name == "" {
			return bad("target %d has no name", i)
		}
		if j, dup := seen[t.Name]; dup {
			return bad("targets %d and %d are both named %q", j, i, t.Name)
		}
		seen[t.Name] = i
	}
	if cfg.FailureThreshold < 0 {
		return bad("FailureThreshold must not be negative, got %d", cfg.FailureThreshold)
	}
	if cfg.OpenFor < 0 || cfg.MaxOpenFor < 0 || cfg.ProbeTimeout < 0 {
		return bad("OpenFor, MaxOpenFor and ProbeTimeout must not be negative, got %v, %v and %v",
			cfg.OpenFor, cfg.MaxOpenFor, cfg.ProbeTimeout)
	}
	r := &Router{settings: settings{
		threshold:    cmpOr(cfg.FailureThreshold, DefaultFailureThreshold),
		openFor:      cmpOr(cfg.OpenFor, DefaultOpenFor),
		maxOpenFor:   cfg.MaxOpenFor,
		probeTimeout: cfg.ProbeTimeout,
		coolDown:     cmpOr(cfg.ThrottleCoolDown, DefaultThrottleCoolDown),
	}}
	switch {
	case r.maxOpenFor == 0:
		r.maxOpenFor = max(DefaultMaxOpenFor, r.openFor)
	case r.maxOpenFor < r.openFor:
		return bad("MaxOpenFor %v must not be less than OpenFor %v", cfg.MaxOpenFor, r.openFor)
	}
	r.probeTimeout = cmpOr(r.probeTimeout, r.maxOpenFor)
	r.targets = make([]target, len(targets))
	for i, t := range targets {
		r.targets[i] = target{Target: t}
	}
	return r, nil
}

// cmpOr returns v, or def when v is zero.
func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Len returns the number of targets.
func (r *Router) Len() int { return len(r.targets) }

// Targets returns a snapshot of every target, in the order given to New.
func (r *Router) Targets() []TargetState {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]TargetState, len(r.targets))
	for i := range r.targets {
		t := &r.targets[i]
		out[i] = TargetState{
			Name:                t.Name,
			Preference:          t.Preference,
			Breaker:             t.breaker.String(),
			ConsecutiveFailures: t.failures,
			OpenUntil:           t.openUntil,
			ProbeInFlight:       t.probing,
			Throttles:           t.throttles,
			CoolUntil:           t.coolUntil,
		}
	}
	return out
}
