"""What a user would write by hand with scikit-learn + Optuna, under the same rules as
``loopline run``'s defaults, so the two are compared on equal work:

- the same three candidates with the same fixed parameters (logistic regression; random
  forest; histogram gradient boosting stopping early above 10,000 rows, 200 rounds at most);
- 5-fold CV and tuning on a stratified sample of at most CV_ROWS training rows (Loopline's
  ``[training] cv_rows``), the final model fitted on all training rows;
- fold fits on one thread; the final fit on every core from 100,000 rows;
- one time budget (Loopline's ``[training] time_budget``): selection starts no fold past 40%
  of it (fold-major, so every candidate has the same folds), tuning (at most 20 trials)
  ends when what is left covers only the estimated final fit, and a running trial is pruned
  between folds once that moment has passed.

Prints one JSON line: seconds, best candidate, trials, holdout accuracy, majority baseline.

Usage: python sklearn_train.py DATA.csv TARGET BUDGET_SECONDS [CV_ROWS]
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import numpy as np
import optuna
import pandas as pd
from sklearn.base import clone
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

path, target, budget = sys.argv[1], sys.argv[2], float(sys.argv[3])
cv_rows = int(sys.argv[4]) if len(sys.argv) > 4 else 20_000
start = time.perf_counter()
frame = pd.read_csv(path)
X, y = frame.drop(columns=[target]), frame[target]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
if len(X_train) > cv_rows:
    X_cv, _, y_cv, _ = train_test_split(
        X_train, y_train, train_size=cv_rows, random_state=0, stratify=y_train
    )
else:
    X_cv, y_cv = X_train, y_train
folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X_cv, y_cv))


def hgb(**params: Any) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(
        early_stopping="auto", max_iter=200, n_iter_no_change=10, random_state=0, **params
    )


def logistic(**params: Any) -> Any:
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, **params))


candidates = {
    "logistic_regression": logistic(),
    "random_forest": RandomForestClassifier(random_state=0),
    "hist_gradient_boosting": hgb(),
}


def fold_score(model: Any, train: np.ndarray, test: np.ndarray) -> tuple[float, float]:
    """(accuracy, fit seconds) of one fold, fitted on one thread."""
    fitted = clone(model)
    began = time.perf_counter()
    with threadpool_limits(limits=1):
        fitted.fit(X_cv.iloc[train], y_cv.iloc[train])
        seconds = time.perf_counter() - began
        accuracy = float((fitted.predict(X_cv.iloc[test]) == y_cv.iloc[test]).mean())
    return accuracy, seconds


# Selection: fold-major, no new fold past 40% of the budget.
scores: dict[str, list[float]] = {name: [] for name in candidates}
fit_seconds: dict[str, list[float]] = {name: [] for name in candidates}
for train, test in folds:
    if scores["logistic_regression"] and time.perf_counter() - start > 0.4 * budget:
        break
    for name, model in candidates.items():
        accuracy, seconds = fold_score(model, train, test)
        scores[name].append(accuracy)
        fit_seconds[name].append(seconds)
best = max(scores, key=lambda name: float(np.mean(scores[name])))
# The final fit's time, from the fold fits' (rows scale linearly) and the threads it gets.
threads = 1 if len(X_train) < 100_000 else (os.cpu_count() or 1)
final_estimate = float(np.mean(fit_seconds[best])) * len(X_train) / len(folds[0][0]) / threads
deadline = start + budget - final_estimate


def objective(trial: optuna.Trial) -> float:
    if best == "hist_gradient_boosting":
        model = hgb(
            learning_rate=trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
            max_leaf_nodes=trial.suggest_int("max_leaf_nodes", 8, 64, log=True),
            min_samples_leaf=trial.suggest_int("min_samples_leaf", 5, 50, log=True),
            l2_regularization=trial.suggest_float("l2_regularization", 1e-6, 10.0, log=True),
        )
    elif best == "random_forest":
        model = RandomForestClassifier(
            n_estimators=trial.suggest_int("n_estimators", 50, 300, log=True),
            max_depth=trial.suggest_int("max_depth", 2, 32, log=True),
            min_samples_leaf=trial.suggest_int("min_samples_leaf", 1, 20, log=True),
            max_features=trial.suggest_categorical("max_features", ["sqrt", "log2", None]),
            random_state=0,
        )
    else:
        model = logistic(C=trial.suggest_float("C", 1e-3, 100, log=True))
    values = []
    for step, (train, test) in enumerate(folds):
        if time.perf_counter() > deadline:
            raise optuna.TrialPruned()
        values.append(fold_score(model, train, test)[0])
        trial.report(float(np.mean(values)), step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return float(np.mean(values))


optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.create_study(
    direction="maximize",
    sampler=optuna.samplers.TPESampler(seed=0),
    pruner=optuna.pruners.MedianPruner(n_warmup_steps=1),
)
left = deadline - time.perf_counter()
if left > 0:
    study.optimize(objective, n_trials=20, timeout=left)
complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
model = candidates[best]
if complete and study.best_value > float(np.mean(scores[best])):
    prefix = "logisticregression__" if best == "logistic_regression" else ""
    model.set_params(**{f"{prefix}{k}": v for k, v in study.best_params.items()})
with threadpool_limits(limits=None if len(X_train) >= 100_000 else 1):
    model.fit(X_train, y_train)
accuracy = float((model.predict(X_test) == y_test).mean())
majority = DummyClassifier().fit(X_train, y_train)
print(
    json.dumps(
        {
            "seconds": time.perf_counter() - start,
            "best": best,
            "folds_done": len(scores[best]),
            "trials": len(study.trials),
            "accuracy": accuracy,
            "majority_accuracy": float((majority.predict(X_test) == y_test).mean()),
        }
    )
)
