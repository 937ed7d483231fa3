package bench

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"golang.org/x/time/rate"

	"github.com/tollgate-dev/tollgate/internal/estimate"
	"github.com/tollgate-dev/tollgate/internal/invoke"
)

// Defaults of the baselines' settings, used when a scenario leaves them zero.
const (
	defaultWorkers     = 4
	defaultPoll        = time.Second // dual-bucket's polling interval, emulated
	cookbookPause      = 15 * time.Second
	cookbookAttempts   = 5  // the script's --max_attempts default
	cookbookMaxTokens  = 15 // the script's request_json.get("max_tokens", 15)
	dualBucketWordRate = 1.3
)

// scaledRetryer is an SDK retryer whose backoff delays are divided by the time scale, so
// that it waits the same emulated time against the emulator as it would against
// Bedrock. Everything else is the SDK's own.
type scaledRetryer struct {
	aws.RetryerV2
	scale float64
}

// RetryDelay is the SDK retryer's delay, scaled.
func (r scaledRetryer) RetryDelay(attempt int, err error) (time.Duration, error) {
	d, err := r.RetryerV2.RetryDelay(attempt, err)
	return time.Duration(float64(d) / r.scale), err
}

// standard is the SDK's default retryer (retry.NewStandard: 3 attempts, exponential
// backoff with jitter, 1 s base for throttles, 20 s cap, the 500-token retry quota).
func (e *env) standard() aws.Retryer {
	return scaledRetryer{retry.NewStandard(func(o *retry.StandardOptions) {
		if e.cfg.MaxAttempts > 0 {
			o.MaxAttempts = e.cfg.MaxAttempts
		}
	}), e.scale}
}

func (e *env) workers() int {
	if e.cfg.Workers > 0 {
		return e.cfg.Workers
	}
	return defaultWorkers
}

// runSDKStandard is a fixed pool of workers calling the plain SDK client with its default
// retryer — what the AWS SDK for Go v2 does out of the box
// (https://docs.aws.amazon.com/sdk-for-go/v2/developer-guide/configure-retries-timeouts.html).
// A call that still fails after the retryer's 3 attempts is failed.
func runSDKStandard(ctx context.Context, e *env, in <-chan *call) {
	pool(ctx, e, in, e.workers(), e.sdk(e.standard()))
}

// runSDKAdaptive is a fixed pool of workers with the SDK's adaptive retry mode
// (retry.NewAdaptiveMode): the standard retryer plus a client-side attempt rate limiter
// that a CUBIC controller lowers on throttles. Its rate limiter measures real time (the
// SDK offers no clock to scale), so against a time-scaled emulator it recovers more
// slowly, in emulated time, than it would against Bedrock.
func runSDKAdaptive(ctx context.Context, e *env, in <-chan *call) {
	r := scaledRetryer{retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
		if e.cfg.MaxAttempts > 0 {
			o.StandardOptions = append(o.StandardOptions, func(so *retry.StandardOptions) { so.MaxAttempts = e.cfg.MaxAttempts })
		}
	}), e.scale}
	pool(ctx, e, in, e.workers(), e.sdk(r))
}

// requestsPerMinute is the configured RPM of a limiter: the setting, else the enforced
// RPM quota, else none (+Inf).
func (e *env) requestsPerMinute() float64 {
	switch {
	case e.cfg.RequestsPerMinute > 0:
		return e.cfg.RequestsPerMinute
	case e.rpm > 0:
		return float64(e.rpm)
	}
	return math.Inf(1)
}

// tokensPerMinute is the TPM capacity a token-counting baseline is configured with.
func (e *env) tokensPerMinute() float64 {
	f := e.cfg.TPMFraction
	if f == 0 {
		f = 1
	}
	return f * float64(e.tpm)
}

// runRPMOnly puts a requests-per-minute limiter (golang.org/x/time/rate, burst 1) in
// front of the SDK's standard retries: each call waits for the limiter, then calls. The
// rate is the strategy's requests_per_minute, which a user tunes to TPM ÷ tokens per call.
func runRPMOnly(ctx context.Context, e *env, in <-chan *call) {
	rpm := e.requestsPerMinute()
	if math.IsInf(rpm, 1) {
		rpm = 15
	}
	lim := rate.NewLimiter(rate.Limit(rpm/60*e.scale), 1)
	api := e.sdk(e.standard())
	var wg sync.WaitGroup
	for c := range in {
		wg.Go(func() {
			if err := lim.Wait(ctx); err != nil {
				e.finish(c, nil, err)
				return
			}
			out, err := send(ctx, api, c)
			e.finish(c, out, err)
		})
	}
	wg.Wait()
}

// bucket is a continuously refilling capacity, as both token-counting baselines keep
// it: capacity per minute, starting full, refilled in proportion to the time elapsed.
type bucket struct {
	perMinute, level float64
}

// refill adds what elapsed refills. An unlimited bucket (perMinute +Inf) stays full; no
// time elapsed adds nothing (+Inf × 0 would be NaN, and a NaN level never has room —
// two readings of a clock can be equal).
func (b *bucket) refill(elapsed time.Duration) {
	if elapsed <= 0 {
		return
	}
	b.level = math.Min(b.perMinute, b.level+b.perMinute*elapsed.Minutes())
}

