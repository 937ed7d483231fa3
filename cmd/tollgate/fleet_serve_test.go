package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/tollgate-dev/tollgate/internal/emustats"
	"github.com/tollgate-dev/tollgate/internal/redistest"
)

// serveFleet is "tollgate serve" processes (the command built with go build) before one
// "tollgate emulate" process at fleetScale, sharing one emulated account's quota
// (fleetTPM) through one Redis. Every gateway signs upstream with upstreamAccessKey, so
// the emulator meters them as one account.
type serveFleet struct {
	emu     string
	redis   *redistest.Server
	serves  []*proc
	clients []*bedrockruntime.Client
	alive   []atomic.Bool
	dead    []chan struct{} // closed when the gateway is killed
}

// startServeFleet starts n gateways; emuTPM is the emulator's tokens-per-minute quota and
// emuArgs its further flags.
func startServeFleet(t testing.TB, n int, emuTPM int64, emuArgs ...string) *serveFleet {
	t.Helper()
	bin := tollgateBinary(t)
	f := &serveFleet{redis: redistest.Start(t), alive: make([]atomic.Bool, n), dead: make([]chan struct{}, n)}
	f.emu = startEmulateProcess(t, bin, append([]string{"--time-scale", fmt.Sprint(fleetScale),
		"--tpm", fmt.Sprintf("%s=%d", fleetModel, emuTPM), "--tpd", fleetModel + "=100000000", "--output-tokens", "100"}, emuArgs...)...)
	xdg := t.TempDir()
	key := createKey(t, xdg, "fleet")
	for i := range n {
		p := startBinary(t, bin, []string{"XDG_CONFIG_HOME=" + xdg}, "serve", "--listen", "127.0.0.1:0",
			"--upstream", f.emu, "--time-scale", fmt.Sprint(fleetScale), "--model", fleetModel,
			"--tpm", fmt.Sprint(fleetTPM), "--tpd", "100000000", "--redis", f.redis.URL()+"/0?account=fleet")
		f.serves = append(f.serves, p)
		f.clients = append(f.clients, bedrockruntime.NewFromConfig(aws.Config{Region: "us-east-1",
			Credentials: credentials.NewStaticCredentialsProvider(key.id, key.secret, "")},
			func(o *bedrockruntime.Options) {
				o.BaseEndpoint = aws.String(p.url)
				// A gateway's 429 (a wait past --max-wait) is retried with the SDK's
				// backoff; no client-side retry budget, so that none is given up.
				o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
					so.MaxAttempts = 10
					so.RateLimiter = ratelimit.None
				})
			}))
		f.alive[i].Store(true)
		f.dead[i] = make(chan struct{})
	}
	return f
}

// kill SIGKILLs gateway i; its callers move to the others.
func (f *serveFleet) kill(t *testing.T, i int) {
	t.Helper()
	f.alive[i].Store(false)
	close(f.dead[i])
	if err := f.serves[i].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = f.serves[i].cmd.Wait()
}

// client returns the gateway caller i uses: its own, i mod n, or the next live one, as a
// load balancer would.
func (f *serveFleet) client(i int) (int, *bedrockruntime.Client) {
	for k := range len(f.clients) {
		j := (i + k) % len(f.clients)
		if f.alive[j].Load() {
			return j, f.clients[j]
		}
	}
	return -1, nil
}

// fleetLoad is callers calling a fleet until they have made their calls or are stopped.
type fleetLoad struct {
	done, failed atomic.Int64
	stop         chan struct{}
	wg           sync.WaitGroup
	mu           sync.Mutex
	errs         []string
}

// load starts callers callers, spread over the gateways, each making calls Converse
// calls one after the other (until stop when calls is 0). A call that fails because its
// gateway died is sent again to a live one; any other failure counts as failed.
func (f *serveFleet) load(callers, calls int) *fleetLoad {
	l := &fleetLoad{stop: make(chan struct{})}
	for i := range callers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for n := 0; calls == 0 || n < calls; n++ {
				select {
				case <-l.stop:
					return
				default:
				}
				if err := f.call(i); err != nil {
					l.failed.Add(1)
					l.mu.Lock()
					l.errs = append(l.errs, err.Error())
					l.mu.Unlock()
					continue
				}
				l.done.Add(1)
			}
		}()
	}
	return l
}

