#!/usr/bin/env bash
# Run the whole suite with the project's virtualenv; extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${VENV:-.venv}/bin/python" -m pytest "$@"
