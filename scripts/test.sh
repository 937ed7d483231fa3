#!/usr/bin/env bash
# The project's test command: formatting, vet, staticcheck and the race-enabled tests.
# CI (.ci/run) runs exactly this. Run it from anywhere inside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
  echo "these files need gofmt -w:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

step "staticcheck"
STATICCHECK_VERSION=v0.8.2
if ! command -v staticcheck >/dev/null 2>&1; then
  bin=$(go env GOPATH)/bin
  if [ ! -x "$bin/staticcheck" ]; then
    echo "installing staticcheck@$STATICCHECK_VERSION with go install"
    go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
  fi
  PATH="$bin:$PATH"
fi
staticcheck ./...

step "JavaScript SDK for the emulator's SDK checks"
# bedrocktest's TestJavaScriptSDK runs the AWS SDK for JavaScript v3 from here; the lock
# file pins it. Installed again when the lock file is newer than the install.
sdk=bedrocktest/testdata/sdk
if [ ! -f "$sdk/node_modules/.package-lock.json" ] || [ "$sdk/package-lock.json" -nt "$sdk/node_modules/.package-lock.json" ]; then
  if command -v npm >/dev/null 2>&1; then
    (cd "$sdk" && npm ci --no-audit --no-fund)
  else
    echo "npm not found: TestJavaScriptSDK skips (and fails with CI=true)"
  fi
else
  echo "up to date"
fi

step "redis-server and chromium for the shared-quota and status-page tests"
# quota/redisquota's tests run real redis-server processes and the gateway's status page is
# checked in headless Chromium; those tests skip without them, and fail with CI=true.
# Debian's packages are installed when missing and apt-get is usable.
need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -eq 0 ]; then
  echo "found redis-server and chromium"
else
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  if command -v apt-get >/dev/null 2>&1 && { [ -z "$sudo" ] || command -v sudo >/dev/null 2>&1; }; then
    $sudo apt-get update -qq && $sudo apt-get install -y -qq "${need[@]}"
  else
    echo "missing ${need[*]} and no apt-get: their tests skip (and fail with CI=true)"
  fi
fi

step "go test -race"
# Packages run in parallel: the tests that measure throughput, waits and timeouts run the
# emulator and the client inside testing/synctest bubbles, on a fake clock, so their
# figures do not depend on how loaded the machine is.
go test -race -count=1 ./...
