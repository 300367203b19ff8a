#!/usr/bin/env bash
# Everything the hotline needs from the machine, on a fresh Debian/Ubuntu as root; idempotent.
#
#   scripts/setup-system.sh run    Debian packages for running, Redis answering on 127.0.0.1:6379 (one started
#                                  here has a generated password: HOTLINE_SETUP_REDIS_PORT picks another port)
#   scripts/setup-system.sh test   the same, plus PostgreSQL answering on 127.0.0.1:5432 and the browser
#
# It installs only what is missing and starts only what does not answer, so on a machine that already runs
# Redis and PostgreSQL it changes nothing.
set -euo pipefail
mode="${1:-run}"
here="$(cd "$(dirname "$0")/.." && pwd)"
state="${HOTLINE_STATE_DIR:-$here/var}"
mkdir -p "$state"

log() { echo "setup: $*" >&2; }

packages=(python3 python3-venv python3-dev gcc espeak-ng sox redis-server redis-tools debootstrap)
if [ "$mode" = test ]; then
    # baresip-core: real SIP phones of consultants in the end-to-end tests and the queue benchmark.
    packages+=(postgresql postgresql-client chromium chromium-driver baresip-core)
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        log "missing Debian packages: ${missing[*]} (run as root, or install them)"
        exit 1
    fi
    log "installing Debian packages: ${missing[*]}"
    apt-get update -qq || log "apt-get update had errors; trying the install anyway"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Redis: the live state of queues and calls. One that answers already is used as it is (the development and
# CI machines run one without a password: give it `requirepass` and HOTLINE_REDIS_PASSWORD to change that).
# The one started here gets a generated password, kept as redis_password in $state/secrets.toml (the hotline
# reads it there) and in its configuration file (0600), so it never shows in the process list.
redis_port="${HOTLINE_SETUP_REDIS_PORT:-6379}"
redis_answers() {
    local answer
    answer=$(redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>&1) || true
    [[ "$answer" == PONG || "$answer" == NOAUTH* ]]
}
if ! redis_answers; then
    log "starting Redis on 127.0.0.1:$redis_port, with a password (redis_password in $state/secrets.toml)"
    chmod 700 "$state"
    secrets_file="$state/secrets.toml"
    password=""
    if [ -f "$secrets_file" ]; then
        password=$(sed -n 's/^redis_password = "\([A-Za-z0-9_-]*\)"$/\1/p' "$secrets_file" | head -n1)
    fi
    if [ -z "$password" ]; then
        password=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
        (umask 077 && echo "redis_password = \"$password\"" >>"$secrets_file")
    fi
    mkdir -p /var/lib/redis /var/log/redis
    (umask 077 && printf '%s\n' "bind 127.0.0.1" "port $redis_port" 'save ""' "appendonly no" \
        "dir /var/lib/redis" "logfile /var/log/redis/hotline-$redis_port.log" "daemonize yes" \
        "pidfile $state/redis-$redis_port.pid" "requirepass $password" >"$state/redis-$redis_port.conf")
    redis-server "$state/redis-$redis_port.conf"
    for _ in $(seq 50); do
        REDISCLI_AUTH="$password" redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null | grep -q PONG && break
        sleep 0.1
    done
fi

[ "$mode" = test ] || exit 0

# PostgreSQL for the test suite's second run.
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
    if [ -z "$version" ]; then
        log "no PostgreSQL cluster found under /etc/postgresql"
        exit 1
    fi
    log "starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || pg_ctlcluster "$version" main start
    for _ in $(seq 100); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 0.1; done
fi

# The tests need a role that may create databases. Where 127.0.0.1 trusts the postgres role (as on the CI
# machines) that is used; elsewhere a role of our own gets a generated password, kept in var/.
url_file="$state/test-postgres.url"
if psql -h 127.0.0.1 -U postgres -d postgres -w -Atc 'select 1' >/dev/null 2>&1; then
    psql -h 127.0.0.1 -U postgres -d postgres -w -Atc "select 1 from pg_database where datname='test'" | grep -q 1 \
        || psql -h 127.0.0.1 -U postgres -d postgres -w -qc 'create database test'
    echo "postgresql+asyncpg://postgres@127.0.0.1:5432/test" >"$url_file"
elif [ ! -s "$url_file" ]; then
    password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
    log "creating the PostgreSQL role hotline_test"
    runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 <<SQL
do \$\$ begin
  if not exists (select from pg_roles where rolname = 'hotline_test') then
    create role hotline_test login createdb password '$password';
  else
    alter role hotline_test password '$password';
  end if;
end \$\$;
SQL
    runuser -u postgres -- psql -Atc "select 1 from pg_database where datname='hotline_test'" | grep -q 1 \
        || runuser -u postgres -- createdb -O hotline_test hotline_test
    umask 077
    echo "postgresql+asyncpg://hotline_test:$password@127.0.0.1:5432/hotline_test" >"$url_file"
fi
