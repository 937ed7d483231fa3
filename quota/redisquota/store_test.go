package redisquota_test

import (
	"context"
	"strings"
	"time"

	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate-dev/tollgate/internal/redistest"
	"github.com/tollgate-dev/tollgate/quota"
	"github.com/tollgate-dev/tollgate/quota/quotatest"
	"github.com/tollgate-dev/tollgate/quota/redisquota"
)

// newStore returns a Store on srv under its own scope, closed when the test ends.
func newStore(t testing.TB, srv *redistest.Server, opts redisquota.Options) *redisquota.Store {
	t.Helper()
	if opts.Client == nil {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
		t.Cleanup(func() { c.Close() })
		opts.Client = c
	}
	if opts.Scope == "" {
		opts.Scope = t.Name()
	}
	s, err := redisquota.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// dialedStore returns a Store on the Redis at url through a client made by
// redisquota.Dial (tight timeouts, no retries), both closed when the test ends.
func dialedStore(t testing.TB, url string, opts redisquota.Options) *redisquota.Store {
	t.Helper()
	c, err := redisquota.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	opts.Client = c
	return newStore(t, nil, opts)
}

func TestConformance(t *testing.T) {
	srv := redistest.Start(t)
	quotatest.Run(t, func(t *testing.T) quota.Store { return newStore(t, srv, redisquota.Options{}) })
}

// Every key a Store writes names the account, region, model and scope under one hash tag
// (one Redis Cluster slot), and a client that would wait out a hung Redis is refused.
func TestKeysAndOptions(t *testing.T) {
	srv := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { c.Close() })
	s := newStore(t, srv, redisquota.Options{Client: c, Prefix: "tg", Account: "111122223333", Region: "us-east-1", Model: "anthropic.claude-x:0", Scope: "team{a}"})
	limits := []quota.Limit{{Dimension: quota.Tokens, Amount: 100, Per: time.Minute}, {Dimension: quota.Requests, Amount: 10, Per: time.Minute, Meter: quota.TokenBucket}}
	if _, _, _, err := s.Reserve(context.Background(), time.Now(), limits, 0, quota.Cost{Requests: 1, Tokens: 5}, 0); err != nil {
		t.Fatal(err)
	}
	keys, err := c.Keys(context.Background(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	const tag = "{tg:111122223333:us-east-1:anthropic.claude-x_0:team_a_}"
	if len(keys) < 3 {
		t.Errorf("keys = %v, want a meta key and one per limit", keys)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, tag+":") {
			t.Errorf("key %q does not start with the hash tag %s", k, tag)
		}
	}
	plain := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { plain.Close() })
	if _, err := redisquota.New(redisquota.Options{Client: plain}); err == nil || !strings.Contains(err.Error(), "Dial") {
		t.Errorf("New with a client ignoring deadlines = %v, want an error naming the fix", err)
	}
	if _, err := redisquota.New(redisquota.Options{}); err == nil {
		t.Error("New without a client succeeded")
	}
}
