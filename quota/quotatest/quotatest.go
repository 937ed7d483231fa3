// Package quotatest is the conformance suite for implementations of quota.Store. Every
// Store — the in-process Memory store, and shared ones such as a Redis store — must pass
// it:
//
//	func TestStore(t *testing.T) {
//		quotatest.Run(t, func(t *testing.T) quota.Store { return mystore.New(...) })
//	}
//
// The suite passes time explicitly, so it runs in milliseconds whatever the windows.
package quotatest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/costs"
	"github.com/tollgate-dev/tollgate/quota"
)

// T0 is the time the suite's scenarios start at.
var T0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// Run runs the conformance suite against stores made by newStore, which is called once
// per subtest and must return an empty store.
func Run(t *testing.T, newStore func(t *testing.T) quota.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s quota.Store)
	}{
		{"AdmitsUpToAmount", testAdmitsUpToAmount},
		{"AllOrNothing", testAllOrNothing},
		{"RetryAtIsEarliest", testRetryAtIsEarliest},
		{"RefundRestoresRoom", testRefundRestoresRoom},
		{"ExcessChargedNow", testExcessChargedNow},
		{"EndsOnce", testEndsOnce},
		{"LateRefundStaysOutOfWindow", testLateRefund},
		{"InFlightCap", testInFlightCap},
		{"ExpiryChargesInFull", testExpiry},
		{"UsageReport", testUsageReport},
		{"AmountChangeKeepsUsage", testAmountChange},
		{"NeverOverAnyWindow", testNeverOverAnyWindow},
		{"TokenBucketExact", testTokenBucketExact},
		{"ClockWindowSafe", testClockWindowSafe},
		{"Concurrent", testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// report is a Store's Usage answer, kept together.
type report struct {
	Used     []int64
	Fits     []time.Time
	InFlight int
}

func usage(ctx context.Context, s quota.Store, now time.Time, limits []quota.Limit, need []int64) (report, error) {
	u, f, n, err := s.Usage(ctx, now, limits, need)
	return report{u, f, n}, err
}

// admission is a Store's Reserve answer, kept together.
type admission struct {
	OK      bool
	Ticket  uint64
	RetryAt time.Time
	Blocked int
}

func reserveIn(s quota.Store, now time.Time, limits []quota.Limit, maxInFlight int, c quota.Cost, ttl time.Duration) (admission, error) {
	tk, at, b, err := s.Reserve(context.Background(), now, limits, maxInFlight, c, ttl)
	return admission{OK: tk != 0, Ticket: tk, RetryAt: at, Blocked: b}, err
}

var (
	tpm = quota.Limit{Dimension: quota.Tokens, Amount: 100, Per: time.Minute}
	rpm = quota.Limit{Dimension: quota.Requests, Amount: 2, Per: time.Minute}
)

const ttl = time.Hour

func reserve(t *testing.T, s quota.Store, now time.Time, limits []quota.Limit, c quota.Cost) admission {
	t.Helper()
	adm, err := reserveIn(s, now, limits, 0, c, ttl)
	if err != nil {
		t.Fatalf("Reserve(%+v) at %v: %v", c, now.Sub(T0), err)
	}
	return adm
}

func mustAdmit(t *testing.T, s quota.Store, now time.Time, limits []quota.Limit, c quota.Cost) uint64 {
	t.Helper()
	adm := reserve(t, s, now, limits, c)
	if !adm.OK || adm.Ticket == 0 {
		t.Fatalf("Reserve(%+v) at +%v: got %+v, want admitted with a ticket", c, now.Sub(T0), adm)
	}
	return adm.Ticket
}

func mustRefuse(t *testing.T, s quota.Store, now time.Time, limits []quota.Limit, c quota.Cost) admission {
	t.Helper()
	adm := reserve(t, s, now, limits, c)
	if adm.OK {
		t.Fatalf("Reserve(%+v) at +%v was admitted; want refused", c, now.Sub(T0))
	}
	return adm
}

func settle(t *testing.T, s quota.Store, now time.Time, limits []quota.Limit, ticket uint64, actual quota.Cost) bool {
	t.Helper()
	ok, err := s.Settle(context.Background(), now, limits, ticket, actual)
	if err != nil {
		t.Fatalf("Settle: %v", err)
	}
	return ok
}

func used(t *testing.T, s quota.Store, now time.Time, limits []quota.Limit) []int64 {
	t.Helper()
	u, err := usage(context.Background(), s, now, limits, nil)
	if err != nil {
		t.Fatalf("Usage: %v", err)
	}
	if len(u.Used) != len(limits) {
		t.Fatalf("Usage returned %d amounts for %d limits", len(u.Used), len(limits))
	}
	return u.Used
}

func tokens(n int64) quota.Cost { return quota.Cost{Requests: 1, Tokens: n} }

func testAdmitsUpToAmount(t *testing.T, s quota.Store) {
	limits := []quota.Limit{tpm}
	mustAdmit(t, s, T0, limits, tokens(60))
	mustAdmit(t, s, T0.Add(time.Second), limits, tokens(40))
	adm := mustRefuse(t, s, T0.Add(2*time.Second), limits, tokens(1))
	if adm.Blocked != 0 || !adm.RetryAt.After(T0.Add(2*time.Second)) {
		t.Errorf("refusal = %+v; want Blocked 0 and a RetryAt in the future", adm)
	}
	if got := used(t, s, T0.Add(2*time.Second), limits)[0]; got != 100 {
		t.Errorf("Used = %d, want 100", got)
	}
}

func testAllOrNothing(t *testing.T, s quota.Store) {
	limits := []quota.Limit{tpm, rpm}
	mustAdmit(t, s, T0, limits, tokens(10))
	mustAdmit(t, s, T0, limits, tokens(10))
	adm := mustRefuse(t, s, T0, limits, tokens(10))
	if adm.Blocked != 1 {
		t.Errorf("Blocked = %d, want 1 (the requests limit)", adm.Blocked)
	}
	if got := used(t, s, T0, limits); got[0] != 20 || got[1] != 2 {
		t.Errorf("Used = %v after a refusal, want [20 2]: a refused cost must charge nothing", got)
	}
	// A cost that fits requests but not tokens charges neither.
	limits = []quota.Limit{tpm, {Dimension: quota.Requests, Amount: 10, Per: time.Minute}}
	mustRefuse(t, s, T0, limits, tokens(81))
	if got := used(t, s, T0, limits); got[0] != 20 || got[1] != 2 {
		t.Errorf("Used = %v after a refusal, want [20 2]", got)
	}
}

func testRetryAtIsEarliest(t *testing.T, s quota.Store) {
	limits := []quota.Limit{tpm}
	mustAdmit(t, s, T0, limits, tokens(70))
	mustAdmit(t, s, T0.Add(20*time.Second), limits, tokens(30))
	adm := mustRefuse(t, s, T0.Add(30*time.Second), limits, tokens(50))
	// The 70 charged at T0 must leave before 50 more fit; it can leave no earlier than
	// T0+Per, and a store may keep it a little longer (the safe side), but not past
	// the 30 charged at +20s leaving.
	if adm.RetryAt.Before(T0.Add(time.Minute)) || !adm.RetryAt.Before(T0.Add(80*time.Second)) {
		t.Fatalf("RetryAt = +%v, want in [+1m, +1m20s)", adm.RetryAt.Sub(T0))
	}
	mustRefuse(t, s, adm.RetryAt.Add(-time.Nanosecond), limits, tokens(50))
	mustAdmit(t, s, adm.RetryAt, limits, tokens(50))
}

func testRefundRestoresRoom(t *testing.T, s quota.Store) {
	limits := []quota.Limit{tpm}
	tk := mustAdmit(t, s, T0, limits, tokens(100))
	mustRefuse(t, s, T0.Add(time.Second), limits, tokens(1))
	if !settle(t, s, T0.Add(2*time.Second), limits, tk, tokens(30)) {
		t.Fatal("Settle of an open reservation reported false")
	}
	mustRefuse(t, s, T0.Add(3*time.Second), limits, tokens(71))
	mustAdmit(t, s, T0.Add(3*time.Second), limits, tokens(70))
	if got := used(t, s, T0.Add(3*time.Second), limits)[0]; got != 100 {
		t.Errorf("Used = %d, want 100", got)
	}
}

func testExcessChargedNow(t *testing.T, s quota.Store) {
	limits := []quota.Limit{tpm}
	tk := mustAdmit(t, s, T0, limits, tokens(50))
	settle(t, s, T0.Add(50*time.Second), limits, tk, tokens(80))
	if got := used(t, s, T0.Add(50*time.Second), limits)[0]; got != 80 {
		t.Fatalf("Used = %d after settling 50 as 80, want 80", got)
	}
	mustRefuse(t, s, T0.Add(50*time.Second), limits, tokens(21))
	// The reserved 50 leaves around T0+1m; the excess 30 landed at +50s and stays until
	// about +1m50s.
	at := T0.Add(90 * time.Second)
	if got := used(t, s, at, limits)[0]; got != 30 {
		t.Errorf("Used at +90s = %d, want 30 (the excess, charged when settled)", got)
	}
}

func testEndsOnce(t *testing.T, s quota.Store) {
	limits := []quota.Limit{tpm}
	tk := mustAdmit(t, s, T0, limits, tokens(60))
	if !settle(t, s, T0, limits, tk, tokens(10)) {
		t.Fatal("first Settle reported false")
	}
	if settle(t, s, T0, limits, tk, quota.Cost{}) {
		t.Error("second Settle reported true; want a no-op")
	}
	if got := used(t, s, T0, limits)[0]; got != 10 {
		t.Errorf("Used = %d after a second settle, want 10 (unchanged)", got)
	}
	if settle(t, s, T0, limits, 0, quota.Cost{}) || settle(t, s, T0, limits, 1<<40|12345, quota.Cost{}) {
		t.Error("Settle of an unknown ticket reported true")
	}
	// A ticket whose slot was reused is still stale.
	tk2 := mustAdmit(t, s, T0, limits, tokens(5))
	if settle(t, s, T0, limits, tk, quota.Cost{}) {
		t.Error("Settle of an ended ticket reported true after its slot was reused")
	}
	if !settle(t, s, T0, limits, tk2, quota.Cost{}) {
		t.Error("Cancel (settle to zero) of an open ticket reported false")
	}
	if got := used(t, s, T0, limits)[0]; got != 10 {
		t.Errorf("Used = %d, want 10", got)
	}
}

func testLateRefund(t *testing.T, s quota.Store) {
	limits := []quota.Limit{tpm}
	tk := mustAdmit(t, s, T0, limits, tokens(100))
	later := T0.Add(3 * time.Minute)
	mustAdmit(t, s, later, limits, tokens(40))
	settle(t, s, later, limits, tk, quota.Cost{})
	if got := used(t, s, later, limits)[0]; got != 40 {
		t.Errorf("Used = %d after refunding a charge that left the window, want 40", got)
	}
	mustRefuse(t, s, later, limits, tokens(61))
}

func testInFlightCap(t *testing.T, s quota.Store) {
	limits := []quota.Limit{tpm}
	req := func(now time.Time) admission {
		adm, err := reserveIn(s, now, limits, 2, tokens(1), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return adm
	}
	a, b := req(T0), req(T0)
	if !a.OK || !b.OK {
		t.Fatalf("first two under a cap of 2: %+v %+v", a, b)
	}
	c := req(T0.Add(time.Second))
	if c.OK || c.Blocked != -1 || !c.RetryAt.Equal(T0.Add(10*time.Second)) {
		t.Fatalf("third under a cap of 2 = %+v; want refused, Blocked -1, RetryAt +10s (the oldest lapses)", c)
	}
	if used(t, s, T0, limits)[0] != 2 {
		t.Error("a refusal by the in-flight cap charged tokens")
	}
	settle(t, s, T0.Add(2*time.Second), limits, a.Ticket, tokens(1))
	if d := req(T0.Add(2 * time.Second)); !d.OK {
		t.Fatalf("after a settlement the cap must admit one more: %+v", d)
	}
}

func testExpiry(t *testing.T, s quota.Store) {
	limits := []quota.Limit{tpm}
	adm, err := reserveIn(s, T0, limits, 1, tokens(30), 10*time.Second)
	if err != nil || !adm.OK {
		t.Fatalf("Reserve: %+v %v", adm, err)
	}
	u, _ := usage(context.Background(), s, T0.Add(9*time.Second), limits, nil)
	if u.InFlight != 1 {
		t.Fatalf("InFlight = %d before expiry, want 1", u.InFlight)
	}
	u, _ = usage(context.Background(), s, T0.Add(10*time.Second), limits, nil)
	if u.InFlight != 0 || u.Used[0] != 30 {
		t.Fatalf("after expiry: InFlight %d Used %d; want 0 and 30 (charged in full)", u.InFlight, u.Used[0])
	}
	if settle(t, s, T0.Add(11*time.Second), limits, adm.Ticket, quota.Cost{}) {
		t.Error("Settle of a lapsed reservation reported true")
	}
	if got := used(t, s, T0.Add(11*time.Second), limits)[0]; got != 30 {
		t.Errorf("Used = %d after settling a lapsed reservation, want 30", got)
	}
}

func testUsageReport(t *testing.T, s quota.Store) {
	tpd := quota.Limit{Dimension: quota.Tokens, Amount: 1000, Per: 24 * time.Hour}
	limits := []quota.Limit{tpm, tpd}
	mustAdmit(t, s, T0, limits, tokens(30))
	mustAdmit(t, s, T0.Add(30*time.Second), limits, tokens(20))
	now := T0.Add(40 * time.Second)
	u, err := usage(context.Background(), s, now, limits, nil)
	if err != nil {
		t.Fatal(err)
	}
	if u.InFlight != 2 {
		t.Errorf("InFlight = %d, want 2", u.InFlight)
	}
	if u.Fits != nil {
		t.Errorf("Fits = %v without a need, want nil", u.Fits)
	}
	for i := range limits {
		if u.Used[i] != 50 {
			t.Errorf("limit %v: Used = %d, want 50", limits[i], u.Used[i])
		}
	}
	// When each amount fits tells when the usage leaves: the room at once, one more when
	// the charge at T0 leaves (one Per later, give or take a sub-window: 5%), the whole
	// Amount when the charge at +30s has left too.
	fits := func(need func(l quota.Limit) int64) []time.Time {
		t.Helper()
		n := make([]int64, len(limits))
		for i, l := range limits {
			n[i] = need(l)
		}
		u, err := usage(context.Background(), s, now, limits, n)
		if err != nil || len(u.Fits) != len(limits) {
			t.Fatalf("Usage(need %v) = %v, %v; want one time per limit", n, u.Fits, err)
		}
		return u.Fits
	}
	within := func(i int, at, from time.Time, what string) {
		t.Helper()
		per := limits[i].Per
		if at.Before(from.Add(per)) || at.After(from.Add(per+per/20)) {
			t.Errorf("limit %v: %s fits at +%v, want in [+%v, +%v] (the usage charged at +%v leaves one Per later)",
				limits[i], what, at.Sub(T0), from.Add(per).Sub(T0), from.Add(per+per/20).Sub(T0), from.Sub(T0))
		}
	}
	if _, err := usage(context.Background(), s, now, limits, []int64{1}); err == nil {
		t.Errorf("Usage with one need for two limits succeeded; want an error")
	}
	room := fits(func(l quota.Limit) int64 { return l.Amount - 50 })
	one := fits(func(l quota.Limit) int64 { return l.Amount - 49 })
	all := fits(func(l quota.Limit) int64 { return l.Amount })
	for i := range limits {
		if !room[i].Equal(now) {
			t.Errorf("limit %v: the room fits at +%v, want now (+%v)", limits[i], room[i].Sub(T0), now.Sub(T0))
		}
		within(i, one[i], T0, "one more than the room")
		within(i, all[i], T0.Add(30*time.Second), "the whole Amount")
		if all[i].Before(one[i]) {
			t.Errorf("limit %v: the whole Amount fits at +%v, before one more than the room (+%v)", limits[i], all[i].Sub(T0), one[i].Sub(T0))
		}
	}
}

func testAmountChange(t *testing.T, s quota.Store) {
	mustAdmit(t, s, T0, []quota.Limit{tpm}, tokens(60))
	lower := tpm
	lower.Amount = 50
	mustRefuse(t, s, T0.Add(time.Second), []quota.Limit{lower}, tokens(1))
	higher := tpm
	higher.Amount = 200
	mustAdmit(t, s, T0.Add(time.Second), []quota.Limit{higher}, tokens(140))
	mustRefuse(t, s, T0.Add(time.Second), []quota.Limit{higher}, tokens(1))
}

// testNeverOverAnyWindow drives random reservations and settlements with refunds only and
// checks, from its own log, that no interval of length Per ever holds more than Amount.
func testNeverOverAnyWindow(t *testing.T, s quota.Store) {
	rng := rand.New(rand.NewPCG(1, 2))
	limits := []quota.Limit{
		{Dimension: quota.Tokens, Amount: 1000, Per: time.Minute},
		{Dimension: quota.Requests, Amount: 40, Per: 10 * time.Second},
	}
	type charge struct {
		at     time.Time
		cost   quota.Cost
		ticket uint64
	}
	var log []*charge
	now := T0
	for i := 0; i < 4000; i++ {
		now = now.Add(time.Duration(rng.IntN(400)) * time.Millisecond)
		c := tokens(int64(1 + rng.IntN(120)))
		if adm := reserve(t, s, now, limits, c); adm.OK {
			log = append(log, &charge{at: now, cost: c, ticket: adm.Ticket})
		}
		if len(log) > 0 && rng.IntN(3) == 0 {
			ch := log[rng.IntN(len(log))]
			actual := quota.Cost{Requests: 1, Tokens: rng.Int64N(ch.cost.Tokens + 1)}
			if settle(t, s, now, limits, ch.ticket, actual) {
				ch.cost = actual
			}
		}
	}
	for _, l := range limits {
		j := 0
		var sum int64
		for i, c := range log { // window [c.at-Per, c.at]
			sum += costs.Get(c.cost, l.Dimension)
			for log[j].at.Before(c.at.Add(-l.Per)) {
				sum -= costs.Get(log[j].cost, l.Dimension)
				j++
			}
			if sum > l.Amount {
				t.Fatalf("limit %v: the interval of length Per ending at charge %d (+%v) holds %d", l, i, c.at.Sub(T0), sum)
			}
		}
	}
	if len(log) < 500 {
		t.Fatalf("only %d admissions; the scenario is not exercising the store", len(log))
	}
}

// testTokenBucketExact replays random reservations and settlements (refunds and excess
// charges) against a TokenBucket limit and an independent token bucket of the same size
// and rate — what a token-bucket provider holds: every admission fits in the bucket, and
// every refusal comes when it would not have fit (the store is neither loose nor
// conservative, to a token of rounding).
func testTokenBucketExact(t *testing.T, s quota.Store) {
	rng := rand.New(rand.NewPCG(3, 4))
	l := quota.Limit{Dimension: quota.Tokens, Amount: 1000, Per: time.Minute, Meter: quota.TokenBucket}
	limits := []quota.Limit{l}
	rate := float64(l.Amount) / float64(l.Per) // tokens per nanosecond
	level, last := float64(l.Amount), T0
	refill := func(now time.Time) {
		level = min(level+float64(now.Sub(last))*rate, float64(l.Amount))
		last = now
	}
	type open struct {
		ticket uint64
		cost   int64
	}
	var live []open
	now := T0
	admitted, refused := 0, 0
	for i := 0; i < 4000; i++ {
		now = now.Add(time.Duration(rng.IntN(800)) * time.Millisecond)
		if i%200 == 0 {
			now = now.Add(time.Duration(rng.IntN(120)) * time.Second) // a quiet spell: the bucket fills
		}
		refill(now)
		c := int64(1 + rng.IntN(300))
		adm := reserve(t, s, now, limits, quota.Cost{Tokens: c})
		switch {
		case adm.OK && level < float64(c)-1:
			t.Fatalf("admission %d of %d at +%v: the bucket held %.1f", i, c, now.Sub(T0), level)
		case adm.OK:
			level -= float64(c)
			live = append(live, open{adm.Ticket, c})
			admitted++
		case level >= float64(c)+1:
			t.Fatalf("refusal %d of %d at +%v: the bucket held %.1f", i, c, now.Sub(T0), level)
		default:
			refused++
			if want := now.Add(time.Duration((float64(c) - level) / rate)); adm.RetryAt.Sub(want).Abs() > 100*time.Millisecond {
				t.Fatalf("refusal of %d at +%v: RetryAt +%v, the bucket holds it at +%v", c, now.Sub(T0), adm.RetryAt.Sub(T0), want.Sub(T0))
			}
		}
		if len(live) > 0 && rng.IntN(2) == 0 {
			k := rng.IntN(len(live))
			o := live[k]
			live = append(live[:k], live[k+1:]...)
			actual := rng.Int64N(2 * o.cost) // refunds and excess charges alike
			if !settle(t, s, now, limits, o.ticket, quota.Cost{Tokens: actual}) {
				t.Fatal("an open reservation did not settle")
			}
			level = min(level+float64(o.cost-actual), float64(l.Amount))
		}
	}
	if admitted < 500 || refused < 500 {
		t.Fatalf("%d admitted, %d refused; the scenario is not exercising the bucket", admitted, refused)
	}
}

// testClockWindowSafe replays random reservations and settlements (refunds and excess
// charges, some of calls that end in a later window) against a ClockWindow limit and an
// independent count per window of Per aligned on the Unix epoch — what a clock-minute
// provider holds: every admission fits its window, with the excess of earlier calls that
// settled in it, and falls outside the guards; a refusal outside a guard says to retry
// when the next window opens, and the store admits most of what the provider would.
func testClockWindowSafe(t *testing.T, s quota.Store) {
	rng := rand.New(rand.NewPCG(5, 6))
	l := quota.Limit{Dimension: quota.Tokens, Amount: 1000, Per: time.Minute, Meter: quota.ClockWindow}
	limits := []quota.Limit{l}
	per, guard := int64(l.Per), int64(l.Per/200) // the guard at each end of a clock window
	used := map[int64]int64{}                    // the provider's count per window index
	win := func(at time.Time) int64 { return at.UnixNano() / per }
	guarded := func(at time.Time) bool {
		pos := at.UnixNano() % per
		return pos < guard || pos >= per-guard
	}
	type open struct {
		ticket uint64
		cost   int64
		at     time.Time
	}
	var live []open
	var admittedTokens int64
	windows := map[int64]bool{}
	now := T0.Add(17 * time.Second) // not on a boundary
	for i := 0; i < 4000; i++ {
		now = now.Add(time.Duration(rng.IntN(2000)) * time.Millisecond)
		windows[win(now)] = true
		c := int64(1 + rng.IntN(60))
		adm := reserve(t, s, now, limits, quota.Cost{Tokens: c})
		switch {
		case adm.OK && (used[win(now)]+c > l.Amount || guarded(now)):
			t.Fatalf("admission %d of %d at +%v: the provider's window held %d (guard: %v)", i, c, now.Sub(T0), used[win(now)], guarded(now))
		case adm.OK:
			used[win(now)] += c
			admittedTokens += c
			live = append(live, open{adm.Ticket, c, now})
		case !guarded(now):
			if next := time.Unix(0, (win(now)+1)*per+guard); !adm.RetryAt.Equal(next) {
				t.Fatalf("refusal at +%v: RetryAt +%v, want the next window past its guard, +%v", now.Sub(T0), adm.RetryAt.Sub(T0), next.Sub(T0))
			}
		}
		// Calls end 0-30s after they start, so some end in the next window.
		for k := 0; k < len(live); k++ {
			o := live[k]
			if now.Sub(o.at) < time.Duration(rng.IntN(30))*time.Second {
				continue
			}
			live = append(live[:k], live[k+1:]...)
			k--
			actual := rng.Int64N(2 * o.cost)
			if !settle(t, s, now, limits, o.ticket, quota.Cost{Tokens: actual}) {
				t.Fatal("an open reservation did not settle")
			}
			switch d := actual - o.cost; {
			case d > 0:
				used[win(now)] += d
			case win(now) == win(o.at):
				used[win(now)] += d
			}
		}
	}
	// The provider admits at most Amount per window; the store, holding open calls at
	// each boundary, must still get most of it through.
	if share := float64(admittedTokens) / float64(l.Amount*int64(len(windows))); share < 0.8 {
		t.Fatalf("admitted %.2f of the windows' amount; want at least 0.8", share)
	}
}

func testConcurrent(t *testing.T, s quota.Store) {
	limits := []quota.Limit{{Dimension: quota.Tokens, Amount: 1 << 40, Per: time.Minute}}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				adm, err := reserveIn(s, T0, limits, 0, tokens(10), ttl)
				if err != nil || !adm.OK {
					errs <- fmt.Errorf("reserve: %+v %v", adm, err)
					return
				}
				if ok, err := s.Settle(context.Background(), T0, limits, adm.Ticket, tokens(3)); err != nil || !ok {
					errs <- fmt.Errorf("settle: %v %v", ok, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	u, err := usage(context.Background(), s, T0, limits, nil)
	if err != nil {
		t.Fatal(err)
	}
	if u.Used[0] != 8*500*3 || u.InFlight != 0 {
		t.Errorf("after 4000 reserve/settle pairs: Used %d InFlight %d, want %d and 0", u.Used[0], u.InFlight, 8*500*3)
	}
}
