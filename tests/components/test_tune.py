"""Tests for Optuna tuning (components/_tune.py), with studies in a real SQLite file."""

from __future__ import annotations

import json
import math
import re
import time

import joblib
import numpy as np
import optuna
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes

from loopline.components._candidates import make_candidate
from loopline.components._transform import build_preprocessor
from loopline.components._tune import TuningResult, tune
from loopline.errors import BackendUnavailableError, ConfigError, ConflictError, InvalidInputError

C_SPACE = {"C": {"type": "float", "low": 1e-3, "high": 10.0, "log": True}}


def cancer():
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X, y, build_preprocessor(list(X.columns), [])


def logreg():
    return make_candidate(
        "sklearn.linear_model.LogisticRegression",
        {"max_iter": 1000},
        name="logreg",
        search_space=C_SPACE,
    )


def test_tune_finds_params_inside_the_space() -> None:
    X, y, preprocessor = cancer()

    result = tune(X, y, logreg(), preprocessor, task="classification", metric="roc_auc", n_trials=4)

    assert 1e-3 <= result.best_params["C"] <= 10.0
    assert result.best_value > 0.95
    assert result.direction == "max"
    assert (result.n_trials, result.n_previous) == (4, 0)
    assert [entry["number"] for entry in result.history] == [0, 1, 2, 3]
    assert all(entry["state"] == "complete" for entry in result.history)
    assert all(entry["duration"] > 0 for entry in result.history)
    assert result.best_value == max(entry["value"] for entry in result.history)


def test_explicit_search_space_overrides_the_candidate_one() -> None:
    X, y, preprocessor = cancer()
    space = {"C": {"type": "categorical", "choices": [0.5]}}

    result = tune(
        X,
        y,
        logreg(),
        preprocessor,
        task="classification",
        metric="accuracy",
        search_space=space,
        n_trials=2,
        folds=2,
    )

    assert result.best_params == {"C": 0.5}


def test_regression_minimises_and_the_best_model_pickles(tmp_path) -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    preprocessor = build_preprocessor(list(X.columns), [])
    candidate = make_candidate(
        "sklearn.linear_model.Ridge",
        name="ridge",
        search_space={"alpha": {"type": "float", "low": 1e-3, "high": 100.0, "log": True}},
    )

    result = tune(X, y, candidate, preprocessor, task="regression", metric="rmse", n_trials=4)
    model = candidate.build_pipeline(preprocessor, result.best_params).fit(X, y)
    joblib.dump(model, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")

    assert result.direction == "min"
    assert result.best_value == min(entry["value"] for entry in result.history)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_interrupted_search_resumes_with_only_the_missing_trials(tmp_path) -> None:
    X, y, preprocessor = cancer()
    storage = f"sqlite:///{tmp_path / 'store.db'}"
    kwargs = {
        "task": "classification",
        "metric": "log_loss",
        "storage": storage,
        "study_name": "tune-logreg",
        "folds": 2,
    }

    first = tune(X, y, logreg(), preprocessor, n_trials=3, **kwargs)
    resumed = tune(X, y, logreg(), preprocessor, n_trials=5, **kwargs)
    again = tune(X, y, logreg(), preprocessor, n_trials=5, **kwargs)

    assert (first.n_trials, first.n_previous) == (3, 0)
    assert (resumed.n_trials, resumed.n_previous) == (5, 3)
    assert [entry["number"] for entry in resumed.history] == [0, 1, 2, 3, 4]
    assert resumed.history[:3] == first.history
    assert (again.n_trials, again.n_previous) == (5, 5)
    assert again.history == resumed.history
    sampled = [entry["params"]["C"] for entry in resumed.history]
    assert len(set(sampled)) == 5  # the resumed trials did not replay the first samples
    stored = optuna.load_study(study_name="tune-logreg", storage=storage)
    assert len(stored.trials) == 5
    assert all(len(trial.intermediate_values) == 2 for trial in stored.trials)  # per fold


def test_optuna_logging_is_restored() -> None:
    X, y, preprocessor = cancer()
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.DEBUG)
    try:
        tune(
            X,
            y,
            logreg(),
            preprocessor,
            task="classification",
            metric="accuracy",
            n_trials=1,
            folds=2,
        )
        assert optuna.logging.get_verbosity() == optuna.logging.DEBUG
    finally:
        optuna.logging.set_verbosity(before)


