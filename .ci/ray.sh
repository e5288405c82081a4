#!/usr/bin/env bash
# CI: the Ray executor and parallel tuning on a real local Ray cluster (2 CPUs).
# Starts 'ray start --head', runs the executor conformance suite (with Ray among the
# executors), the Ray-only engine tests, tuning on Ray and the CLI on Ray, then 'ray stop'.
# Fails loudly when Ray cannot be installed or started: the Ray tests must not be skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
pip install -e ".[test,ray]" || exit $?
# Ray 2.60 turns token authentication on in 'ray start' once ~/.ray/auth_token exists (a
# private ray.init() writes it) while clients default to no token: one mode for both.
export RAY_AUTH_MODE=disabled
port="${LOOPLINE_CI_RAY_PORT:-6390}"
client_port="${LOOPLINE_CI_RAY_CLIENT_PORT:-10001}"
trap 'ray stop >/dev/null 2>&1 || true' EXIT
if ! ray start --head --num-cpus 2 --port "$port" --ray-client-server-port "$client_port" \
    --include-dashboard=false --disable-usage-stats; then
  echo "ERROR: could not start a local Ray cluster ('ray start --head --port $port')." >&2
  exit 1
fi
# Connect as the tests do.
if ! python -c "import ray; ray.init(address='127.0.0.1:$port', logging_level='ERROR'); \
    assert ray.cluster_resources().get('CPU') == 2, ray.cluster_resources()"; then
  echo "ERROR: the Ray cluster started but does not answer at 127.0.0.1:$port." >&2
  exit 1
fi
export LOOPLINE_TEST_RAY_ADDRESS="127.0.0.1:$port"
export LOOPLINE_TEST_RAY_CLIENT_ADDRESS="ray://127.0.0.1:$client_port"
# Bounded: a few minutes on 2 cores. -p no:cacheprovider keeps the main run's cache.
python -m pytest -p no:cacheprovider \
  tests/pipeline/test_executors.py tests/pipeline/test_ray.py \
  tests/components/test_trials.py tests/cli/test_ray_cli.py
