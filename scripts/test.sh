#!/usr/bin/env bash
# Run the whole suite with the project's virtualenv; extra arguments go to pytest.
# Starts the throw-away PostgreSQL server and S3 server (weed mini) the storage tests run
# against, and stops them after.
set -euo pipefail
cd "$(dirname "$0")/.."

# A server of this run's own (folder and port), so two runs on one machine don't stop
# each other's.
PODPLUS_TEST_PG_DIR="${PODPLUS_TEST_PG_DIR:-$(mktemp -d /tmp/podplus-test-pg.XXXXXX)}"
PODPLUS_TEST_PG_PORT="${PODPLUS_TEST_PG_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
export PODPLUS_TEST_PG_DIR PODPLUS_TEST_PG_PORT
# The S3 server (scripts/weed.sh) starts beside PostgreSQL, in the background: a few seconds.
PODPLUS_TEST_S3_DIR="${PODPLUS_TEST_S3_DIR:-$(mktemp -d /tmp/podplus-test-s3.XXXXXX)}"
PODPLUS_TEST_S3_BUCKET="${PODPLUS_TEST_S3_BUCKET:-podplus-test}"
PODPLUS_TEST_S3_ACCESS_KEY_ID="${PODPLUS_TEST_S3_ACCESS_KEY_ID:-podplus-test-key}"
PODPLUS_TEST_S3_SECRET_ACCESS_KEY="${PODPLUS_TEST_S3_SECRET_ACCESS_KEY:-podplus-test-secret-$RANDOM$RANDOM}"
export PODPLUS_TEST_S3_DIR PODPLUS_TEST_S3_BUCKET PODPLUS_TEST_S3_ACCESS_KEY_ID PODPLUS_TEST_S3_SECRET_ACCESS_KEY
trap 'scripts/postgres.sh stop; scripts/weed.sh stop' EXIT
s3_endpoint_file="$(mktemp)"
scripts/weed.sh start >"$s3_endpoint_file" &
weed_pid=$!
PODPLUS_TEST_POSTGRES_URL="$(scripts/postgres.sh start)"
export PODPLUS_TEST_POSTGRES_URL
wait "$weed_pid"
PODPLUS_TEST_S3_ENDPOINT="$(cat "$s3_endpoint_file")"
rm -f "$s3_endpoint_file"
export PODPLUS_TEST_S3_ENDPOINT

# Two workers (pytest-xdist), a test file to each at a time, so a module's shared server,
# browser or generated audio is made once; most tests wait on a server, a browser or ffmpeg,
# so two keep both cores busy. PODPLUS_TEST_WORKERS=0 runs in this process (for -s, pdb).
"${VENV:-.venv}/bin/python" -m pytest -n "${PODPLUS_TEST_WORKERS:-2}" --dist loadfile "$@"
