#!/usr/bin/env bash
# A separate virtual environment with the clients Loopline interoperates with: MLflow
# (its scoring-server client and pyfunc loader) and Triton's Open Inference Protocol client.
# They are never Loopline's dependencies. Prints the environment's python.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${LOOPLINE_INTEROP_VENV:-${TMPDIR:-/tmp}/loopline-interop-venv}"
[ -x "$venv/bin/python" ] || python -m venv "$venv" >&2
"$venv/bin/pip" install -q mlflow-skinny "tritonclient[http]" skops -e . >&2
"$venv/bin/python" -c "import mlflow.pyfunc, tritonclient.http, loopline" >&2
echo "$venv/bin/python"
