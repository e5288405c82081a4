"""LightGBM's cost on a small table (344 rows, as palmerpenguins): 5-fold CV fit time of
LightGBM with its library defaults and with Loopline's built-in parameters (one thread,
fits on one thread), beside the other built-in candidates. Usage (lightgbm installed):

    python benchmarks/lightgbm_small.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from threadpoolctl import threadpool_limits


def timed_cv(model: object, X: np.ndarray, y: np.ndarray, one_thread: bool) -> float:
    start = time.perf_counter()
    if one_thread:
        with threadpool_limits(limits=1):
            cross_val_score(model, X, y, cv=5)
    else:
        cross_val_score(model, X, y, cv=5)
    return time.perf_counter() - start


def main() -> None:
    import lightgbm

    from loopline.components import boosting

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    X, y = make_classification(344, 7, n_informative=5, n_classes=3, random_state=0)
    setups = {
        "lightgbm, library defaults": (lightgbm.LGBMClassifier(verbose=-1), False),
        "lightgbm, n_jobs=1": (lightgbm.LGBMClassifier(verbose=-1, n_jobs=1), True),
        "lightgbm, loopline (early stopping, <=500 rounds, threads follow the limit)": (
            boosting.LGBMClassifier(verbose=-1, n_estimators=500),
            True,
        ),
        "hist_gradient_boosting, library defaults": (HistGradientBoostingClassifier(), False),
        "hist_gradient_boosting, loopline (1 thread, early stopping)": (
            HistGradientBoostingClassifier(early_stopping=True, max_iter=500),
            True,
        ),
        "random_forest, loopline": (RandomForestClassifier(), True),
        "logistic_regression, loopline": (LogisticRegression(max_iter=1000), True),
    }
    times: dict[str, list[float]] = {name: [] for name in setups}
    for _ in range(args.repeats):  # interleaved, so load changes hit every setup alike
        for name, (model, one_thread) in setups.items():
            times[name].append(timed_cv(model, X, y, one_thread))
    reference = statistics.median(times["logistic_regression, loopline"])
    print("| setup | 5-fold CV seconds (median) | x logistic regression |")
    print("|---|---:|---:|")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.2f} | {median / reference:.1f} |")


if __name__ == "__main__":
    main()
