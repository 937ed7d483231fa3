package redisquota

import (
	"math"

	"github.com/tollgate-dev/tollgate/internal/costs"
	"github.com/tollgate-dev/tollgate/quota"
)

// An instance of a set with a TokenBucket limit keeps, per TokenBucket limit, what it was
// granted in each period of the limit's Per on Redis's clock (the current one and the one
// before), and Redis tells it, with every grant, what the whole fleet was granted in the
// period before the current one. When it finds Redis gone it makes, per limit, a local
// bucket of its share s of the limit — its grants over the fleet's, in the period before
// the one it finds Redis gone in, if Redis last granted it in that one too, else nothing —
// with a rate of s·Amount per Per and a capacity of s·Amount, empty, that starts to fill
// a grant lifetime and a timeout after, when every grant Redis made has lapsed. It admits
// from these buckets while Redis is away and while the fleet recovers; meanwhile Redis
// holds the shared bucket empty. The package documentation gives the argument.

// localBucket is one limit's local bucket: level at at (µs, Redis's clock), refilling at
// rate per µs up to capacity.
type localBucket struct {
	level, rate, capacity float64
	at                    int64
}

// levelAt is the bucket's level at now (µs); before it starts to fill, its level.
func (b *localBucket) levelAt(now int64) float64 {
	if now <= b.at {
		return b.level
	}
	return min(b.capacity, b.level+b.rate*float64(now-b.at))
}

// startLocalLocked makes the set's local buckets when this instance finds Redis gone,
// unless it has them already (the fleet has not recovered from an earlier outage).
func (s *Store) startLocalLocked(st *set) {
	if st.lb != nil || st.gk == nil {
		return
	}
	d := max(s.last, s.clockLocked())
	st.lb = make([]*localBucket, len(st.limits))
	for i, l := range st.limits {
		if l.Meter != quota.TokenBucket {
			continue
		}
		per := perMicros(l)
		k := d / per
		var own int64
		switch st.gk[i] {
		case k:
			own = st.gp[i]
		case k - 1:
			own = st.gc[i]
		}
		share := 0.0
		// Redis answered this instance last in the period it finds Redis gone in, out of
		// the guard at its end (where instances' clocks may disagree on the period): the
		// outage began in that period, the same for every instance that keeps a share.
		if st.fleetK[i] == k && d < (k+1)*per-per/subWindows && st.fleetPrev[i] > 0 && own > 0 {
			share = min(1, float64(own)/float64(st.fleetPrev[i]))
		}
		st.lb[i] = &localBucket{rate: share * float64(l.Amount) / float64(per), capacity: share * float64(l.Amount),
			at: d + s.life + s.timeout.Microseconds()}
	}
}

// localRoom reports whether cost fits the set's local buckets at now (µs); if not, the
// limit that refuses and when it will have filled enough (µs; -1: never).
func (st *set) localRoom(now int64, cost quota.Cost) (ok bool, blocked int, at int64) {
	for i, l := range st.limits {
		if l.Meter != quota.TokenBucket {
			continue
		}
		need := float64(costs.Get(cost, l.Dimension))
		if need == 0 {
			continue
		}
		var b *localBucket
		if st.lb != nil {
			b = st.lb[i]
		}
		if b == nil || need > b.capacity {
			return false, i, -1
		}
		if lv := b.levelAt(now); lv < need {
			from := max(now, b.at)
			if from == b.at {
				lv = b.level
			}
			return false, i, from + int64(math.Ceil((need-lv)/b.rate))
		}
	}
	return true, 0, 0
}

// drawLocal takes cost from the set's local buckets at now (µs), after localRoom.
func (st *set) drawLocal(now int64, cost quota.Cost) {
	for i, b := range st.lb {
		if b == nil {
			continue
		}
		if now > b.at {
			b.level, b.at = b.levelAt(now), now
		}
		b.level -= float64(costs.Get(cost, st.limits[i].Dimension))
	}
}

// settleLocal gives a call admitted from the local buckets its actual cost: a refund goes
// back up to the capacity, as the provider's bucket takes it back; an excess is drawn.
func (st *set) settleLocal(now int64, reserved, actual quota.Cost) {
	for i, b := range st.lb {
		if b == nil {
			continue
		}
		if now > b.at {
			b.level, b.at = b.levelAt(now), now
		}
		d := float64(costs.Get(reserved, st.limits[i].Dimension) - costs.Get(actual, st.limits[i].Dimension))
		if d > 0 {
			b.level = max(b.level, min(b.level+d, b.capacity))
		} else {
			b.level += d
		}
	}
}

// noteBucketGrantLocked records a granted reply: this instance's grants by period, and
// what the fleet was granted in the period before. A grant after the recovery ends the
// local buckets.
func (s *Store) noteBucketGrantLocked(st *set, res *result) {
	for i, l := range st.limits {
		if l.Meter != quota.TokenBucket {
			continue
		}
		k := res.now / perMicros(l)
		switch {
		case st.gk[i] == k-1:
			st.gp[i], st.gc[i] = st.gc[i], 0
		case st.gk[i] != k:
			st.gp[i], st.gc[i] = 0, 0
		}
		st.gk[i] = k
		st.gc[i] += res.granted[i]
		st.fleetK[i], st.fleetPrev[i] = k, res.used[i]
	}
	if !s.down && res.now >= st.bUntil {
		st.lb = nil
	}
}
