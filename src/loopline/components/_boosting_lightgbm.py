"""LightGBM candidates with early stopping on held-out rows (see ``_boosting``)."""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import lightgbm

from ._boosting import openmp_threads, validation_split

__all__ = ["LGBMClassifier", "LGBMRegressor"]

_OWN_PARAMS = ("early_stopping", "validation_fraction", "n_iter_no_change")
_TAKES_EVAL_X = "eval_X" in inspect.signature(lightgbm.LGBMModel.fit).parameters


class _EarlyStopping:
    """Mixin: ``fit`` holds out rows and stops early; threads follow the OpenMP limit."""

    early_stopping: bool | str
    validation_fraction: float | None
    n_iter_no_change: int
    n_jobs: int | None

    def fit(self, X: Any, y: Any, sample_weight: Any = None, **fit_params: Any) -> Any:
        split = None
        if not {"eval_set", "eval_X"} & set(fit_params):
            split = validation_split(
                X,
                y,
                sample_weight,
                early_stopping=self.early_stopping,
                fraction=self.validation_fraction,
                classifier=isinstance(self, lightgbm.LGBMClassifier),
                random_state=getattr(self, "random_state", None),
            )
        if split is None:
            return super().fit(X, y, sample_weight=sample_weight, **fit_params)  # type: ignore[misc]
        X_fit, y_fit, weight_fit, X_val, y_val = split
        callbacks = [
            *(fit_params.pop("callbacks", None) or []),
            lightgbm.early_stopping(self.n_iter_no_change, verbose=False),
        ]
        # LightGBM 4.7 takes eval_X/eval_y and deprecates eval_set (older 4.x has only
        # eval_set), but its classifier encodes the labels of eval_set only, not of eval_y.
        with warnings.catch_warnings():
            if _TAKES_EVAL_X and not isinstance(self, lightgbm.LGBMClassifier):
                fit_params.update(eval_X=(X_val,), eval_y=(y_val,))
            else:
                warnings.filterwarnings("ignore", message=".*'eval_set' is deprecated")
                fit_params["eval_set"] = [(X_val, y_val)]
            return super().fit(  # type: ignore[misc]
                X_fit, y_fit, sample_weight=weight_fit, callbacks=callbacks, **fit_params
            )

    def _process_params(self, stage: str) -> dict[str, Any]:
        params: dict[str, Any] = super()._process_params(stage)  # type: ignore[misc]
        for name in _OWN_PARAMS:
            params.pop(name, None)
        if stage == "fit" and self.n_jobs is None:
            params["num_threads"] = openmp_threads()
        return params


class LGBMClassifier(_EarlyStopping, lightgbm.LGBMClassifier):  # type: ignore[misc]
    """``lightgbm.LGBMClassifier`` that stops early on held-out rows.

    Args:
        early_stopping: Hold rows out and stop early: True, False, or ``"auto"`` (above
            10,000 rows, as scikit-learn's ``HistGradientBoosting*``).
        validation_fraction: Share of the training rows held out (stratified) to decide
            when to stop; None or 0 fits on all rows for ``n_estimators`` rounds.
        n_iter_no_change: Rounds without improvement of the held-out loss before stopping.
        **kwargs: LightGBM's parameters; ``n_estimators`` is the cap on rounds, and
            ``n_jobs=None`` follows the OpenMP thread limit in force.

    Example:
        >>> from sklearn.datasets import make_classification
        >>> X, y = make_classification(400, 5, random_state=0)
        >>> model = LGBMClassifier(n_estimators=500, early_stopping=True, verbose=-1)
        >>> model = model.fit(X, y)
        >>> model.best_iteration_ < 500
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


class LGBMRegressor(_EarlyStopping, lightgbm.LGBMRegressor):  # type: ignore[misc]
    """``lightgbm.LGBMRegressor`` that stops early on held-out rows (see LGBMClassifier)."""

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
