package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
)

// benchCallers is how many callers call at once in BenchmarkServeOverhead.
const benchCallers = 64

// BenchmarkServeOverhead measures what "tollgate serve" adds to a Converse call, as it is
// deployed: three processes, the callers (this benchmark, 64 goroutines with the Go SDK,
// SigV4-signed, one attempt each), the gateway ("tollgate serve --upstream") and a
// zero-latency "tollgate emulate". The same calls go straight to the emulator and
// through the gateway, in alternating rounds of the same run. The quotas are far above
// the load, so nothing waits for admission. Everything shares the machine's cores.
//
// "saturated": each caller calls again as soon as its call returns, so the calls per
// second are the most the machine does, and the latencies include waiting for a core.
// "paced": the 64 callers together start 1,000 calls a second on each side, below what
// either side can do, so the latencies are the calls' own. "paced-50ms-upstream": as
// paced, against a second emulator (and gateway in front of it) that answers after
// 50 ms, as a model's first token comes late: then about 50 of the 64 callers have a
// call in flight at any moment, while the cores are not saturated.
//
// It reports each side's p50 and p99 latency and calls per second, the gateway's added
// p50 and p99 (through minus direct), and the gateway process's CPU time per call:
//
//	go test -run '^$' -bench ServeOverhead -benchtime 10000x -count 3 ./cmd/tollgate/
func BenchmarkServeOverhead(b *testing.B) {
	bin := tollgateBinary(b)
	const model = serveModel
	xdg := b.TempDir()
	key := createKey(b, xdg, "bench")
	// The callers keep a connection per caller, as a pool of 64 would; the SDK's default
	// keeps 10 idle, which would make both sides open connections all the time.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = benchCallers
	defer tr.CloseIdleConnections()
	client := func(endpoint string) *bedrockruntime.Client {
		return bedrockruntime.NewFromConfig(aws.Config{Region: "us-east-1", HTTPClient: &http.Client{Transport: tr},
			Credentials: credentials.NewStaticCredentialsProvider(key.id, key.secret, "")},
			func(o *bedrockruntime.Options) {
				o.BaseEndpoint = aws.String(endpoint)
				o.RetryMaxAttempts = 1
			})
	}
	in := &bedrockruntime.ConverseInput{ModelId: aws.String(model),
		Messages:        []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: strings.Repeat("word ", 200)}}}},
		InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(20)}}
	// start runs an emulator that answers after ttft (negative: at once) and a gateway in
	// front of it, and returns a client of each and the gateway.
	start := func(ttft string) (direct, through *bedrockruntime.Client, gw *proc) {
		emu := startEmulateProcess(b, bin, "--ttft", ttft, "--per-token", "-1s", "--output-tokens", "20",
			"--tpm", model+"=1000000000000", "--tpd", model+"=1000000000000000")
		gw = startBinary(b, bin, []string{"XDG_CONFIG_HOME=" + xdg}, "serve", "--listen", "127.0.0.1:0",
			"--upstream", emu, "--model", model, "--tpm", "10000000000", "--tpd", "1000000000000", "--log-level", "warn")
		direct, through = client(emu), client(gw.url)
		// Warm both paths' connections and the gateway's caches before timing.
		for _, c := range []*bedrockruntime.Client{direct, through} {
			if _, err := calls(c, in, 4*benchCallers, 0); err != nil {
				b.Fatal(err)
			}
		}
		return direct, through, gw
	}
	type side struct {
		direct, through *bedrockruntime.Client
		gw              *proc
	}
	var zero, slow side
	zero.direct, zero.through, zero.gw = start("-1s")
	slow.direct, slow.through, slow.gw = start("50ms")
	for _, mode := range []struct {
		name string
		side
		rate float64
	}{{"saturated", zero, 0}, {"paced", zero, 1000}, {"paced-50ms-upstream", slow, 1000}} {
		direct, through, gw := mode.direct, mode.through, mode.gw
		b.Run(mode.name, func(b *testing.B) {
			const round = 1000
			var dLat, gLat []time.Duration
			var dTook, gTook, gCPU time.Duration
			for left := b.N; left > 0; left -= round {
				n := min(left, round)
				for _, side := range []struct {
					c    *bedrockruntime.Client
					lat  *[]time.Duration
					took *time.Duration
				}{{direct, &dLat, &dTook}, {through, &gLat, &gTook}} {
					start, cpu := time.Now(), cpuTime(gw.cmd.Process.Pid)
					lat, err := calls(side.c, in, n, mode.rate)
					*side.took += time.Since(start)
					if side.c == through {
						gCPU += cpuTime(gw.cmd.Process.Pid) - cpu
					}
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
			b.ReportMetric(float64(gCPU)/float64(time.Microsecond)/float64(len(gLat)), "gateway-process-cpu-us/call")
		})
	}
	for _, gw := range []*proc{zero.gw, slow.gw} {
		if s := gw.stderr.String(); strings.Contains(s, "level=ERROR") {
			b.Errorf("the gateway logged errors:\n%s", s)
		}
	}
}

// calls makes n Converse calls with c from benchCallers goroutines and returns each
// call's latency. With rate > 0 the i-th call starts no earlier than i/rate seconds
// after the first; its latency counts from when it starts.
func calls(c *bedrockruntime.Client, in *bedrockruntime.ConverseInput, n int, rate float64) ([]time.Duration, error) {
	var next atomic.Int64
	begin := time.Now()
	var mu sync.Mutex
	var errs []error
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
					errs = append(errs, err)
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
	if len(errs) > 0 {
		return lat, fmt.Errorf("%d callers failed, the first with: %w", len(errs), errs[0])
	}
	return lat, nil
}

// percentile is the p-th percentile of sorted (nearest rank).
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[max(i-1, 0)]
}
