package pipeline

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate-dev/tollgate/internal/backlog"
	"github.com/tollgate-dev/tollgate/quota"
	"github.com/tollgate-dev/tollgate/quota/redisquota"
)

// DefaultAccount names the shared quota of instances whose Redis URL gives no account.
const DefaultAccount = "default"

// shared is the Redis an Engine's targets hold their quota in (Config.Redis).
type shared struct {
	client  *redis.Client
	addr    string // host:port or socket path, for messages: never the password
	account string
	scope   string
	life    time.Duration
	// noFallback: while Redis is unreachable, admit nothing beyond the current grant
	// (fallback=none), so that a partition of some instances cannot take the fleet over
	// the quota.
	noFallback bool
}

// parseRedis reads Config.Redis: a go-redis URL whose query may also carry account,
// scope, grant (the grant lifetime) and fallback (own or none), which are ours and taken
// off before dialing.
func parseRedis(raw string) (*shared, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("tollgate: bad Redis URL: %v (want redis://host:port[/db][?account=NAME&scope=NAME&grant=2s&fallback=none])", redactErr(err, raw))
	}
	sh := &shared{account: DefaultAccount}
	q := u.Query()
	if v := q.Get("account"); v != "" {
		sh.account = v
	}
	sh.scope = q.Get("scope")
	if v := q.Get("grant"); v != "" {
		if sh.life, err = time.ParseDuration(v); err != nil || sh.life < 10*time.Millisecond {
			return nil, fmt.Errorf("tollgate: Redis URL: grant=%q: give the grant lifetime as a duration of at least 10ms, such as grant=2s", v)
		}
	}
	switch v := q.Get("fallback"); v {
	case "", "own":
	case "none":
		sh.noFallback = true
	default:
		return nil, fmt.Errorf("tollgate: Redis URL: fallback=%q: give fallback=own (while Redis is unreachable, admit within this instance's own part of the quota; the default) or fallback=none (admit nothing beyond the current grant)", v)
	}
	q.Del("account")
	q.Del("scope")
	q.Del("grant")
	q.Del("fallback")
	u.RawQuery = q.Encode()
	c, err := redisquota.Dial(u.String())
	if err != nil {
		return nil, fmt.Errorf("tollgate: %v", redactErr(err, raw))
	}
	sh.client, sh.addr = c, c.Options().Addr
	return sh, nil
}

// redactErr returns err's text without the URL's password.
func redactErr(err error, raw string) string {
	msg := err.Error()
	if u, perr := url.Parse(raw); perr == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
	}
	return msg
}

// ping fails fast when Redis cannot be reached at start, with the fix.
func (sh *shared) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := sh.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("tollgate: the Redis for shared quotas at %s does not answer: %v: start it (redis-server), or fix the Redis URL (--redis, Config.Redis)", sh.addr, err)
	}
	return nil
}

// storeFor returns the store a target's limiter holds its quota in: one pool per
// account, region, model and scope. lim is read when the store asks for the target's
// waiting calls (its backlog by priority), after the limiter is made.
func (sh *shared) storeFor(e *Engine, t *Target, lim **quota.Limiter) (*redisquota.Store, error) {
	return redisquota.New(redisquota.Options{
		Client: sh.client, Account: sh.account, Region: t.Region, Model: t.Model, Scope: sh.scope,
		GrantLifetime: sh.life,
		NoFallback:    sh.noFallback,
		Backlog: func() (high, low int) {
			if *lim == nil {
				return 0, 0
			}
			return backlog.Of(*lim)
		},
		Logger: e.cfg.Logger.With("target", t.Name),
	})
}
