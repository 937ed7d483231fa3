package route

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func mustNew(t testing.TB, targets []Target, cfg Config) *Router {
	t.Helper()
	r, err := New(targets, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

// named returns targets a, b, c, … with the given preferences.
func named(prefs ...int) []Target {
	out := make([]Target, len(prefs))
	for i, p := range prefs {
		out[i] = Target{Name: string(rune('a' + i)), Preference: p}
	}
	return out
}

// waits returns a wait function answering from a fixed table.
func waits(w ...time.Duration) func(int) time.Duration {
	return func(i int) time.Duration { return w[i] }
}

func noWait(int) time.Duration { return 0 }

func mustPick(t testing.TB, r *Router, now time.Time, wait func(int) time.Duration, exclude ...int) int {
	t.Helper()
	i, ok, retryAt := r.Pick(now, wait, exclude...)
	if !ok {
		t.Fatalf("Pick(t0+%v, exclude %v): no target, retry at t0+%v", now.Sub(t0), exclude, retryAt.Sub(t0))
	}
	return i
}

func TestNewRejects(t *testing.T) {
	for _, tc := range []struct {
		name    string
		targets []Target
		cfg     Config
		says    string
	}{
		{"no targets", nil, Config{}, "no targets"},
		{"unnamed target", []Target{{Name: "a"}, {}}, Config{}, "target 1 has no name"},
		{"duplicate name", []Target{{Name: "a"}, {Name: "b"}, {Name: "a"}}, Config{}, `targets 0 and 2 are both named "a"`},
		{"negative threshold", named(0), Config{FailureThreshold: -1}, "FailureThreshold"},
		{"negative open", named(0), Config{OpenFor: -time.Second}, "OpenFor"},
		{"negative max open", named(0), Config{MaxOpenFor: -time.Second}, "MaxOpenFor"},
		{"negative probe timeout", named(0), Config{ProbeTimeout: -time.Second}, "ProbeTimeout"},
		{"max below open", named(0), Config{OpenFor: time.Minute, MaxOpenFor: time.Second}, "MaxOpenFor"},
		{"max below default open", named(0), Config{MaxOpenFor: time.Second}, "MaxOpenFor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.targets, tc.cfg)
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("New: %v, want an error matching ErrInvalidConfig", err)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("New: %q does not say %q", err, tc.says)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want settings
	}{
		{"zero", Config{}, settings{threshold: 5, openFor: 30 * time.Second, maxOpenFor: 5 * time.Minute, probeTimeout: 5 * time.Minute, coolDown: time.Second}},
		{"long open raises the max", Config{OpenFor: 10 * time.Minute}, settings{threshold: 5, openFor: 10 * time.Minute, maxOpenFor: 10 * time.Minute, probeTimeout: 10 * time.Minute, coolDown: time.Second}},
		{"explicit", Config{FailureThreshold: 2, OpenFor: time.Second, MaxOpenFor: time.Minute, ProbeTimeout: 3 * time.Second, ThrottleCoolDown: -1},
			settings{threshold: 2, openFor: time.Second, maxOpenFor: time.Minute, probeTimeout: 3 * time.Second, coolDown: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustNew(t, named(0), tc.cfg)
			if r.settings != tc.want {
				t.Errorf("resolved settings %+v, want %+v", r.settings, tc.want)
			}
		})
	}
}

func TestPickChoice(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		name    string
		prefs   []int
		waits   []time.Duration
		exclude []int
		want    int
	}{
		{"all equal: first index", []int{0, 0, 0}, []time.Duration{0, 0, 0}, nil, 0},
		{"tie broken by preference", []int{2, 1, 3}, []time.Duration{0, 0, 0}, nil, 1},
		{"tie on preference broken by index", []int{1, 0, 0}, []time.Duration{s, s, s}, nil, 1},
		{"least wait beats preference", []int{0, 1, 2}, []time.Duration{3 * s, 2 * s, s}, nil, 2},
		{"least wait", []int{0, 0, 0}, []time.Duration{3 * s, s, 2 * s}, nil, 1},
		{"negative waits count as now", []int{1, 0}, []time.Duration{-s, 0}, nil, 1},
		{"exclude the best", []int{0, 0, 0}, []time.Duration{3 * s, s, 2 * s}, []int{1}, 2},
		{"exclude several", []int{0, 0, 0}, []time.Duration{0, 0, 0}, []int{0, 1}, 2},
		{"exclude out of range ignored", []int{0, 0}, []time.Duration{s, 0}, []int{-1, 7}, 1},
		{"preferred target waits a little longer", []int{0, 1}, []time.Duration{s + 1, s}, nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustNew(t, named(tc.prefs...), Config{})
			var asked []int
			wait := func(i int) time.Duration { asked = append(asked, i); return tc.waits[i] }
			if got := mustPick(t, r, t0, wait, tc.exclude...); got != tc.want {
				t.Errorf("Pick = %d, want %d", got, tc.want)
			}
			for _, i := range asked {
				for _, x := range tc.exclude {
					if i == x {
						t.Errorf("Pick asked the wait of excluded target %d", i)
					}
				}
			}
		})
	}
}

func TestPickAllExcluded(t *testing.T) {
	r := mustNew(t, named(0, 0), Config{})
	i, ok, retryAt := r.Pick(t0, noWait, 0, 1)
	if ok || i != -1 || !retryAt.IsZero() {
		t.Errorf("Pick excluding all = %d, %v, %v; want -1, false, zero time", i, ok, retryAt)
	}
}

// breakerStates returns each target's Breaker.
func breakerStates(r *Router) []string {
	var out []string
	for _, s := range r.Targets() {
		out = append(out, s.Breaker)
	}
	return out
}

func TestBreakerLifecycle(t *testing.T) {
	cfg := Config{FailureThreshold: 3, OpenFor: 10 * time.Second, MaxOpenFor: 35 * time.Second}
	r := mustNew(t, named(0, 1), cfg) // a preferred, b the fallback
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	s := time.Second

	// Failures short of the threshold, interrupted by a success, do not open.
	r.Failure(0, at(0))
	r.Failure(0, at(0))
	r.Success(0, at(0))
	r.Failure(0, at(0))
	r.Failure(0, at(0))
	if got := mustPick(t, r, at(0), noWait); got != 0 {
		t.Fatalf("after 2 consecutive failures Pick = %d, want 0", got)
	}
	if got := r.Targets()[0].ConsecutiveFailures; got != 2 {
		t.Errorf("ConsecutiveFailures = %d, want 2", got)
	}

	// The third consecutive failure opens a's breaker for OpenFor: calls go to b.
	r.Failure(0, at(s))
	want := TargetState{Name: "a", Breaker: BreakerOpen, ConsecutiveFailures: 3, OpenUntil: at(11 * s)}
	if diff := cmp.Diff(want, r.Targets()[0]); diff != "" {
		t.Errorf("after the threshold (-want +got):\n%s", diff)
	}
	for _, d := range []time.Duration{s, 5 * s, 11*s - 1} {
		if got := mustPick(t, r, at(d), noWait); got != 1 {
			t.Fatalf("Pick at t0+%v with a open = %d, want 1", d, got)
		}
	}
	// Late outcomes of calls admitted before it opened do not change an open breaker.
	r.Success(0, at(2*s))
	r.Failure(0, at(2*s))
	if got := r.Targets()[0]; got.Breaker != BreakerOpen || !got.OpenUntil.Equal(at(11*s)) {
		t.Fatalf("late outcomes changed the open breaker: %+v", got)
	}

	// After OpenFor it half-opens: one probe goes to a, nothing else until it reports.
	if got := mustPick(t, r, at(11*s), noWait); got != 0 {
		t.Fatalf("Pick when a half-opens = %d, want the probe on 0", got)
	}
	if got := r.Targets()[0]; got.Breaker != BreakerHalfOpen || !got.ProbeInFlight {
		t.Fatalf("after the probe was picked: %+v, want half-open with a probe in flight", got)
	}
	for range 3 {
		if got := mustPick(t, r, at(12*s), noWait); got != 1 {
			t.Fatalf("Pick during the probe = %d, want 1", got)
		}
	}

	// The probe fails: open again for twice as long (20s), then 35s (the max), then 35s.
	openFor := []time.Duration{20 * s, 35 * s, 35 * s}
	now := at(13 * s)
	for _, d := range openFor {
		r.Failure(0, now)
		if got := r.Targets()[0]; got.Breaker != BreakerOpen || !got.OpenUntil.Equal(now.Add(d)) {
			t.Fatalf("after a failed probe at t0+%v: %+v, want open until t0+%v", now.Sub(t0), got, now.Add(d).Sub(t0))
		}
		if got := mustPick(t, r, now.Add(d-1), noWait); got != 1 {
			t.Fatalf("Pick just before the breaker half-opens = %d, want 1", got)
		}
		now = now.Add(d)
		if got := mustPick(t, r, now, noWait); got != 0 {
			t.Fatalf("Pick when the breaker half-opens = %d, want the probe on 0", got)
		}
	}

	// The probe succeeds: closed, failures reset, and the next opening lasts OpenFor again.
	r.Success(0, now)
	if got := r.Targets()[0]; got.Breaker != BreakerClosed || got.ConsecutiveFailures != 0 || got.ProbeInFlight {
		t.Fatalf("after a successful probe: %+v, want closed with no failures", got)
	}
	for range 2 {
		if got := mustPick(t, r, now, noWait); got != 0 {
			t.Fatalf("Pick after the breaker closed = %d, want 0", got)
		}
	}
	for range 3 {
		r.Failure(0, now)
	}
	if got := r.Targets()[0].OpenUntil; !got.Equal(now.Add(10 * s)) {
		t.Errorf("reopened until t0+%v, want t0+%v (OpenFor after a close)", got.Sub(t0), now.Add(10*s).Sub(t0))
	}
}

func TestProbeEndsWithoutVerdict(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		name string
		end  func(r *Router, now time.Time)
		at   time.Duration // when the next probe is admitted
	}{
		{"cancelled", func(r *Router, now time.Time) { r.Cancel(0, now) }, 0},
		{"throttled", func(r *Router, now time.Time) { r.Throttled(0, now) }, 0},
		{"never reported", func(*Router, time.Time) {}, 40 * s}, // ProbeTimeout
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustNew(t, named(0), Config{FailureThreshold: 1, OpenFor: 10 * s, ProbeTimeout: 40 * s, ThrottleCoolDown: -1})
			r.Failure(0, t0)
			probe := t0.Add(10 * s)
			mustPick(t, r, probe, noWait)
			if _, ok, retryAt := r.Pick(probe, noWait); ok || !retryAt.Equal(probe.Add(40*s)) {
				t.Fatalf("second Pick during the probe: ok %v, retry at t0+%v; want false, t0+50s", ok, retryAt.Sub(t0))
			}
			tc.end(r, probe)
			if got := r.Targets()[0].Breaker; got != BreakerHalfOpen {
				t.Fatalf("after the probe ended without a verdict the breaker is %s, want half-open", got)
			}
			if tc.at > 0 {
				if _, ok, _ := r.Pick(probe.Add(tc.at-1), noWait); ok {
					t.Fatalf("a second probe was admitted before ProbeTimeout")
				}
			}
			mustPick(t, r, probe.Add(tc.at), noWait)
			if got := r.Targets()[0]; !got.ProbeInFlight || got.Breaker != BreakerHalfOpen {
				t.Errorf("after the next probe: %+v, want half-open with a probe in flight", got)
			}
		})
	}
}

