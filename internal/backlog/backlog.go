// Package backlog reads how many calls wait in a quota.Limiter's queue — those of High
// priority or above apart from the others — without taking the Limiter's lock. A shared
// store (redisquota.Options.Backlog) asks while it decides a grant, which happens inside
// the Limiter's own calls to the store, with the Limiter's lock possibly held; so
// Limiter.Usage, which locks and calls the store, cannot serve. No other user needs it,
// so it is not part of quota's API: package quota sets Of when it is initialised.
package backlog

// Of returns the calls waiting in l, a *quota.Limiter: of High priority or above, and
// the others. It is safe for concurrent use and does not block.
var Of func(l any) (high, low int)
