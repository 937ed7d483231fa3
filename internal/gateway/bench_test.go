package gateway

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/tollgate-dev/tollgate/bedrocktest"
)

// benchCallers is how many callers call at once in BenchmarkGatewayOverhead.
const benchCallers = 64

// BenchmarkGatewayOverhead measures what the gateway adds to a Converse call: the same
// calls, made by 64 concurrent callers with the Go SDK (SigV4-signed, one attempt each),
// go once straight to a zero-latency emulator and once through the gateway relaying to
// that emulator, in alternating rounds of the same run. The emulator's and the gateway's
// quotas are far above the load, so nothing waits. Everything (callers, gateway,
// emulator) shares the machine's cores.
//
// "saturated": each caller calls again as soon as its call returns, so the calls per
// second are the most the machine does, and the latencies include waiting for a core.
// "paced": the 64 callers together start 1,000 calls a second on each side, below what
// either side can do, so the latencies are the calls' own.
//
// It reports each side's p50 and p99 latency, calls per second and CPU time per call
// (the whole process's: callers, emulator and, through, the gateway), and the gateway's
// added p50 and p99 (through minus direct):
//
//	go test -run '^$' -bench GatewayOverhead -benchtime 10000x -count 3 ./internal/gateway/
func BenchmarkGatewayOverhead(b *testing.B) {
	g := newRelayGateway(b, relaySetup{tpm: 100_000_000_000, scale: 1, latency: bedrocktest.Latency{TimeToFirstToken: -1, PerOutputToken: -1},
		tenants: map[string]Tenant{"team-a": {}}})
	k := g.Keys["team-a"]
	// The callers keep a connection per caller, as a pool of 64 would; the SDK's default
	// keeps 10 idle, which would make both sides open connections all the time.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = benchCallers
	defer tr.CloseIdleConnections()
	client := func(endpoint string) *bedrockruntime.Client {
		return bedrockruntime.NewFromConfig(aws.Config{Region: "us-east-1", HTTPClient: &http.Client{Transport: tr},
			Credentials: credentials.NewStaticCredentialsProvider(k.AccessKeyID, k.SecretAccessKey, "")},
			func(o *bedrockruntime.Options) {
				o.BaseEndpoint = aws.String(endpoint)
				o.RetryMaxAttempts = 1
			})
	}
	direct, through := client(g.Emu.URL), client(g.URL)
	in := converseOf(200, 20, "")
	// Warm both paths' connections and the gateway's caches before timing.
	for _, c := range []*bedrockruntime.Client{direct, through} {
		if _, err := calls(c, in, 4*benchCallers, 0); err != nil {
			b.Fatal(err)
		}
	}
	for _, mode := range []struct {
		name string
		rate float64
	}{{"saturated", 0}, {"paced", 1000}} {
		b.Run(mode.name, func(b *testing.B) {
			const round = 1000
			var dLat, gLat []time.Duration
			var dTook, gTook, dCPU, gCPU time.Duration
			for left := b.N; left > 0; left -= round {
				n := min(left, round)
				for _, side := range []struct {
					c         *bedrockruntime.Client
					lat       *[]time.Duration
					took, cpu *time.Duration
				}{{direct, &dLat, &dTook, &dCPU}, {through, &gLat, &gTook, &gCPU}} {
					start, cpu := time.Now(), processCPU(b)
					lat, err := calls(side.c, in, n, mode.rate)
					*side.took += time.Since(start)
					*side.cpu += processCPU(b) - cpu
					if err != nil {
						b.Fatal(err)
					}
					*side.lat = append(*side.lat, lat...)
				}
			}
			b.StopTimer()
			slices.Sort(dLat)
			slices.Sort(gLat)
			ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
			dp50, dp99, gp50, gp99 := percentile(dLat, 50), percentile(dLat, 99), percentile(gLat, 50), percentile(gLat, 99)
			b.ReportMetric(0, "ns/op") // an op is one call on each side; the figures below say more
			b.ReportMetric(ms(dp50), "direct-p50-ms")
			b.ReportMetric(ms(dp99), "direct-p99-ms")
			b.ReportMetric(ms(gp50), "gateway-p50-ms")
			b.ReportMetric(ms(gp99), "gateway-p99-ms")
			b.ReportMetric(ms(gp50-dp50), "added-p50-ms")
			b.ReportMetric(ms(gp99-dp99), "added-p99-ms")
			b.ReportMetric(float64(len(dLat))/dTook.Seconds(), "direct-calls/s")
			b.ReportMetric(float64(len(gLat))/gTook.Seconds(), "gateway-calls/s")
			us := func(d time.Duration, n int) float64 { return float64(d) / float64(time.Microsecond) / float64(n) }
			b.ReportMetric(us(dCPU, len(dLat)), "direct-cpu-us/call")
			b.ReportMetric(us(gCPU, len(gLat)), "gateway-cpu-us/call")
			b.ReportMetric(us(gCPU, len(gLat))-us(dCPU, len(dLat)), "added-cpu-us/call")
		})
	}
}

// calls makes n Converse calls with c from benchCallers goroutines and returns each
// call's latency. With rate > 0 the i-th call starts no earlier than i/rate seconds
// after the first; its latency counts from when it starts.
func calls(c *bedrockruntime.Client, in *bedrockruntime.ConverseInput, n int, rate float64) ([]time.Duration, error) {
	var next atomic.Int64
	begin := time.Now()
	var mu sync.Mutex
	var firstErr error
	lat := make([]time.Duration, 0, n)
	var wg sync.WaitGroup
	for range benchCallers {
		wg.Go(func() {
			mine := make([]time.Duration, 0, n/benchCallers+1)
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				if rate > 0 {
					time.Sleep(time.Until(begin.Add(time.Duration(float64(i-1) / rate * float64(time.Second)))))
				}
				start := time.Now()
				_, err := c.Converse(context.Background(), in)
				mine = append(mine, time.Since(start))
				if err != nil {
					mu.Lock()
					firstErr = cmp(firstErr, err)
					mu.Unlock()
					break
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return lat, firstErr
}

// cmp keeps the first error.
func cmp(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// processCPU is the CPU time the process has used (user and system): a call's CPU
// counts the callers', the gateway's and the emulator's work, whatever else the machine
// runs.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// percentile is the p-th percentile of sorted (nearest rank).
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[max(i-1, 0)]
}
