#!/usr/bin/env bash
# A throw-away S3 server for the test suite and the local cluster: SeaweedFS's single
# process `weed mini`. `scripts/weed.sh start` prints its endpoint, `scripts/weed.sh stop`
# stops it and removes its data. It listens on 127.0.0.1 only, on free ports, with its
# data in a folder of its own, and signs requests with the access key below: S3's
# signature checks run in the tests as they would against a real store.
#
#   PODPLUS_TEST_S3_DIR      its folder (default /tmp/podplus-test-s3)
#   PODPLUS_TEST_S3_BUCKET   the bucket it creates (default podplus-test)
#   PODPLUS_TEST_S3_ACCESS_KEY_ID / PODPLUS_TEST_S3_SECRET_ACCESS_KEY  its one identity
set -euo pipefail
action="${1:-start}"
root="${PODPLUS_TEST_S3_DIR:-/tmp/podplus-test-s3}"
bucket="${PODPLUS_TEST_S3_BUCKET:-podplus-test}"
access_key="${PODPLUS_TEST_S3_ACCESS_KEY_ID:-podplus-test-key}"
secret_key="${PODPLUS_TEST_S3_SECRET_ACCESS_KEY:-podplus-test-secret-0123456789}"
here="$(cd "$(dirname "$0")/.." && pwd)"
weed="${WEED:-$here/${VENV:-.venv}/bin/weed}"
[ -x "$weed" ] || { echo "weed.sh: $weed is missing (scripts/setup.sh installs it)" >&2; exit 1; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

answers() {
  # Any HTTP answer from the S3 port (an anonymous request is refused with 403): it is up.
  python3 - "$1" <<'EOF'
import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=1)
except urllib.error.HTTPError:
    pass
except OSError:
    sys.exit(1)
EOF
}

case "$action" in
  start)
    if [ -f "$root/endpoint" ] && [ -f "$root/pid" ] && kill -0 "$(cat "$root/pid")" 2>/dev/null; then
      cat "$root/endpoint"
      exit 0
    fi
    rm -rf "$root"
    mkdir -p "$root/data"
    cat >"$root/s3.json" <<EOF
{"identities": [{"name": "podplus", "credentials": [{"accessKey": "$access_key",
  "secretKey": "$secret_key"}], "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}
EOF
    ports=()
    for _ in 1 2 3 4 5 6 7 8 9 10 11; do ports+=("$(free_port)"); done
    s3_port="${ports[0]}"
    # Without a limit the Go runtime lets it grow to most of a gigabyte.
    GOMEMLIMIT="${GOMEMLIMIT:-256MiB}" setsid "$weed" mini -dir="$root/data" \
      -ip=127.0.0.1 -ip.bind=127.0.0.1 \
      -s3.port="$s3_port" -s3.port.grpc="${ports[1]}" -s3.config="$root/s3.json" \
      -s3.port.iceberg=0 -s3.port.lance=0 \
      -master.port="${ports[2]}" -master.port.grpc="${ports[3]}" \
      -volume.port="${ports[4]}" -volume.port.grpc="${ports[5]}" \
      -filer.port="${ports[6]}" -filer.port.grpc="${ports[7]}" \
      -admin.port="${ports[8]}" -admin.port.grpc="${ports[9]}" -admin.ui=false \
      -webdav=false -webdav.port="${ports[10]}" \
      -master.volumeSizeLimitMB=64 -bucket="$bucket" \
      >"$root/weed.log" 2>&1 </dev/null &
    echo $! >"$root/pid"
    endpoint="http://127.0.0.1:$s3_port"
    for _ in $(seq 1 300); do
      if answers "$endpoint/"; then
        echo "$endpoint" >"$root/endpoint"
        echo "$endpoint"
        exit 0
      fi
      kill -0 "$(cat "$root/pid")" 2>/dev/null || break
      sleep 0.1
    done
    echo "weed.sh: weed mini did not answer on $endpoint; its log:" >&2
    tail -n 30 "$root/weed.log" >&2
    "$0" stop
    exit 1
    ;;
  stop)
    if [ -f "$root/pid" ]; then
      pid="$(cat "$root/pid")"
      # Its own session (setsid): the whole group goes, and nothing is left listening.
      kill -TERM -- "-$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    rm -rf "$root"
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