// runDualBucket is the dual token bucket commonly published for Bedrock: one bucket of
// requests per minute and one of tokens per minute; a call's tokens are estimated as
// words × 1.3 + max_tokens (the model's default when unset); a call polls both buckets
// until each has room, takes from both and calls the SDK with its standard retries.
// Nothing is given back or charged when the call ends (no settlement).
func runDualBucket(ctx context.Context, e *env, in <-chan *call) {
	var mu sync.Mutex
	rpmB := bucket{perMinute: e.requestsPerMinute()}
	tpmB := bucket{perMinute: e.tokensPerMinute()}
	rpmB.level, tpmB.level = rpmB.perMinute, tpmB.perMinute
	last := e.srv.Now()
	poll := e.cfg.Poll
	if poll == 0 {
		poll = defaultPoll
	}
	api := e.sdk(e.standard())
	var wg sync.WaitGroup
	for c := range in {
		wg.Go(func() {
			est := float64(c.words)*dualBucketWordRate + float64(e.maxTokens(c))
			for {
				mu.Lock()
				now := e.srv.Now()
				rpmB.refill(now.Sub(last))
				tpmB.refill(now.Sub(last))
				last = now
				ok := rpmB.level >= 1 && tpmB.level >= math.Min(est, tpmB.perMinute)
				if ok {
					rpmB.level--
					tpmB.level -= est
				}
				mu.Unlock()
				if ok {
					break
				}
				select {
				case <-ctx.Done():
					e.finish(c, nil, ctx.Err())
					return
				case <-time.After(e.real(poll)):
				}
			}
			out, err := send(ctx, api, c)
			e.finish(c, out, err)
		})
	}
	wg.Wait()
}

// runCookbook is OpenAI's api_request_parallel_processor.py
// (github.com/openai/openai-cookbook, examples/api_request_parallel_processor.py) in Go:
// one dispatch loop takes the next request (retries first), refills request and token
// capacity continuously (capped at a minute's worth), and sends the request when both
// have room, counting its tokens before the call — the prompt's cl100k_base tokens, 4
// per message, 2 for the reply's priming, plus max_tokens (15 when unset, as the script
// reads it). Each request is one attempt; a failed one is re-queued until its 5 attempts
// are spent. After a rate-limit error the loop pauses until 15 s after it. Nothing is
// settled. The loop sleeps 1 ms (real time) per turn, as the script does.
func runCookbook(ctx context.Context, e *env, in <-chan *call) {
	api := e.sdk(aws.NopRetryer{})
	tok := estimate.Base()
	attempts := e.cfg.MaxAttempts
	if attempts == 0 {
		attempts = cookbookAttempts
	}
	type request struct {
		c            *call
		tokens       float64
		attemptsLeft int
	}
	var (
		mu        sync.Mutex
		retries   []*request
		lastLimit time.Time // emulated time of the last rate-limit error
		wg        sync.WaitGroup
	)
	rpmB := bucket{perMinute: e.requestsPerMinute()}
	tpmB := bucket{perMinute: e.tokensPerMinute()}
	rpmB.level, tpmB.level = rpmB.perMinute, tpmB.perMinute
	last := e.srv.Now()
	var next *request
	open, inProgress := true, 0
	for {
		if next == nil {
			mu.Lock()
			if len(retries) > 0 {
				next, retries = retries[0], retries[1:]
			}
			mu.Unlock()
			if next == nil && open {
				select {
				case c, ok := <-in:
					if !ok {
						open = false
						break
					}
					mt := cookbookMaxTokens
					if c.in.InferenceConfig != nil && c.in.InferenceConfig.MaxTokens != nil {
						mt = int(*c.in.InferenceConfig.MaxTokens)
					}
					n := 4 + tok.Count("system") + tok.Count(e.sc.Prompt) + 4 + tok.Count("user") + tok.Count(c.doc) + 2 + mt
					next = &request{c: c, tokens: float64(n), attemptsLeft: attempts}
					mu.Lock()
					inProgress++
					mu.Unlock()
				default:
				}
			}
		}
		now := e.srv.Now()
		rpmB.refill(now.Sub(last))
		tpmB.refill(now.Sub(last))
		last = now
		if next != nil && rpmB.level >= 1 && tpmB.level >= next.tokens {
			rpmB.level--
			tpmB.level -= next.tokens
			next.attemptsLeft--
			r := next
			next = nil
			wg.Go(func() {
				out, err := send(ctx, api, r.c)
				if err == nil {
					e.finish(r.c, out, nil)
					mu.Lock()
					inProgress--
					mu.Unlock()
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if invoke.Classify(err).Kind == invoke.Throttle {
					lastLimit = e.srv.Now()
				}
				if r.attemptsLeft > 0 && ctx.Err() == nil {
					retries = append(retries, r)
					return
				}
				inProgress--
				e.finish(r.c, nil, err)
			})
		}
		mu.Lock()
		done := !open && inProgress == 0 && next == nil
		limited, pause := !lastLimit.IsZero(), cookbookPause-e.srv.Now().Sub(lastLimit)
		mu.Unlock()
		if done || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Millisecond)
		if limited && pause > 0 {
			time.Sleep(e.real(pause))
		}
	}
	wg.Wait()
	if next != nil {
		e.finish(next.c, nil, ctx.Err())
	}
	mu.Lock()
	for _, r := range retries {
		e.finish(r.c, nil, ctx.Err())
	}
	mu.Unlock()
}
