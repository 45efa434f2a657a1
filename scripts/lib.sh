# shellcheck shell=bash
# Helpers shared by start_production.sh and scripts/test.sh. Source from the repository root.

if [ -t 1 ]; then
  _bold=$'\033[1m' _red=$'\033[31m' _yellow=$'\033[33m' _green=$'\033[32m' _reset=$'\033[0m'
else
  _bold='' _red='' _yellow='' _green='' _reset=''
fi

step() { printf '%s==> %s%s\n' "$_bold" "$*" "$_reset"; }
info() { printf '    %s\n' "$*"; }
ok()   { printf '%s    %s%s\n' "$_green" "$*" "$_reset"; }
warn() { printf '%swarning:%s %s\n' "$_yellow" "$_reset" "$*" >&2; }
die()  { printf '%serror:%s %s\n' "$_red" "$_reset" "$*" >&2; exit "${2:-1}"; }

# Print the first Python interpreter on PATH that is 3.11 or newer.
find_python() {
  local candidate
  for candidate in python3.13 python3.12 python3.11 python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 \
      && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

# Create .venv if missing; install the given requirements file only when it (or one it includes) changed.
ensure_venv() {
  local requirements=$1 python stamp digest
  if [ ! -x .venv/bin/python ]; then
    python=$(find_python) || die "Python 3.11 or newer is required; none found on PATH."
    info "creating .venv with $("$python" --version 2>&1)"
    "$python" -m venv .venv
  fi
  stamp=".venv/.installed-$(basename "$requirements").sha256"
  # Every requirements file counts: requirements-dev.txt includes the bench set.
  digest=$(cat "$requirements" requirements.txt bench/requirements-bench.txt | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]; then
    info "installing $requirements"
    .venv/bin/python -m pip install --disable-pip-version-check --quiet -r "$requirements"
    printf '%s\n' "$digest" >"$stamp"
  else
    info "$requirements unchanged; nothing to install"
  fi
}
