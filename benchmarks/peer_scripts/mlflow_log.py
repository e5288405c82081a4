"""Run inside the MLflow peer venv (see benchmarks/_peers.py): time metric logging.

    python mlflow_log.py --mode single --n 500     # one mlflow.log_metric call per value
    python mlflow_log.py --mode batch --n 10000    # MlflowClient.log_batch, 1000 per call

Runs in the current folder with MLflow's default local backend (no MLFLOW_TRACKING_URI),
so the caller gives it a fresh folder per measurement. Prints one JSON line.
"""

import argparse
import json
import os
import time

parser = argparse.ArgumentParser()
parser.add_argument("--mode", choices=["single", "batch"], required=True)
parser.add_argument("--n", type=int, required=True)
parser.add_argument("--batch-size", type=int, default=1000)
args = parser.parse_args()
os.environ.pop("MLFLOW_TRACKING_URI", None)

t0 = time.perf_counter()
import mlflow  # noqa: E402
from mlflow.entities import Metric  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

t1 = time.perf_counter()
with mlflow.start_run() as run:
    t2 = time.perf_counter()  # the backend exists now (a first use creates and migrates it)
    if args.mode == "single":
        for i in range(args.n):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
    else:
        client = MlflowClient()
        run_id = run.info.run_id
        for start in range(0, args.n, args.batch_size):
            now = int(time.time() * 1000)
            metrics = [
                Metric("loss", 1.0 / (i + 1), now, i)
                for i in range(start, min(start + args.batch_size, args.n))
            ]
            client.log_batch(run_id, metrics=metrics)
t3 = time.perf_counter()  # the run is ended (status written)

history = MlflowClient().get_metric_history(run.info.run_id, "loss")
store = mlflow.tracking._tracking_service.utils._get_store()
print(
    json.dumps(
        {
            "mlflow": mlflow.__version__,
            "tracking_uri": mlflow.get_tracking_uri(),
            "store": type(store).__name__,
            "mode": args.mode,
            "n": args.n,
            "logged": len(history),
            "import_s": t1 - t0,
            "start_run_s": t2 - t1,
            "log_s": t3 - t2,
            "rate_per_s": args.n / (t3 - t2),
        }
    )
)
