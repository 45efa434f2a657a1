#!/usr/bin/env bash
# Start Homeroom behind Gunicorn: Python environment, .env, configuration check, database wait,
# migrations, then Gunicorn and the runner of mail and background jobs (flask outbox run) side by side;
# this script passes signals to both.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

usage() {
  cat <<'USAGE'
Usage: ./start_production.sh [--check] [--migrate-only] [--no-install] [--help]

Prepares and starts Homeroom with Gunicorn (gunicorn_config.py).
  1. finds Python >= 3.11, creates .venv if missing, installs requirements.txt when it changed
  2. loads the file HOMEROOM_ENV_FILE names (none when empty), by default .env here (written
     from .env.example with fresh secrets on first run); variables set (not empty) in the
     environment win over the file, as in the app and every flask command
  3. validates the configuration and lists every problem
  4. waits for the database (DB_WAIT_TIMEOUT seconds, default 60), runs the migrations
  5. runs Gunicorn and, beside it, the runner of mail and background jobs (flask outbox run: scheduled
     announcements, the Xero sync; email only with SMTP_URL); a signal to this script stops both

Options:
  --check         validate the configuration, then exit
  --migrate-only  stop after the migrations
  --no-install    use .venv as it is; install nothing
  -h, --help      show this help
USAGE
}

check_only=0 migrate_only=0 install=1
for argument in "$@"; do
  case "$argument" in
    --check) check_only=1 ;;
    --migrate-only) migrate_only=1 ;;
    --no-install) install=0 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $argument" 2 ;;
  esac
done

step "Python environment"
if [ "$install" = 1 ]; then
  ensure_venv requirements.txt
elif [ ! -x .venv/bin/python ]; then
  die "--no-install given but .venv does not exist; run once without it."
else
  info "using .venv as it is (--no-install)"
fi
python=.venv/bin/python
flask=(.venv/bin/flask --app wsgi)

# Write .env from .env.example with freshly generated secrets (scripts/make_env.py).
create_env_file() {
  [ -f .env.example ] || die ".env.example is missing; cannot create .env."
  "$python" scripts/make_env.py || die "could not write .env"
}

# Export each non-empty KEY=VALUE of the file ($1) that the environment leaves unset or empty.
load_env_file() {
  local line key value
  while IFS= read -r line || [ -n "$line" ]; do
    [[ $line =~ ^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
    key=${BASH_REMATCH[1]}
    value=${BASH_REMATCH[2]}
    if [[ $value =~ ^\"(.*)\"$ || $value =~ ^\'(.*)\'$ ]]; then value=${BASH_REMATCH[1]}; fi
    if [ -n "$value" ] && [ -z "${!key:-}" ]; then export "$key=$value"; fi
  done <"$1"
}

# The app's rule (backend/config/loading.py): the environment, then HOMEROOM_ENV_FILE (relative to
# this folder; none when empty), by default .env.
step "Configuration"
env_file=${HOMEROOM_ENV_FILE-.env}
if [ -z "${HOMEROOM_ENV_FILE+set}" ] && [ ! -f .env ]; then
  create_env_file
  ok "created .env from .env.example with newly generated SECRET_KEY, JWT_SECRET_KEY and ENCRYPTION_KEY"
  info "review it (CORS_ORIGINS, DATABASE_URL, REDIS_URL) before serving real users"
fi
if [ -n "$env_file" ]; then
  [ -f "$env_file" ] || die "HOMEROOM_ENV_FILE names $env_file, which does not exist" 78
  load_env_file "$env_file"
fi
# Loaded above: the app and the flask commands below read no file again.
export HOMEROOM_ENV_FILE="" FLASK_SKIP_DOTENV=1
if ! "${flask[@]}" config check >/dev/null; then
  die "the configuration is invalid (see the problems listed above)" 78
fi
[ "$check_only" = 1 ] && exit 0

step "Database"
"${flask[@]}" wait-for-db --timeout "${DB_WAIT_TIMEOUT:-60}"
"${flask[@]}" db upgrade
ok "migrations are at head"
[ "$migrate_only" = 1 ] && exit 0

scheme=http
[ -n "${SSL_CERTFILE:-}" ] && scheme=https
step "Starting Gunicorn on port ${PORT:-8000} of every interface (0.0.0.0): ${scheme}://127.0.0.1:${PORT:-8000} from this machine"
if [ -z "${SMTP_URL:-}" ]; then
  info "SMTP_URL is not set: email stays queued in the outbox (see it with: .venv/bin/flask --app wsgi outbox status)"
fi

# The runner runs beside Gunicorn (background jobs such as scheduled announcements need it even without
# mail): a signal to this script reaches both, and when either stops the other is stopped too (the
# runner finishes the message or job in hand).
info "starting the runner of mail and background jobs (flask outbox run) beside Gunicorn"
.venv/bin/gunicorn --config gunicorn_config.py wsgi:application &
server=$!
"${flask[@]}" outbox run &
sender=$!
stopping=0
stop_both() {  # once: a second TERM would cut Gunicorn's graceful stop short
  [ "$stopping" = 1 ] && return
  stopping=1
  kill -TERM "$server" "$sender" 2>/dev/null || true
}
# A trapped signal interrupts `wait`; wait again until the process has really ended.
exit_status_of() {
  local status
  while :; do
    wait "$1"
    status=$?
    kill -0 "$1" 2>/dev/null || return "$status"
  done
}
trap stop_both TERM INT
set +e
wait -n "$server" "$sender"  # one of them stopped, or a signal arrived (and stop_both ran)
stop_both
exit_status_of "$server"
server_status=$?
exit_status_of "$sender"
sender_status=$?
[ "$server_status" -ne 0 ] && exit "$server_status"
exit "$sender_status"
