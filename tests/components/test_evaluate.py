"""Tests for model evaluation (components/_evaluate.py)."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.linear_model import LinearRegression, LogisticRegression, RidgeClassifier
from sklearn.metrics import log_loss, mean_absolute_error, r2_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from loopline.components._evaluate import METRICS, Evaluation, evaluate, metric_direction
from loopline.errors import ConfigError, InvalidInputError


def fitted_classifier(X, y):
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)


def test_binary_classification() -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = fitted_classifier(X, y)
    proba = model.predict_proba(X)

    evaluation = evaluate(model, X, y, task="classification")

    assert set(evaluation.metrics) == {
        "accuracy",
        "balanced_accuracy",
        "f1",
        "f1_macro",
        "average_precision",
        "roc_auc",
        "log_loss",
    }
    assert evaluation.metrics["roc_auc"] == pytest.approx(roc_auc_score(y, proba[:, 1]))
    assert evaluation.metrics["log_loss"] == pytest.approx(log_loss(y, proba))
    assert evaluation.skipped == {}
    matrix = evaluation.plots["confusion_matrix"]
    assert matrix["labels"] == [0, 1]
    assert sum(map(sum, matrix["matrix"])) == len(X)
    calibration = evaluation.plots["calibration"]
    assert calibration["kind"] == "positive_class"
    assert calibration["positive_label"] == 1
    assert sum(point["count"] for point in calibration["points"]) == len(X)
    assert 0 <= calibration["ece"] < 0.1


def test_multiclass_classification_uses_one_vs_rest_and_top_class_calibration() -> None:
    X, y = load_wine(return_X_y=True, as_frame=True)
    model = fitted_classifier(X.iloc[::2], y.iloc[::2])
    X_test, y_test = X.iloc[1::2], y.iloc[1::2]
    proba = model.predict_proba(X_test)

    evaluation = evaluate(model, X_test, y_test, task="classification")

    expected = roc_auc_score(y_test, proba, multi_class="ovr", average="macro")
    assert evaluation.metrics["roc_auc"] == pytest.approx(expected)
    assert evaluation.metrics["log_loss"] == pytest.approx(log_loss(y_test, proba))
    assert evaluation.plots["calibration"]["kind"] == "top_class"
    assert evaluation.labels == [0, 1, 2]


def test_string_labels_and_a_model_without_probabilities() -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    labels = pd.Series(np.where(y == 1, "benign", "malignant"), dtype="str")
    model = make_pipeline(StandardScaler(), RidgeClassifier()).fit(X, labels)

    evaluation = evaluate(model, X, labels, task="classification")

    assert set(evaluation.metrics) == {"accuracy", "balanced_accuracy", "f1", "f1_macro"}
    assert evaluation.skipped == {
        "average_precision": "the model has no predict_proba",
        "roc_auc": "the model has no predict_proba",
        "log_loss": "the model has no predict_proba",
    }
    assert evaluation.labels == ["benign", "malignant"]
    assert "calibration" not in evaluation.plots
    json.dumps(evaluation.to_dict())


def test_regression_metrics_and_residuals() -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    model = LinearRegression().fit(X, y)
    predicted = model.predict(X)

    evaluation = evaluate(model, X, y, task="regression")

    assert evaluation.metrics["rmse"] == pytest.approx(math.sqrt(np.mean((y - predicted) ** 2)))
    assert evaluation.metrics["mae"] == pytest.approx(mean_absolute_error(y, predicted))
    assert evaluation.metrics["r2"] == pytest.approx(r2_score(y, predicted))
    residuals = evaluation.plots["residuals"]
    assert residuals["n_total"] == len(X) == len(residuals["residual"])
    assert residuals["residual"][0] == pytest.approx(y.iloc[0] - predicted[0])


def test_residuals_are_a_seeded_sample_of_at_most_2000_points() -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=5000)})
    y = 3 * X["x"] + rng.normal(size=5000)
    model = LinearRegression().fit(X, y)

    first = evaluate(model, X, y, task="regression").plots["residuals"]
    second = evaluate(model, X, y, task="regression").plots["residuals"]

    assert len(first["residual"]) == 2000
    assert first["n_total"] == 5000
    assert first == second


def test_slices_count_rows_and_skip_undefined_metrics_with_a_reason() -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = fitted_classifier(X, y)
    # "pure" holds only benign tumours (one class): roc_auc is undefined there.
    size = pd.Series(np.where(y == 1, "pure", "mixed"), dtype="str")
    size[(y == 1) & (X["mean radius"] > 14)] = "mixed"
    region = pd.Series(["north", "south", None] * (len(X) // 3) + ["north"] * (len(X) % 3))

    evaluation = evaluate(
        model, X, y, task="classification", slices={"size": size, "region": region}
    )

    pure = evaluation.slices["size"]["pure"]
    assert pure["rows"] == int((size == "pure").sum())
    assert "roc_auc" not in pure["metrics"]
    assert pure["skipped"]["roc_auc"].startswith("roc_auc needs at least two classes")
    assert pure["metrics"]["accuracy"] > 0.9
    assert "roc_auc" in evaluation.slices["size"]["mixed"]["metrics"]
    regions = evaluation.slices["region"]
    assert sorted(regions) == ["<missing>", "north", "south"]
    assert regions["<missing>"]["value"] is None
    assert sum(part["rows"] for part in regions.values()) == len(X)


def test_regression_slice_with_a_constant_target() -> None:
    X = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    y = pd.Series([1.0, 1.0, 1.0, 2.0, 4.0, 6.0])
    model = LinearRegression().fit(X, y)

    evaluation = evaluate(
        model, X, y, task="regression", slices={"part": ["a", "a", "a", "b", "b", "b"]}
    )

    assert evaluation.slices["part"]["a"]["skipped"] == {
        "r2": "r2 is undefined when the true target is constant"
    }
    assert "r2" in evaluation.slices["part"]["b"]["metrics"]


def test_evaluation_round_trips_through_json() -> None:
    X, y = load_wine(return_X_y=True, as_frame=True)
    model = fitted_classifier(X, y)
    evaluation = evaluate(model, X, y, task="classification", slices={"alcohol": X["alcohol"] > 13})

    again = Evaluation.from_dict(json.loads(json.dumps(evaluation.to_dict())))

    assert again == evaluation


@pytest.mark.parametrize(
    ("metric", "direction"),
    [
        ("accuracy", "max"),
        ("f1_macro", "max"),
        ("roc_auc", "max"),
        ("log_loss", "min"),
        ("rmse", "min"),
        ("mae", "min"),
        ("r2", "max"),
    ],
)
def test_metric_direction(metric, direction) -> None:
    assert metric_direction(metric) == direction
    assert metric in METRICS


def test_metric_direction_unknown_metric() -> None:
    message = (
        "Unknown metric 'acuracy'. Use one of: accuracy, average_precision, balanced_accuracy, "
        "f1, f1_macro, log_loss, mae, r2, rmse, roc_auc, or a custom metric as "
        "'module:function'. Did you mean 'accuracy'?"
    )
    with pytest.raises(ConfigError, match=re.escape(message)):
        metric_direction("acuracy")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"y": [0, 1]}, "The target has 2 values but X has 178 rows; give one per row."),
        (
            {"y": pd.Series([np.nan] + [0.0] * 177)},
            "The target has 1 missing values; drop or fill them before evaluating.",
        ),
        (
            {"slices": {"row": np.arange(178)}},
            "Slice 'row' has 178 distinct values; at most 100 are allowed.",
        ),
        ({"slices": {"short": [1, 2]}}, "Slice 'short' has 2 values but X has 178 rows"),
    ],
)
def test_bad_inputs(kwargs, message) -> None:
    X, y = load_wine(return_X_y=True, as_frame=True)
    model = fitted_classifier(X, y)
    arguments = {"y": y, **kwargs}

    with pytest.raises(InvalidInputError, match=re.escape(message)):
        evaluate(model, X, task="classification", **arguments)


def test_unknown_task() -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    with pytest.raises(ConfigError, match=re.escape("Unknown task 'forecast'.")):
        evaluate(LinearRegression().fit(X, y), X, y, task="forecast")