func TestAllOpen(t *testing.T) {
	s := time.Second
	r := mustNew(t, named(0, 0, 0), Config{FailureThreshold: 1, OpenFor: 10 * s})
	r.Failure(0, t0.Add(3*s)) // until 13s
	r.Failure(1, t0.Add(1*s)) // until 11s
	r.Failure(2, t0.Add(2*s)) // until 12s
	for _, tc := range []struct {
		name    string
		exclude []int
		want    time.Duration
	}{
		{"all", nil, 11 * s},
		{"the earliest excluded", []int{1}, 12 * s},
		{"two excluded", []int{1, 2}, 13 * s},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i, ok, retryAt := r.Pick(t0.Add(5*s), func(int) time.Duration {
				t.Fatal("Pick asked the wait of a target whose breaker is open")
				return 0
			}, tc.exclude...)
			if ok || i != -1 {
				t.Fatalf("Pick = %d, %v; want -1, false", i, ok)
			}
			if !retryAt.Equal(t0.Add(tc.want)) {
				t.Errorf("retryAt = t0+%v, want t0+%v", retryAt.Sub(t0), tc.want)
			}
		})
	}
	if got, want := breakerStates(r), []string{"open", "open", "open"}; !cmp.Equal(got, want) {
		t.Errorf("breakers %v, want %v", got, want)
	}
	if got := mustPick(t, r, t0.Add(11*s), noWait); got != 1 {
		t.Errorf("Pick at retryAt = %d, want 1", got)
	}
}