def test_result_round_trips_through_json() -> None:
    X, y, preprocessor = cancer()
    result = tune(
        X, y, logreg(), preprocessor, task="classification", metric="f1_macro", n_trials=2, folds=2
    )

    again = TuningResult.from_dict(json.loads(json.dumps(result.to_dict())))

    assert again == result


def test_trials_that_fail_are_recorded_and_reported() -> None:
    X, y, preprocessor = cancer()
    space = {"solver": {"type": "categorical", "choices": ["no-such-solver"]}}

    with pytest.raises(InvalidInputError) as info:
        tune(
            X,
            y,
            logreg(),
            preprocessor,
            task="classification",
            metric="accuracy",
            search_space=space,
            n_trials=2,
            folds=2,
        )

    message = str(info.value)
    assert message.startswith(
        "No tuning trial of candidate 'logreg' completed (2 failed, 0 pruned)."
    )
    assert "First failure: InvalidParameterError: The 'solver' parameter" in message


def test_direction_conflict_with_a_stored_study(tmp_path) -> None:
    X, y, preprocessor = cancer()
    storage = f"sqlite:///{tmp_path / 'store.db'}"
    common = {"task": "classification", "storage": storage, "study_name": "s", "folds": 2}
    tune(X, y, logreg(), preprocessor, metric="accuracy", n_trials=1, **common)

    message = (
        "Study 's' in the storage was created to maximize, but metric 'log_loss' is to be "
        "minimized. Use another study_name."
    )
    with pytest.raises(ConflictError, match=re.escape(message)):
        tune(X, y, logreg(), preprocessor, metric="log_loss", n_trials=2, **common)


def test_unreachable_storage(tmp_path) -> None:
    X, y, preprocessor = cancer()
    storage = f"sqlite:///{tmp_path / 'missing' / 'folder' / 'store.db'}"

    with pytest.raises(
        BackendUnavailableError, match=re.escape(f"Cannot open the tuning storage {storage!r}")
    ):
        tune(
            X,
            y,
            logreg(),
            preprocessor,
            task="classification",
            metric="accuracy",
            storage=storage,
            study_name="s",
            n_trials=1,
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"search_space": {"C": {"type": "gausian", "mu": 1}}},
            "Unknown distribution 'gausian' for parameter 'C' of candidate 'logreg'. "
            "Use one of: categorical, float, int.",
        ),
        (
            {"search_space": {}},
            "Candidate 'logreg' has no search space to tune. Give one with search_space={...}, "
            "or skip tuning for this candidate.",
        ),
        (
            {"search_space": {"depth": {"type": "int", "low": 1, "high": 3}}},
            "Unknown search space parameter 'depth' for candidate 'logreg'",
        ),
        ({"n_trials": 0}, "The 'n_trials' parameter must be an integer >= 1. Got 0 instead."),
        ({"timeout": -1}, "The 'timeout' parameter must be a number of seconds > 0, or None."),
        (
            {"storage": "store.db"},
            "The 'storage' parameter must be a SQLAlchemy URL such as 'sqlite:///path/store.db'. "
            "Got 'store.db' instead.",
        ),
        ({"metric": "rmse"}, "Metric 'rmse' is for regression, not classification."),
    ],
)
def test_bad_configuration(kwargs, message) -> None:
    X, y, preprocessor = cancer()
    arguments = {"task": "classification", "metric": "accuracy", "n_trials": 1, **kwargs}

    with pytest.raises(ConfigError, match=re.escape(message)):
        tune(X, y, logreg(), preprocessor, **arguments)


def test_bad_data_is_refused_before_any_trial() -> None:
    X, y, preprocessor = cancer()
    with pytest.raises(InvalidInputError, match="Cannot run 3-fold cross-validation on 2 rows"):
        tune(
            X.head(2),
            y.head(2),
            logreg(),
            preprocessor,
            task="classification",
            metric="accuracy",
            n_trials=1,
        )


