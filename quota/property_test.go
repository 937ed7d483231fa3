package quota_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tollgate-dev/tollgate/internal/costs"
	"github.com/tollgate-dev/tollgate/quota"
)

// event is one entry of the independent log a simulation keeps: a charge of amount at a
// time, either at admission (the reservation, reduced by any refund at settlement) or at
// settlement (an excess over the reservation).
type event struct {
	at     time.Time
	cost   quota.Cost // final amount charged at this instant
	admit  bool       // an admission (else an excess charge)
	refund bool       // the admission's settlement refunded something
}

// ledger is a concurrency-safe log of admissions and settlements.
type ledger struct {
	mu     sync.Mutex
	events []*event
}

func (g *ledger) admit(at time.Time, c quota.Cost) *event {
	e := &event{at: at, cost: c, admit: true}
	g.mu.Lock()
	g.events = append(g.events, e)
	g.mu.Unlock()
	return e
}

// settle records the settlement of e at now: the refund reduces e's amount; an excess
// becomes a charge of its own at now.
func (g *ledger) settle(e *event, now time.Time, actual quota.Cost) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var extra quota.Cost
	for _, d := range dims {
		r, a := get(e.cost, d), get(actual, d)
		if a < r {
			costs.Set(&e.cost, d, a)
			e.refund = true
		} else if a > r {
			costs.Set(&extra, d, a-r)
		}
	}
	if extra != (quota.Cost{}) {
		g.events = append(g.events, &event{at: now, cost: extra})
	}
}

var dims = []quota.Dimension{quota.Requests, quota.Tokens, quota.InputTokens, quota.OutputTokens}

func get(c quota.Cost, d quota.Dimension) int64 { return costs.Get(c, d) }

// priorities lists the classes from highest to lowest.
var priorities = [5]quota.Priority{quota.Critical, quota.High, quota.Normal, quota.Low, quota.Background}

// check verifies, for every admission at t, that the admissions in [t-Per, t] (at their
// final amounts) plus the excess charges in [t-Per, t) fit in the limit: no call was
// admitted into a window without room, and with refunds only, no interval of length Per
// ever holds more than Amount. It returns the number of admissions checked.
func (g *ledger) check(t *testing.T, l quota.Limit) int {
	t.Helper()
	ev := append([]*event(nil), g.events...)
	sort.SliceStable(ev, func(i, j int) bool { return ev[i].at.Before(ev[j].at) })
	n := 0
	for i, e := range ev {
		if !e.admit {
			continue
		}
		n++
		var sum int64
		for j := i; j >= 0 && !ev[j].at.Before(e.at.Add(-l.Per)); j-- {
			if ev[j].admit || ev[j].at.Before(e.at) {
				sum += get(ev[j].cost, l.Dimension)
			}
		}
		for j := i + 1; j < len(ev) && ev[j].at.Equal(e.at); j++ {
			if ev[j].admit {
				sum += get(ev[j].cost, l.Dimension)
			}
		}
		if sum > l.Amount {
			t.Fatalf("limit %v: admission at %v saw %d in the window ending there", l, e.at, sum)
		}
	}
	return n
}

// usage returns the final usage of dimension d charged in [from, to).
func (g *ledger) usage(d quota.Dimension, from, to time.Time) int64 {
	var sum int64
	for _, e := range g.events {
		if !e.at.Before(from) && e.at.Before(to) {
			sum += get(e.cost, d)
		}
	}
	return sum
}

// randomLimits draws one to three limits on distinct (Dimension, Per) pairs, with Amounts
// well above the costs randomCost draws.
func randomLimits(rng *rand.Rand) []quota.Limit {
	candidates := []quota.Limit{
		{Dimension: quota.Tokens, Amount: 20_000 + rng.Int64N(80_000), Per: time.Minute},
		{Dimension: quota.Requests, Amount: 20 + rng.Int64N(60), Per: time.Minute},
		{Dimension: quota.Tokens, Amount: 300_000 + rng.Int64N(400_000), Per: 10 * time.Minute},
		{Dimension: quota.OutputTokens, Amount: 2_000 + rng.Int64N(3_000), Per: 10 * time.Second},
	}
	rng.Shuffle(len(candidates), func(i, j int) { candidates[i], candidates[j] = candidates[j], candidates[i] })
	return candidates[:1+rng.IntN(3)]
}

// smallCost draws a cost of 0.1% to 1% of the smallest Amount on each dimension (one
// request per call): calls as small next to the limits as Bedrock calls are next to
// Bedrock's quotas. Much larger calls leave room idle while the next one waits for
// enough to fit, which costs throughput under any strict order.
func smallCost(rng *rand.Rand, limits []quota.Limit) quota.Cost {
	minAmount := func(d quota.Dimension) int64 {
		m := int64(1 << 40)
		for _, l := range limits {
			if l.Dimension == d && l.Amount < m {
				m = l.Amount
			}
		}
		return m
	}
	f := 0.001 + 0.009*rng.Float64()
	tok := min(minAmount(quota.Tokens), minAmount(quota.InputTokens)*2, minAmount(quota.OutputTokens)*2, 1_000_000)
	in := int64(f * float64(tok) / 2)
	return quota.Cost{Requests: 1, Tokens: 2 * in, InputTokens: in, OutputTokens: in}
}

