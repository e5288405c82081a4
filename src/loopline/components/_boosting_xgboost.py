"""XGBoost candidates with early stopping on held-out rows (see ``_boosting``)."""

from __future__ import annotations

from typing import Any

import xgboost

from ._boosting import validation_split

__all__ = ["XGBRegressor"]


class XGBRegressor(xgboost.XGBRegressor):
    """``xgboost.XGBRegressor`` that stops early on held-out rows.

    Threads: XGBoost's ``n_jobs=None`` already follows the OpenMP limit in force.

    Args:
        early_stopping: Hold rows out and stop early: True, False, or ``"auto"`` (above
            10,000 rows, as scikit-learn's ``HistGradientBoosting*``).
        validation_fraction: Share of the training rows held out to decide when to stop;
            None or 0 fits on all rows for ``n_estimators`` rounds.
        n_iter_no_change: Rounds without improvement of the held-out loss before stopping
            (XGBoost's ``early_stopping_rounds``, set for the fit with held-out rows).
        **kwargs: XGBoost's parameters; ``n_estimators`` is the cap on rounds.

    Example:
        >>> from sklearn.datasets import make_regression
        >>> X, y = make_regression(400, 5, noise=1.0, random_state=0)
        >>> model = XGBRegressor(n_estimators=1000, early_stopping=True).fit(X, y)
        >>> model.best_iteration < 999
        True
    """

    def __init__(
        self,
        *,
        early_stopping: bool | str = "auto",
        validation_fraction: float | None = 0.1,
        n_iter_no_change: int = 10,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change

    def fit(self, X: Any, y: Any, *, sample_weight: Any = None, **fit_params: Any) -> Any:
        split = None
        if "eval_set" not in fit_params and self.early_stopping_rounds is None:
            split = validation_split(
                X,
                y,
                sample_weight,
                early_stopping=self.early_stopping,
                fraction=self.validation_fraction,
                classifier=False,
                random_state=self.random_state,
            )
        if split is None:
            return super().fit(X, y, sample_weight=sample_weight, **fit_params)
        X_fit, y_fit, weight_fit, X_val, y_val = split
        fit_params.setdefault("verbose", False)
        # XGBoost reads the stopping rounds from the estimator; set them for this fit only.
        self.early_stopping_rounds = self.n_iter_no_change
        try:
            return super().fit(
                X_fit, y_fit, sample_weight=weight_fit, eval_set=[(X_val, y_val)], **fit_params
            )
        finally:
            self.early_stopping_rounds = None

    def _wrapper_params(self) -> set[str]:
        return {
            *super()._wrapper_params(),
            "early_stopping",
            "validation_fraction",
            "n_iter_no_change",
        }
