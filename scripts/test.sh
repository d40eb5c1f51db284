#!/usr/bin/env bash
# Run the whole suite with the project's virtualenv; extra arguments go to pytest.
# Starts the throw-away PostgreSQL server the storage tests run against, and stops it after.
set -euo pipefail
cd "$(dirname "$0")/.."

# A server of this run's own (folder and port), so two runs on one machine don't stop
# each other's.
PODPLUS_TEST_PG_DIR="${PODPLUS_TEST_PG_DIR:-$(mktemp -d /tmp/podplus-test-pg.XXXXXX)}"
PODPLUS_TEST_PG_PORT="${PODPLUS_TEST_PG_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
export PODPLUS_TEST_PG_DIR PODPLUS_TEST_PG_PORT
PODPLUS_TEST_POSTGRES_URL="$(scripts/postgres.sh start)"
export PODPLUS_TEST_POSTGRES_URL
trap 'scripts/postgres.sh stop' EXIT

"${VENV:-.venv}/bin/python" -m pytest "$@"