// call makes one Converse call for caller i, on another gateway if its own died.
func (f *serveFleet) call(i int) error {
	in := &bedrockruntime.ConverseInput{ModelId: aws.String(fleetModel),
		Messages: []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{
			&types.ContentBlockMemberText{Value: fmt.Sprintf("Caller %d. Review this clause: %s", i, strings.Repeat("the supplier shall deliver the goods ", 40))}}}},
		InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(200)}}
	for {
		j, c := f.client(i)
		if c == nil {
			return errors.New("no gateway alive")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		go func() {
			select {
			case <-f.dead[j]: // no use retrying a dead gateway
				cancel()
			case <-ctx.Done():
			}
		}()
		_, err := c.Converse(ctx, in)
		cancel()
		if err == nil {
			return nil
		}
		if !f.alive[j].Load() {
			continue // the gateway died under the call: the caller tries another
		}
		return fmt.Errorf("gateway %d: %w", j, err)
	}
}

// end stops the callers and waits for them; it fails the test if any call failed.
func (l *fleetLoad) end(t testing.TB) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	if n := l.failed.Load(); n > 0 {
		t.Errorf("%d of %d calls failed, want none: %v", n, n+l.done.Load(), l.errs[:min(len(l.errs), 5)])
	}
}

// Four "tollgate serve" processes share one Redis and one emulated account (a "tollgate
// emulate" process at 30×, 40,000 tokens a minute); thirty-two Go SDK callers, eight per
// gateway, make 384 calls, more than the quota admits at once. The emulator, the
// referee, throttled none and no limit's usage ever exceeded its amount, and every call
// was answered. The fleet's quota efficiency beside one gateway's alone on the same load
// is a wall-clock measure, so it lives in BenchmarkFleetEfficiency.
func TestFleetOfServesSharesOneQuota(t *testing.T) {
	serveFleetLoad(t, 4)
}

// fleetCallers and fleetCalls are the load of TestFleetOfServesSharesOneQuota: callers
// each making calls calls.
const fleetCallers, fleetCalls = 32, 12

// serveFleetLoad runs the load of TestFleetOfServesSharesOneQuota through gateways
// "tollgate serve" processes sharing one Redis, checks the referee, and returns its
// stats and the makespan.
func serveFleetLoad(t testing.TB, gateways int) (emustats.Series, time.Duration) {
	t.Helper()
	f := startServeFleet(t, gateways, fleetTPM)
	start := time.Now()
	l := f.load(fleetCallers, fleetCalls)
	l.wg.Wait()
	took := time.Since(start)
	l.end(t)
	s := fleetStats(t, f.emu, upstreamAccessKey)
	t.Logf("%d gateways: %d calls, %d tokens settled in %v (emulated %v), efficiency %.3f", gateways, l.done.Load(), s.SettledTokens,
		took.Round(time.Millisecond), (took * fleetScale).Round(time.Second), efficiency(t, s, took))
	if l.done.Load() != fleetCallers*fleetCalls {
		t.Errorf("%d gateways: %d calls answered, want %d", gateways, l.done.Load(), fleetCallers*fleetCalls)
	}
	checkReferee(t, s)
	return s, took
}

