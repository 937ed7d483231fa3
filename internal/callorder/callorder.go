// Package callorder carries, in a call's context, the two hints about its place in a
// quota.Limiter's queue that the tollgate client gives and no other user needs: a hook
// run once the call has taken its place (so that calls handed over one by one keep their
// order), and that the call is a retry of one admitted before (so it goes back to the
// head of its tenant's queue instead of the back).
package callorder

import "context"

type queuedKey struct{}
type retryKey struct{}

// WithQueued returns a context whose call to quota.Limiter.Wait runs f once the call has
// taken its place — admitted at once, or waiting in its class's queue — and not when it
// fails before. f must not block.
func WithQueued(ctx context.Context, f func()) context.Context {
	if f == nil {
		return ctx
	}
	return context.WithValue(ctx, queuedKey{}, f)
}

// Queued runs the hook of WithQueued, if ctx has one.
func Queued(ctx context.Context) {
	if f, ok := ctx.Value(queuedKey{}).(func()); ok {
		f()
	}
}

// WithRetry returns a context whose call waits as a retry: ahead of its tenant's other
// waiting calls, keeping the place it had when it was first admitted.
func WithRetry(ctx context.Context) context.Context {
	return context.WithValue(ctx, retryKey{}, true)
}

// IsRetry reports whether ctx was made by WithRetry.
func IsRetry(ctx context.Context) bool {
	v, _ := ctx.Value(retryKey{}).(bool)
	return v
}
