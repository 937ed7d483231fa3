// Package testtool decides what a test does when a program it needs (python3 with boto3,
// node with the JavaScript SDK, redis-server, chromium) is missing: it skips on a
// developer's machine and fails in CI, where the test script installs them all.
package testtool

import (
	"os"
	"testing"
)

// Missing ends the test because what is missing: a skip naming fix, or, when CI=true, a
// failure (CI must run every test).
func Missing(t testing.TB, what, fix string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing and CI=true: this test must run in CI (%s)", what, fix)
	}
	t.Skipf("%s is missing: %s to run this test", what, fix)
}