func randomCost(rng *rand.Rand) quota.Cost {
	in, out := 100+rng.Int64N(4_000), 50+rng.Int64N(1_500)
	return quota.Cost{Requests: 1, Tokens: in + out, InputTokens: in, OutputTokens: out}
}

// TestPropertyWindowsHold drives a Limiter with random limits, costs, priorities and
// tenants, random holds, settlements that refund or charge extra, cancellations,
// reservations left to lapse and callers that give up waiting, for over ten simulated
// minutes, and checks every limit against the independent ledger.
func TestPropertyWindowsHold(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 99))
				limits := randomLimits(rng)
				maxInFlight := 0
				if rng.IntN(2) == 0 {
					maxInFlight = 4 + rng.IntN(12)
				}
				lim, err := quota.New(quota.Config{Limits: limits, MaxInFlight: maxInFlight, ReservationTTL: 45 * time.Second})
				if err != nil {
					t.Fatal(err)
				}
				defer lim.Close()
				var g ledger
				start := time.Now()
				end := start.Add(11 * time.Minute)
				var wg sync.WaitGroup
				var statsMu sync.Mutex
				var admitted, gaveUp, lapsed int
				for w := 0; w < 24; w++ {
					wrng := rand.New(rand.NewPCG(seed, uint64(w)))
					wg.Go(func() {
						for time.Now().Before(end) {
							c := randomCost(wrng)
							opt := quota.Options{Priority: priorities[wrng.IntN(5)], Tenant: fmt.Sprint("t", wrng.IntN(3))}
							ctx, cancel := context.WithTimeout(context.Background(), time.Duration(5+wrng.IntN(120))*time.Second)
							r, err := lim.Wait(ctx, c, opt)
							cancel()
							if err != nil {
								statsMu.Lock()
								gaveUp++
								statsMu.Unlock()
								time.Sleep(time.Second)
								continue
							}
							e := g.admit(time.Now(), c) // the bubble's clock stands still until Wait's caller blocks again
							time.Sleep(time.Duration(wrng.IntN(20_000)) * time.Millisecond)
							statsMu.Lock()
							admitted++
							statsMu.Unlock()
							switch k := wrng.IntN(10); {
							case k == 0:
								r.Cancel()
								g.settle(e, time.Now(), quota.Cost{})
							case k == 1:
								statsMu.Lock()
								lapsed++ // never ended: it lapses after the TTL, charged in full
								statsMu.Unlock()
							default:
								actual := c
								actual.OutputTokens = wrng.Int64N(c.OutputTokens * 2)
								actual.Tokens = actual.InputTokens + actual.OutputTokens
								r.Settle(actual)
								g.settle(e, time.Now(), actual)
								r.Settle(quota.Cost{}) // ended already: no-ops, which the ledger check proves
								r.Cancel()
							}
						}
					})
				}
				wg.Wait()
				checked := 0
				for _, l := range limits {
					checked = g.check(t, l)
				}
				t.Logf("limits %v, in flight %d: %d admitted, %d gave up, %d lapsed, %d checked", limits, maxInFlight, admitted, gaveUp, lapsed, checked)
				if admitted < 100 || gaveUp == 0 || lapsed == 0 {
					t.Fatalf("the scenario did not exercise the limiter: %d admitted, %d gave up, %d lapsed", admitted, gaveUp, lapsed)
				}
			})
		})
	}
}

// TestPropertyBackloggedUtilization keeps random limits backlogged with random costs (see
// smallCost) settled at once (refunds and excess charges) and checks that the binding limit is used
// to at least 99% of its Amount per Per, while still never exceeded.
func TestPropertyBackloggedUtilization(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 7))
				limits := randomLimits(rng)
				lim, err := quota.New(quota.Config{Limits: limits})
				if err != nil {
					t.Fatal(err)
				}
				defer lim.Close()
				var g ledger
				start := time.Now()
				end := start.Add(12 * time.Minute)
				var wg sync.WaitGroup
				for w := 0; w < 16; w++ {
					wrng := rand.New(rand.NewPCG(seed, 1000+uint64(w)))
					wg.Go(func() {
						for time.Now().Before(end) {
							c := smallCost(wrng, limits)
							r, err := lim.Wait(context.Background(), c, quota.Options{Priority: priorities[wrng.IntN(5)]})
							if err != nil {
								t.Error(err)
								return
							}
							e := g.admit(time.Now(), c) // the bubble's clock stands still until Wait's caller blocks again
							actual := c
							actual.OutputTokens = wrng.Int64N(c.OutputTokens * 3 / 2)
							actual.Tokens = actual.InputTokens + actual.OutputTokens
							r.Settle(actual)
							g.settle(e, time.Now(), actual)
						}
					})
				}
				wg.Wait()
				best, bestLimit := 0.0, quota.Limit{}
				for _, l := range limits {
					g.check(t, l)
					// Count whole periods from the start, where the backlog began.
					periods := int64(end.Sub(start) / l.Per)
					to := start.Add(time.Duration(periods) * l.Per)
					u := float64(g.usage(l.Dimension, start, to)) / float64(periods*l.Amount)
					if u > best {
						best, bestLimit = u, l
					}
				}
				t.Logf("limits %v: binding %v used to %.4f", limits, bestLimit, best)
				if best < 0.99 {
					t.Errorf("binding limit %v used to %.4f of its Amount per Per while backlogged; want >= 0.99", bestLimit, best)
				}
			})
		})
	}
}
