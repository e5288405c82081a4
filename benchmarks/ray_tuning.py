"""Tuning on Ray vs in-process: a 20-trial random-forest search on 100k rows (issue 12, 5a).

Both sides call ``loopline.components._tune.tune`` on the same data, candidate, search
space, folds and seed, with the study in a SQLite file (a fresh study per repeat). The
in-process side runs the trials one after another (``InProcessTrials``); the Ray side
runs them in 2 Ray tasks sharing the study (``RayTrials(workers=2)``) on a private
2-CPU Ray started once before the repeats (its start-up is timed apart). Ray runs its
workers at nice 15 by default; ``--worker-niceness 0`` puts them on a par with the
in-process side on a machine shared with other work. Repeats are
interleaved (in-process, Ray, in-process, Ray, ...) and medians are reported.

The 16-core figure is a projection, not a measurement: the Ray side's fixed cost (its
wall time minus the 2-worker schedule of its own trial durations) plus the longest-first
schedule of the in-process trial durations on 16 workers, over the in-process wall time.

    python benchmarks/ray_tuning.py --repeats 2 --worker-niceness 0 \
        --json benchmarks/results/ray_tuning.json
"""

from __future__ import annotations

import argparse
import heapq
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, median, print_table, write_json  # noqa: E402

from loopline.components._candidates import make_candidate  # noqa: E402
from loopline.components._transform import build_preprocessor  # noqa: E402
from loopline.components._trials import RayTrials  # noqa: E402
from loopline.components._tune import tune  # noqa: E402
from loopline.pipeline import RayExecutor  # noqa: E402

#: A forest small enough that 20 trials x 3 folds on 100k rows finish in minutes on 2 cores.
SPACE = {
    "n_estimators": {"type": "int", "low": 5, "high": 20},
    "max_depth": {"type": "int", "low": 3, "high": 8},
    "min_samples_leaf": {"type": "int", "low": 1, "high": 20, "log": True},
    "max_features": {"type": "categorical", "choices": ["sqrt", "log2"]},
}


def data(rows: int) -> tuple[pd.DataFrame, pd.Series]:
    X, y = make_classification(
        n_samples=rows, n_features=10, n_informative=6, random_state=0, class_sep=0.8
    )
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    return frame, pd.Series(y, name="target")


def one_search(
    X: pd.DataFrame, y: pd.Series, folder: Path, name: str, trials: int, runner: Any
) -> dict[str, Any]:
    candidate = make_candidate(
        "sklearn.ensemble.RandomForestClassifier",
        {"n_jobs": 1},
        name="random_forest",
        search_space=SPACE,
    )
    started = time.perf_counter()
    result = tune(
        X,
        y,
        candidate,
        build_preprocessor(list(X.columns), []),
        task="classification",
        metric="accuracy",
        n_trials=trials,
        storage=f"sqlite:///{folder / 'store.db'}",
        study_name=name,
        folds=3,
        random_state=0,
        trial_runner=runner,
    )
    wall = time.perf_counter() - started
    load = os.getloadavg()[0]
    durations = [e["duration"] for e in result.history if e["duration"] is not None]
    states = [e["state"] for e in result.history]
    return {
        "wall": wall,
        "durations": durations,
        "trial_sum": sum(durations),
        "pruned": states.count("pruned"),
        "complete": states.count("complete"),
        "best_value": result.best_value,
        "load_average_1min_after": load,
    }


def makespan(durations: list[float], workers: int) -> float:
    """Longest-processing-time-first schedule of ``durations`` on ``workers``."""
    loads = [0.0] * workers  # a min-heap of the workers' loads
    for d in sorted(durations, reverse=True):
        heapq.heapreplace(loads, loads[0] + d)
    return max(loads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--project-cores", type=int, default=16)
    parser.add_argument(
        "--worker-niceness",
        type=int,
        help="nice value of the Ray workers (Ray's default is 15, which loses CPU to every "
        "other process on a shared machine; the in-process side runs at 0)",
    )
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.worker_niceness is not None:
        # Ray's config variable is spelled so (RAY_<name> of ray_config_def.h).
        os.environ["RAY_worker_niceness"] = str(args.worker_niceness)  # noqa: SIM112

    X, y = data(args.rows)
    started = time.perf_counter()
    cluster = RayExecutor("local", num_cpus=args.workers)  # a private Ray, started once
    ray_start = time.perf_counter() - started
    samples: dict[str, list[dict[str, Any]]] = {"inprocess": [], "ray": []}
    try:
        for repeat in range(args.repeats):
            for side in ("inprocess", "ray"):
                runner = RayTrials(workers=args.workers) if side == "ray" else None
                with tempfile.TemporaryDirectory() as folder:
                    sample = one_search(X, y, Path(folder), f"{side}-{repeat}", args.trials, runner)
                samples[side].append(sample)
                print(
                    f"repeat {repeat} {side:9s} wall {sample['wall']:7.1f} s, trial sum "
                    f"{sample['trial_sum']:7.1f} s, {sample['complete']} complete, "
                    f"{sample['pruned']} pruned, load {sample['load_average_1min_after']:.1f}",
                    flush=True,
                )
    finally:
        cluster.shutdown()

    inproc = median([s["wall"] for s in samples["inprocess"]])
    on_ray = median([s["wall"] for s in samples["ray"]])
    ratios = [
        r["wall"] / i["wall"] for i, r in zip(samples["inprocess"], samples["ray"], strict=True)
    ]
    overheads = [r["wall"] - makespan(r["durations"], args.workers) for r in samples["ray"]]
    projected = [
        (max(o, 0.0) + makespan(i["durations"], args.project_cores)) / i["wall"]
        for i, o in zip(samples["inprocess"], overheads, strict=True)
    ]
    mean_trial = median([float(np.mean(s["durations"])) for s in samples["inprocess"]])
    rows = [
        ["in-process wall (s)", inproc],
        [f"Ray, {args.workers} workers, wall (s)", on_ray],
        ["wall ratio Ray / in-process (median of per-repeat ratios)", median(ratios)],
        ["in-process mean trial (s)", mean_trial],
        ["Ray fixed cost per search (s, median)", median(overheads)],
        [f"projected ratio on {args.project_cores} cores", median(projected)],
        ["private Ray start-up (s, once, not in the walls)", ray_start],
    ]
    print()
    print_table(rows, ["measure", "value"])
    write_json(
        args.json,
        {
            "machine": machine_info(("loopline", "ray", "optuna", "scikit-learn", "sqlalchemy")),
            "args": vars(args),
            "ray_start": ray_start,
            "samples": samples,
            "ratios": ratios,
            "overheads": overheads,
            "projected": projected,
        },
    )


if __name__ == "__main__":
    main()
