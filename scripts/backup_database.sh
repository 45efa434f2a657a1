#!/usr/bin/env bash
# Back up Homeroom's database, or run the restore drill on the newest backup, for operators and
# cron (see the README's "Backups" section). Settings come from the environment and .env:
# DATABASE_URL, BACKUP_DIR, BACKUP_RETENTION_DAYS, BACKUP_S3_BUCKET and the AWS_* variables.
#
#   scripts/backup_database.sh [--no-upload] [--no-prune]   flask backup create
#   scripts/backup_database.sh --verify [FILE]              flask backup verify (the drill)
#
# Exits non-zero when anything failed (an off-site copy included), so cron and monitors notice.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }

case "${1:-}" in
  -h | --help)
    usage
    exit 0
    ;;
esac
[ -x .venv/bin/flask ] || ensure_venv requirements.txt >&2
if [ "${1:-}" = "--verify" ]; then
  shift
  exec .venv/bin/flask --app wsgi backup verify "$@"
fi
exec .venv/bin/flask --app wsgi backup create "$@"
