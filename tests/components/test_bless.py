"""Tests for the blessing rule (components/_bless.py)."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from loopline.components._bless import BlessingRule
from loopline.components._evaluate import Evaluation, evaluate
from loopline.errors import ConfigError, InvalidInputError, NotFittedError


@pytest.fixture(scope="module")
def cancer_evaluations() -> dict[str, Evaluation]:
    """Champion (all features), weak candidate (two features), dummy, on held-out rows."""
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    train, test = np.arange(len(X)) % 3 != 0, np.arange(len(X)) % 3 == 0
    size = pd.Series(np.where(X["mean radius"] > 14, "large", "small"))[test]
    models = {
        "champion": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        "weak": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        "dummy": DummyClassifier(),
    }
    columns = {"champion": list(X.columns), "weak": ["mean texture", "mean symmetry"]}
    evaluations = {}
    for name, model in models.items():
        features = columns.get(name, list(X.columns))
        model.fit(X.loc[train, features], y[train])
        evaluations[name] = evaluate(
            model, X.loc[test, features], y[test], task="classification", slices={"size": size}
        )
    return evaluations


def test_init_only_stores_parameters_and_clones() -> None:
    rule = BlessingRule(metric="roc_auc", thresholds={"accuracy": 0.9}, relative_margin=0.01)

    assert rule.get_params() == {
        "metric": "roc_auc",
        "thresholds": {"accuracy": 0.9},
        "absolute_margin": 0.0,
        "relative_margin": 0.01,
        "slice_min_rows": 30,
        "beat_baseline": True,
    }
    assert clone(rule.set_params(slice_min_rows=5)).get_params()["slice_min_rows"] == 5
    assert BlessingRule(absolute_margin=-1).absolute_margin == -1  # checked in fit, not here


def test_reading_the_verdict_before_fit() -> None:
    rule = BlessingRule()
    message = (
        "This BlessingRule is not fitted yet, so it has no blessed_. "
        "Call fit(candidate, champion) with the evaluations first."
    )
    with pytest.raises(NotFittedError, match=re.escape(message)):
        _ = rule.blessed_
    with pytest.raises(NotFittedError, match="has no metric_"):
        rule.to_dict()
    assert not hasattr(rule, "reasons_")


def test_first_model_is_blessed_on_thresholds_only(cancer_evaluations) -> None:
    rule = BlessingRule(thresholds={"accuracy": 0.9}).fit(cancer_evaluations["champion"])

    assert rule.blessed_ is True
    assert [reason["message"] for reason in rule.reasons_][-1] == (
        "no champion: first model; only the thresholds apply"
    )
    assert rule.reasons_[0]["threshold"] == 0.9
    assert rule.reasons_[0]["passed"] is True


def test_worse_candidate_is_not_blessed(cancer_evaluations) -> None:
    candidate, champion = cancer_evaluations["weak"], cancer_evaluations["champion"]

    rule = BlessingRule(absolute_margin=0.01).fit(candidate, champion)

    assert rule.blessed_ is False
    overall = rule.reasons_[0]
    assert overall["slice"] is None
    assert overall["passed"] is False
    assert overall["candidate"] == candidate.metrics["accuracy"]
    assert overall["champion"] == champion.metrics["accuracy"]
    assert overall["delta"] == pytest.approx(overall["candidate"] - overall["champion"])
    worse = overall["champion"] - overall["candidate"]
    assert overall["message"] == (
        f"accuracy {overall['candidate']:.4f} vs champion {overall['champion']:.4f}: "
        f"worse by {worse:.4f}, beyond the tolerated 0.0100"
    )


def test_better_candidate_is_blessed_overall_and_per_slice(cancer_evaluations) -> None:
    rule = BlessingRule(metric="roc_auc").fit(
        cancer_evaluations["champion"], cancer_evaluations["weak"]
    )

    assert rule.blessed_ is True
    assert [reason["slice"] for reason in rule.reasons_] == [None, "size=large", "size=small"]
    assert all(reason["message"].endswith("not worse") for reason in rule.reasons_)


def test_same_model_is_blessed() -> None:
    evaluation = Evaluation("regression", 100, metrics={"rmse": 3.0})
    assert BlessingRule().fit(evaluation, evaluation).blessed_ is True


def test_a_worse_slice_blocks_the_blessing() -> None:
    slices = {
        "region": {
            "north": {"value": "north", "rows": 200, "metrics": {"accuracy": 0.95}},
            "south": {"value": "south", "rows": 200, "metrics": {"accuracy": 0.70}},
            "east": {"value": "east", "rows": 5, "metrics": {"accuracy": 0.10}},
        }
    }
    champion_slices = {
        "region": {
            "north": {"value": "north", "rows": 200, "metrics": {"accuracy": 0.90}},
            "south": {"value": "south", "rows": 200, "metrics": {"accuracy": 0.80}},
            "east": {"value": "east", "rows": 5, "metrics": {"accuracy": 0.90}},
        }
    }
    candidate = Evaluation("classification", 405, metrics={"accuracy": 0.83}, slices=slices)
    champion = Evaluation("classification", 405, metrics={"accuracy": 0.82}, slices=champion_slices)

    rule = BlessingRule(relative_margin=0.05).fit(candidate, champion)

    assert rule.blessed_ is False
    failed = [reason for reason in rule.reasons_ if not reason["passed"]]
    assert [reason["slice"] for reason in failed] == ["region=south"]
    assert failed[0]["message"] == (
        "accuracy on region=south 0.7000 vs champion 0.8000: worse by 0.1000, "
        "beyond the tolerated 0.0400"
    )
    assert rule.skipped_ == [
        {
            "metric": "accuracy",
            "slice": "region=east",
            "message": "5 rows, fewer than slice_min_rows=30",
        }
    ]


def test_margins_tolerate_a_small_drop() -> None:
    candidate = Evaluation("regression", 100, metrics={"rmse": 10.4})
    champion = Evaluation("regression", 100, metrics={"rmse": 10.0})

    strict = BlessingRule().fit(candidate, champion)
    relative = BlessingRule(relative_margin=0.05).fit(candidate, champion)
    absolute = BlessingRule(absolute_margin=0.5).fit(candidate, champion)

    assert strict.blessed_ is False
    assert relative.blessed_ is True
    assert absolute.blessed_ is True
    assert relative.reasons_[0]["message"] == (
        "rmse 10.4000 vs champion 10.0000: worse by 0.4000, within the tolerated 0.5000"
    )


def test_threshold_of_a_minimised_metric_is_a_maximum() -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    evaluation = evaluate(LinearRegression().fit(X, y), X, y, task="regression")

    rule = BlessingRule(thresholds={"rmse": 50.0, "r2": 0.6}).fit(evaluation)

    assert rule.blessed_ is False
    messages = {r["metric"]: r["message"] for r in rule.reasons_ if r["threshold"] is not None}
    assert (
        messages["rmse"]
        == f"rmse {evaluation.metrics['rmse']:.4f} fails the threshold: must be at most 50.0000"
    )
    assert (
        messages["r2"]
        == f"r2 {evaluation.metrics['r2']:.4f} fails the threshold: must be at least 0.6000"
    )


def test_a_metric_the_candidate_lacks_fails() -> None:
    candidate = Evaluation(
        "classification",
        10,
        metrics={"accuracy": 1.0},
        skipped={"roc_auc": "the model has no predict_proba"},
    )

    rule = BlessingRule(thresholds={"roc_auc": 0.8}).fit(candidate)

    assert rule.blessed_ is False
    assert rule.reasons_[0]["message"] == (
        "roc_auc has no value for the candidate (the model has no predict_proba)"
    )


def test_dummy_candidate_fails_and_verdict_is_json(cancer_evaluations) -> None:
    rule = BlessingRule(thresholds={"roc_auc": 0.9}).fit(
        cancer_evaluations["dummy"].to_dict(), cancer_evaluations["champion"].to_dict()
    )

    data = json.loads(json.dumps(rule.to_dict()))

    assert data["blessed"] is False
    assert data["metric"] == "accuracy"
    assert {reason["passed"] for reason in data["reasons"]} == {False}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"metric": "rmse"}, "Metric 'rmse' is for regression, not classification."),
        ({"metric": "acc"}, "Unknown metric 'acc' for classification."),
        (
            {"absolute_margin": -0.1},
            "The 'absolute_margin' parameter of BlessingRule must be a number >= 0. "
            "Got -0.1 instead.",
        ),
        ({"relative_margin": "5%"}, "The 'relative_margin' parameter of BlessingRule"),
        (
            {"slice_min_rows": 0},
            "The 'slice_min_rows' parameter of BlessingRule must be an integer >= 1. "
            "Got 0 instead.",
        ),
        (
            {"thresholds": {"accuracy": "high"}},
            "The threshold for 'accuracy' in BlessingRule must be a finite number. "
            "Got 'high' instead.",
        ),
        ({"thresholds": [0.9]}, "The 'thresholds' parameter of BlessingRule must be a mapping"),
    ],
)
def test_bad_parameters(params, message) -> None:
    evaluation = Evaluation("classification", 10, metrics={"accuracy": 0.9})
    with pytest.raises(ConfigError, match=re.escape(message)):
        BlessingRule(**params).fit(evaluation)


def test_tasks_must_match() -> None:
    candidate = Evaluation("classification", 10, metrics={"accuracy": 0.9})
    champion = Evaluation("regression", 10, metrics={"rmse": 1.0})
    with pytest.raises(InvalidInputError, match="Cannot compare a classification candidate"):
        BlessingRule().fit(candidate, champion)


def test_candidate_must_be_an_evaluation() -> None:
    with pytest.raises(InvalidInputError, match="The candidate must be an Evaluation"):
        BlessingRule().fit(0.9)  # type: ignore[arg-type]
