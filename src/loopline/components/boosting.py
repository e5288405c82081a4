"""Boosted candidates that stop early: ``LGBMClassifier``, ``LGBMRegressor`` (LightGBM) and
``XGBRegressor`` (XGBoost), each imported only when asked for, so the packages stay optional.

They are the libraries' own estimators with two more parameters, ``validation_fraction``
(0.1) and ``n_iter_no_change`` (10): a share of the training rows is held out (stratified
for classifiers) and boosting stops when the loss on it has not improved for that many
rounds, keeping the best round, as scikit-learn's ``HistGradientBoosting*`` does with
``early_stopping=True``. ``n_estimators`` is then only a cap. With ``n_jobs=None`` the
threads follow the OpenMP limit in force (one per fold fit in cross-validation).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._boosting_lightgbm import LGBMClassifier, LGBMRegressor
    from ._boosting_xgboost import XGBRegressor

__all__ = ["LGBMClassifier", "LGBMRegressor", "XGBRegressor"]

_WHERE = {
    "LGBMClassifier": "._boosting_lightgbm",
    "LGBMRegressor": "._boosting_lightgbm",
    "XGBRegressor": "._boosting_xgboost",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name], __package__), name)


def __dir__() -> list[str]:
    return sorted(__all__)
