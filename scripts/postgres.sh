#!/usr/bin/env bash
# A throw-away PostgreSQL server for the test suite: `scripts/postgres.sh start` prints its
# URL, `scripts/postgres.sh stop` removes it. The server runs as the postgres user (it
# refuses root) on a private port with its socket in the data folder.
set -euo pipefail
action="${1:-start}"
root="${PODPLUS_TEST_PG_DIR:-/tmp/podplus-test-pg}"
port="${PODPLUS_TEST_PG_PORT:-55432}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
[ -n "$bin" ] || { echo "postgres.sh: PostgreSQL is not installed" >&2; exit 1; }

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$action" in
  start)
    if ! as_postgres "$bin/pg_ctl" -D "$root/data" status >/dev/null 2>&1; then
      rm -rf "$root"
      mkdir -p "$root"
      [ "$(id -u)" -eq 0 ] && chown postgres "$root"
      as_postgres "$bin/initdb" -D "$root/data" -U podplus --auth=trust -E UTF8 >/dev/null
      as_postgres "$bin/pg_ctl" -D "$root/data" -l "$root/server.log" -w \
        -o "-p $port -k $root -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
    fi
    echo "postgresql://podplus@127.0.0.1:$port/postgres"
    ;;
  stop)
    as_postgres "$bin/pg_ctl" -D "$root/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$root"
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
