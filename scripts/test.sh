#!/usr/bin/env bash
# Runs paysync's whole test suite: lint, then every package (race detector
# on) against real PostgreSQL and Redis, stripe-mock, Prism and the
# providers' Node SDKs. It starts or installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

export PAYSYNC_TEST_DATABASE_URL="${PAYSYNC_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"
export PAYSYNC_TEST_REDIS_URL="${PAYSYNC_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}"
GOBIN="$(go env GOPATH)/bin"
export PATH="$GOBIN:$PATH"

step() { printf '\n== %s\n' "$*"; }

step "PostgreSQL and Redis"
if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if command -v pg_ctlcluster >/dev/null; then
    for v in $(ls /etc/postgresql 2>/dev/null); do
      pg_ctlcluster --skip-systemctl-redirect "$v" main start || true
    done
  fi
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
if command -v psql >/dev/null; then
  # The database named in the URL must exist; trust auth on the test machines.
  psql "${PAYSYNC_TEST_DATABASE_URL%/*}/postgres?sslmode=disable" -tAc "SELECT 1 FROM pg_database WHERE datname='test'" 2>/dev/null | grep -q 1 \
    || psql "${PAYSYNC_TEST_DATABASE_URL%/*}/postgres?sslmode=disable" -c "CREATE DATABASE test" >/dev/null 2>&1 || true
fi
if command -v redis-cli >/dev/null && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  mkdir -p /tmp/paysync-redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no --dir /tmp/paysync-redis --logfile /tmp/paysync-redis/redis.log
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.5; done
fi

step "test peers: stripe-mock, staticcheck, the providers' Node SDKs, Prism and Chromium"
[ -x "$GOBIN/stripe-mock" ] || go install github.com/stripe/stripe-mock@v0.183.0
[ -x "$GOBIN/staticcheck" ] || go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
# The marker holds the hash of the package-lock.json installed (as
# internal/testenv.NodeModules checks it): a changed lock reinstalls.
sdk_lock="$(sha256sum test/sdk/package-lock.json | cut -d' ' -f1)"
if [ "$(cat test/sdk/node_modules/.paysync-installed 2>/dev/null)" != "$sdk_lock" ]; then
  (cd test/sdk && npm install --no-audit --no-fund --loglevel=error)
  printf '%s' "$sdk_lock" > test/sdk/node_modules/.paysync-installed
fi

# The customer portal test drives a headless Chromium (Debian's package).
if ! command -v chromium >/dev/null && command -v apt-get >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi

step "gofmt, go vet, staticcheck"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './test/sdk/*'))
if [ -n "$unformatted" ]; then echo "gofmt needed: $unformatted"; exit 1; fi
go vet ./...
staticcheck ./...

step "go test -race"
go test -race -count=1 -timeout 14m "$@" ./...

# A count, not a duration: a duration that ends while a worker is mid-input
# fails the run with "context deadline exceeded" on a busy machine.
step "fuzz the three dialect decoders briefly"
for target in FuzzLagoDecode FuzzLotusDecode FuzzFlexpriceDecode; do
  go test ./api -run '^$' -fuzz "^${target}\$" -fuzztime "${PAYSYNC_FUZZTIME:-3000x}"
done
