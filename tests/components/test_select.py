"""Tests for cross-validated model selection (components/_select.py)."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_wine

from loopline.components._candidates import make_candidate
from loopline.components._select import Leaderboard, cross_validate_candidates
from loopline.components._transform import build_preprocessor
from loopline.errors import ConfigError, InvalidInputError

CLASSIFICATION_METRICS = {
    "accuracy",
    "balanced_accuracy",
    "f1",
    "f1_macro",
    "average_precision",
    "roc_auc",
    "log_loss",
}
REGRESSION_METRICS = {"rmse", "mae", "r2"}


def small_classifiers():
    return [
        make_candidate(
            "sklearn.linear_model.LogisticRegression", {"max_iter": 1000}, name="logreg"
        ),
        make_candidate(
            "sklearn.ensemble.RandomForestClassifier", {"n_estimators": 10}, name="forest"
        ),
        make_candidate("sklearn.dummy.DummyClassifier", name="dummy"),
    ]


def small_regressors():
    return [
        make_candidate("sklearn.dummy.DummyRegressor", name="dummy"),
        make_candidate("sklearn.linear_model.Ridge", name="ridge"),
        make_candidate(
            "sklearn.ensemble.RandomForestRegressor",
            {"n_estimators": 10, "max_depth": 4},
            name="forest",
        ),
    ]


def wine():
    X, y = load_wine(return_X_y=True, as_frame=True)
    return X, y, build_preprocessor(list(X.columns), [])


def test_classification_leaderboard_is_sorted_and_complete() -> None:
    X, y, preprocessor = wine()

    board = cross_validate_candidates(
        X, y, small_classifiers(), preprocessor, task="classification", metric="accuracy", folds=3
    )

    assert board.direction == "max"
    assert [row.name for row in board.rows][-1] == "dummy"
    means = [row.means["accuracy"] for row in board.rows]
    assert means == sorted(means, reverse=True)
    assert board.best.name in {"logreg", "forest"}
    assert board.best.means["accuracy"] > 0.9
    for row in board.rows:
        assert set(row.means) == CLASSIFICATION_METRICS
        assert set(row.stds) == CLASSIFICATION_METRICS
        assert row.error is None
        assert row.fit_seconds > 0


def test_min_metric_sorts_ascending() -> None:
    X, y, preprocessor = wine()

    board = cross_validate_candidates(
        X, y, small_classifiers(), preprocessor, task="classification", metric="log_loss", folds=3
    )

    losses = [row.means["log_loss"] for row in board.rows]
    assert board.direction == "min"
    assert losses == sorted(losses)


def test_regression_leaderboard() -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    preprocessor = build_preprocessor(list(X.columns), [])

    board = cross_validate_candidates(
        X, y, small_regressors(), preprocessor, task="regression", metric="rmse", folds=3
    )

    rmse = [row.means["rmse"] for row in board.rows]
    assert rmse == sorted(rmse)
    assert board.rows[-1].name == "dummy"
    assert set(board.best.means) == REGRESSION_METRICS
    assert board.best.means["r2"] > 0.3


def test_time_ordered_folds() -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    preprocessor = build_preprocessor(list(X.columns), [])

    board = cross_validate_candidates(
        X,
        y,
        small_regressors()[:2],
        preprocessor,
        task="regression",
        metric="mae",
        folds=3,
        time_ordered=True,
    )

    assert board.best.name == "ridge"


def make_orders(n: int = 240, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Orders with string, categorical and datetime columns and a string target."""
    rng = np.random.default_rng(seed)
    amount = rng.gamma(2.0, 50.0, n)
    channel = rng.choice(["web", "shop", "phone"], n)
    X = pd.DataFrame(
        {
            "amount": amount,
            "channel": pd.Series(channel, dtype="str"),
            "placed": pd.date_range("2024-01-01", periods=n, freq="5h").astype(str),
        }
    )
    X.loc[::11, "channel"] = None
    score = amount / 100 + (channel == "web") + rng.normal(0, 0.3, n)
    y = pd.Series(np.where(score > np.median(score), "churn", "stay"), dtype="str")
    return X, y


def test_mixed_frame_with_string_target() -> None:
    X, y = make_orders()
    preprocessor = build_preprocessor(["amount"], ["channel"], ["placed"])

    board = cross_validate_candidates(
        X,
        y,
        small_classifiers()[:2],
        preprocessor,
        task="classification",
        metric="roc_auc",
        folds=3,
        n_jobs=2,
    )

    assert board.best.means["roc_auc"] > 0.8


def test_failing_candidate_is_reported_last() -> None:
    X, y, preprocessor = wine()
    broken = make_candidate("sklearn.linear_model.LogisticRegression", {"C": -1.0}, name="broken")

    board = cross_validate_candidates(
        X,
        y,
        [broken, *small_classifiers()[1:]],
        preprocessor,
        task="classification",
        metric="accuracy",
        folds=3,
    )

    assert board.rows[-1].name == "broken"
    assert board.rows[-1].error.startswith("InvalidParameterError: The 'C' parameter")
    assert board.best.name == "forest"


