package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/pflag"

	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/quota"
)

// go-redis logs its failed dials to stderr on its own; the shared store reports them
// once, with what it does about it.
func init() { redis.SetLogger(quietRedis{}) }

type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

// fleetFlags are run's flags for calling a shared endpoint and sharing a quota.
type fleetFlags struct {
	redis    string
	endpoint string
}

func (f *fleetFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&f.redis, "redis", "", redisFlagUsage)
	fl.StringVar(&f.endpoint, "endpoint", "", `Bedrock Runtime endpoint to call instead of AWS's, such as a "tollgate emulate" shared by several runs (with its --time-scale); give the quotas with --tpm/--tpd`)
}

// redisFlagUsage is the help of run's and serve's --redis.
const redisFlagUsage = "share the account's quota through this Redis with other runs, gateways and services (redis://HOST:PORT[/DB][?account=NAME]; see docs/fleet.md)"

// checkRedisEmulate refuses --redis with an in-process emulator, whose quota no other
// process sees; endpointFlag is the command's flag for calling a shared emulator.
func checkRedisEmulate(redis string, emulate bool, endpointFlag string) error {
	if redis != "" && emulate {
		return usageError{fmt.Errorf(`--redis shares a quota between processes, but the --emulate emulator is this process's own: to try a fleet, start "tollgate emulate" once and give every instance %s with its address`, endpointFlag)}
	}
	return nil
}

// shareQuota shares pc's quota through the Redis at raw (when given), with the grant
// lifetime on the endpoint's clock; logger, when not nil, receives the shared store's
// lines (Redis unreachable, and back).
func shareQuota(pc *pipeline.Config, raw string, scale float64, logger *slog.Logger) {
	if raw == "" {
		return
	}
	pc.Redis = scaleGrant(raw, scale)
	if logger != nil {
		pc.Logger = logger
	}
}

// validate checks the fleet flags against --emulate, --time-scale and the quotas given.
func (f *fleetFlags) validate(emulate bool, timeScale float64, explicit bool) error {
	if f.endpoint != "" && !explicit {
		return usageError{errors.New("--endpoint: give the quotas with --tpm (and --tpd): they are not read from AWS for another endpoint")}
	}
	if err := checkRedisEmulate(f.redis, emulate, "--endpoint"); err != nil {
		return err
	}
	if f.endpoint != "" && emulate {
		return usageError{errors.New("--endpoint and --emulate both say where to call: give one")}
	}
	if timeScale != 0 && f.endpoint == "" && !emulate {
		return usageError{errors.New(`--time-scale applies with --emulate, or with --endpoint of a "tollgate emulate" running at that time scale`)}
	}
	return nil
}

// apply points pc's targets at the endpoint, on its time scale, and shares their quota
// through Redis; it returns the limits on the endpoint's clock.
func (f *fleetFlags) apply(pc *pipeline.Config, scale float64, stderr func() *slog.Logger) {
	if scale != 1 {
		pc.Backoff = func(n int) time.Duration { return time.Duration(float64(pipeline.DefaultBackoff(n)) / scale) }
	}
	for i := range pc.Targets {
		t := &pc.Targets[i]
		if f.endpoint != "" {
			t.Endpoint = f.endpoint
		}
		if scale != 1 {
			t.Limits = scaleLimits(t.Limits, scale)
		}
	}
	if f.redis != "" {
		shareQuota(pc, f.redis, scale, stderr())
	}
}

// scaleGrant puts the default grant lifetime (2s) on the endpoint's clock when the URL
// names none: at 30× time, 2s of real time is a minute of the emulator's.
func scaleGrant(raw string, scale float64) string {
	u, err := url.Parse(raw)
	if scale == 1 || err != nil || u.Query().Has("grant") {
		return raw // a bad URL is reported by the client, with the fix
	}
	q := u.Query()
	q.Set("grant", max(time.Duration(float64(2*time.Second)/scale), 10*time.Millisecond).String())
	u.RawQuery = q.Encode()
	return u.String()
}

// note says where the run calls and how it shares its quota.
func (f *fleetFlags) note(scale float64) string {
	var b strings.Builder
	if f.endpoint != "" {
		fmt.Fprintf(&b, "Calling the endpoint %s", f.endpoint)
		if scale != 1 {
			fmt.Fprintf(&b, " at %g× time", scale)
		}
		b.WriteString(".\n")
	}
	if f.redis != "" {
		b.WriteString("Sharing the quota through Redis with the other instances that name this account, region and model (see docs/fleet.md).\n")
	}
	return b.String()
}

func scaleLimits(limits []quota.Limit, scale float64) []quota.Limit {
	out := make([]quota.Limit, len(limits))
	for i, l := range limits {
		l.Per = time.Duration(float64(l.Per) / scale)
		out[i] = l
	}
	return out
}

// redisLines passes on only the shared store's lines — Redis unreachable, and back — so
// that a run's terminal shows an outage without the client's other logs.
type redisLines struct{ slog.Handler }

func (h redisLines) Handle(ctx context.Context, r slog.Record) error {
	if !strings.HasPrefix(r.Message, "redisquota:") {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}
func (h redisLines) WithAttrs(a []slog.Attr) slog.Handler { return redisLines{h.Handler.WithAttrs(a)} }
func (h redisLines) WithGroup(n string) slog.Handler      { return redisLines{h.Handler.WithGroup(n)} }