def test_trial_left_running_by_a_killed_process_is_failed_and_rerun(tmp_path) -> None:
    X, y, preprocessor = cancer()
    storage = f"sqlite:///{tmp_path / 'store.db'}"
    kwargs = {
        "task": "classification",
        "metric": "accuracy",
        "storage": storage,
        "study_name": "killed",
        "folds": 2,
    }
    tune(X, y, logreg(), preprocessor, n_trials=2, **kwargs)
    optuna.load_study(study_name="killed", storage=storage).ask()  # started, never finished
    time.sleep(2.5)  # without heartbeats, it counts as interrupted once older than stale_after

    resumed = tune(X, y, logreg(), preprocessor, n_trials=4, stale_after=2, **kwargs)

    states = [entry["state"] for entry in resumed.history]
    assert states == ["complete", "complete", "fail", "complete", "complete"]
    assert (resumed.n_trials, resumed.n_previous) == (4, 2)


def test_a_spent_time_budget_prunes_the_running_trial_and_keeps_the_defaults() -> None:
    X, y, preprocessor = cancer()

    result = tune(
        X,
        y,
        logreg(),
        preprocessor,
        task="classification",
        metric="accuracy",
        n_trials=50,
        timeout=1e-6,
        folds=3,
    )

    # At most one trial started (and was pruned at its second fold); none completed.
    assert result.n_trials <= 1
    assert all(entry["state"] == "pruned" for entry in result.history)
    assert result.best_params == {}
    assert math.isnan(result.best_value)


_SLOW_ESTIMATOR = """
import os
import time
from pathlib import Path

from sklearn.linear_model import LogisticRegression


class SlowLogisticRegression(LogisticRegression):
    def fit(self, X, y, sample_weight=None):
        marker = os.environ.get("TUNE_MARKER")
        if marker:
            Path(marker).touch()
            time.sleep(600)
        return super().fit(X, y, sample_weight=sample_weight)
"""

_TUNE_IN_A_PROCESS = """
import sys
from sklearn.datasets import load_breast_cancer
from loopline.components._candidates import make_candidate
from loopline.components._transform import build_preprocessor
from loopline.components._tune import tune

X, y = load_breast_cancer(return_X_y=True, as_frame=True)
candidate = make_candidate(
    "slowmod.SlowLogisticRegression",
    {"max_iter": 1000},
    name="slow",
    search_space={"C": {"type": "float", "low": 0.001, "high": 10.0, "log": True}},
)
tune(
    X, y, candidate, build_preprocessor(list(X.columns), []),
    task="classification", metric="accuracy", n_trials=2, folds=2,
    storage=sys.argv[1], study_name="killed", stale_after=2,
)
"""


def test_a_trial_of_a_process_killed_with_kill_9_is_failed_once_its_heartbeat_stops(
    tmp_path, monkeypatch
) -> None:
    import os
    import signal
    import subprocess
    import sys

    (tmp_path / "slowmod.py").write_text(_SLOW_ESTIMATOR, encoding="utf-8")
    storage = f"sqlite:///{tmp_path / 'store.db'}"
    marker = tmp_path / "fitting"
    env = {**os.environ, "TUNE_MARKER": str(marker), "PYTHONPATH": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-c", _TUNE_IN_A_PROCESS, storage], env=env)
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "no trial started"
        time.sleep(0.05)
    time.sleep(0.5)  # let the heartbeat thread record a beat
    running = optuna.load_study(study_name="killed", storage=storage).trials
    assert [t.state.name for t in running] == ["RUNNING"]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(3)  # past stale_after: no beat came since the kill

    monkeypatch.syspath_prepend(str(tmp_path))
    X, y, preprocessor = cancer()
    candidate = make_candidate(
        "slowmod.SlowLogisticRegression", {"max_iter": 1000}, name="slow", search_space=C_SPACE
    )
    resumed = tune(
        X,
        y,
        candidate,
        preprocessor,
        task="classification",
        metric="accuracy",
        n_trials=2,
        folds=2,
        storage=storage,
        study_name="killed",
        stale_after=2,
    )

    assert [entry["state"] for entry in resumed.history] == ["fail", "complete", "complete"]
    assert (resumed.n_trials, resumed.n_previous) == (2, 0)
