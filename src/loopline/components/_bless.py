"""Blessing: decide whether a candidate model is good enough to replace the champion.

A ``BlessingRule`` follows scikit-learn conventions: ``__init__`` only stores its settings,
``fit(candidate, champion)`` decides and keeps the verdict in ``blessed_`` with one reason
per check in ``reasons_``, so the rule can be cloned, logged as params and rebuilt.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sklearn.base import BaseEstimator

from ..errors import ConfigError, InvalidInputError, NotFittedError
from ._evaluate import Evaluation, check_metric, metric_direction

__all__ = ["BlessingRule"]

#: The metric compared when ``metric`` is None, per task: defined on any non-empty data.
DEFAULT_METRICS = {"classification": "accuracy", "regression": "rmse"}

_FITTED = ("blessed_", "reasons_", "skipped_", "metric_")


class BlessingRule(BaseEstimator):  # type: ignore[misc]
    """Bless a candidate if it beats the dummy baseline, meets absolute thresholds and is no
    worse than the champion.

    The baseline check uses the evaluation's ``baseline`` (the majority class or the mean,
    fitted on the same training rows and scored on the same holdout): a model that does not
    do strictly better than it on ``metric`` has learnt nothing useful and is not blessed.

    "Worse" is judged on ``metric`` overall and on every slice value present in both
    evaluations with at least ``slice_min_rows`` rows in each. A drop is tolerated up to the
    larger of ``absolute_margin`` and ``relative_margin * |champion value|``. Thresholds are
    minimums for metrics that improve upwards (accuracy) and maximums for the others (rmse).

    Args:
        metric: The metric compared with the champion; ``"accuracy"`` for classification
            and ``"rmse"`` for regression when None.
        thresholds: Metric -> bound the candidate must meet over all rows.
        absolute_margin: Largest tolerated drop, in metric units.
        relative_margin: Largest tolerated drop, as a fraction of the champion's value.
        slice_min_rows: Fewest rows a slice value needs, in both evaluations, to be compared.
        beat_baseline: Require the candidate to beat the dummy baseline (when its
            evaluation has one).

    Attributes:
        blessed_: Whether the candidate is blessed.
        reasons_: One ``{metric, slice, candidate, champion, threshold, delta, passed,
            message}`` per check (``slice`` is None for overall).
        skipped_: ``{metric, slice, message}`` for slice values that were not compared.
        metric_: The metric actually compared.

    Example:
        >>> candidate = Evaluation("classification", 100, metrics={"accuracy": 0.91})
        >>> champion = Evaluation("classification", 100, metrics={"accuracy": 0.93})
        >>> rule = BlessingRule(absolute_margin=0.01).fit(candidate, champion)
        >>> rule.blessed_
        False
        >>> rule.reasons_[0]["message"]
        'accuracy 0.9100 vs champion 0.9300: worse by 0.0200, beyond the tolerated 0.0100'
    """

    def __init__(
        self,
        metric: str | None = None,
        thresholds: Mapping[str, float] | None = None,
        absolute_margin: float = 0.0,
        relative_margin: float = 0.0,
        slice_min_rows: int = 30,
        beat_baseline: bool = True,
    ) -> None:
        self.metric = metric
        self.thresholds = thresholds
        self.absolute_margin = absolute_margin
        self.relative_margin = relative_margin
        self.slice_min_rows = slice_min_rows
        self.beat_baseline = beat_baseline

    def fit(
        self,
        candidate: Evaluation | Mapping[str, Any],
        champion: Evaluation | Mapping[str, Any] | None = None,
    ) -> BlessingRule:
        """Decide whether ``candidate`` is blessed, against ``champion`` if there is one.

        Args:
            candidate: Evaluation of the new model (or its ``to_dict()``).
            champion: Evaluation of the current champion on the same data, or None for the
                first model.

        Returns:
            self, with ``blessed_``, ``reasons_``, ``skipped_`` and ``metric_`` set.

        Raises:
            ConfigError: A setting is invalid (unknown metric, negative margin, ...).
            InvalidInputError: The two evaluations are of different tasks.
        """
        candidate = _as_evaluation(candidate, "candidate")
        champion = None if champion is None else _as_evaluation(champion, "champion")
        if champion is not None and champion.task != candidate.task:
            raise InvalidInputError(
                f"Cannot compare a {candidate.task} candidate with a {champion.task} champion; "
                "evaluate both models on the same task.",
                value=champion.task,
            )
        metric = self._check_params(candidate.task, candidate.metric)
        reasons = [self._threshold_reason(m, bound, candidate) for m, bound in self._bounds()]
        if self.beat_baseline and candidate.baseline is not None:
            reasons.insert(0, _baseline_reason(metric, candidate))
        skipped: list[dict[str, Any]] = []
        if champion is None:
            reasons.append(_first_model_reason(metric, candidate))
        else:
            reasons.append(
                self._compare(metric, None, candidate.metrics, champion.metrics, candidate.skipped)
            )
            reasons += self._compare_slices(metric, candidate, champion, skipped)
        self.metric_ = metric
        self.reasons_ = reasons
        self.skipped_ = skipped
        self.blessed_ = all(reason["passed"] for reason in reasons)
        return self

    def to_dict(self) -> dict[str, Any]:
        """Return the settings and the verdict as plain JSON values.

        Raises:
            NotFittedError: ``fit`` was not called.
        """
        return {
            "params": self.get_params(),
            "metric": self.metric_,
            "blessed": self.blessed_,
            "reasons": list(self.reasons_),
            "skipped": list(self.skipped_),
        }

    def __getattr__(self, name: str) -> Any:
        # Only reached for missing attributes: reading the verdict before fit.
        if name in _FITTED:
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet, so it has no {name}. "
                "Call fit(candidate, champion) with the evaluations first.",
                hint="rule = BlessingRule(...).fit(candidate_evaluation, champion_evaluation)",
                value=name,
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __sklearn_is_fitted__(self) -> bool:
        """Whether ``fit`` has been called."""
        return "blessed_" in vars(self)

    # -- checks ------------------------------------------------------------------------

    def _check_params(self, task: str, evaluated: str | None = None) -> str:
        """Check the settings; return the metric: ours, else the evaluation's, else the
        task's default."""
        metric = self.metric or evaluated or DEFAULT_METRICS.get(task)
        if metric is None:
            raise InvalidInputError(f"Unknown task {task!r} in the evaluation.", value=task)
        check_metric(metric, task)
        for name in ("absolute_margin", "relative_margin"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
                raise ConfigError(
                    f"The {name!r} parameter of BlessingRule must be a number >= 0. "
                    f"Got {value!r} instead.",
                    value=value,
                )
        rows = self.slice_min_rows
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
            raise ConfigError(
                f"The 'slice_min_rows' parameter of BlessingRule must be an integer >= 1. "
                f"Got {rows!r} instead.",
                value=rows,
            )
        for name, bound in self._bounds():
            check_metric(name, task)
            if not _is_number(bound):
                raise ConfigError(
                    f"The threshold for {name!r} in BlessingRule must be a finite number. "
                    f"Got {bound!r} instead.",
                    value=bound,
                )
        return metric

    def _bounds(self) -> list[tuple[str, float]]:
        if self.thresholds is None:
            return []
        if not isinstance(self.thresholds, Mapping):
            raise ConfigError(
                "The 'thresholds' parameter of BlessingRule must be a mapping metric -> bound. "
                f"Got {self.thresholds!r} instead.",
                value=self.thresholds,
            )
        return sorted(self.thresholds.items())

    def _threshold_reason(self, metric: str, bound: float, candidate: Evaluation) -> dict[str, Any]:
        direction = metric_direction(metric)
        value = candidate.metrics.get(metric)
        reason = _reason(metric, None, value, threshold=float(bound))
        if value is None:
            why = candidate.skipped.get(metric, "not computed")
            reason["message"] = f"{metric} has no value for the candidate ({why})"
            return reason
        reason["delta"] = value - bound
        reason["passed"] = value >= bound if direction == "max" else value <= bound
        word = "at least" if direction == "max" else "at most"
        verdict = "meets" if reason["passed"] else "fails"
        reason["message"] = (
            f"{metric} {value:.4f} {verdict} the threshold: must be {word} {bound:.4f}"
        )
        return reason

    def _tolerance(self, champion_value: float) -> float:
        return max(float(self.absolute_margin), float(self.relative_margin) * abs(champion_value))

    def _compare(
        self,
        metric: str,
        slice_name: str | None,
        candidate: Mapping[str, float],
        champion: Mapping[str, float],
        candidate_skipped: Mapping[str, str],
    ) -> dict[str, Any]:
        """One champion comparison, overall (``slice_name`` None) or on one slice value."""
        value, best = candidate.get(metric), champion.get(metric)
        reason = _reason(metric, slice_name, value, champion=best)
        where = f" on {slice_name}" if slice_name else ""
        if value is None:
            why = candidate_skipped.get(metric, "not computed")
            reason["message"] = f"{metric}{where} has no value for the candidate ({why})"
            return reason
        if best is None:
            reason["passed"] = True
            reason["message"] = f"{metric}{where}: the champion has no value; not compared"
            return reason
        delta = value - best
        worse_by = -delta if metric_direction(metric) == "max" else delta
        tolerance = self._tolerance(best)
        reason["delta"] = delta
        reason["passed"] = worse_by <= tolerance + 1e-12
        head = f"{metric}{where} {value:.4f} vs champion {best:.4f}"
        if worse_by <= 0:
            reason["message"] = f"{head}: not worse"
        elif reason["passed"]:
            reason["message"] = (
                f"{head}: worse by {worse_by:.4f}, within the tolerated {tolerance:.4f}"
            )
        else:
            reason["message"] = (
                f"{head}: worse by {worse_by:.4f}, beyond the tolerated {tolerance:.4f}"
            )
        return reason

    def _compare_slices(
        self,
        metric: str,
        candidate: Evaluation,
        champion: Evaluation,
        skipped: list[dict[str, Any]],
    ) -> list[dict[str, Any]]:
        reasons = []
        for column in sorted(set(candidate.slices) & set(champion.slices)):
            ours, theirs = candidate.slices[column], champion.slices[column]
            for key in sorted(set(ours) & set(theirs)):
                name = f"{column}={key}"
                rows = min(int(ours[key]["rows"]), int(theirs[key]["rows"]))
                if rows < self.slice_min_rows:
                    skipped.append(
                        {
                            "metric": metric,
                            "slice": name,
                            "message": f"{rows} rows, fewer than slice_min_rows="
                            f"{self.slice_min_rows}",
                        }
                    )
                    continue
                mine, other = ours[key].get("metrics", {}), theirs[key].get("metrics", {})
                if metric not in mine and metric not in other:
                    why = ours[key].get("skipped", {}).get(metric, "not computed")
                    skipped.append({"metric": metric, "slice": name, "message": why})
                    continue
                reasons.append(
                    self._compare(metric, name, mine, other, ours[key].get("skipped", {}))
                )
        return reasons


def _reason(
    metric: str,
    slice_name: str | None,
    candidate: float | None,
    *,
    champion: float | None = None,
    threshold: float | None = None,
    check: str | None = None,
) -> dict[str, Any]:
    if check is None:
        check = "threshold" if threshold is not None else "champion"
    return {
        "check": check,
        "metric": metric,
        "slice": slice_name,
        "candidate": candidate,
        "champion": champion,
        "threshold": threshold,
        "delta": None,
        "passed": False,
        "message": "",
    }


def _baseline_reason(metric: str, candidate: Evaluation) -> dict[str, Any]:
    """Whether the candidate does strictly better than the dummy baseline on ``metric``."""
    baseline = candidate.baseline or {}
    theirs = baseline.get("metrics", {}).get(metric)
    value = candidate.metrics.get(metric)
    reason = _reason(metric, None, value, check="baseline")
    reason["baseline"] = theirs
    what = baseline.get("description", "the dummy baseline")
    if value is None or theirs is None:
        reason["passed"] = True
        reason["message"] = f"{metric} is undefined for the candidate or {what}; not compared"
        return reason
    delta = value - theirs
    better = delta > 1e-12 if metric_direction(metric) == "max" else delta < -1e-12
    reason["delta"] = delta
    reason["passed"] = better
    head = f"{metric} {value:.4f} vs {what} {theirs:.4f}"
    reason["message"] = (
        f"{head}: beats the baseline"
        if better
        else f"{head}: does not beat the baseline, so the model has learnt nothing useful; "
        "it is not blessed"
    )
    return reason


def _first_model_reason(metric: str, candidate: Evaluation) -> dict[str, Any]:
    reason = _reason(metric, None, candidate.metrics.get(metric), check="first model")
    reason["passed"] = True
    reason["message"] = "no champion: first model; only the thresholds apply"
    return reason


def _as_evaluation(value: Any, role: str) -> Evaluation:
    if isinstance(value, Evaluation):
        return value
    if isinstance(value, Mapping):
        return Evaluation.from_dict(value)
    raise InvalidInputError(
        f"The {role} must be an Evaluation (from evaluate()) or its to_dict(). "
        f"Got {type(value).__name__}.",
        value=type(value).__name__,
    )


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
