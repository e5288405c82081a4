"""Drift scores shared by data validation and monitoring.

The population stability index (PSI) compares two histograms over the same bins. The usual
reading (Siddiqi, *Credit Risk Scorecards*, 2006): below 0.1 no shift, 0.1-0.2 a moderate
shift, above 0.2 a significant one, which is why 0.2 is our default threshold.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from loopline.errors import InvalidInputError

__all__ = ["DEFAULT_EPSILON", "psi"]

#: Floor for a bin's proportion, so an empty bin gives a large but finite score.
DEFAULT_EPSILON = 1e-4


def psi(
    expected_counts: Sequence[float] | np.ndarray,
    actual_counts: Sequence[float] | np.ndarray,
    *,
    epsilon: float = DEFAULT_EPSILON,
) -> float:
    """Population stability index of ``actual_counts`` against ``expected_counts``.

    Both are counts over the same bins (for example the histogram of the training data and
    ``bin_counts`` of a later window on the same edges). Counts are turned into proportions,
    each proportion is floored at ``epsilon`` (so an empty bin does not make the score
    infinite), and the score is ``sum((actual - expected) * ln(actual / expected))``. It is
    0.0 for identical distributions and grows with the shift.

    Args:
        expected_counts: Non-negative counts of the reference sample, one per bin.
        actual_counts: Non-negative counts of the new sample over the same bins.
        epsilon: Smallest proportion a bin is given; must be in (0, 1).

    Returns:
        The PSI, a float >= 0.

    Raises:
        InvalidInputError: If the two have different lengths, no bins, a negative or
            non-finite count, a zero total, or ``epsilon`` is outside (0, 1).

    Example:
        >>> round(psi([50, 50], [50, 50]), 6)
        0.0
        >>> round(psi([50, 50], [90, 10]), 3)
        0.879
    """
    if not 0.0 < epsilon < 1.0:
        raise InvalidInputError(
            f"The 'epsilon' argument of psi must be a float in (0, 1). Got {epsilon!r} instead.",
            value=epsilon,
        )
    expected = _as_counts(expected_counts, "expected_counts")
    actual = _as_counts(actual_counts, "actual_counts")
    if expected.shape != actual.shape:
        raise InvalidInputError(
            "psi needs counts over the same bins, but expected_counts has "
            f"{expected.size} bins and actual_counts has {actual.size}.",
            hint="Count the new sample with bin_counts(values, reference_edges).",
        )
    p = np.maximum(expected / expected.sum(), epsilon)
    q = np.maximum(actual / actual.sum(), epsilon)
    return float(max(np.sum((q - p) * np.log(q / p)), 0.0))


def _as_counts(counts: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    """Return ``counts`` as a 1-D float array, or raise naming the argument."""
    array = np.asarray(counts, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise InvalidInputError(
            f"The '{name}' argument of psi must be a non-empty 1-D sequence of counts. "
            f"Got shape {array.shape} instead.",
        )
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise InvalidInputError(
            f"The '{name}' argument of psi must hold finite counts >= 0. "
            f"Got {array.tolist()[:10]} instead.",
        )
    if array.sum() == 0:
        raise InvalidInputError(
            f"The '{name}' argument of psi counts nothing (all bins are 0), so it has no "
            "distribution to compare.",
            hint="Skip the comparison for a window without values.",
        )
    return array
