"""Evaluate a fitted model: metrics overall and per slice, and plot data (TFX Evaluator).

The metric names defined here (``METRICS``) are the one vocabulary that selection, tuning,
evaluation and blessing share, so a metric chosen in ``loopline.toml`` means the same thing
at every step.
"""

from __future__ import annotations

import difflib
import importlib
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    precision_recall_curve,
    r2_score,
    roc_auc_score,
    roc_curve,
)

from ..errors import ConfigError, InvalidInputError

__all__ = [
    "METRICS",
    "Evaluation",
    "evaluate",
    "metric_direction",
    "score_predictions",
]

Task = Literal["classification", "regression"]
Direction = Literal["max", "min"]

#: Every metric Loopline computes: name -> (task, direction in which it improves).
METRICS: dict[str, tuple[Task, Direction]] = {
    "accuracy": ("classification", "max"),
    "balanced_accuracy": ("classification", "max"),
    "f1": ("classification", "max"),
    "f1_macro": ("classification", "max"),
    "average_precision": ("classification", "max"),
    "roc_auc": ("classification", "max"),
    "log_loss": ("classification", "min"),
    "rmse": ("regression", "min"),
    "mae": ("regression", "min"),
    "r2": ("regression", "max"),
}

_TASKS: tuple[Task, ...] = ("classification", "regression")
_RESIDUALS_SAMPLE = 2_000
_CALIBRATION_BINS = 10
_MAX_SLICE_VALUES = 100
_MISSING_KEY = "<missing>"


def metric_direction(metric: str) -> Direction:
    """Say whether a larger or a smaller value of ``metric`` is better.

    Args:
        metric: A name from ``METRICS`` (``"accuracy"``, ``"rmse"``, ...).

    Returns:
        ``"max"`` if larger is better, ``"min"`` if smaller is better.

    Raises:
        ConfigError: ``metric`` is not one Loopline computes.
    """
    check_metric(metric)
    if metric in METRICS:
        return METRICS[metric][1]
    return "max" if getattr(resolve_metric(metric), "greater_is_better", True) else "min"


def is_custom_metric(metric: str) -> bool:
    """Whether ``metric`` is an import path (``"module:function"``) rather than a built-in."""
    return isinstance(metric, str) and metric not in METRICS and (":" in metric or "." in metric)


def resolve_metric(metric: str) -> Any:
    """Import the custom metric function at ``"module:function"`` (or ``module.function``).

    A custom metric is ``f(y_true, y_pred) -> float``; larger is better unless the function
    has ``greater_is_better = False``, and it receives class probabilities instead of
    predicted labels when it has ``needs_proba = True`` (the positive class's column for
    two classes, the whole matrix otherwise).

    Raises:
        ConfigError: Nothing callable can be imported from ``metric``.
    """
    module_name, sep, attr = metric.partition(":")
    if not sep:
        module_name, _, attr = metric.rpartition(".")
    hint = (
        "Give a built-in metric name, or 'module:function' naming a function "
        "f(y_true, y_pred) -> float importable from the project folder."
    )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"Cannot import the metric {metric!r}: module {module_name!r} was not found ({exc}).",
            hint=hint,
            value=metric,
        ) from None
    function = getattr(module, attr, None)
    if not callable(function):
        problem = (
            f"module {module_name!r} has no {attr!r}"
            if function is None
            else f"{attr!r} in module {module_name!r} is of type {type(function).__name__}, "
            "not a function"
        )
        raise ConfigError(f"Cannot use the metric {metric!r}: {problem}.", hint=hint, value=metric)
    return function


def check_task(task: str) -> Task:
    """Return ``task`` if it is ``"classification"`` or ``"regression"``, else raise ConfigError."""
    if task not in _TASKS:
        raise ConfigError(f"Unknown task {task!r}. Use one of: {', '.join(_TASKS)}.", value=task)
    return task


