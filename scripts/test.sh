#!/usr/bin/env bash
# Check and test Homeroom: formatting, lint, types (mypy strict), import layers, then pytest
# (which also holds the complexity and module-size gates, tests/contracts).
# Creates .venv and installs requirements-dev.txt when needed.
# Arguments go to pytest. TEST_DATABASE_URL / TEST_REDIS_URL run the suite on PostgreSQL / Redis.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

step "System packages"
# What the tests run outside Python (command:Debian package):
#   redis-server           the Redis outage tests start servers of their own
#   pg_dump                backups dump and restore with PostgreSQL's own client tools
#   chromium               the ops console is tested in Debian's Chromium (Playwright; nothing downloaded)
#   prometheus, promtool   the alert rules are checked; a real Prometheus scrapes a real Gunicorn
#   pdftotext, pdftoppm    the report card PDFs are read back as text and drawn as images (poppler)
#   DejaVuSans.ttf         the report card PDFs' Unicode font (a file, not a command: checked by path)
dejavu=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
missing=()
for pair in redis-server:redis-server pg_dump:postgresql-client chromium:chromium \
  prometheus:prometheus promtool:prometheus pdftotext:poppler-utils pdftoppm:poppler-utils \
  "$dejavu:fonts-dejavu-core"; do
  need="${pair%:*}"
  if [[ "$need" == /* ]]; then
    test -e "$need" || missing+=("${pair##*:}")
  else
    command -v "$need" >/dev/null 2>&1 || missing+=("${pair##*:}")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ] \
    || die "the tests need ${missing[*]}; install them (Debian/Ubuntu: apt-get install ${missing[*]})."
  info "installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  info "redis-server, postgresql-client, chromium, prometheus, poppler-utils and fonts-dejavu-core found"
fi

step "Python environment"
ensure_venv requirements-dev.txt

step "Format (ruff format --check)"
.venv/bin/ruff format --check .

step "Lint (ruff)"
.venv/bin/ruff check .

step "Types (mypy --strict)"
.venv/bin/mypy

step "Import layers (import-linter: pyproject.toml [tool.importlinter])"
PYTHONPATH=. .venv/bin/lint-imports --no-cache

label=SQLite
[ -n "${TEST_DATABASE_URL:-}" ] && label=PostgreSQL
[ -n "${TEST_REDIS_URL:-}" ] && label="$label + Redis"
step "Tests ($label)"
exec .venv/bin/python -m pytest "$@"
