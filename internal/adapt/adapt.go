// Package adapt learns the effective amount of one rate limit from the throttles a
// provider returns, with additive increase and multiplicative decrease (AIMD).
//
// A configured limit can be wrong: a new AWS account often gets less than the documented
// default, and a catalog default is only a guess. A Controller starts at the configured
// amount. Each throttle outside the hold period multiplies the effective amount by
// Config.Decrease; while calls succeed it grows back additively, in proportion to the time
// that passes, up to the configured amount — or, when the configured amount was a guess,
// up to Config.Cap. The caller applies the result to its limiter (for example with the
// quota engine's SetLimit).
//
// The package is pure: no goroutines, timers or clock reads. Every event carries its time
// as a now argument, so the controller is tested on simulated time.
package adapt

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// ErrInvalidConfig is matched (errors.Is) by every error New returns for a Config it
// cannot use.
var ErrInvalidConfig = errors.New("adapt: invalid config")

// The defaults that zero Config fields stand for.
const (
	// DefaultDecrease is the multiplicative factor applied on a throttle when
	// Config.Decrease is 0.
	DefaultDecrease = 0.7
	// DefaultIncrease is the additive growth per Per, as a fraction of the configured
	// amount, when Config.Increase is 0.
	DefaultIncrease = 0.1
	// DefaultCapFactor multiplies the configured amount to give the ceiling of a guessed
	// limit when Config.Cap is 0.
	DefaultCapFactor = 2
	// DefaultFloorDivisor divides the configured amount to give the floor when
	// Config.Floor is 0.
	DefaultFloorDivisor = 20
)

// Config describes one limit and how its effective amount adapts. Configured and Per are
// required; every other zero field takes the documented default.
type Config struct {
	// Configured is the limit's configured amount, in the limit's own unit (requests or
	// tokens per Per). It must be > 0. The controller starts there.
	Configured int64

	// Per is the limit's period. It must be > 0. Additive increase is paced in units of
	// Per: Increase × Configured is added per Per of successful traffic.
	Per time.Duration

	// Guess says Configured is a guess (a catalog default rather than a quota read from
	// the account or set by the user), so the effective amount may grow above it, up to Cap.
	// When false the ceiling is Configured.
	Guess bool

	// Cap is the ceiling when Guess is true, in the limit's unit. It must be ≥ Configured.
	// Zero means DefaultCapFactor × Configured. It is ignored when Guess is false.
	Cap int64

	// Decrease is the factor the effective amount is multiplied by on a throttle:
	// limit = max(Floor, round(limit × Decrease)). It must be in (0, 1). Zero means DefaultDecrease.
	Decrease float64

	// Increase is the additive growth per Per of successful traffic, as a fraction of
	// Configured: limit += Increase × Configured × elapsed / Per. It must be > 0 and finite.
	// Zero means DefaultIncrease (a tenth of Configured per Per).
	Increase float64

	// Floor is the lowest effective amount, in the limit's unit. It must be ≤ Configured.
	// Zero means Configured / DefaultFloorDivisor, at least 1.
	Floor int64

	// Hold is how long after a decrease further throttles do not decrease again — they are
	// the same overload still draining from the provider's window — and successes do not
	// grow the limit. It must not be negative. Zero means Per.
	Hold time.Duration

	// HoldDecrease is the factor each further throttle within Hold applies: throttles that
	// keep coming while the limit is held say the step was not enough. It must be in
	// (0, 1]. Zero means 1: throttles within Hold change nothing (the overload is assumed
	// to be still draining).
	HoldDecrease float64
	// Recovery is the growth per Per, as a fraction of Configured, while the limit is
	// below the knee: KneeFraction of the level the last throttle came at (the usage it
	// reported to ThrottledAt, or the limit before it). Below the knee the provider is
	// known to have admitted that much, so the limit climbs back fast; above it, it probes
	// at Increase. Zero means no fast recovery (Increase everywhere).
	Recovery float64
	// KneeFraction places the knee below the level of the last throttle. Zero means
	// DefaultKneeFraction. It must be in (0, 1].
	KneeFraction float64
}

// DefaultKneeFraction is Config.KneeFraction when zero: fast recovery stops 5% below the
// level where the provider last throttled.
const DefaultKneeFraction = 0.95

