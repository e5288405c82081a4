#!/usr/bin/env bash
# CI: a bounded schemathesis run against a served model (issue 10).
#
# Makes its own venv (Loopline + schemathesis, apart from the test venv), trains a model
# quickly on a tiny project, serves it on 127.0.0.1 with tokens, and runs schemathesis over
# /openapi.json with the request bodies the document declares. Fails on any 5xx or any
# answer that does not match the document (status, content type, schema).
#
#   bash .ci/fuzz.sh                 # FUZZ_EXAMPLES (default 60) cases per operation
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
examples=${FUZZ_EXAMPLES:-60}
work=$(mktemp -d)
venv=${FUZZ_VENV:-$work/venv}
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ ! -x "$venv/bin/schemathesis" ]; then
  python -m venv "$venv"
  "$venv/bin/pip" install -q -e "$root" "schemathesis>=4.3,<5" || { echo "fuzz: cannot install schemathesis" >&2; exit 1; }
fi
py="$venv/bin/python"

# A tiny project: 150 rows of wine (shipped with scikit-learn), no tuning, auto approval.
project="$work/project"
mkdir -p "$project"
"$py" - "$project" <<'PY'
import sys
from pathlib import Path
from sklearn.datasets import load_wine
frame = load_wine(as_frame=True).frame
frame.sample(150, random_state=0).to_csv(Path(sys.argv[1]) / "wine.csv", index=False)
PY
(cd "$project" && "$venv/bin/loopline" init . --name fuzz --data wine.csv --target target >/dev/null)
"$py" - "$project/loopline.toml" <<'PY'
import re, sys
from pathlib import Path
path = Path(sys.argv[1])
text = path.read_text()
text = re.sub(r"^folds = \d+", "folds = 2", text, flags=re.M)
text = re.sub(r"^trials = \d+", "trials = 0", text, flags=re.M)
text = text.replace('approval = "manual"', 'approval = "auto"')
path.write_text(text)
PY
(cd "$project" && "$venv/bin/loopline" run >/dev/null) || { echo "fuzz: training the model failed" >&2; exit 1; }

port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export LOOPLINE_TOKEN=fuzz-token LOOPLINE_ADMIN_TOKEN=fuzz-admin
(cd "$project" && exec "$venv/bin/loopline" serve fuzz@production --host 127.0.0.1 --port "$port" --max-body-bytes 200000) \
  >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 120); do
  if "$py" -c "import httpx, sys; sys.exit(httpx.get('http://127.0.0.1:$port/readyz').status_code != 200)" 2>/dev/null; then
    break
  fi
  sleep 0.5
done

status=0
"$venv/bin/schemathesis" run "http://127.0.0.1:$port/openapi.json" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "$examples" --phases examples,coverage,fuzzing --workers 2 --seed 10 \
  --request-timeout 30 --max-time 300 --generation-database none --no-color \
  -H "Authorization: Bearer $LOOPLINE_TOKEN" || status=$?
if [ "$status" -ne 0 ]; then
  echo "fuzz: schemathesis found server errors or answers that break the document; server log:" >&2
  tail -50 "$work/server.log" >&2
fi
exit "$status"