def check_metric(metric: str, task: str | None = None) -> str:
    """Return ``metric`` if Loopline computes it (for ``task`` when given), else raise ConfigError.

    Args:
        metric: The metric name to check.
        task: When given, the metric must belong to this task.

    Returns:
        The metric name, unchanged.

    Raises:
        ConfigError: The metric is unknown, or belongs to the other task.
    """
    allowed = [name for name, (kind, _) in METRICS.items() if task is None or kind == task]
    if metric in allowed:
        return metric
    if is_custom_metric(metric):
        resolve_metric(metric)
        return metric
    scope = f" for {task}" if task else ""
    message = (
        f"Unknown metric {metric!r}{scope}. Use one of: {', '.join(sorted(allowed))}, "
        "or a custom metric as 'module:function'."
    )
    if metric in METRICS:
        message = (
            f"Metric {metric!r} is for {METRICS[metric][0]}, not {task}. "
            f"Use one of: {', '.join(sorted(allowed))}."
        )
    close = difflib.get_close_matches(str(metric), allowed, n=1, cutoff=0.6)
    if close:
        message += f" Did you mean {close[0]!r}?"
    raise ConfigError(message, value=metric)


@dataclass
class Evaluation:
    """What a model scored on a dataset, overall and per slice, plus plot data.

    Every field holds plain JSON values, so ``to_dict()`` can be stored as is.

    Attributes:
        task: ``"classification"`` or ``"regression"``.
        n_rows: Number of rows evaluated.
        metrics: Metric name -> value over all rows (undefined metrics are left out).
        skipped: Metric name -> why it was not computed over all rows.
        slices: Slice column -> slice value (as a string) -> ``{"value", "rows", "metrics",
            "skipped"}``.
        plots: JSON-able plot data: ``calibration`` and ``confusion_matrix`` for
            classification, ``residuals`` for regression.
        labels: The class labels, in the order of the confusion matrix (classification).
        metric: The metric the model was chosen by (blessing compares it), if known.
        baseline: The dummy baseline's ``{"description", "estimator", "metrics"}`` on the
            same rows, if it was evaluated.

    Example:
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.linear_model import LogisticRegression
        >>> X, y = load_iris(return_X_y=True, as_frame=True)
        >>> model = LogisticRegression(max_iter=1000).fit(X, y)
        >>> evaluation = evaluate(model, X, y, task="classification")
        >>> round(evaluation.metrics["accuracy"], 2)
        0.97
    """

    task: str
    n_rows: int
    metrics: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    slices: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    plots: dict[str, Any] = field(default_factory=dict)
    labels: list[Any] | None = None
    metric: str | None = None
    baseline: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the evaluation as plain JSON values."""
        return {
            "task": self.task,
            "n_rows": self.n_rows,
            "metrics": dict(self.metrics),
            "skipped": dict(self.skipped),
            "slices": self.slices,
            "plots": self.plots,
            "labels": self.labels,
            "metric": self.metric,
            "baseline": self.baseline,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Evaluation:
        """Rebuild an evaluation from ``to_dict()`` output."""
        return cls(
            task=data["task"],
            n_rows=int(data["n_rows"]),
            metrics={k: float(v) for k, v in data.get("metrics", {}).items()},
            skipped=dict(data.get("skipped", {})),
            slices=dict(data.get("slices", {})),
            plots=dict(data.get("plots", {})),
            labels=data.get("labels"),
            metric=data.get("metric"),
            baseline=data.get("baseline"),
        )


def evaluate(
    model: Any,
    X: pd.DataFrame,
    y: pd.Series | Sequence[Any] | np.ndarray,
    *,
    task: str,
    slices: Mapping[str, pd.Series | Sequence[Any] | np.ndarray] | None = None,
    labels: Sequence[Any] | None = None,
    metric: str | None = None,
) -> Evaluation:
    """Score a fitted model on ``X``/``y``, overall and for each value of each slice column.

    Metrics that are undefined for some rows (``roc_auc`` on a slice holding one class,
    ``r2`` on a constant target) are left out and the reason goes to ``skipped``.

    Args:
        model: A fitted estimator or pipeline with ``predict`` (and ``predict_proba`` for the
            probability metrics of classification).
        X: The features, as the model expects them.
        y: The true target, one value per row of ``X``.
        task: ``"classification"`` or ``"regression"``.
        slices: Slice name -> one value per row of ``X`` (e.g. ``{"region": df["region"]}``);
            metrics are computed for each distinct value.
        labels: Class labels in the order wanted for the confusion matrix; by default the
            model's ``classes_`` plus any other value seen in ``y``.
        metric: The metric the model was chosen by; computed too when it is a custom one.

    Returns:
        The evaluation.

    Raises:
        InvalidInputError: ``y`` or a slice does not have one value per row, the target has
            missing values, or a slice has more than 100 distinct values.
        ConfigError: ``task`` is unknown.
    """
    task = check_task(task)
    if metric is not None:
        check_metric(metric, task)
    wanted = [m for m, (kind, _) in METRICS.items() if kind == task]
    if metric is not None and metric not in wanted:
        wanted.append(metric)
    y_true = _as_target(y, len(X))
    y_pred = np.asarray(model.predict(X))
    evaluation = Evaluation(task=task, n_rows=len(X), metric=metric)
    if task == "classification":
        class_labels = _class_labels(model, y_true, y_pred, labels)
        proba = predict_proba_aligned(model, X, class_labels)
        evaluation.labels = [_json_scalar(v) for v in class_labels]
        evaluation.metrics, evaluation.skipped = score_predictions(
            task, y_true, y_pred, proba=proba, labels=class_labels, metrics=wanted
        )
        evaluation.plots = _classification_plots(y_true, y_pred, proba, class_labels)
    else:
        class_labels = None
        proba = None
        evaluation.metrics, evaluation.skipped = score_predictions(
            task, y_true, y_pred, metrics=wanted
        )
        evaluation.plots = {"residuals": _residuals_sample(y_true, y_pred)}
    for name, column in (slices or {}).items():
        evaluation.slices[name] = _slice_metrics(
            name, column, task, y_true, y_pred, proba, class_labels
        )
    return evaluation


def score_predictions(
    task: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    *,
    proba: np.ndarray | None = None,
    labels: Sequence[Any] | None = None,
    metrics: Sequence[str] | None = None,
) -> tuple[dict[str, float], dict[str, str]]:
    """Compute metrics for one set of predictions, skipping (with a reason) undefined ones.

    Args:
        task: ``"classification"`` or ``"regression"``.
        y_true: True values.
        y_pred: Predicted values.
        proba: Class probabilities, one column per entry of ``labels`` (classification).
        labels: The class labels the columns of ``proba`` stand for.
        metrics: The metrics to compute; all of the task's by default.

    Returns:
        ``(values, skipped)``: metric -> value, and metric -> why it was not computed.
    """
    wanted = metrics or [m for m, (kind, _) in METRICS.items() if kind == task]
    values: dict[str, float] = {}
    skipped: dict[str, str] = {}
    for metric in wanted:
        reason = _undefined_reason(metric, task, y_true, proba)
        if reason is not None:
            skipped[metric] = reason
            continue
        values[metric] = _compute(metric, y_true, y_pred, proba, labels)
    return values, skipped


def predict_proba_aligned(model: Any, X: pd.DataFrame, labels: Sequence[Any]) -> np.ndarray | None:
    """Return ``model``'s class probabilities with one column per entry of ``labels``.

    Classes the model never saw get probability 0; rows are renormalised to sum to 1.
    Returns ``None`` when the model has no ``predict_proba``.
    """
    if not hasattr(model, "predict_proba"):
        return None
    raw = np.asarray(model.predict_proba(X), dtype=float)
    classes = list(getattr(model, "classes_", labels))
    position = {label: i for i, label in enumerate(labels)}
    proba = np.zeros((raw.shape[0], len(labels)))
    for j, label in enumerate(classes):
        proba[:, position[label]] = raw[:, j]
    totals = proba.sum(axis=1, keepdims=True)
    aligned: np.ndarray = np.divide(
        proba, totals, out=np.full_like(proba, 1 / len(labels)), where=totals > 0
    )
    return aligned


def _undefined_reason(
    metric: str, task: str, y_true: np.ndarray, proba: np.ndarray | None
) -> str | None:
    """Say why ``metric`` cannot be computed on these rows, or None if it can."""
    if len(y_true) == 0:
        return "no rows"
    if metric in ("roc_auc", "log_loss", "average_precision") and proba is None:
        return "the model has no predict_proba"
    if metric in ("roc_auc", "average_precision") and len(pd.unique(y_true)) < 2:
        return f"{metric} needs at least two classes in the true labels; these rows hold one"
    if metric == "r2" and len(y_true) < 2:
        return "r2 needs at least two rows"
    if metric == "r2" and np.ptp(y_true.astype(float)) == 0:
        return "r2 is undefined when the true target is constant"
    return None


def _compute(
    metric: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    proba: np.ndarray | None,
    labels: Sequence[Any] | None,
) -> float:
    """Compute one defined metric."""
    if metric == "accuracy":
        return float(accuracy_score(y_true, y_pred))
    if metric == "balanced_accuracy":
        with warnings.catch_warnings():  # "y_pred contains classes not in y_true"
            warnings.simplefilter("ignore")
            return float(balanced_accuracy_score(y_true, y_pred))
    if metric == "f1" and labels is not None and len(labels) == 2:
        return float(f1_score(y_true == labels[1], y_pred == labels[1], zero_division=0))
    if metric in ("f1", "f1_macro"):
        return float(f1_score(y_true, y_pred, average="macro", zero_division=0))
    if metric == "average_precision":
        assert proba is not None and labels is not None
        return _average_precision(y_true, proba, labels)
    if metric == "roc_auc":
        assert proba is not None and labels is not None
        return _roc_auc(y_true, proba, labels)
    if metric == "log_loss":
        assert proba is not None and labels is not None
        return _log_loss(y_true, proba, labels)
    if metric == "rmse":
        return float(math.sqrt(mean_squared_error(y_true, y_pred)))
    if metric == "mae":
        return float(mean_absolute_error(y_true, y_pred))
    if metric == "r2":
        return float(r2_score(y_true, y_pred))
    if is_custom_metric(metric):
        return _custom(metric, y_true, y_pred, proba)
    raise ConfigError(f"Unknown metric {metric!r}.", value=metric)  # pragma: no cover - checked


def _custom(metric: str, y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray | None) -> float:
    """Call a custom metric function and check it returned a number."""
    function = resolve_metric(metric)
    if getattr(function, "needs_proba", False):
        if proba is None:
            raise InvalidInputError(
                f"Custom metric {metric!r} needs class probabilities, but the model has no "
                "predict_proba.",
                value=metric,
            )
        y_pred = proba[:, 1] if proba.shape[1] == 2 else proba
    value = function(y_true, y_pred)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"Custom metric {metric!r} must return a number. Got {type(value).__name__}.",
            value=metric,
        ) from None
    return number


def _average_precision(y_true: np.ndarray, proba: np.ndarray, labels: Sequence[Any]) -> float:
    """Binary average precision (PR-AUC) of the positive class, else the mean one-vs-rest."""
    if len(labels) == 2:
        return float(average_precision_score(y_true == labels[1], proba[:, 1]))
    scores = []
    for j, label in enumerate(labels):
        positive = y_true == label
        if positive.any() and not positive.all():
            scores.append(average_precision_score(positive, proba[:, j]))
    return float(np.mean(scores))


def _roc_auc(y_true: np.ndarray, proba: np.ndarray, labels: Sequence[Any]) -> float:
    """Binary AUC, or the unweighted mean of one-vs-rest AUCs over the classes present."""
    if len(labels) == 2:
        return float(roc_auc_score(y_true == labels[1], proba[:, 1]))
    scores = []
    for j, label in enumerate(labels):
        positive = y_true == label
        if positive.any() and not positive.all():
            scores.append(roc_auc_score(positive, proba[:, j]))
    return float(np.mean(scores))


def _log_loss(y_true: np.ndarray, proba: np.ndarray, labels: Sequence[Any]) -> float:
    """Mean negative log-likelihood of the true class (labels in any order)."""
    position = {label: i for i, label in enumerate(labels)}
    unknown = sorted({str(v) for v in y_true if v not in position})
    if unknown:
        raise InvalidInputError(
            f"The true labels hold values that are not among the labels: {', '.join(unknown)}.",
            value=unknown,
        )
    index = np.fromiter((position[v] for v in y_true), dtype=int, count=len(y_true))
    eps = np.finfo(float).eps
    picked = np.clip(proba[np.arange(len(y_true)), index], eps, 1.0)
    return float(-np.mean(np.log(picked)))


def _as_target(y: Any, n_rows: int) -> np.ndarray:
    """Return ``y`` as a 1-d array after checking its length and missing values."""
    series = y if isinstance(y, pd.Series) else pd.Series(np.asarray(y))
    if len(series) != n_rows:
        raise InvalidInputError(
            f"The target has {len(series)} values but X has {n_rows} rows; give one per row.",
            value=len(series),
        )
    missing = int(series.isna().sum())
    if missing:
        raise InvalidInputError(
            f"The target has {missing} missing values; drop or fill them before evaluating.",
            value=missing,
        )
    values: np.ndarray = series.to_numpy()
    return values


def _class_labels(
    model: Any, y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[Any] | None
) -> list[Any]:
    """The model's classes, then any other value seen in y_true or y_pred, sorted."""
    if labels is not None:
        return list(labels)
    known = list(getattr(model, "classes_", []))
    extra = set(pd.unique(y_true)).union(pd.unique(y_pred)).difference(known)
    return known + sorted(extra, key=str)


