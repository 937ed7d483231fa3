package redisquota_test

import (
	"context"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate-dev/tollgate/internal/redistest"
	"github.com/tollgate-dev/tollgate/quota"
	"github.com/tollgate-dev/tollgate/quota/redisquota"
)

// countCommands counts the commands a client sends to Redis.
type countCommands struct{ n atomic.Int64 }

func (h *countCommands) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countCommands) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h *countCommands) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}

// gcra is the one-round-trip-per-call way (github.com/go-redis/redis_rate): a generic
// cell rate algorithm in one Lua script, called for every admission, on Redis's clock.
var gcra = redis.NewScript(`
local key, burst, rate, period, cost = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = period / rate
local tat = tonumber(redis.call('GET', key) or now)
if tat < now then tat = now end
local new = tat + cost * interval
local allow = now - (new - burst * interval)
if allow < 0 then return {0, math.ceil(-allow * 1000)} end
redis.call('SET', key, new, 'EX', math.ceil(new - now + 1))
return {1, 0}
`)

func benchClient(b *testing.B, srv *redistest.Server) (*redis.Client, *countCommands) {
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
	b.Cleanup(func() { c.Close() })
	h := &countCommands{}
	c.AddHook(h)
	return c, h
}

var benchLimits = []quota.Limit{
	{Dimension: quota.Tokens, Amount: 1 << 40, Per: time.Minute},
	{Dimension: quota.Requests, Amount: 1 << 30, Per: time.Minute},
}

// BenchmarkRoundTrips compares Redis commands per admitted call at a steady load (on the
// callers' clock) of 20 and 2,000 calls a second: the Store with grants, and the per-call
// script.
func BenchmarkRoundTrips(b *testing.B) {
	srv := redistest.Start(b)
	for _, perSecond := range []int{20, 2000} {
		b.Run("store=grants/calls-per-second="+strconv.Itoa(perSecond), func(b *testing.B) {
			c, h := benchClient(b, srv)
			// A scope of its own per run: the runs' clocks must not meet in Redis.
			s := newStore(b, srv, redisquota.Options{Client: c, Scope: b.Name() + "/" + strconv.Itoa(b.N)})
			now := time.Now()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				now = now.Add(time.Second / time.Duration(perSecond))
				ticket, _, _, err := s.Reserve(bg, now, benchLimits, 0, quota.Cost{Requests: 1, Tokens: 1000}, time.Minute)
				if err != nil || ticket == 0 {
					b.Fatal(ticket, err)
				}
				_, _ = s.Settle(bg, now, benchLimits, ticket, quota.Cost{Requests: 1, Tokens: 700})
			}
			b.ReportMetric(float64(h.n.Load())/float64(b.N), "trips/call")
		})
	}
	// The other meters: a ClockWindow set on one instance, a TokenBucket set on two (an
	// instance alone on a bucket asks Redis for every call).
	for _, m := range []struct {
		name      string
		meter     quota.Meter
		instances int
	}{{"clock", quota.ClockWindow, 1}, {"bucket", quota.TokenBucket, 2}} {
		limits := slices.Clone(benchLimits)
		limits[0].Meter = m.meter
		for _, perSecond := range []int{20, 2000} {
			b.Run("store=grants/meter="+m.name+"/instances="+strconv.Itoa(m.instances)+"/calls-per-second="+strconv.Itoa(perSecond), func(b *testing.B) {
				c, h := benchClient(b, srv)
				var fleet []*redisquota.Store
				for range m.instances {
					fleet = append(fleet, newStore(b, srv, redisquota.Options{Client: c, Scope: b.Name() + "/" + strconv.Itoa(b.N)}))
				}
				now := time.Now()
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					now = now.Add(time.Second / time.Duration(perSecond))
					s := fleet[i%len(fleet)]
					ticket, retry, _, err := s.Reserve(bg, now, limits, 0, quota.Cost{Requests: 1, Tokens: 1000}, time.Minute)
					if err == nil && ticket == 0 && m.meter == quota.ClockWindow {
						// In a clock window's guard: at its end.
						now = retry
						ticket, _, _, err = s.Reserve(bg, now, limits, 0, quota.Cost{Requests: 1, Tokens: 1000}, time.Minute)
					}
					if err != nil || ticket == 0 {
						b.Fatal(ticket, err)
					}
					_, _ = s.Settle(bg, now, limits, ticket, quota.Cost{Requests: 1, Tokens: 700})
				}
				b.ReportMetric(float64(h.n.Load())/float64(b.N), "trips/call")
			})
		}
	}
	b.Run("store=per-call-lua", func(b *testing.B) {
		c, h := benchClient(b, srv)
		for i := 0; i < b.N; i++ {
			v, err := gcra.Run(bg, c, []string{"rate:" + b.Name()}, 1<<30, 1<<30, 60, 1).Slice()
			if err != nil || v[0].(int64) != 1 {
				b.Fatal(v, err)
			}
		}
		b.ReportMetric(float64(h.n.Load())/float64(b.N), "trips/call")
	})
}

// BenchmarkReserveParallel measures reservations (with their settlements) per second
// through one Store from all the process's cores, and the admission's p99, beside
// quota.NewMemory's store.
func BenchmarkReserveParallel(b *testing.B) {
	srv := redistest.Start(b)
	run := func(b *testing.B, s quota.Store) {
		var lat [64][]time.Duration
		var slot atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			k := slot.Add(1) - 1
			for pb.Next() {
				t0 := time.Now()
				ticket, _, _, err := s.Reserve(bg, t0, benchLimits, 0, quota.Cost{Requests: 1, Tokens: 1000}, time.Minute)
				d := time.Since(t0)
				if err != nil || ticket == 0 {
					b.Fatal(ticket, err)
				}
				if k < 64 {
					lat[k] = append(lat[k], d)
				}
				_, _ = s.Settle(bg, t0, benchLimits, ticket, quota.Cost{Requests: 1, Tokens: 700})
			}
		})
		el := time.Since(start)
		b.StopTimer()
		var all []time.Duration
		for _, l := range lat {
			all = append(all, l...)
		}
		slices.Sort(all)
		if len(all) > 0 {
			b.ReportMetric(float64(all[len(all)*99/100].Nanoseconds()), "p99-ns")
		}
		b.ReportMetric(float64(b.N)/el.Seconds(), "reservations/s")
	}
	b.Run("store=redis", func(b *testing.B) {
		c, h := benchClient(b, srv)
		s := newStore(b, srv, redisquota.Options{Client: c, Scope: b.Name() + "/" + strconv.Itoa(b.N)})
		run(b, s)
		b.ReportMetric(float64(h.n.Load())/float64(b.N), "trips/call")
	})
	b.Run("store=memory", func(b *testing.B) { run(b, quota.NewMemory()) })
}
