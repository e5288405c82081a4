"""Run inside the MLflow peer venv (see benchmarks/_peers.py): save a pipeline as an MLflow model.

    python mlflow_save_sklearn.py --pickle model.joblib --rows rows.parquet --out DIR

Loads the fitted scikit-learn pipeline that Loopline trained (dumped with joblib by the
caller: the same object, not a refit), saves it with ``mlflow.sklearn.save_model`` and
a signature inferred from ``rows`` (as a user would, so the server enforces the input
schema), then loads it back with ``mlflow.pyfunc.load_model`` and predicts ``rows``.

MLflow 3's default serialization format is skops, which refuses types it does not trust.
The script first tries the defaults; if MLflow refuses, it retries with the trusted types
named in MLflow's error (for a random forest in 3.17: ``sklearn.tree._tree.Tree``) and
reports which it needed.

Prints one JSON line: versions, what save_model needed, the pyfunc's predictions on
``rows`` (for the caller to compare with Loopline's), and the in-process pyfunc and raw
``predict`` rates on ``rows``.
"""

import argparse
import json
import re
import shutil
import statistics
import sys
import time
import warnings

parser = argparse.ArgumentParser()
parser.add_argument("--pickle", required=True)
parser.add_argument("--rows", required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--repeats", type=int, default=7)
args = parser.parse_args()

import joblib  # noqa: E402
import mlflow  # noqa: E402
import mlflow.sklearn  # noqa: E402
import pandas as pd  # noqa: E402
import sklearn  # noqa: E402
from mlflow.models import infer_signature  # noqa: E402

warnings.filterwarnings("ignore")
model = joblib.load(args.pickle)
rows = pd.read_parquet(args.rows)
signature = infer_signature(rows, model.predict(rows))

needed: dict = {"skops_trusted_types": None, "first_error": None}
try:
    mlflow.sklearn.save_model(model, args.out, signature=signature)
except Exception as exc:  # noqa: BLE001 - MLflow raises MlflowException or skops' error
    message = f"{type(exc).__name__}: {exc}"
    needed["first_error"] = message[:600]
    # skops lists them: "Untrusted types found in the file: ['numpy.dtype', ...]"
    listed = re.search(r"Untrusted types found in the file: \[([^\]]*)\]", str(exc))
    trusted = sorted(set(re.findall(r"'([\w.]+)'", listed.group(1)))) if listed else []
    if not trusted:
        raise
    shutil.rmtree(args.out, ignore_errors=True)
    needed["skops_trusted_types"] = trusted
    mlflow.sklearn.save_model(model, args.out, signature=signature, skops_trusted_types=trusted)

loaded = mlflow.pyfunc.load_model(args.out)
predictions = loaded.predict(rows)
direct = model.predict(rows)


def rate(function) -> float:
    function()  # warm
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return len(rows) / statistics.median(times)


meta = loaded.metadata.to_dict()
print(
    json.dumps(
        {
            "python": sys.version.split()[0],
            "mlflow": mlflow.__version__,
            "sklearn": sklearn.__version__,
            "pandas": pd.__version__,
            "save_model": needed,
            "flavors": sorted(meta.get("flavors", {})),
            "serialization_format": meta["flavors"].get("sklearn", {}).get("serialization_format"),
            "has_signature": loaded.metadata.signature is not None,
            "pyfunc_predictions": [v.item() if hasattr(v, "item") else v for v in predictions],
            "sklearn_predictions": [v.item() for v in direct],
            "rows": len(rows),
            "pyfunc_rows_per_s": rate(lambda: loaded.predict(rows)),
            "sklearn_rows_per_s": rate(lambda: model.predict(rows)),
        }
    )
)
