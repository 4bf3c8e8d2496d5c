#!/usr/bin/env bash
# Prepares this machine for `make test` / `make demo` from nothing, and does nothing twice:
# OS build headers and chromium, the .venv with pinned requirements, playwright-core for the UI tests, and the
# local MariaDB, PostgreSQL and Redis.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
# chromium: the UI tests drive Debian's build (playwright-core never downloads a browser of its own).
OS_PACKAGES=(libmariadb-dev pkg-config chromium)

log() { printf 'bootstrap: %s\n' "$*"; }
die() { printf 'bootstrap: error: %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi; }

ensure_os_packages() {
  local missing=()
  for pkg in "${OS_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing OS packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get install -y -q "${missing[@]}" >/dev/null \
    || { as_root apt-get update -q >/dev/null && as_root apt-get install -y -q "${missing[@]}" >/dev/null; } \
    || die "could not install ${missing[*]} with apt-get"
}

ensure_venv() {
  local stamp=.venv/.requirements.sha256 want
  want=$(cat requirements.txt requirements-dev.txt constraints.txt | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  [ -x .venv/bin/python ] || { log "creating .venv with $($PYTHON --version)"; "$PYTHON" -m venv .venv; }
  log "installing pinned requirements into .venv"
  if ! .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt -c constraints.txt \
      > .venv/pip-install.log 2>&1; then
    grep -v "is ignored: it is neither a file nor a directory" .venv/pip-install.log | tail -30 >&2
    die "pip install failed (full log: .venv/pip-install.log)"
  fi
  echo "$want" > "$stamp"
}

ensure_ui_driver() {  # playwright-core, pinned by tests/browser/package-lock.json
  local dir=tests/browser stamp=tests/browser/node_modules/.package-lock.sha256 want
  want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  command -v npm >/dev/null 2>&1 || die "npm is not installed (Node.js drives chromium in the UI tests)"
  log "installing playwright-core into $dir"
  npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >/dev/null || die "npm ci failed in $dir"
  echo "$want" > "$stamp"
}

wait_for() {  # wait_for NAME COMMAND...
  local name=$1; shift
  for _ in $(seq 1 60); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  die "$name does not answer on 127.0.0.1 after 30 s"
}

ensure_postgres() {
  pg_isready -q -h 127.0.0.1 -p 5432 && return 0
  [ -d /etc/postgresql ] || die "PostgreSQL is not installed (expected a local server on 127.0.0.1:5432)"
  log "starting PostgreSQL"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  wait_for PostgreSQL pg_isready -q -h 127.0.0.1 -p 5432
}

ensure_mariadb() {
  mariadb-admin -h 127.0.0.1 -P 3306 -u root ping >/dev/null 2>&1 && return 0
  [ -x /usr/sbin/mariadbd ] || die "MariaDB is not installed (expected a local server on 127.0.0.1:3306)"
  log "starting MariaDB"
  as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
  wait_for MariaDB mariadb-admin -h 127.0.0.1 -P 3306 -u root ping
}

ensure_redis() {  # the Celery executor's broker in the e2e tests
  redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && return 0
  command -v redis-server >/dev/null 2>&1 || die "Redis is not installed (expected a local server on 127.0.0.1:6379)"
  log "starting Redis"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  wait_for Redis redis-cli -h 127.0.0.1 -p 6379 ping
}

ensure_os_packages
ensure_venv
ensure_ui_driver
ensure_postgres
ensure_mariadb
ensure_redis
log "ready"
