"""What a user would write by hand: 5-fold CV of the same three candidates on all rows,
Optuna tuning of the best one within the same time budget, a final fit, the holdout
accuracy, and the majority-class baseline. Prints one JSON line.

Usage: python sklearn_train.py DATA.csv TARGET BUDGET_SECONDS
"""

from __future__ import annotations

import json
import sys
import time

import optuna
import pandas as pd
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

path, target, budget = sys.argv[1], sys.argv[2], float(sys.argv[3])
start = time.perf_counter()
frame = pd.read_csv(path)
X, y = frame.drop(columns=[target]), frame[target]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
cv = StratifiedKFold(5, shuffle=True, random_state=0)
candidates = {
    "logistic_regression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
    "random_forest": RandomForestClassifier(random_state=0),
    "hist_gradient_boosting": HistGradientBoostingClassifier(random_state=0),
}
scores = {
    name: cross_val_score(model, X_train, y_train, cv=cv).mean()
    for name, model in candidates.items()
}
best = max(scores, key=scores.__getitem__)
left = max(budget - (time.perf_counter() - start), 1.0)


def objective(trial: optuna.Trial) -> float:
    if best == "hist_gradient_boosting":
        model = HistGradientBoostingClassifier(
            learning_rate=trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
            max_leaf_nodes=trial.suggest_int("max_leaf_nodes", 8, 64, log=True),
            random_state=0,
        )
    elif best == "random_forest":
        model = RandomForestClassifier(
            n_estimators=trial.suggest_int("n_estimators", 50, 300, log=True),
            max_depth=trial.suggest_int("max_depth", 2, 32, log=True),
            random_state=0,
        )
    else:
        model = make_pipeline(
            StandardScaler(),
            LogisticRegression(C=trial.suggest_float("C", 1e-3, 100, log=True), max_iter=1000),
        )
    return float(cross_val_score(model, X_train, y_train, cv=cv).mean())


optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
study.optimize(objective, n_trials=20, timeout=left)
model = candidates[best]
if study.best_value > scores[best]:
    model.set_params(
        **{
            (k if best != "logistic_regression" else f"logisticregression__{k}"): v
            for k, v in study.best_params.items()
        }
    )
model.fit(X_train, y_train)
accuracy = float((model.predict(X_test) == y_test).mean())
majority = DummyClassifier().fit(X_train, y_train)
print(
    json.dumps(
        {
            "seconds": time.perf_counter() - start,
            "best": best,
            "trials": len(study.trials),
            "accuracy": accuracy,
            "majority_accuracy": float((majority.predict(X_test) == y_test).mean()),
        }
    )
)
