// Package redisquota is a quota.Store on Redis: several processes — gateways, batch runs,
// services using the library — that name the same account, region, model and scope hold
// one quota between them, and still admit most calls without a network round trip.
//
// # Grants
//
// Following CockroachDB's distributed token bucket (RFC 20210604), an instance does not
// ask Redis about every call. When a reservation does not fit the room it holds, it asks
// for a grant: the cost in every limit of the set, plus up to a grant lifetime's worth of
// its recent demand (what its calls were admitted for; a refused call's retries are not
// counted, or a grant would take in one lump room that frees in one lump a window later),
// decided atomically across the set's limits by one Lua script. It
// then admits locally from the grant until the grant lapses (Options.GrantLifetime, 2s
// by default). At a steady load that is about one round trip per grant lifetime, however
// many calls it admits. Unused room goes back when the instance asks again, when the
// grant lapses, and on Close.
//
// Settlements are kept local where they can be: a refund goes back to the grant while it
// lasts, and an excess is drawn from the grant while it has room. The rest — refunds of
// calls whose grant has lapsed, and excess charges beyond the grant, which may put the
// shared window in debt — is sent to Redis in batches, with the next request or within
// a quarter of a grant lifetime. Each batch carries a sequence number that Redis records
// per instance and limit set, so a batch sent again after a lost reply counts once.
//
// # Why the fleet stays within every window
//
// For a Sliding limit of Amount per Per, what all the instances admit in any interval of
// length Per must be at most Amount. Redis keeps the limit's shared window as sums per
// sub-window of Per/200, like quota.NewMemory's store, and a grant of room R obtained at time g is
// charged to it in full as of g+L, where L is the grant lifetime: the latest time at
// which any call drawing on that room can be admitted. A grant is made only if the room
// fits: the sums Redis counts at g, plus R, are at most Amount.
//
// Take any interval [x−Per, x]. Every call admitted in it drew on a grant made at some
// g ≤ x with g+L ≥ its admission ≥ x−Per, so every such grant's charge, placed at g+L,
// still counts in the shared window at x; so it counts at the time the last of those
// grants was made, which therefore saw the others. That grant was made only if all of
// them together fit in Amount, and the calls drawing on them used at most what was
// granted (refunds go back to the grant, or to the sub-window where it was charged). The
// calls of the interval therefore total at most Amount. Room returned unused comes off
// the sub-window the grant was charged to, so returning never frees room another
// instance could not have had.
//
// The cost is the lifetime: a grant counts up to L longer than its calls, so the store
// admits about Per/(Per+L) of the limit at most (97% for a minute and 2s). An excess
// charge is known only when a call ends — to the provider too — and counts from when
// Redis receives it; an instance that dies stops drawing on its grant at once, and its
// last grant leaves the shared window with the rest of its charges.
//
// # Priority across instances
//
// Options.Backlog reports the calls an instance has waiting, High and above apart from
// the rest; each request to Redis carries the report. While another instance reports
// High backlog, an instance with only lower work waiting gets no new grant (it retries a
// quarter lifetime later, or when the report lapses; what it already holds lasts at most
// a grant lifetime), so a High call waiting on one instance is served before Low work on
// another. A refused High call's report lasts
// until it may retry; a granted one's, while more High calls wait there, until room for
// the next frees and two lifetimes after, since the instance asks again only when its
// grant runs short. Beyond what a call needs, the room is shared by demand: each
// instance's extra is at most the room left times its demand over the instances'.
//
// # Other meters and the in-flight cap
//
// A limit set that has a TokenBucket or ClockWindow limit takes a round trip for each
// reservation and each settlement (the script is exact for one instance: a bucket of the
// shared level, a window of the shared clock; a ClockWindow's open reservations are
// carried into the next window by the instance holding them). MaxInFlight caps this
// instance's open reservations, not the fleet's.
//
// # Time
//
// Windows are reckoned on Redis's clock: every reply carries the server's TIME, and an
// instance converts its callers' times to the server's by the offset measured at the
// fastest round trip (to the millisecond). Redis keeps the latest time it has seen, so
// time never runs backwards for the set. All the keys of a limit set share one hash tag,
// {prefix:account:region:model:scope}, so one script touches them on one Redis Cluster
// node.
//
// # When Redis is unreachable
//
// Each round trip has a tight timeout (Options.Timeout, 200ms); a failure opens a
// breaker that lets no call wait on Redis until a backoff (doubling up to a grant
// lifetime) passes. Meanwhile the instance admits from its grant until it lapses, then
// at its last share of each limit — what it was granted in its last window, as a part of
// Amount, frozen while Redis is away — counting what it was granted in the current
// window, never the full limit. An instance that starts while Redis is away has no share
// and admits nothing until Redis answers. So
// the fleet, each instance at its own last share, stays about within the quota. It logs
// the outage once (slog), reports it in Status, and when a round trip succeeds again it
// charges what it admitted meanwhile to the shared windows and resumes asking for grants.
package redisquota
