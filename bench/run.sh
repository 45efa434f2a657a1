#!/usr/bin/env bash
# The benchmark harness: installs what it needs (.venv, bench requirements, wrk), then bench/run.py.
# Needs the local PostgreSQL and Redis (BENCH_DATABASE_URL / BENCH_REDIS_URL, see --help).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
ensure_venv bench/requirements-bench.txt
if ! command -v wrk >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    info "installing wrk"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk
  else
    warn "wrk not found: using the Python load generator (install wrk for steadier figures)"
  fi
fi
exec .venv/bin/python bench/run.py "$@"
