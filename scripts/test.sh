#!/usr/bin/env bash
# Check and test Homeroom: formatting, lint, types (mypy strict), then pytest.
# Creates .venv and installs requirements-dev.txt when needed.
# Arguments go to pytest. TEST_DATABASE_URL / TEST_REDIS_URL run the suite on PostgreSQL / Redis.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

step "System packages"
# The Redis tests start redis-server processes of their own.
if ! command -v redis-server >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ] \
    || die "redis-server is required for the tests; install it (Debian/Ubuntu: apt-get install redis-server)."
  info "installing redis-server"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server
else
  info "redis-server found"
fi

# The backup tests dump and restore with PostgreSQL's own client tools.
if ! command -v pg_dump >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ] \
    || die "pg_dump is required for the tests; install it (Debian/Ubuntu: apt-get install postgresql-client)."
  info "installing postgresql-client"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-client
else
  info "pg_dump found"
fi

# The ops console is tested in Debian's Chromium (Playwright drives it; no browser is downloaded).
if [ ! -x /usr/bin/chromium ]; then
  command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ] \
    || die "chromium is required for the console tests; install it (Debian/Ubuntu: apt-get install chromium)."
  info "installing chromium"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
else
  info "chromium found"
fi

# promtool checks the alert rules; a real Prometheus server scrapes a real Gunicorn in one test.
if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ] \
    || die "prometheus and promtool are required for the tests (Debian/Ubuntu: apt-get install prometheus)."
  info "installing prometheus"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus
else
  info "prometheus found"
fi

step "Python environment"
ensure_venv requirements-dev.txt

step "Format (ruff format --check)"
.venv/bin/ruff format --check .

step "Lint (ruff)"
.venv/bin/ruff check .

step "Types (mypy --strict)"
.venv/bin/mypy

label=SQLite
[ -n "${TEST_DATABASE_URL:-}" ] && label=PostgreSQL
[ -n "${TEST_REDIS_URL:-}" ] && label="$label + Redis"
step "Tests ($label)"
exec .venv/bin/python -m pytest "$@"
