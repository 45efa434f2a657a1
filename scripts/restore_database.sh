#!/usr/bin/env bash
# Restore a Homeroom backup (see the README's "Backups" section for the whole procedure).
#
#   scripts/restore_database.sh FILE [--target-url URL] [--force]
#
# FILE is a path, or a file name in BACKUP_DIR. The checksum is checked first. By default the
# backup goes into DATABASE_URL's database, which must be empty unless --force is given; then the
# script says exactly what it replaces. Stop the app first when restoring over its own database.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }

case "${1:-}" in
  "" | -h | --help)
    usage
    [ -n "${1:-}" ] && exit 0
    exit 2
    ;;
esac
[ -x .venv/bin/flask ] || ensure_venv requirements.txt >&2
exec .venv/bin/flask --app wsgi backup restore "$@"