def test_every_candidate_failing_raises() -> None:
    X, y, preprocessor = wine()
    broken = make_candidate("sklearn.linear_model.LogisticRegression", {"C": -1.0}, name="broken")

    with pytest.raises(InvalidInputError, match="Every candidate failed during cross-validation"):
        cross_validate_candidates(
            X, y, [broken], preprocessor, task="classification", metric="accuracy", folds=3
        )


def test_leaderboard_round_trips_and_frames() -> None:
    X, y, preprocessor = wine()
    board = cross_validate_candidates(
        X,
        y,
        small_classifiers()[1:],
        preprocessor,
        task="classification",
        metric="f1_macro",
        folds=2,
    )

    data = json.loads(json.dumps(board.to_dict()))
    again = Leaderboard.from_dict(data)
    frame = board.to_frame()

    assert again == board
    assert list(frame["name"]) == [row.name for row in board.rows]
    assert {"accuracy_mean", "roc_auc_std", "fit_seconds", "error"} <= set(frame.columns)


def single_class():
    X = pd.DataFrame({"x": np.arange(10.0)})
    return X, pd.Series(["yes"] * 10, dtype="str")


def rare_class():
    X = pd.DataFrame({"x": np.arange(12.0)})
    return X, pd.Series(["a"] * 5 + ["b"] * 5 + ["c"] * 2)


def missing_target():
    X = pd.DataFrame({"x": np.arange(10.0)})
    return X, pd.Series([0.0, 1.0, np.nan, 1.0, 0.0, 1.0, 0.0, np.nan, 1.0, 0.0])


def few_rows():
    return pd.DataFrame({"x": [1.0, 2.0, 3.0]}), pd.Series([0.5, 1.5, 2.5])


@pytest.mark.parametrize(
    ("data", "task", "extra", "message"),
    [
        (
            few_rows,
            "regression",
            {},
            "Cannot run 5-fold cross-validation on 3 rows: it needs at least 5. "
            "Use folds <= 3 or give more rows.",
        ),
        (
            few_rows,
            "regression",
            {"time_ordered": True, "folds": 3},
            "Cannot run 3-fold time-ordered cross-validation on 3 rows: it needs at least 4. "
            "Use folds <= 2 or give more rows.",
        ),
        (
            single_class,
            "classification",
            {},
            "The target has a single class ('yes' in all 10 rows); classification needs at "
            "least two.",
        ),
        (
            rare_class,
            "classification",
            {},
            "Stratified 5-fold cross-validation needs at least 5 rows of each class; "
            "class(es) 'c' (2 rows) have fewer. Use folds <= 2,",
        ),
        (
            missing_target,
            "regression",
            {},
            "The target has 2 missing values (at row positions 2, 7); drop or fill those "
            "rows first.",
        ),
    ],
)
def test_bad_data(data, task, extra, message) -> None:
    X, y = data()
    candidate = make_candidate("sklearn.dummy.DummyRegressor", name="dummy")
    if task == "classification":
        candidate = make_candidate("sklearn.dummy.DummyClassifier", name="dummy")
    metric = "accuracy" if task == "classification" else "rmse"
    kwargs = {"task": task, "metric": metric, "folds": 5, **extra}

    with pytest.raises(InvalidInputError, match=re.escape(message)):
        cross_validate_candidates(X, y, [candidate], build_preprocessor(["x"], []), **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"metric": "neg_log_loss"},
            ConfigError,
            "Unknown metric 'neg_log_loss' for classification. Use one of: accuracy, "
            "average_precision, balanced_accuracy, f1, f1_macro, log_loss, roc_auc, or a custom "
            "metric as 'module:function'. Did you mean 'log_loss'?",
        ),
        (
            {"metric": "rmse"},
            ConfigError,
            "Metric 'rmse' is for regression, not classification.",
        ),
        ({"folds": 1}, ConfigError, "The 'folds' parameter must be an integer >= 2. Got 1"),
        ({"task": "ranking"}, ConfigError, "Unknown task 'ranking'."),
        ({"candidates": []}, ConfigError, "No candidates to cross-validate"),
        (
            {"candidates": small_classifiers()[:1] * 2},
            ConfigError,
            "Candidate name(s) 'logreg' are used more than once",
        ),
        ({"y": pd.Series([0, 1])}, InvalidInputError, "The target has 2 values but X has 178"),
        ({"X": np.zeros((178, 2))}, InvalidInputError, "X must be a pandas DataFrame."),
    ],
)
def test_bad_arguments(kwargs, error, message) -> None:
    X, y, preprocessor = wine()
    arguments = {
        "X": X,
        "y": y,
        "candidates": small_classifiers()[:1],
        "preprocessor": preprocessor,
        "task": "classification",
        "metric": "accuracy",
        **kwargs,
    }
    with pytest.raises(error, match=re.escape(message)):
        cross_validate_candidates(**arguments)
