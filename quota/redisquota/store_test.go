package redisquota_test

import (
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
		c := redis.NewClient(&redis.Options{Addr: srv.Addr})
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

func TestConformance(t *testing.T) {
	srv := redistest.Start(t)
	quotatest.Run(t, func(t *testing.T) quota.Store { return newStore(t, srv, redisquota.Options{}) })
}