def _json_scalar(value: Any) -> Any:
    """Turn numpy and pandas scalars into plain Python values."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def _classification_plots(
    y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray | None, labels: Sequence[Any]
) -> dict[str, Any]:
    """Confusion matrix and calibration curve data."""
    matrix = confusion_matrix(y_true, y_pred, labels=list(labels))
    plots: dict[str, Any] = {
        "confusion_matrix": {
            "labels": [_json_scalar(v) for v in labels],
            "matrix": matrix.tolist(),
        }
    }
    if proba is not None:
        plots["calibration"] = _calibration(y_true, proba, labels)
        curves = _roc_pr_curves(y_true, proba, labels)
        if curves:
            plots.update(curves)
    return plots


_CURVE_POINTS = 101


def _roc_pr_curves(
    y_true: np.ndarray, proba: np.ndarray, labels: Sequence[Any]
) -> dict[str, Any] | None:
    """ROC and precision-recall curves: of the positive class (two classes), else one per
    class against the rest (at most 10 classes); each thinned to about 100 points."""
    if len(labels) > 10:
        return None
    classes = [(1, labels[1])] if len(labels) == 2 else list(enumerate(labels))
    roc, pr = [], []
    for j, label in classes:
        positive = y_true == label
        if not positive.any() or positive.all():
            continue
        fpr, tpr, _ = roc_curve(positive, proba[:, j])
        precision, recall, _ = precision_recall_curve(positive, proba[:, j])
        name = _json_scalar(label)
        roc.append(
            {
                "label": name,
                "fpr": _thin(fpr),
                "tpr": _thin(tpr),
                "auc": float(roc_auc_score(positive, proba[:, j])),
            }
        )
        pr.append(
            {
                "label": name,
                "recall": _thin(recall[::-1]),
                "precision": _thin(precision[::-1]),
                "average_precision": float(average_precision_score(positive, proba[:, j])),
                "prevalence": float(positive.mean()),
            }
        )
    if not roc:
        return None
    return {"roc": roc, "precision_recall": pr}


def _thin(values: np.ndarray) -> list[float]:
    """About ``_CURVE_POINTS`` evenly spaced values of a curve, first and last kept."""
    if len(values) <= _CURVE_POINTS:
        return [float(v) for v in values]
    index = np.unique(np.linspace(0, len(values) - 1, _CURVE_POINTS).round().astype(int))
    return [float(v) for v in values[index]]


def permutation_importances(
    model: Any,
    X: pd.DataFrame,
    y: pd.Series | Sequence[Any] | np.ndarray,
    *,
    task: str,
    metric: str,
    max_rows: int = 2_000,
    repeats: int = 3,
    random_state: int = 0,
) -> dict[str, Any]:
    """How much ``metric`` drops when each input column is shuffled (on a sample of rows).

    Args:
        model: A fitted pipeline taking ``X``'s columns.
        X: Held-out features.
        y: Their true target.
        task: ``"classification"`` or ``"regression"``.
        metric: The metric to measure the drop in (larger drop: more important).
        max_rows: Rows sampled (with a fixed seed) to keep it quick on large holdouts.
        repeats: Shuffles per column.
        random_state: Seed of the sample and the shuffles.

    Returns:
        ``{"metric", "rows", "repeats", "features": [{"feature", "mean", "std"}, ...]}``,
        most important first; ``mean`` is in metric units, positive when shuffling hurts.
    """
    from sklearn.inspection import permutation_importance

    y_all = _as_target(y, len(X))
    rows = np.arange(len(X))
    if len(rows) > max_rows:
        rows = np.sort(np.random.default_rng(random_state).choice(len(rows), max_rows, False))
    X_part, y_part = X.iloc[rows], y_all[rows]
    sign = 1.0 if metric_direction(metric) == "max" else -1.0
    labels = _class_labels(model, y_all, y_all, None) if task == "classification" else None

    def score(estimator: Any, X_: pd.DataFrame, y_: np.ndarray) -> float:
        y_pred = np.asarray(estimator.predict(X_))
        proba = predict_proba_aligned(estimator, X_, labels) if labels is not None else None
        values, _ = score_predictions(
            task, np.asarray(y_), y_pred, proba=proba, labels=labels, metrics=[metric]
        )
        return sign * values.get(metric, math.nan)

    result = permutation_importance(
        model, X_part, y_part, scoring=score, n_repeats=repeats, random_state=random_state
    )
    # Importance = score with the column intact - score with it shuffled, in "larger is
    # better" units: positive when shuffling hurts, for rmse as for accuracy.
    features: list[dict[str, Any]] = [
        {"feature": str(name), "mean": float(m), "std": float(sd)}
        for name, m, sd in zip(
            X.columns, result.importances_mean, result.importances_std, strict=True
        )
    ]
    features.sort(key=lambda f: -float(f["mean"]))
    return {"metric": metric, "rows": len(rows), "repeats": repeats, "features": features}


def _calibration(y_true: np.ndarray, proba: np.ndarray, labels: Sequence[Any]) -> dict[str, Any]:
    """Reliability curve: binary, of the positive class; multiclass, of the top class."""
    if len(labels) == 2:
        kind = "positive_class"
        confidence = proba[:, 1]
        hit = y_true == labels[1]
    else:
        kind = "top_class"
        confidence = proba.max(axis=1)
        predicted = np.asarray(labels, dtype=object)[proba.argmax(axis=1)]
        hit = predicted == y_true
    bins = np.minimum((confidence * _CALIBRATION_BINS).astype(int), _CALIBRATION_BINS - 1)
    points = []
    ece = 0.0
    for b in range(_CALIBRATION_BINS):
        in_bin = bins == b
        count = int(in_bin.sum())
        if count == 0:
            continue
        mean_predicted = float(confidence[in_bin].mean())
        fraction = float(hit[in_bin].mean())
        ece += count / len(y_true) * abs(mean_predicted - fraction)
        points.append(
            {"mean_predicted": mean_predicted, "fraction_positive": fraction, "count": count}
        )
    positive = _json_scalar(labels[1]) if kind == "positive_class" else None
    return {"kind": kind, "positive_label": positive, "points": points, "ece": ece}


def _residuals_sample(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """At most 2,000 (true, predicted, residual) points, chosen with a fixed seed."""
    n = len(y_true)
    index = np.arange(n)
    if n > _RESIDUALS_SAMPLE:
        index = np.sort(np.random.default_rng(0).choice(n, _RESIDUALS_SAMPLE, replace=False))
    true = y_true[index].astype(float)
    pred = y_pred[index].astype(float)
    return {
        "n_total": n,
        "y_true": true.tolist(),
        "y_pred": pred.tolist(),
        "residual": (true - pred).tolist(),
    }


def _slice_metrics(
    name: str,
    column: Any,
    task: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    proba: np.ndarray | None,
    labels: Sequence[Any] | None,
) -> dict[str, dict[str, Any]]:
    """Metrics for each distinct value of one slice column."""
    values = pd.Series(np.asarray(column, dtype=object))
    if len(values) != len(y_true):
        raise InvalidInputError(
            f"Slice {name!r} has {len(values)} values but X has {len(y_true)} rows; "
            "give one per row.",
            value=name,
        )
    keys = values.map(lambda v: _MISSING_KEY if pd.isna(v) else str(v)).to_numpy()
    distinct = pd.unique(keys)
    if len(distinct) > _MAX_SLICE_VALUES:
        raise InvalidInputError(
            f"Slice {name!r} has {len(distinct)} distinct values; at most "
            f"{_MAX_SLICE_VALUES} are allowed. Slice by a categorical column, or bin this one "
            "first (pandas.cut).",
            value=name,
        )
    result: dict[str, dict[str, Any]] = {}
    for key in sorted(distinct):
        rows = keys == key
        part_proba = None if proba is None else proba[rows]
        metrics, skipped = score_predictions(
            task, y_true[rows], y_pred[rows], proba=part_proba, labels=labels
        )
        first = values[rows].iloc[0]
        result[key] = {
            "value": None if key == _MISSING_KEY else _json_scalar(first),
            "rows": int(rows.sum()),
            "metrics": metrics,
            "skipped": skipped,
        }
    return result
