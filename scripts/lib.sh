# Shared helpers of scripts/test and scripts/demo (sourced, not run).
# They make a fresh Debian machine (root, Python 3.11) ready: system packages, services, venv.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TWCERT_VENV:-$ROOT/.venv}"
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root for: $*"; return 1; fi
}

# Debian packages the tests use: PC/SC daemon + virtual card, SoftHSM2, OpenSSL (OCSP responder),
# headless Chromium, Redis and PostgreSQL servers, and the build deps of pyscard.
SYSTEM_PACKAGES=(pcscd vsmartcard-vpcd vsmartcard-vpicc python3-virtualsmartcard softhsm2 opensc
  swig libpcsclite-dev openssl chromium chromium-driver fonts-wqy-zenhei redis-server postgresql curl)

ensure_system_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ensure_redis() {
  if port_open 6379; then return 0; fi
  log "starting Redis on 127.0.0.1:6379"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 50); do port_open 6379 && return 0; sleep 0.1; done
  log "Redis did not start"; return 1
}

ensure_postgres() {
  local version
  if ! port_open 5432; then
    log "starting PostgreSQL on 127.0.0.1:5432"
    version="$(ls /etc/postgresql | sort -V | tail -n1)"
    local hba="/etc/postgresql/$version/main/pg_hba.conf"
    # Tests connect over loopback as user postgres without a password (trust, loopback only).
    if ! as_root grep -q "twcert-tests" "$hba"; then
      as_root sed -i '1i host all all 127.0.0.1/32 trust # twcert-tests\nhost all all ::1/128 trust # twcert-tests' "$hba"
    fi
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || as_root pg_ctlcluster "$version" main start
    for _ in $(seq 100); do port_open 5432 && break; sleep 0.1; done
  fi
  port_open 5432 || { log "PostgreSQL did not start"; return 1; }
  if command -v psql >/dev/null && ! psql -h 127.0.0.1 -U postgres -lqt 2>/dev/null | cut -d'|' -f1 | grep -qw test; then
    psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test" >/dev/null 2>&1 || true
  fi
}

ensure_venv() {  # ensure_venv EXTRAS
  local extras="$1" stamp
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating virtualenv $VENV"
    "$PY" -m venv "$VENV"
  fi
  # constraints.txt: the versions the tests last passed with, so a new release elsewhere
  # cannot change what CI runs.
  stamp="$VENV/.twcert-$(cat "$ROOT/pyproject.toml" "$ROOT/constraints.txt" | sha256sum | cut -c1-16)-$extras"
  if [ ! -f "$stamp" ]; then
    log "installing twcert[$extras] into $VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip -c "$ROOT/constraints.txt" >/dev/null
    "$VENV/bin/python" -m pip install -q -c "$ROOT/constraints.txt" -e "$ROOT[$extras]"
    touch "$stamp"
  fi
}