// waitEmulated sleeps until the emulator's clock has passed d since from.
func waitEmulated(t *testing.T, emu string, from time.Time, d time.Duration) time.Time {
	t.Helper()
	for {
		now := readStats(t, emu).Now
		if now.Sub(from) >= d {
			return now
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Redis stops for 30 emulated seconds in the middle of a saturating load on four
// gateways, and comes back empty (nothing is persisted). The emulator meters in clock
// minutes with four times the fleet's quota — what four instances failing open could
// send — so that it counts any overshoot instead of refusing it.
//
// The bound: the quota A, in every minute, across the outage and the restart. Redis holds
// the fleet to A in any window, counting each gateway's grants until a lifetime after
// they lapse. When it stops, each gateway admits from its grant until it lapses, then
// only within its own room: its charges that still count in the window stay within what
// they were when it lost Redis, so it admits again only as much as leaves the window of
// its own. Redis had counted all their charges together within A, so their rooms add up
// to at most A. (Their quota per day, far from full, is not held to their own rooms: the
// minute's keeps it from being exceeded for hours.) Redis comes back empty: each gateway finds the set's state new (its
// epoch changed), charges again what it holds in the window, and keeps to its own room
// for a hangover (two grant lifetimes and two timeouts) while the others reach Redis and
// do the same; after it, Redis counts everything that still counts and holds the fleet
// to A as before. So no minute holds more than A; failing open would allow 4A. The test
// asserts A; it also checks that the outage is visible on every gateway's status page,
// metrics and log, and that every call is answered.
func TestFleetOfServesRedisOutage(t *testing.T) {
	f := startServeFleet(t, 4, 4*fleetTPM, "--window", "clock")
	l := f.load(32, 0)
	t0 := readStats(t, f.emu).Now
	waitEmulated(t, f.emu, t0, 2*time.Minute)
	f.redis.Stop()
	atStop := l.done.Load()
	stopped := time.Now()
	down := readStats(t, f.emu).Now
	time.Sleep(300 * time.Millisecond) // every gateway has tried Redis
	for i, p := range f.serves {
		var st struct {
			Targets []struct {
				Shared        bool       `json:"shared"`
				DegradedSince *time.Time `json:"degradedSince"`
			}
		}
		getJSON(t, p.url+"/status.json", &st)
		if len(st.Targets) != 1 || !st.Targets[0].Shared || st.Targets[0].DegradedSince == nil || st.Targets[0].DegradedSince.Before(stopped.Add(-time.Second)) {
			t.Errorf("gateway %d's status with Redis stopped: %+v; want its target shared and degraded since the stop", i, st.Targets)
		}
		if m := getText(t, p.url+"/metrics"); !strings.Contains(m, "tollgate_shared_store_degraded{") || !regexpDegraded.MatchString(m) {
			t.Errorf("gateway %d's metrics with Redis stopped do not show tollgate_shared_store_degraded 1", i)
		}
	}
	waitEmulated(t, f.emu, down, 30*time.Second)
	f.redis.Restart()
	atRestart := l.done.Load()
	up := readStats(t, f.emu).Now
	waitEmulated(t, f.emu, up, time.Minute)
	atMinute := l.done.Load()
	waitEmulated(t, f.emu, up, 2*time.Minute)
	l.end(t)
	t.Logf("calls answered: %d before Redis stopped, %d while it was away, %d in the minute after it returned",
		atStop, atRestart-atStop, atMinute-atRestart)
	s := fleetStats(t, f.emu, upstreamAccessKey)
	for i, p := range f.serves {
		if log := p.stderr.String(); !strings.Contains(log, "redisquota: Redis unreachable") || !strings.Contains(log, "redisquota: Redis reachable again") {
			t.Errorf("gateway %d did not log the outage and the return:\n%s", i, log)
		}
		var st struct {
			Targets []struct{ DegradedSince *time.Time }
		}
		getJSON(t, p.url+"/status.json", &st)
		if len(st.Targets) != 1 || st.Targets[0].DegradedSince != nil {
			t.Errorf("gateway %d's status after Redis returned: %+v; want not degraded", i, st.Targets)
		}
	}
	checkNoThrottle(t, s)
	for _, lim := range s.Limits {
		if lim.Name != emustats.TokensPerMinute {
			continue
		}
		t.Logf("%d calls; peak tokens in a clock minute %d at %v (outage from %v for 30s), the fleet's quota and bound %d",
			l.done.Load(), lim.Peak, lim.PeakAt.Sub(t0).Round(time.Second), down.Sub(t0).Round(time.Second), fleetTPM)
		if lim.Peak > fleetTPM {
			t.Errorf("the fleet used %d tokens in a clock minute (at %v), above its quota (%d): the gateways admitted more than their own room across the outage",
				lim.Peak, lim.PeakAt, fleetTPM)
		}
	}
}

// regexpDegraded matches the degraded gauge at 1.
var regexpDegraded = regexp.MustCompile(`(?m)^tollgate_shared_store_degraded\{[^}]*\} 1$`)

// settledAt samples the fleet's settled tokens on the emulator's clock.
type settledAt struct {
	at     time.Time
	tokens int64
}

// sampleSettled records the fleet's settled tokens every 20ms until stop is closed.
func sampleSettled(t *testing.T, emu string, stop <-chan struct{}) <-chan []settledAt {
	out := make(chan []settledAt, 1)
	go func() {
		var s []settledAt
		for {
			snap := readStats(t, emu)
			for _, se := range snap.Series {
				if se.Model == fleetModel && strings.Contains(se.Account, upstreamAccessKey) {
					s = append(s, settledAt{snap.Now, se.SettledTokens})
				}
			}
			select {
			case <-stop:
				out <- s
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return out
}

// between returns the tokens settled in [from, to] of the emulator's clock.
func between(samples []settledAt, from, to time.Time) int64 {
	var a, b int64
	for _, s := range samples {
		if !s.at.After(from) {
			a = s.tokens
		}
		if !s.at.After(to) {
			b = s.tokens
		}
	}
	return b - a
}

// mostIn returns the most tokens settled in any span of length w that starts in
// [from, to].
func mostIn(samples []settledAt, from, to time.Time, w time.Duration) int64 {
	var most int64
	for _, s := range samples {
		if s.at.Before(from) || s.at.After(to) {
			continue
		}
		most = max(most, between(samples, s.at, s.at.Add(w)))
	}
	return most
}

// One of four gateways is SIGKILLed under a saturating load; its callers move to the
// others (as a load balancer would) and the calls it had under way are sent again. The
// room it held stays counted until its grant lapses (a grant lifetime, 2 emulated
// seconds here), and its charges leave the window with the rest; from then on the three
// survivors take the whole quota as the four did.
//
// Saturated, the fleet admits in lumps: when the window's oldest charges leave it, the
// room they free is taken at once, about one window (a minute plus the client's margin)
// after the lump before. So the test compares lumps, not minutes: the most the survivors
// settle in any 30 emulated seconds starting within one window after the kill plus a
// grant lifetime and a margin of 3 emulated seconds must be at least 0.85 of the most the
// four settled in any 30 seconds before the kill; keeping the dead gateway's quarter
// would leave them about 0.75. Both are measured in the same run on the emulator's
// clock. No call is throttled or lost.
func TestFleetOfServesSurvivesKilledInstance(t *testing.T) {
	f := startServeFleet(t, 4, fleetTPM)
	stop := make(chan struct{})
	samples := sampleSettled(t, f.emu, stop)
	l := f.load(32, 0)
	t0 := readStats(t, f.emu).Now
	killAt := waitEmulated(t, f.emu, t0, 2*time.Minute+30*time.Second)
	f.kill(t, 3)
	const (
		life, margin = 2 * time.Second, 3 * time.Second
		window       = time.Minute + 7500*time.Millisecond // the client's window at 30×: 250ms of margin
		lump         = 30 * time.Second
	)
	from := killAt.Add(life + margin)
	waitEmulated(t, f.emu, from, window+lump)
	close(stop)
	got := <-samples
	l.end(t)
	before := mostIn(got, t0, killAt.Add(-lump), lump)
	after := mostIn(got, from, from.Add(window), lump)
	t.Logf("the most settled in %v: %d by four gateways before the kill, %d by the three survivors from %v after it (quota %d a minute)",
		lump, before, after, life+margin, fleetTPM)
	if float64(after) < 0.85*float64(before) {
		t.Errorf("the survivors settled at most %d tokens in %v within a window from %v after the kill, below 0.85 × the four's %d before it: the dead gateway's share did not return",
			after, lump, life+margin, before)
	}
	checkReferee(t, fleetStats(t, f.emu, upstreamAccessKey))
}

// serve --redis fails at start, naming the fix, with --emulate, for a bad URL, and for a
// Redis that does not answer, without showing the URL's password.
func TestServeSharedRedisErrors(t *testing.T) {
	xdg := t.TempDir()
	createKey(t, xdg, "team-a")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--emulate", "--redis", "redis://127.0.0.1:6379"}, `start "tollgate emulate" once and give every instance --upstream`},
		{[]string{"--upstream", "http://127.0.0.1:1", "--tpm", "1000", "--redis", "http://127.0.0.1:6379"}, "bad Redis URL"},
		{[]string{"--upstream", "http://127.0.0.1:1", "--tpm", "1000", "--redis", "redis://:sekrit@127.0.0.1:1/0"}, "does not answer"},
	} {
		_, stderr, err := runCmd(t, append([]string{"serve", "--listen", "127.0.0.1:0"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("serve %v: %v; want an error saying %q", tc.args, err, tc.want)
		}
		if strings.Contains(fmt.Sprint(err)+stderr, "sekrit") {
			t.Errorf("serve %v shows the Redis password: %v %s", tc.args, err, stderr)
		}
	}
}
