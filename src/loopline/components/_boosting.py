"""Early stopping and thread choice shared by the LightGBM and XGBoost candidates.

The boosted candidates (``loopline.components.boosting``) hold out a share of their
training rows (stratified for classifiers), stop adding trees when the loss on those rows
has not improved for ``n_iter_no_change`` rounds, and keep the best round: like
scikit-learn's ``HistGradientBoosting*``, by default (``early_stopping="auto"``) above
10,000 rows only. ``n_estimators`` is then a cap, so the cost of a large fit is bounded
by the data and not by a guess of the round count.

Threads: with ``n_jobs=None`` they follow the OpenMP limit in force (``threadpoolctl``),
so a fold fit run under ``threadpool_limits(1)`` uses one thread, and the final fit on
100,000 rows or more uses every core, as the scikit-learn candidates do. (LightGBM itself
would take every physical core, whatever the limit.)
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_info

#: Fewer held-out rows than this make the stopping round noise: fit on all rows instead.
MIN_VALIDATION_ROWS = 10
#: ``early_stopping="auto"`` stops early above this many rows, as scikit-learn's
#: ``HistGradientBoosting*`` do: on less, the held-out rows cost more accuracy than the
#: saved rounds are worth (cars, 392 rows: cross-validated r2 0.864 with early stopping,
#: 0.870 without; docs/benchmarks.md).
EARLY_STOPPING_ROWS = 10_000


def openmp_threads() -> int:
    """The OpenMP thread limit in force (the smallest over the loaded OpenMP runtimes)."""
    limits = [
        int(info["num_threads"])
        for info in threadpool_info()
        if info.get("user_api") == "openmp" and info.get("num_threads")
    ]
    return max(1, min(limits)) if limits else max(1, os.cpu_count() or 1)


def validation_split(
    X: Any,
    y: Any,
    sample_weight: Any,
    *,
    early_stopping: bool | str,
    fraction: float | None,
    classifier: bool,
    random_state: Any,
) -> tuple[Any, Any, Any, Any, Any] | None:
    """Split off ``fraction`` of the rows for early stopping, or None when it cannot help.

    None when ``early_stopping`` is False (or ``"auto"`` and there are at most
    ``EARLY_STOPPING_ROWS`` rows), ``fraction`` is None/0 or the held-out part would have
    fewer than ``MIN_VALIDATION_ROWS`` rows. For classifiers the split is stratified when
    every class has two rows or more, and held-out rows of a class absent from the fitted
    part are dropped (the model could not score them).

    Returns:
        ``(X_fit, y_fit, weight_fit, X_val, y_val)``.
    """
    n_rows = len(y)
    if early_stopping == "auto":
        early_stopping = n_rows > EARLY_STOPPING_ROWS
    if not early_stopping or not fraction:
        return None
    if math.floor(n_rows * fraction) < MIN_VALIDATION_ROWS:
        return None
    labels = np.asarray(y)
    stratify = None
    if classifier:
        _, counts = np.unique(labels, return_counts=True)
        stratify = labels if counts.min() >= 2 else None
    seed = random_state if isinstance(random_state, int) else 0
    positions = np.arange(n_rows)
    fit_rows, val_rows = train_test_split(
        positions, test_size=fraction, stratify=stratify, random_state=seed
    )
    if classifier:
        val_rows = val_rows[np.isin(labels[val_rows], labels[fit_rows])]
        if len(val_rows) < MIN_VALIDATION_ROWS:
            return None
    weight_fit = None if sample_weight is None else np.asarray(sample_weight)[fit_rows]
    return _rows(X, fit_rows), labels[fit_rows], weight_fit, _rows(X, val_rows), labels[val_rows]


def _rows(X: Any, positions: np.ndarray) -> Any:
    return X.iloc[positions] if hasattr(X, "iloc") else X[positions]
