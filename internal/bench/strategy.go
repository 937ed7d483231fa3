package bench

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/smithy-go/middleware"

	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/quota"
)

// Settings a strategy uses (StrategyConfig fields).
const (
	useWorkers = 1 << iota
	useRPM
	useTPMFraction
	useTollgate
	usePoll
)

// strategy is one way of sending the workload: run receives every call on in (closed
// after the last arrival) and calls e.finish exactly once for each, then returns.
type strategy struct {
	uses int
	run  func(ctx context.Context, e *env, in <-chan *call)
}

// strategies are the strategies by name; each is documented where it is defined.
var strategies = map[string]strategy{
	"tollgate":              {useTollgate, runTollgate},
	"tollgate-adaptive":     {useTollgate, runTollgate},
	"tollgate-no-rightsize": {useTollgate, runTollgate},
	"tollgate-told":         {useTollgate, runTollgate},
	"tollgate-either":       {useTollgate, runTollgate},
	"sdk-standard":          {useWorkers, runSDKStandard},
	"sdk-adaptive":          {useWorkers, runSDKAdaptive},
	"rpm-only":              {useRPM, runRPMOnly},
	"dual-bucket":           {useRPM | useTPMFraction | usePoll, runDualBucket},
	"cookbook":              {useRPM | useTPMFraction, runCookbook},
}

// defaultOrder is the order strategies run in when a scenario lists none.
var defaultOrder = []string{"tollgate", "tollgate-told", "tollgate-either", "tollgate-adaptive", "sdk-standard", "sdk-adaptive", "rpm-only", "dual-bucket", "cookbook"}

// Strategies lists the strategy names.
func Strategies() []string {
	var names []string
	for n := range strategies {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// call is one job as one strategy sends it, with its outcome.
type call struct {
	job
	in  *bedrockruntime.ConverseInput
	now func() time.Time // the emulator's clock

	mu            sync.Mutex
	maxTokensSent int       // max_tokens of the last attempt; 0 when unset
	sent          time.Time // emulated start of the last attempt
	finished      bool
	end           time.Time // emulated
	err           error
	out           *bedrockruntime.ConverseOutput
}

// env is what a strategy knows: the endpoint, the quotas (as a user would read them with
// "tollgate quotas"), the model's settings and the time scale.
type env struct {
	jitter   time.Duration // real-time jitter the window margin allows for
	sc       *Scenario
	mode     quota.Meter // how the emulator meters its quotas
	cfg      StrategyConfig
	srv      *bedrocktest.Handler // called in-process, through srv.Client()
	scale    float64
	region   string
	tpm, tpd int64 // quota tokens per emulated minute / day
	rpm      int64 // enforced requests per minute, 0 if none
	// defaultMaxTokens is what Bedrock reserves when max_tokens is unset.
	defaultMaxTokens int
	burndown         float64

	mu       sync.Mutex
	finished int
	onFinish func(*call)
}

// real converts an emulated duration to real time at the scenario's scale.
func (e *env) real(d time.Duration) time.Duration { return time.Duration(float64(d) / e.scale) }

// emulatorEndpoint is the endpoint the SDK is given: the in-process transport calls the
// handler directly, so the host is never looked up.
const emulatorEndpoint = "http://bedrocktest"

// credentials are static fake credentials, as any user's would be.
func (e *env) credentials() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider("AKIDTOLLGATEBENCH", "secret", "")
}

// sdk returns a plain SDK client pointed at the emulator with retryer r.
func (e *env) sdk(r aws.Retryer) *bedrockruntime.Client {
	return bedrockruntime.New(bedrockruntime.Options{
		Region: e.region, BaseEndpoint: aws.String(emulatorEndpoint), Credentials: e.credentials(), Retryer: r,
		HTTPClient: e.srv.Client(),
	})
}

// finish records the outcome of c; later calls for the same c are ignored.
func (e *env) finish(c *call, out *bedrockruntime.ConverseOutput, err error) {
	c.mu.Lock()
	if c.finished {
		c.mu.Unlock()
		return
	}
	c.finished, c.end, c.out, c.err = true, e.srv.Now(), out, err
	c.mu.Unlock()
	e.mu.Lock()
	e.finished++
	f := e.onFinish
	e.mu.Unlock()
	if f != nil {
		f(c)
	}
}

// converser is the Converse method of an SDK client or of a pipeline.Client.
type converser interface {
	Converse(ctx context.Context, in *bedrockruntime.ConverseInput, optFns ...func(*bedrockruntime.Options)) (*bedrockruntime.ConverseOutput, error)
}

// send makes c's Converse call through api, recording the max_tokens each attempt sends
// (a strategy may set it: tollgate right-sizes it).
func send(ctx context.Context, api converser, c *call) (*bedrockruntime.ConverseOutput, error) {
	record := middleware.InitializeMiddlewareFunc("BenchRecordMaxTokens", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		if p, ok := in.Parameters.(*bedrockruntime.ConverseInput); ok {
			n := 0
			if p.InferenceConfig != nil && p.InferenceConfig.MaxTokens != nil {
				n = int(*p.InferenceConfig.MaxTokens)
			}
			now := c.now()
			c.mu.Lock()
			c.maxTokensSent, c.sent = n, now
			c.mu.Unlock()
		}
		return next.HandleInitialize(ctx, in)
	})
	return api.Converse(ctx, c.in, func(o *bedrockruntime.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error { return s.Initialize.Add(record, middleware.After) })
	})
}

// maxTokens is the max_tokens in effect for c: the request's, else the model's default.
func (e *env) maxTokens(c *call) int {
	if c.in.InferenceConfig != nil && c.in.InferenceConfig.MaxTokens != nil {
		return int(*c.in.InferenceConfig.MaxTokens)
	}
	return e.defaultMaxTokens
}

// pool runs workers goroutines that each take calls from in and send them with api.
func pool(ctx context.Context, e *env, in <-chan *call, workers int, api converser) {
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Go(func() {
			for c := range in {
				out, err := send(ctx, api, c)
				e.finish(c, out, err)
			}
		})
	}
	wg.Wait()
}