// State is a snapshot of a Controller, for logs and metrics.
type State struct {
	// Limit is the effective amount now, in the limit's unit.
	Limit int64
	// Configured is Config.Configured.
	Configured int64
	// Ceiling is the most Limit may grow to: Configured, or Cap when Config.Guess.
	Ceiling int64
	// Floor is the least Limit may fall to.
	Floor int64
	// LastDecrease is the time of the last throttle that decreased the limit (or would
	// have, had it not been at the floor); zero if none.
	LastDecrease time.Time
	// Decreases counts the throttles that started a decrease, including those clamped at
	// Floor; throttles within Hold are not counted.
	Decreases int
	// Throttles counts every throttle reported, including those within Hold.
	Throttles int
}

// Controller holds the effective amount of one limit, in the limit's unit per Per, and
// adapts it by AIMD: each throttle outside the hold period multiplies it by Decrease
// (Throttled), and successful traffic adds Increase × Configured per Per of elapsed time
// (Succeeded), always within [Floor, Ceiling]. The amount is kept fractional inside so
// that frequent small growth steps accumulate; Limit and the methods' results round it
// down to a whole unit.
//
// The zero Controller is not usable; build one with New. A Controller is safe for
// concurrent use.
type Controller struct {
	// Resolved configuration, immutable after New.
	configured int64
	per        time.Duration
	ceiling    int64
	floor      int64
	decrease   float64
	holdDecr   float64
	growth     float64 // Increase × Configured: units added per Per
	recovery   float64 // Recovery × Configured: units added per Per below the knee
	kneeFrac   float64
	hold       time.Duration

	mu           sync.Mutex
	amount       float64   // effective amount, kept fractional so that small growth steps accumulate
	knee         float64   // fast recovery below this amount (0: none yet)
	growthFrom   time.Time // growth is credited from here to the next success; zero before the first event
	lastDecrease time.Time
	decreases    int
	throttles    int
}