func TestThrottleCoolDown(t *testing.T) {
	s := time.Second
	r := mustNew(t, named(0, 1), Config{}) // cool-down 1s
	r.Throttled(0, t0)
	for _, tc := range []struct {
		at    time.Duration
		waits []time.Duration
		want  int
	}{
		{0, []time.Duration{0, 0}, 1},                      // cooling: 1s against 0
		{500 * time.Millisecond, []time.Duration{0, 0}, 1}, // 0.5s left against 0
		{0, []time.Duration{0, 2 * s}, 0},                  // still the soonest
		{0, []time.Duration{0, s}, 0},                      // tie at 1s: preference
		{s, []time.Duration{0, 0}, 0},                      // cool-down over
	} {
		if got := mustPick(t, r, t0.Add(tc.at), waits(tc.waits...)); got != tc.want {
			t.Errorf("Pick at t0+%v with waits %v = %d, want %d", tc.at, tc.waits, got, tc.want)
		}
	}
	st := r.Targets()[0]
	if st.Throttles != 1 || !st.CoolUntil.Equal(t0.Add(s)) || st.Breaker != BreakerClosed || st.ConsecutiveFailures != 0 {
		t.Errorf("after a throttle: %+v, want 1 throttle, cooling until t0+1s, breaker closed, no failures", st)
	}

	off := mustNew(t, named(0, 1), Config{ThrottleCoolDown: -1})
	off.Throttled(0, t0)
	if got := mustPick(t, off, t0, noWait); got != 0 {
		t.Errorf("Pick with the cool-down disabled = %d, want 0", got)
	}
}

func TestThrottlesDoNotTrip(t *testing.T) {
	r := mustNew(t, named(0), Config{FailureThreshold: 1})
	for k := range 100 {
		r.Throttled(0, t0.Add(time.Duration(k)*time.Second))
	}
	if got := r.Targets()[0]; got.Breaker != BreakerClosed || got.Throttles != 100 {
		t.Errorf("after 100 throttles: %+v, want closed with 100 throttles", got)
	}
}

func TestBadIndexPanics(t *testing.T) {
	r := mustNew(t, named(0, 0), Config{})
	for name, f := range map[string]func(){
		"Success":   func() { r.Success(2, t0) },
		"Failure":   func() { r.Failure(-1, t0) },
		"Throttled": func() { r.Throttled(5, t0) },
		"Cancel":    func() { r.Cancel(2, t0) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if p := recover(); p == nil || !strings.Contains(p.(string), "out of range") {
					t.Errorf("panic %v, want index out of range", p)
				}
			}()
			f()
		})
	}
}
