#!/usr/bin/env bash
# A throw-away PostgreSQL server for the tuning tests (tests/test_tuning.py) and benchmarks.
#
#   eval "$(bash scripts/postgres.sh start)"   # prints the exports below; .ci/run does this
#   bash scripts/postgres.sh stop              # stops it and deletes its data directory
#
# The server runs on 127.0.0.1 from a temporary data directory, as the `postgres` user when this runs
# as root (PostgreSQL refuses to run as root), with password authentication for TCP connections.
# It creates the role sb3_test (a random password, CREATEDB: each test makes a fresh database) and prints
#   SB3_HLGAUSS_TEST_PG_URL  postgresql://sb3_test:<password>@127.0.0.1:<port>/postgres
#   SB3_HLGAUSS_PG_DATA      the data directory (for `stop`)
# Needs Debian's `postgresql` package (or initdb/pg_ctl on the PATH). Port: $SB3_HLGAUSS_PG_PORT or 55432.
set -euo pipefail

find_bin() {  # Debian's versioned folder first (its /usr/bin holds wrappers only), then the PATH
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$dir" ] && command -v pg_ctl >/dev/null 2>&1; then
    dir=$(dirname "$(command -v pg_ctl)")
  fi
  if [ -z "$dir" ] || [ ! -x "$dir/initdb" ] || [ ! -x "$dir/psql" ]; then
    echo "postgres.sh: PostgreSQL not found: apt-get install postgresql (or put initdb/pg_ctl on the PATH)" >&2
    exit 1
  fi
  echo "$dir"
}

as_owner() {  # run a command as the server's owner
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

start() {
  local bin port data password
  bin=$(find_bin)
  port=${SB3_HLGAUSS_PG_PORT:-55432}
  data=$(mktemp -d "${TMPDIR:-/tmp}/sb3_hlgauss_pg.XXXXXX")
  password=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir "$data" postgres
    chown postgres "$data"
  fi
  chmod 700 "$data"
  as_owner "$bin/initdb" -D "$data/db" -U postgres --auth-local=trust --auth-host=scram-sha-256 >"$data/initdb.log" 2>&1 \
    || { cat "$data/initdb.log" >&2; exit 1; }
  as_owner "$bin/pg_ctl" -D "$data/db" -l "$data/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $data -c max_connections=200 -c fsync=off" start >/dev/null \
    || { cat "$data/server.log" >&2; exit 1; }
  as_owner "$bin/psql" -h "$data" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
    -c "CREATE ROLE sb3_test LOGIN CREATEDB PASSWORD '$password'" >/dev/null
  echo "export SB3_HLGAUSS_TEST_PG_URL='postgresql://sb3_test:$password@127.0.0.1:$port/postgres'"
  echo "export SB3_HLGAUSS_PG_DATA='$data'"
  echo "export SB3_HLGAUSS_PG_BIN='$bin'"
}

stop() {
  local data=${SB3_HLGAUSS_PG_DATA:?set by start}
  local bin=${SB3_HLGAUSS_PG_BIN:-$(find_bin)}
  if [ -d "$data/db" ]; then
    as_owner "$bin/pg_ctl" -D "$data/db" -m fast -w stop >/dev/null || true
  fi
  rm -rf "$data"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: bash scripts/postgres.sh start|stop" >&2; exit 2 ;;
esac
