"""Data and prediction drift of a window of requests against the training statistics.

``DriftDetector`` follows scikit-learn: ``fit`` learns the baseline from the statistics the
model carries (``compute_statistics`` of its training data: only the summary is kept, never
the rows) and ``score(window)`` compares a window with it, scanning only the window.

Which test decides for which kind of feature, and how the KS test can run without the
training rows, is in ``_scoring``; how the baseline is rebuilt from the statistics is in
``_baseline``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from loopline.components import check_statistics, column_names
from loopline.errors import ConfigError, InvalidInputError, NotFittedError

from ._baseline import FeatureBaseline, build_baseline
from ._report import DriftReport, FeatureDrift
from ._scoring import Thresholds, empty_feature, missing_feature, score_feature

__all__ = ["DriftDetector"]

_FITTED = (
    "baselines_",
    "feature_names_in_",
    "n_features_in_",
    "prediction_baseline_",
    "reference_rows_",
)
#: Parameter -> (what is allowed, as the message says it; the check).
_PARAMETERS: dict[str, tuple[str, Callable[[float], bool]]] = {
    "psi_threshold": ("> 0", lambda v: v > 0),
    "ks_alpha": ("in (0, 1)", lambda v: 0 < v < 1),
    "ks_threshold": ("in [0, 1)", lambda v: 0 <= v < 1),
    "chi2_alpha": ("in (0, 1)", lambda v: 0 < v < 1),
    "js_threshold": ("in [0, 1)", lambda v: 0 <= v < 1),
    "missing_rate_threshold": ("in [0, 1)", lambda v: 0 <= v < 1),
    "drift_share": ("in (0, 1]", lambda v: 0 < v <= 1),
}
_EMPTY_WINDOW = "no requests in the window"


class DriftDetector(BaseEstimator):  # type: ignore[misc]
    """Detect data and prediction drift of request windows against training statistics.

    Args:
        psi_threshold: PSI above which a shift is large enough to count (0.2: Siddiqi's
            "significant shift").
        ks_alpha: Significance level of the KS test of numeric features.
        ks_threshold: KS distance above which a numeric shift is large enough to count (0.1:
            a tenth of the values moved across some point).
        chi2_alpha: Significance level of the chi-square tests (categories, missing values).
        js_threshold: Jensen-Shannon distance (base 2) above which a categorical shift is
            large enough to count (0.1, Evidently's default for large data).
        missing_rate_threshold: Change of the missing rate (as a share of rows) above which
            it is large enough to count.
        drift_share: Share of compared features that must drift for the dataset to drift.

    Attributes:
        baselines_: Feature name -> ``FeatureBaseline`` (bin edges, reference proportions,
            reference CDF, categories).
        feature_names_in_: The features of the training statistics, in their order.
        n_features_in_: Their number.
        prediction_baseline_: The baseline of the model's predictions, or None.
        reference_rows_: Rows the training statistics describe.

    Example:
        >>> from loopline.components import compute_statistics
        >>> rng = np.random.default_rng(0)
        >>> train = pd.DataFrame({"x": rng.normal(size=1000), "c": rng.choice(["a", "b"], 1000)})
        >>> detector = DriftDetector().fit(compute_statistics(train))
        >>> window = train.assign(x=train["x"] + 1.0)
        >>> detector.score(window).drifted_features
        ['x']
    """

    def __init__(
        self,
        *,
        psi_threshold: float = 0.2,
        ks_alpha: float = 0.01,
        ks_threshold: float = 0.1,
        chi2_alpha: float = 0.01,
        js_threshold: float = 0.1,
        missing_rate_threshold: float = 0.05,
        drift_share: float = 0.5,
    ) -> None:
        self.psi_threshold = psi_threshold
        self.ks_alpha = ks_alpha
        self.ks_threshold = ks_threshold
        self.chi2_alpha = chi2_alpha
        self.js_threshold = js_threshold
        self.missing_rate_threshold = missing_rate_threshold
        self.drift_share = drift_share

    def fit(
        self,
        reference_statistics: dict[str, Any],
        prediction_statistics: dict[str, Any] | None = None,
    ) -> DriftDetector:
        """Learn the baseline from the training statistics the model carries.

        Args:
            reference_statistics: ``compute_statistics(training_features)``, or its JSON
                loaded back.
            prediction_statistics: ``compute_statistics`` of a one-column frame of the
                model's predictions on its training or validation data, to detect
                prediction drift; None to skip it.

        Returns:
            self, with the attributes ending in ``_`` set.

        Raises:
            ConfigError: A parameter is out of range.
            InvalidInputError: The statistics are not a ``compute_statistics`` result, have
                no columns, or an entry lacks what drift detection reads.
        """
        self._thresholds()
        where = "The 'reference_statistics' argument of DriftDetector.fit"
        statistics = check_statistics(reference_statistics, where)
        baselines = _baselines(statistics, where)
        if not baselines:
            raise InvalidInputError(
                f"{where} describes no columns, so there is nothing to monitor.",
                hint="Pass the statistics of the training features.",
            )
        prediction = None
        if prediction_statistics is not None:
            where = "The 'prediction_statistics' argument of DriftDetector.fit"
            found = _baselines(check_statistics(prediction_statistics, where), where)
            if len(found) != 1:
                raise InvalidInputError(
                    f"{where} must describe exactly one column (the predictions); it "
                    f"describes {len(found)}: {sorted(found)}.",
                    hint='compute_statistics(pd.DataFrame({"prediction": model.predict(X)}))',
                    value=sorted(found),
                )
            prediction = next(iter(found.values()))
        self.baselines_ = baselines
        self.feature_names_in_ = list(baselines)
        self.n_features_in_ = len(baselines)
        self.prediction_baseline_ = prediction
        self.reference_rows_ = int(statistics.get("num_rows") or 0)
        return self

    def score(self, current: pd.DataFrame, *, predictions: Any = None) -> DriftReport:
        """Compare a window of requests (and the model's predictions on it) with the baseline.

        Args:
            current: The window's features; columns the training data did not have are
                ignored (and listed), missing ones are schema violations.
            predictions: The model's outputs for the window (a Series or 1-D array); only
                when ``fit`` was given ``prediction_statistics``.

        Returns:
            The drift report. An empty window gives ``n_rows=0``, no drift and a note.

        Raises:
            NotFittedError: ``fit`` was not called.
            ConfigError: A parameter was set out of range after ``fit``.
            InvalidInputError: ``current`` is not a DataFrame with unique column names, or
                ``predictions`` are given without a prediction baseline or are not 1-D.
        """
        self._check_fitted()
        thresholds = self._thresholds()
        names = column_names(current, "DriftDetector.score")
        positions = {name: i for i, name in enumerate(names)}
        n_rows = len(current)
        features = []
        for name, baseline in self.baselines_.items():
            if n_rows == 0:
                features.append(empty_feature(baseline))
            elif name not in positions:
                features.append(missing_feature(baseline))
            else:
                series = current.iloc[:, positions[name]]
                features.append(score_feature(baseline, series, thresholds))
        notes = [_EMPTY_WINDOW] if n_rows == 0 else []
        missing = [name for name in self.baselines_ if name not in positions] if n_rows else []
        prediction = self._score_predictions(predictions, thresholds, notes, n_rows)
        return DriftReport(
            n_rows=n_rows,
            features=tuple(features),
            drift_share=float(thresholds.drift_share),
            prediction=prediction,
            missing_columns=tuple(missing),
            extra_columns=tuple(n for n in names if n not in self.baselines_),
            notes=tuple(notes),
            params=self.get_params(),
        )

    def _score_predictions(
        self, predictions: Any, thresholds: Thresholds, notes: list[str], n_rows: int
    ) -> FeatureDrift | None:
        """The drift of the predictions, or None (with a note) when there are none."""
        baseline = self.prediction_baseline_
        if predictions is None:
            if baseline is not None and n_rows:
                notes.append("no predictions given: prediction drift not compared")
            return None
        if baseline is None:
            raise InvalidInputError(
                "DriftDetector.score got predictions, but the detector was fitted without "
                "prediction_statistics, so it has nothing to compare them with.",
                hint="fit(reference_statistics, prediction_statistics=compute_statistics("
                'pd.DataFrame({"prediction": training_predictions}))), or drop predictions=.',
            )
        series = _as_series(predictions, baseline.name)
        if len(series) == 0:
            return empty_feature(baseline)
        return score_feature(baseline, series, thresholds)

    def _thresholds(self) -> Thresholds:
        """The parameters, checked: a clear error names the first one out of range."""
        for name, (allowed, is_allowed) in _PARAMETERS.items():
            value = getattr(self, name)
            valid = isinstance(value, int | float) and not isinstance(value, bool)
            if not (valid and math.isfinite(value) and is_allowed(value)):
                raise ConfigError(
                    f"The '{name}' parameter of DriftDetector must be a float {allowed}. "
                    f"Got {value!r} instead.",
                    parameter=name,
                    value=value,
                )
        return Thresholds(*(float(getattr(self, name)) for name in _PARAMETERS))

    def _check_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise self._not_fitted("it cannot score", "score")

    def _not_fitted(self, consequence: str, what: str) -> NotFittedError:
        return NotFittedError(
            f"This {type(self).__name__} is not fitted yet, so {consequence}. Call "
            "fit(reference_statistics) with the training statistics the model carries first.",
            hint="detector = DriftDetector().fit(compute_statistics(training_features))",
            value=what,
        )

    def __getattr__(self, name: str) -> Any:
        # Only reached for missing attributes: reading the learned state before fit.
        if name in _FITTED:
            raise self._not_fitted(f"it has no {name}", name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __sklearn_is_fitted__(self) -> bool:
        """Whether ``fit`` has been called."""
        return "baselines_" in vars(self)


def _baselines(statistics: dict[str, Any], where: str) -> dict[str, FeatureBaseline]:
    """The baseline of every column of a checked statistics dict."""
    num_rows = statistics.get("num_rows") or 0
    return {
        str(name): build_baseline(str(name), entry, int(num_rows), where)
        for name, entry in statistics["columns"].items()
    }


def _as_series(predictions: Any, name: str) -> pd.Series:
    """Predictions as a Series, or a clear error if they are not one-dimensional."""
    if isinstance(predictions, pd.Series):
        return predictions
    if isinstance(predictions, pd.DataFrame) and predictions.shape[1] == 1:
        return predictions.iloc[:, 0]
    array = np.asarray(predictions)
    if array.ndim != 1:
        raise InvalidInputError(
            "The 'predictions' argument of DriftDetector.score must be one-dimensional "
            f"(one output per request). Got shape {array.shape} instead.",
            hint="Pass the predicted label or value; for class probabilities, one column.",
            value=array.shape,
        )
    return pd.Series(array, name=name)
