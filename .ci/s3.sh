#!/usr/bin/env bash
# Start an S3-protocol server (moto's standalone server) on loopback for the S3 tests.
# It runs from a venv of its own, so its dependencies never mix with Loopline's. The
# endpoint is http://127.0.0.1:$LOOPLINE_S3_PORT (default 5390); fails loudly if it does
# not answer.
set -euo pipefail
port="${LOOPLINE_S3_PORT:-5390}"
venv="${LOOPLINE_S3_VENV:-/tmp/loopline-moto-venv}"
if [ ! -x "$venv/bin/moto_server" ]; then
  python -m venv "$venv"
  "$venv/bin/pip" install -q "moto[server]>=5"
fi
answers() {
  "$venv/bin/python" - "$port" <<'PY'
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=2).read()
PY
}
if answers 2>/dev/null; then
  echo "An S3-protocol server already answers on 127.0.0.1:$port."
  exit 0
fi
nohup "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"/tmp/loopline-moto-$port.log" 2>&1 &
echo $! >"/tmp/loopline-moto-$port.pid"
for _ in $(seq 180); do
  if answers 2>/dev/null; then
    echo "moto's S3 server answers on http://127.0.0.1:$port"
    exit 0
  fi
  sleep 1
done
echo "ERROR: moto's S3 server did not answer on 127.0.0.1:$port; its log:" >&2
cat "/tmp/loopline-moto-$port.log" >&2 || true
exit 1
