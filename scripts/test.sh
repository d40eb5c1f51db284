#!/usr/bin/env bash
# Run the whole suite with the project's virtualenv; extra arguments go to pytest.
# Starts the throw-away PostgreSQL server the storage tests run against, and stops it after.
set -euo pipefail
cd "$(dirname "$0")/.."

PODPLUS_TEST_POSTGRES_URL="$(scripts/postgres.sh start)"
export PODPLUS_TEST_POSTGRES_URL
trap 'scripts/postgres.sh stop' EXIT

"${VENV:-.venv}/bin/python" -m pytest "$@"
