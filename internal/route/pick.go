package route

import (
	"fmt"
	"slices"
	"time"
)

// Pick returns the index of the target to use now.
//
// The candidates are the targets not listed in exclude whose breaker admits a call at now:
// closed, or half-open with no probe in flight (an open breaker whose OpenUntil has passed
// becomes half-open here). Pick calls wait(i) once for each candidate — the caller's
// forecast of how long a call would queue for target i's quota — without holding the
// Router's lock, and returns the candidate with the least
//
//	w(i) = max(wait(i), cool-down left after a throttle, 0),
//
// ties broken by lower Preference, then lower index. Picking a half-open target marks its
// probe in flight: no other call is admitted there until the probe's outcome is reported
// (or ProbeTimeout passes).
//
// ok is false (and i is -1) when no candidate is left; retryAt then says when the first of the other
// non-excluded targets may admit a call by the passing of time alone: the earliest
// OpenUntil of an open breaker, or ProbeTimeout after a probe in flight. retryAt is zero
// when every target is excluded. Indices in exclude outside the targets are ignored.
func (r *Router) Pick(now time.Time, wait func(i int) time.Duration, exclude ...int) (i int, ok bool, retryAt time.Time) {
	r.mu.Lock()
	cands := r.candidates(now, exclude)
	r.mu.Unlock()
	if len(cands) == 0 {
		r.mu.Lock()
		defer r.mu.Unlock()
		return -1, false, r.retryAt(now, exclude)
	}

	type scored struct {
		i int
		w time.Duration
	}
	scores := make([]scored, len(cands))
	for k, c := range cands {
		scores[k] = scored{c, max(wait(c), 0)}
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range scores {
		t := &r.targets[scores[k].i]
		if r.coolDown > 0 && now.Before(t.coolUntil) {
			scores[k].w = max(scores[k].w, t.coolUntil.Sub(now))
		}
	}
	slices.SortFunc(scores, func(a, b scored) int {
		switch {
		case a.w != b.w:
			return cmpInt(a.w, b.w)
		case r.targets[a.i].Preference != r.targets[b.i].Preference:
			return cmpInt(r.targets[a.i].Preference, r.targets[b.i].Preference)
		default:
			return cmpInt(a.i, b.i)
		}
	})
	// Another goroutine may have taken a half-open target's probe while wait ran
	// unlocked: take the best candidate that still admits a call.
	for _, s := range scores {
		if r.admit(s.i, now) {
			return s.i, true, time.Time{}
		}
	}
	return -1, false, r.retryAt(now, exclude)
}

func cmpInt[T ~int | ~int64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// candidates lists the targets not in exclude whose breaker admits a call at now. r.mu
// must be held.
func (r *Router) candidates(now time.Time, exclude []int) []int {
	var out []int
	for i := range r.targets {
		if !slices.Contains(exclude, i) && r.admits(i, now) {
			out = append(out, i)
		}
	}
	return out
}

// admits reports whether target i's breaker would admit a call at now. r.mu must be held.
func (r *Router) admits(i int, now time.Time) bool {
	t := &r.targets[i]
	switch t.breaker {
	case closed:
		return true
	case open:
		return !now.Before(t.openUntil)
	default: // half-open
		return !t.probing || !now.Before(t.probeStart.Add(r.probeTimeout))
	}
}

// admit takes a call for target i at now if its breaker admits one, half-opening an
// expired open breaker and marking a half-open breaker's probe in flight. r.mu must be
// held.
func (r *Router) admit(i int, now time.Time) bool {
	if !r.admits(i, now) {
		return false
	}
	t := &r.targets[i]
	if t.breaker == open {
		t.breaker = halfOpen
	}
	if t.breaker == halfOpen {
		t.probing = true
		t.probeStart = now
	}
	return true
}

// retryAt returns when the first non-excluded target may admit a call by the passing of
// time alone, or zero if none will. r.mu must be held.
func (r *Router) retryAt(now time.Time, exclude []int) time.Time {
	var at time.Time
	for i := range r.targets {
		if slices.Contains(exclude, i) {
			continue
		}
		t := &r.targets[i]
		var when time.Time
		switch {
		case t.breaker == open:
			when = t.openUntil
		case t.breaker == halfOpen && t.probing:
			when = t.probeStart.Add(r.probeTimeout)
		default:
			when = now // admits now: only possible if Pick raced with an outcome
		}
		if at.IsZero() || when.Before(at) {
			at = when
		}
	}
	return at
}

// Success reports that a call to target i succeeded at now — or failed in a way that
// proves the target works (a client error). It resets the consecutive failures, and a
// successful probe closes a half-open breaker and resets its open duration to OpenFor.
// Outcomes reported while the breaker is open belong to calls admitted before it opened
// and change nothing. Success panics if i is not a target's index.
func (r *Router) Success(i int, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.target(i)
	switch t.breaker {
	case closed:
		t.failures = 0
	case halfOpen:
		t.breaker = closed
		t.failures = 0
		t.openFor = 0
		t.probing = false
	}
}

// Failure reports a service failure of a call to target i at now: a 5xx, a connection
// error, a timeout — not a throttle (use Throttled) and not a client error (use Success or
// Cancel). In a closed breaker, FailureThreshold consecutive failures open it for OpenFor.
// A failed probe re-opens a half-open breaker for twice its last open duration, at most
// MaxOpenFor. Outcomes reported while the breaker is open change nothing but the count of
// consecutive failures. Failure panics if i is not a target's index.
func (r *Router) Failure(i int, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.target(i)
	t.failures++
	switch t.breaker {
	case closed:
		if t.failures >= r.threshold {
			t.openFor = r.openFor
			t.breaker = open
			t.openUntil = now.Add(t.openFor)
		}
	case halfOpen:
		t.openFor = min(2*t.openFor, r.maxOpenFor)
		t.breaker = open
		t.openUntil = now.Add(t.openFor)
		t.probing = false
	}
}

// Throttled reports that target i throttled a call at now. A throttle says nothing about
// the target's health, so it does not count as a failure; the adaptive controller lowers
// the effective limit, and Pick avoids the target for ThrottleCoolDown (see Pick). A
// throttled probe ends without a verdict: the breaker stays half-open and admits the next
// probe. Throttled panics if i is not a target's index.
func (r *Router) Throttled(i int, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.target(i)
	t.throttles++
	if r.coolDown > 0 {
		if until := now.Add(r.coolDown); until.After(t.coolUntil) {
			t.coolUntil = until
		}
	}
	if t.breaker == halfOpen {
		t.probing = false
	}
}

// Cancel reports that a call picked for target i ended without a verdict on the target
// (the caller's context ended first, or the call was never sent). A probe in flight ends
// and the breaker admits the next one; otherwise nothing changes. now is when the call
// ended, taken for symmetry with the other reports. Cancel panics if i is not a target's
// index.
func (r *Router) Cancel(i int, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.target(i)
	if t.breaker == halfOpen {
		t.probing = false
	}
}

// target returns target i. r.mu must be held.
func (r *Router) target(i int) *target {
	if i < 0 || i >= len(r.targets) {
		panic(fmt.Sprintf("route: target index %d out of range [0, %d)", i, len(r.targets)))
	}
	return &r.targets[i]
}
