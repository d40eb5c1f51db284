#!/usr/bin/env bash
# Install whatever is missing for podplus, and nothing that is already there.
#   scripts/setup.sh          runtime: ffmpeg + the virtualenv with podplus
#   scripts/setup.sh test     also what the tests drive: espeak-ng, Chromium, wrk, PostgreSQL
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-runtime}"
venv="${VENV:-.venv}"
python="${PYTHON:-python3}"

packages=(ffmpeg)
commands=(ffmpeg)
if [ "$mode" = test ] || [ "$mode" = bench ]; then
  packages+=(espeak-ng chromium chromium-driver wrk postgresql)
  commands+=(espeak-ng chromium chromedriver wrk /usr/lib/postgresql/*/bin/postgres)
fi

missing=()
for i in "${!commands[@]}"; do
  command -v "${commands[$i]}" >/dev/null 2>&1 || [ -x "${commands[$i]}" ] || missing+=("${packages[$i]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing ${missing[*]} with apt-get"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
  else
    echo "setup: please install ${missing[*]} (no apt-get here)" >&2
    exit 1
  fi
fi

extras="test,postgres,dev"
[ "$mode" = runtime ] && extras="postgres"
[ "$mode" = bench ] && extras="test,postgres,dev,bench"
stamp="$venv/.podplus-installed-$extras"
if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating $venv"
  "$python" -m venv "$venv"
fi
# constraints.txt pins every package (scripts/lock.sh writes it), so a clean clone installs
# exactly what was tested.
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
  echo "setup: installing podplus[$extras] into $venv (pinned by constraints.txt)"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q -c constraints.txt -e ".[$extras]"
  touch "$stamp"
fi
