package quota_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tollgate-dev/tollgate/internal/backlog"
	"github.com/tollgate-dev/tollgate/quota"
)

// backlog.Of counts the calls waiting in a Limiter's queue, High and above apart from
// the rest, as they join and leave it: admitted, or giving up.
func TestBacklogCountsWaitingCallsByPriority(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim, err := quota.New(quota.Config{Limits: []quota.Limit{{Dimension: quota.Requests, Amount: 1, Per: time.Minute}}})
		if err != nil {
			t.Fatal(err)
		}
		defer lim.Close()
		if _, err := lim.Wait(context.Background(), quota.Cost{Requests: 1}, quota.Options{}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		for _, p := range []quota.Priority{quota.Critical, quota.High, quota.Normal, quota.Low, quota.Background} {
			go func() { _, _ = lim.Wait(ctx, quota.Cost{Requests: 1}, quota.Options{Priority: p}) }()
		}
		synctest.Wait()
		if high, low := backlog.Of(lim); high != 2 || low != 3 {
			t.Errorf("waiting: high %d, low %d; want 2 (Critical, High) and 3", high, low)
		}
		time.Sleep(time.Minute + time.Second) // the window frees: the Critical call is admitted
		synctest.Wait()
		if high, low := backlog.Of(lim); high != 1 || low != 3 {
			t.Errorf("after one admission: high %d, low %d; want 1 and 3", high, low)
		}
		cancel()
		synctest.Wait()
		if high, low := backlog.Of(lim); high != 0 || low != 0 {
			t.Errorf("after the callers gave up: high %d, low %d; want 0 and 0", high, low)
		}
	})
}
