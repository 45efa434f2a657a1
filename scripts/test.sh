#!/usr/bin/env bash
# Lint and test Homeroom. Creates .venv and installs requirements-dev.txt when needed.
# Arguments go to pytest. TEST_DATABASE_URL / TEST_REDIS_URL run the suite on PostgreSQL / Redis.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

step "Python environment"
ensure_venv requirements-dev.txt

step "Lint (ruff)"
.venv/bin/ruff check .

step "Tests (${TEST_DATABASE_URL:+PostgreSQL}${TEST_DATABASE_URL:-SQLite}${TEST_REDIS_URL:+ + Redis})"
exec .venv/bin/python -m pytest "$@"
