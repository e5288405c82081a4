"""Class balance of a classification target: detected, reported, and used to pick defaults.

A target is *imbalanced* when its rarest class has fewer than a fifth as many rows as its
most frequent one (a binary target with under ~17% positives). Accuracy then rewards a model
that predicts the majority, so the default metric becomes ``balanced_accuracy`` and the
built-in classifiers weigh classes by their inverse frequency.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ClassBalance", "class_balance", "default_metric"]

#: Rarest-to-most-frequent class ratio below which a target counts as imbalanced.
IMBALANCE_RATIO = 0.2


@dataclass
class ClassBalance:
    """How the rows of a classification target spread over its classes.

    Attributes:
        counts: Class label (as text) -> number of rows, most frequent first.
        minority: The rarest class (as text).
        minority_share: Its share of all rows.
        ratio: Rows of the rarest class / rows of the most frequent one.
        imbalanced: Whether ``ratio`` is below ``IMBALANCE_RATIO``.
    """

    counts: dict[str, int] = field(default_factory=dict)
    minority: str = ""
    minority_share: float = 0.0
    ratio: float = 1.0
    imbalanced: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return the balance as plain JSON values."""
        return {
            "counts": dict(self.counts),
            "minority": self.minority,
            "minority_share": self.minority_share,
            "ratio": self.ratio,
            "imbalanced": self.imbalanced,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClassBalance:
        """Rebuild from ``to_dict()`` output."""
        return cls(
            counts={str(k): int(v) for k, v in data.get("counts", {}).items()},
            minority=str(data.get("minority", "")),
            minority_share=float(data.get("minority_share", 0.0)),
            ratio=float(data.get("ratio", 1.0)),
            imbalanced=bool(data.get("imbalanced", False)),
        )

    def describe(self) -> str:
        """One sentence for reports and the CLI."""
        share = f"{self.minority_share:.1%}"
        if not self.imbalanced:
            return f"Classes are balanced enough (rarest class {self.minority!r}: {share} of rows)."
        return (
            f"Imbalanced target: class {self.minority!r} is {share} of rows "
            f"({self.ratio:.3f} of the most frequent class)."
        )


def class_balance(y: pd.Series | Sequence[Any] | np.ndarray) -> ClassBalance:
    """Count the rows of each class of ``y`` (missing values ignored) and judge the balance."""
    series = y if isinstance(y, pd.Series) else pd.Series(np.asarray(y))
    counts = series.dropna().astype(str).value_counts()
    if counts.empty:
        return ClassBalance()
    total = int(counts.sum())
    ratio = float(counts.iloc[-1] / counts.iloc[0])
    return ClassBalance(
        counts={str(k): int(v) for k, v in counts.items()},
        minority=str(counts.index[-1]),
        minority_share=float(counts.iloc[-1] / total),
        ratio=ratio,
        imbalanced=len(counts) > 1 and ratio < IMBALANCE_RATIO,
    )


def default_metric(task: str, y: pd.Series | Sequence[Any] | np.ndarray | None = None) -> str:
    """The metric optimised when ``training.metric`` is not set.

    ``rmse`` for regression; for classification ``accuracy``, or ``balanced_accuracy`` when
    ``y`` is given and imbalanced.
    """
    if task != "classification":
        return "rmse"
    if y is not None and class_balance(y).imbalanced:
        return "balanced_accuracy"
    return "accuracy"