// New validates cfg, applies its defaults and returns a Controller whose effective amount
// is cfg.Configured. Errors wrap ErrInvalidConfig.
func New(cfg Config) (*Controller, error) {
	bad := func(format string, args ...any) (*Controller, error) {
		return nil, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	if cfg.Configured <= 0 {
		return bad("Configured must be > 0, got %d", cfg.Configured)
	}
	if cfg.Per <= 0 {
		return bad("Per must be > 0, got %v", cfg.Per)
	}
	ceiling := cfg.Configured
	if cfg.Guess {
		switch {
		case cfg.Cap == 0:
			if cfg.Configured > math.MaxInt64/DefaultCapFactor {
				return bad("Configured %d is too large to double for the default Cap", cfg.Configured)
			}
			ceiling = DefaultCapFactor * cfg.Configured
		case cfg.Cap < cfg.Configured:
			return bad("Cap %d must be ≥ Configured %d", cfg.Cap, cfg.Configured)
		default:
			ceiling = cfg.Cap
		}
	}
	decrease := cfg.Decrease
	if decrease == 0 {
		decrease = DefaultDecrease
	}
	if !(decrease > 0 && decrease < 1) { // also rejects NaN
		return bad("Decrease must be in (0, 1), got %v", cfg.Decrease)
	}
	holdDecr := cfg.HoldDecrease
	if holdDecr == 0 {
		holdDecr = 1
	}
	if !(holdDecr > 0 && holdDecr <= 1) {
		return bad("HoldDecrease must be in (0, 1], got %v", cfg.HoldDecrease)
	}
	increase := cfg.Increase
	if increase == 0 {
		increase = DefaultIncrease
	}
	if !(increase > 0) || math.IsInf(increase, 1) {
		return bad("Increase must be > 0 and finite, got %v", cfg.Increase)
	}
	floor := cfg.Floor
	switch {
	case floor < 0:
		return bad("Floor must not be negative, got %d", cfg.Floor)
	case floor == 0:
		floor = max(1, cfg.Configured/DefaultFloorDivisor)
	case floor > cfg.Configured:
		return bad("Floor %d must be ≤ Configured %d", cfg.Floor, cfg.Configured)
	}
	if !(cfg.Recovery >= 0) || math.IsInf(cfg.Recovery, 1) {
		return bad("Recovery must be ≥ 0 and finite, got %v", cfg.Recovery)
	}
	kneeFrac := cfg.KneeFraction
	if kneeFrac == 0 {
		kneeFrac = DefaultKneeFraction
	}
	if !(kneeFrac > 0 && kneeFrac <= 1) {
		return bad("KneeFraction must be in (0, 1], got %v", cfg.KneeFraction)
	}
	hold := cfg.Hold
	switch {
	case hold < 0:
		return bad("Hold must not be negative, got %v", cfg.Hold)
	case hold == 0:
		hold = cfg.Per
	}
	return &Controller{
		configured: cfg.Configured,
		per:        cfg.Per,
		ceiling:    ceiling,
		floor:      floor,
		decrease:   decrease,
		holdDecr:   holdDecr,
		growth:     increase * float64(cfg.Configured),
		recovery:   cfg.Recovery * float64(cfg.Configured),
		kneeFrac:   kneeFrac,
		hold:       hold,
		amount:     float64(cfg.Configured),
	}, nil
}

// Throttled records a throttle of this limit at now and returns the effective amount
// after it, and whether that amount changed.
//
// Outside the hold period it decreases multiplicatively,
//
//	limit = max(Floor, round(limit × Decrease)),
//
// and starts a new hold period at now. Within Hold of the last decrease (or at a now
// before it, as happens when goroutines report out of order) it changes nothing: that
// throttle is the same overload still draining.
func (c *Controller) Throttled(now time.Time) (limit int64, changed bool) {
	return c.ThrottledAt(now, math.MaxInt64)
}

// ThrottledAt is Throttled for a caller that knows its usage in the limit's window when
// the throttle came: the provider refused at that usage, so the effective amount is
// also lowered to it (never below Floor) — at once, even within Hold, where Throttled
// alone changes nothing. After the multiplicative step (outside Hold),
//
//	limit = max(Floor, min(limit, used))
//
// A throttle with used at or above the limit is just Throttled.
func (c *Controller) ThrottledAt(now time.Time, used int64) (limit int64, changed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.throttles++
	before := c.limit()
	c.knee = c.kneeFrac * float64(max(min(used, before), c.floor))
	if c.decreases == 0 || !now.Before(c.lastDecrease.Add(c.hold)) {
		c.amount = max(float64(c.floor), math.Round(float64(before)*c.decrease))
		c.lastDecrease = now
		c.decreases++
		c.growthFrom = now
	} else if c.holdDecr < 1 {
		c.amount = max(float64(c.floor), c.amount*c.holdDecr)
	}
	if u := float64(max(used, c.floor)); u < c.amount {
		c.amount = u
		c.growthFrom = now
	}
	after := c.limit()
	return after, after != before
}

// Succeeded records a call that succeeded at now and returns the effective amount after
// it, and whether that amount changed.
//
// The limit grows additively in proportion to the time since growth was last credited:
//
//	limit = min(Ceiling, limit + Increase × Configured × elapsed / Per),
//	elapsed = now − max(last success, last decrease + Hold), at most Per,
//
// so steady traffic adds Increase × Configured per Per — or Recovery × Configured per Per
// while the limit is below the knee (see Config.Recovery). Elapsed is capped at one Per
// because an idle gap is no evidence that more traffic would pass. The first event only
// starts the clock; nothing grows within Hold after a decrease, nor for a now earlier than
// one already seen.
func (c *Controller) Succeeded(now time.Time) (limit int64, changed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	before := c.limit()
	from := c.growthFrom
	if c.decreases > 0 {
		if end := c.lastDecrease.Add(c.hold); end.After(from) {
			from = end
		}
	}
	if c.growthFrom.IsZero() || !now.After(from) {
		if c.growthFrom.IsZero() || now.After(c.growthFrom) {
			c.growthFrom = now
		}
		return before, false
	}
	elapsed := float64(min(now.Sub(from), c.per)) / float64(c.per) // in Pers
	if c.recovery > c.growth && c.amount < c.knee {
		// Fast up to the knee, then at the probing rate for the rest of elapsed.
		fast := min(elapsed, (c.knee-c.amount)/c.recovery)
		c.amount += c.recovery * fast
		elapsed -= fast
	}
	c.amount = min(float64(c.ceiling), c.amount+c.growth*elapsed)
	c.growthFrom = now
	after := c.limit()
	return after, after != before
}

// Limit returns the effective amount now, in the limit's unit.
func (c *Controller) Limit() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.limit()
}

// State returns a snapshot of the controller.
func (c *Controller) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return State{
		Limit:        c.limit(),
		Configured:   c.configured,
		Ceiling:      c.ceiling,
		Floor:        c.floor,
		LastDecrease: c.lastDecrease,
		Decreases:    c.decreases,
		Throttles:    c.throttles,
	}
}

// limit is the effective amount rounded down to a whole unit. c.mu must be held.
func (c *Controller) limit() int64 { return int64(c.amount) }
