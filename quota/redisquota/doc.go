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
// # Why the fleet stays within every clock window
//
// A ClockWindow limit counts consecutive windows k = ⌊t/Per⌋ on Redis's clock; Redis keeps
// u, the count of the current one, and a grant is room in it. A grant made at g in window
// k adds its room to u only if the need fits beside u and the rest fits in what is left
// (so right after a grant u ≤ Amount), never in k's guards (Per/200 at either end), and
// it is drawn on only until min(g+L, the end of k less its guard): every call admitted
// from it is admitted in k. Room goes back to k and only to k: a grant's unused room when
// it is given back, a refund of a call settled in k (into the grant while it is live in
// k, else to u), and an excess charge settled in k (from the grant while it has room,
// else to u); a change that reaches Redis after k has ended is dropped, as k no longer
// counts. A call charged in an earlier window and still open is carried into k by its
// instance at its first round trip in k, and replaced by its excess when it settles.
//
// So in window k, at every moment, u is at least the sum of: the calls admitted in k,
// each at its reservation (at its actual cost once its settlement has reached the grant
// or Redis); the unused room of the grants made in k; and the carries and excess charges
// counted in k. Calls are admitted only from that unused room, which grows only by a grant,
// made only while u ≤ Amount after it. So the calls admitted in k, with the carries and
// excess charges Redis had counted when the last grant they drew on was made, total at
// most Amount — what one store holding the window alone would allow. As for Sliding
// limits, an excess charge counts from when Redis receives it (with the next request or
// within a quarter lifetime), and so does a carry. Nothing is charged ahead here: a
// grant's room counts in the window it is drawn on in, so the cost is only that every
// instance asks again when a window opens.
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
// # Why the fleet stays within a token bucket
//
// A TokenBucket limit of Amount B per Per admits what a bucket of B tokens refilling at
// r = B/Per allows: the provider's bucket P, drawn on by the fleet's admissions and given
// back its refunds (up to B), never goes below zero; without refunds, no interval [s, t]
// holds more than B + r·(t−s). Redis keeps the shared level ℓ. A grant takes the need and
// an extra E from ℓ, only if ℓ covers the need and E what is left; the need is used at
// once, E up to L later. A plain shared bucket would not do: a full bucket grants E, the
// instance uses it just before it lapses, when the bucket has refilled r·L, and another
// instance takes that too: up to B + r·L in one instant. So while a grant with an extra
// lasts it lowers the bucket's capacity by the whole grant: ℓ refills only up to B − O,
// where O is those grants not lapsed (as they lapse, lapse by lapse), refunds and returned
// room fill it only up to that, and room given back after its grant lapsed is dropped
// (an instance that stops drawing on a grant gives it back half a lifetime early).
//
// Let b be the unused room the instances hold; each holds at most its grant (refunds go
// back to it only up to that), so b ≤ O. Then ℓ + b ≤ P at all times. A grant moves E
// from ℓ to b and takes the need from ℓ and P alike (ℓ − need − E ≤ B − O − the grant); a
// call admitted from a grant takes from b and P alike; room given back moves from b to ℓ
// (or is lost); a lapse only drops b. A refund adds to P what it adds to ℓ or b, unless
// P fills, and then ℓ + b ≤ (B − O) + O = B = P; refill
// raises P by r·dt unless P fills (the same bound), and ℓ by at most that. As ℓ ≥ 0 after
// every grant, P ≥ 0: the fleet never overdraws the bucket. A refund the grant cannot
// hold is sent at once: one reaching ℓ after P had filled and been drawn again would let
// ℓ + b pass P. An excess charge is drawn from the grant while it has room, and the rest
// sent at once; it counts from when Redis receives it, as for windows.
//
// The cost is the refill lost while ℓ is held at B − O, up to r·L a lifetime (3% of a
// bucket of a minute for 2s) when the bucket is near full: an instance exact alone could
// lose it.
// So a bucket grants an extra only while another instance reports demand (within a
// lifetime); an instance alone takes a round trip per reservation, as exact as one store.
//
// # The in-flight cap
//
// MaxInFlight caps this instance's open reservations, not the fleet's.
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
// only within its own room of every Sliding and ClockWindow limit (for clock windows, see
// below) and its own part of every TokenBucket limit (see below): a call is admitted only
// if it fits them all. It keeps what it has charged to
// each shared window by sub-window (its grants, less what it gave back, and its excess
// charges); from the moment it finds Redis gone, its own charges that count in the window
// stay within what they were then, C. It admits again only as much as leaves the window
// of its own — its last share of the limit, never the full limit — and charges each call
// like a grant, at the sub-window a lifetime ahead. An instance that starts while Redis
// is away holds no room and admits nothing until Redis answers. It logs the outage once
// (slog) and reports it in Status.
//
// Why the fleet still stays within every window. Let z be when Redis stopped. The
// instances' charges that count at z were all counted by Redis, together at most Amount
// (excess charges aside). An instance's own charges only leave the window after its last
// round trip, so its C is at most its part at z, and the instances' C add up to at most
// Amount. Take an interval [x−Per, x] ending during the outage: an instance's calls in it
// drew on grants charged in its own window, or were admitted by it within C, so when it
// admitted its last call of the interval its own charges covering them all were within
// C. The interval holds at most the sum of the C, at most Amount.
//
// When Redis answers again, the instance sends what it admitted meanwhile, at the
// sub-windows it charged it to, and keeps to its own room for a hangover of two grant
// lifetimes and two timeouts: long enough for every other instance to reach Redis too (a
// backoff of at most a lifetime, a quarter lifetime to the next attempt — an instance
// whose charges still count tries Redis at least once a lifetime, busy or not — and a
// timeout). It records in Redis when its hangover ends, and any instance that hears of
// it keeps to its own room until then. Redis may have lost the set's state (restarted
// without persistence): every limit set has an epoch, made by Redis when the set's state
// is new, and an instance that knew another is told before anything is applied or
// granted; it charges again every charge of its own that still counts, at its
// sub-window, and keeps to its own room for a hangover. After the hangovers Redis counts
// everything the fleet admitted that still counts, and the argument for grants holds
// again; during them every admission is within its instance's room. So no interval of
// length Per holds more than Amount, across an outage and a restart.
//
// A long limit's own room — tokens per day — frees only as the day's charges leave it,
// so an instance held to it would admit little beyond its grant. A shorter limit of the
// same dimension (tokens per minute) bounds it instead while it can: with every instance
// within its own room in the short limit k, the fleet admits at most 2·k.Amount per
// k.Per since this instance's last reply before the outage (once for what Redis granted
// before it stopped, once for what was admitted since), so while what the long limit
// counted then plus that fits its Amount, it cannot be exceeded, and the instance is not
// held to its own room in it.
//
// A ClockWindow limit's own room is kept by clock window: the instance's charges in each
// window — its grants less the room it gave back, its carries and its settlements there,
// and what it admitted on its own. When it finds Redis gone (or finds Redis lost the
// set's state), at f in window k, its room in k is what it held in k then, C: there it
// admits only as its grant's unused room and refunds come back to it. In each later
// window it admits up to C again (the same part of Amount, if Amount changed), but only
// if Redis last answered for the set in k too, and f is before k's guard at its end;
// otherwise nothing until Redis is back. Its calls still open from an earlier window
// count in each later one, as a round trip would carry them. It admits in no window's
// guards, and charges each call to its window, sent when Redis returns (dropped if that
// window has ended); the
// epoch and the hangover are as for Sliding limits, and an instance that finds Redis lost
// the state charges again what it holds in the current window.
//
// Why the fleet still stays within every clock window. Let z be when Redis stopped, in
// window k_z. The instances' charges in k_z were all counted by Redis, together at most
// Amount (excess charges aside), and an instance's C is at most its part: what it holds
// in k beyond what Redis counted from it is excess charges not yet sent, and room it gave
// back or was refunded only lowers it. An instance that keeps a share was last answered before z and found Redis gone
// after, both in one window: k_z, the same for all of them — the guard covers the
// millisecond by which instances' clocks may differ on where a window ends. So their C
// add up to at most Amount, and the others have no share. In k_z every call is admitted
// within its instance's C (a grant's calls are charged where it was); in a later window
// during the outage the instances admit at most their C, at most Amount in all. When
// Redis returns (or is found to have lost the state) in window w, each cut-off instance
// sends what it admitted in w (or all it holds in w); during the hangover each admits in
// w within its own room, through grants Redis counts too; after it Redis counts all the
// fleet admitted in w, and the argument for grants holds again. The cost: an instance
// granted nothing in k_z, or that found Redis gone in another window than it last heard
// from it, admits nothing until Redis returns, and a share is of k_z's demand.
//
// What the argument leaves out: an instance that starts, or first uses a limit set, in
// the moment between Redis returning empty and the first instance finding out; and, when
// Redis kept its state, an instance that noticed nothing (nothing of its own counted in
// the window) and is granted room in the lifetime after Redis returns, before the
// instances that were cut off have sent what they admitted.
//
// A set with a TokenBucket limit of B per Per (r = B/Per) keeps instead to its own part
// of each bucket. Redis counts what it grants the fleet by period of length Per on its
// clock, and tells an instance with every grant what the fleet was granted in the period
// before the current one; the instance counts its own grants by period. When it finds
// Redis gone at d, in period k, its share s is its grants in k−1 over the fleet's, if
// Redis last granted it in k too and d is before k's guard (Per/200) at its end, else 0.
// Redis stopped at some z with the last grant ≤ z ≤ d, so every instance with a share
// refers to the same k−1, and the shares add up to at most 1. The instance admits from its
// grant until it lapses, then from a local bucket of rate s·r and capacity s·B that is
// empty and starts to fill at d plus a grant lifetime and a timeout, when every grant
// Redis made has lapsed (the timeout covers the millisecond by which clocks differ).
//
// Why the fleet stays within the bucket across an outage. Let P be the provider's bucket,
// b the grants' unused room and Λ the local buckets' levels summed. Up to z, ℓ + b ≤ P
// (above) with ℓ ≥ 0, so b ≤ P. From z on, P ≥ b + Λ: a call from a grant takes from b and
// P alike, a lapse drops b, a call from a local bucket takes from it and P alike, and a
// refund adds to a local bucket at most what it adds to P, unless P fills; refill raises
// Λ by at most Σs·r ≤ r, and P by r unless it is full. A local bucket holds anything only
// once every grant has lapsed (b = 0), and Λ ≤ Σs·B ≤ B, so a full P = B is at least
// b + Λ. So P never goes below zero — for any interval [a, t] inside the outage the
// local buckets admit at most Σs·(B + r·(t−a)), and one that begins before it is bounded
// by the provider's level at z, which the grants' room is part of.
//
// When an instance reaches Redis again, or finds it lost the state (a new epoch, as for
// the other sets), it records a hangover of two lifetimes and two timeouts in Redis, as
// above: long enough for every other instance to reach Redis too (one with local buckets
// tries Redis at least once a lifetime while it is away, busy or not, so none uses its
// local buckets past the recovery without having recorded its own). Until the latest
// recorded end, rb, Redis grants nothing for the set (an instance that asks and did not
// live through the outage is told to wait), and holds the bucket at min(ℓ, 0), refilling
// it only from rb; the instances admit from their local buckets meanwhile, and those that
// have none wait. So through the recovery P ≥ b + Λ still holds with b = 0, and at rb the
// local buckets are dropped with ℓ ≤ 0 ≤ P and no grant outstanding: the argument for
// grants holds again from there. Nothing admitted meanwhile needs charging — the bucket
// starts from empty, after an empty restart too. The cost: a lifetime after the grant
// lapses with nothing admitted, the bucket's burst B after every outage, and no share for
// an instance not granted in both k−1 and k. What this leaves out, as for the other sets:
// an instance that first uses the set after an empty restart before any instance that
// knew the old epoch reports it, and, when Redis kept its state, an instance that noticed
// nothing and is granted room before the first cut-off instance reports.
//
// A set with both kinds keeps both: its Sliding and ClockWindow limits to the instance's
// own room and its TokenBucket limits to its local buckets, from when it finds Redis gone
// until the fleet's recovery ends (the later of the two hangovers, which start together).
// Each argument holds limit by limit, as every admission is within both. Through the
// recovery Redis grants the set nothing (its bucket is held empty), so the instance
// admits only from its own room and local buckets, and its window charges reach Redis
// in its batches, as for a set of windows alone.
//
// # A partition of one instance
//
// The arguments above take Redis to be gone for every instance. When only some lose it
// (a network partition) while the others keep using it, Redis cannot tell a cut-off
// instance from a dead one, and it must let the others have a dead one's room as soon as
// its grants lapse and its charges leave the window; so what a cut-off instance admits
// on its own room comes on top of what the others are granted. It is bounded by that
// room: in any window of a Sliding limit, and in any clock window, the fleet admits at
// most Amount plus the cut-off instances' own rooms C (what they had charged that still
// counted, or held in the window, when they were cut off); in any interval [a, t] a
// TokenBucket limit admits at most (1 + Σs)·(B + r·(t−a)), Σs the cut-off instances'
// shares. A fleet that must stay within Amount in a partition too can have no fallback:
// with Options.NoFallback an instance admits nothing beyond its grant while Redis is
// away, at the cost of admitting nothing anywhere while Redis is down for all.
// TestPartitionOfOneInstance measures both.
package redisquota
