"""The drift baseline of one feature, learned from the training statistics a model carries.

Only the summary that ``compute_statistics`` stored is available, never the training rows,
so each baseline is what those numbers allow:

- **numeric**: the histogram (its quantile-based edges and counts) for PSI and for the
  training range, and a reference CDF for the Kolmogorov-Smirnov test, rebuilt from what
  is known of it: the histogram gives the exact left limit ``F(edge-)`` at every edge (the
  share of values below it) and each stored quantile gives ``F(x-) <= q <= F(x)``. For a
  *continuous* column (no value holds more than 1% of the rows, as ``distinct`` tells) these
  knots are joined by straight lines: a piecewise-linear CDF over the bin edges and
  quantiles, exact at the knots and within a bin's share between them. Otherwise (integers,
  rounded values, a constant column whose edges are ``[v, v]``, a zero-inflated column) a
  straight line would put mass where there is none, and a window identical to the training
  data would look drifted; there, and at any value where several knots meet (a run of equal
  quantiles), the CDF is kept as a band ``[lower, upper]`` that every CDF consistent with
  the statistics lies in. The KS distance is measured to the band (0 inside it): never
  more than the distance to the true training CDF, so the band costs resolution, not false
  alarms.
- **categorical / boolean**: counts of the listed top values, one cell for the other
  values the training data had (``other_count``), and an ``unseen`` cell (0 in training)
  for values outside ``categories`` when the statistics list them all.
- **datetime**: only the missing rate (timestamps move forward by nature).

Everything the score needs is computed here, once, so scoring a window only scans it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from loopline.components import KINDS, Kind
from loopline.errors import InvalidInputError

__all__ = ["FeatureBaseline", "build_baseline"]

#: Points per unit of probability at which a piecewise-linear stretch of the reference CDF
#: is evaluated; the KS distance found on this grid is within 1 / _CDF_GRID of the distance
#: to the piecewise-linear CDF itself (the CDF rises by at most that much between points).
_CDF_GRID = 2048
#: A column is continuous (its CDF piecewise linear between knots) when no value can hold
#: more than this share of its rows.
_CONTINUOUS_ATOM = 0.01


@dataclass(frozen=True, eq=False)
class FeatureBaseline:
    """What the detector learned about one feature from the training statistics.

    Attributes:
        name: The column's name.
        kind: ``"numeric"``, ``"categorical"``, ``"boolean"`` or ``"datetime"``.
        count: Non-missing values in the training data.
        missing: Missing values in the training data.
        edges: Numeric: the histogram's bin edges (None without a finite value).
        counts: Numeric: the histogram's counts per bin; categorical and boolean: counts
            per cell, i.e. each of ``labels``, then ``other``, then ``unseen`` (always 0).
        minimum: Numeric: the smallest finite training value.
        maximum: Numeric: the largest finite training value.
        cdf_points: Numeric: increasing values at which the reference CDF is known; the
            support of the CDF that the KS test compares with.
        cdf_bounds: Numeric: a ``(4, len(cdf_points))`` array: lower and upper bounds of
            ``F(x-)`` and of ``F(x)`` at each point (equal where the CDF is piecewise
            linear).
        labels: Categorical and boolean: the top values, as text.
        categories: Categorical and boolean: every value seen in training, when the
            statistics list them all (``None`` otherwise: unseen values cannot be told).
        edge_positions: Numeric: where each of ``edges`` sits in ``cdf_points``.
        infinite: Numeric: infinite training values (counted in the end bins, within range).
    """

    name: str
    kind: Kind
    count: int
    missing: int
    edges: np.ndarray | None = None
    counts: np.ndarray | None = None
    minimum: float | None = None
    maximum: float | None = None
    cdf_points: np.ndarray | None = None
    cdf_bounds: np.ndarray | None = None
    labels: tuple[str, ...] = ()
    categories: frozenset[str] | None = None
    edge_positions: np.ndarray | None = field(default=None, repr=False)
    infinite: int = 0

    @property
    def missing_rate(self) -> float:
        """Share of missing values in the training data."""
        total = self.count + self.missing
        return self.missing / total if total else 0.0

    @property
    def proportions(self) -> np.ndarray | None:
        """``counts`` as shares of their total (None when there is nothing to compare)."""
        if self.counts is None or self.counts.sum() == 0:
            return None
        return np.asarray(self.counts / self.counts.sum(), dtype=np.float64)

    @property
    def has_distribution(self) -> bool:
        """Whether the training data had values whose distribution can be compared."""
        return self.proportions is not None


def build_baseline(name: str, entry: dict[str, Any], num_rows: int, where: str) -> FeatureBaseline:
    """Check one column entry of a statistics dict and learn its baseline.

    Args:
        name: The column's name.
        entry: ``statistics["columns"][name]``.
        num_rows: ``statistics["num_rows"]`` (used when the entry lacks ``missing``).
        where: The argument and method the statistics came through, for messages.

    Returns:
        The feature's baseline.

    Raises:
        InvalidInputError: If the entry lacks or garbles what drift detection reads.
    """
    kind: Kind = entry["kind"]
    count = _int_field(entry, "count", name, where)
    missing = entry.get("missing")
    if missing is None:
        missing = max(num_rows - count, 0)
    missing = _check_int(missing, "missing", name, where)
    if kind == "numeric":
        return _numeric_baseline(name, entry, count, missing, where)
    if kind in ("categorical", "boolean"):
        return _categorical_baseline(name, kind, entry, count, missing, where)
    assert kind in KINDS
    return FeatureBaseline(name, kind, count, missing)


# -- numeric ------------------------------------------------------------------------------


def _numeric_baseline(
    name: str, entry: dict[str, Any], count: int, missing: int, where: str
) -> FeatureBaseline:
    """Histogram, range and reference CDF of a numeric column."""
    histogram = entry.get("histogram") or {}
    if not isinstance(histogram, dict):
        raise _bad(where, name, "'histogram' must be a dict with 'edges' and 'counts'", histogram)
    raw_edges, raw_counts = histogram.get("edges") or [], histogram.get("counts") or []
    if len(raw_edges) == 0 or count == 0:
        return FeatureBaseline(name, "numeric", count, missing)  # no finite training value
    edges = _float_array(raw_edges, "histogram edges", name, where)
    counts = _float_array(raw_counts, "histogram counts", name, where)
    if edges.size < 2 or counts.size != edges.size - 1 or np.any(np.diff(edges) < 0):
        raise _bad(
            where,
            name,
            "the histogram needs at least 2 increasing edges and one count per bin "
            f"(got {edges.size} edges and {counts.size} counts)",
            raw_edges,
        )
    if np.any(counts < 0) or counts.sum() <= 0:
        raise _bad(where, name, "histogram counts must be >= 0 and not all 0", raw_counts)
    quantiles = _quantile_knots(entry.get("quantiles"), name, where)
    infinite = _check_int(entry.get("infinite", 0), "infinite", name, where)
    distinct = entry.get("distinct")
    points, bounds = _reference_cdf(
        edges,
        counts,
        quantiles,
        zeros=_check_int(entry.get("zeros", 0), "zeros", name, where),
        infinite=infinite,
        distinct=None if distinct is None else _check_int(distinct, "distinct", name, where),
    )
    return FeatureBaseline(
        name,
        "numeric",
        count,
        missing,
        edges=edges,
        counts=counts.astype(np.int64),
        minimum=float(edges[0]),
        maximum=float(edges[-1]),
        cdf_points=points,
        cdf_bounds=bounds,
        edge_positions=np.searchsorted(points, edges),
        infinite=infinite,
    )


def _quantile_knots(raw: object, name: str, where: str) -> list[tuple[float, float]]:
    """``(value, probability)`` pairs from the stored quantiles, skipping undefined ones."""
    if raw is None:
        return []
    if not isinstance(raw, dict):
        raise _bad(where, name, "'quantiles' must map a probability to a value", raw)
    knots = []
    for key, value in raw.items():
        try:
            probability = float(key)
        except (TypeError, ValueError):
            raise _bad(where, name, f"quantile key {key!r} is not a probability", raw) from None
        if value is None:
            continue
        if not 0.0 <= probability <= 1.0:
            raise _bad(where, name, f"quantile key {key!r} is not a probability in [0, 1]", raw)
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if not (is_number and math.isfinite(value)):
            raise _bad(where, name, f"quantile {key!r} must be a finite number", value)
        knots.append((float(value), probability))
    return knots


def _reference_cdf(
    edges: np.ndarray,
    counts: np.ndarray,
    quantiles: list[tuple[float, float]],
    *,
    zeros: int,
    infinite: int,
    distinct: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """The reference CDF as points and bounds: see the module docstring.

    Infinite training values sit in the end bins, beyond the finite ``[min, max]`` that
    the edges span, and the quantiles describe only the finite values; with infinities the
    quantiles are therefore left out and the CDF at the two ends becomes a band as wide as
    their share (how many were -inf and how many +inf is not recorded).

    Returns:
        ``points`` (increasing) and ``bounds`` of shape ``(4, len(points))``: rows are the
        lower and upper bounds of ``F(x-)`` and the lower and upper bounds of ``F(x)``.
    """
    total = float(counts.sum())
    # The most rows one value can hold, given how many distinct values there were.
    largest_atom = 1.0 if distinct is None else (total - distinct + 1) / total
    continuous = largest_atom <= _CONTINUOUS_ATOM and infinite == 0
    exact_left, exact_right = _exact_levels(edges, counts, zeros if not infinite else 0)
    levels: dict[float, list[float]] = {x: [] for x in exact_left}
    for x, probability in [] if infinite else quantiles:
        levels.setdefault(x, []).append(probability)
    maximum = float(edges[-1])
    levels.setdefault(maximum, [])
    slack = 1.0 / total  # a quantile q at x: F(x-) <= q + 1/n and F(x) >= q - 1/n
    # Knots closer than the rounding of the statistics are one continuous point.
    tolerance = min(2.0 * slack, 0.01) + 1e-12
    xs = sorted(levels)
    bounds = np.empty((4, len(xs)))
    jump = np.ones(len(xs), dtype=bool)
    for j, x in enumerate(xs):
        left, right = exact_left.get(x), exact_right.get(x)
        found = [*levels[x], *(v for v in (left, right) if v is not None)]
        if x == maximum:
            found.append(1.0)
        if continuous and max(found) - min(found) <= tolerance:
            bounds[:, j] = left if left is not None else found[0]
            jump[j] = False
            continue
        # A possible jump at x: F(x-) exact at an edge, else at most the lowest quantile;
        # F(x) at least the highest quantile (1 at the maximum). Sides left at 0 or 1 are
        # narrowed by the monotone pass.
        bounds[0, j] = left if left is not None else 0.0
        bounds[1, j] = left if left is not None else min(levels[x], default=1.0) + slack
        at_least = max(levels[x], default=slack) - slack
        bounds[2, j] = max(at_least, bounds[0, j], 1.0 if x == maximum else 0.0)
        bounds[3, j] = 1.0
        if right is not None:
            bounds[2:, j] = right
    if infinite:  # -inf below the minimum, +inf above the maximum
        share = infinite / total
        bounds[1:, 0] = np.maximum(bounds[1:, 0], [share, 0.0, share])
        bounds[[0, 2], -1] = np.minimum(bounds[[0, 2], -1], 1.0 - share)
    return _with_linear_stretches(np.array(xs), _monotone(bounds), jump)


def _exact_levels(
    edges: np.ndarray, counts: np.ndarray, zeros: int
) -> tuple[dict[float, float], dict[float, float]]:
    """``F(x-)`` and ``F(x)`` where the histogram (and the count of zeros) give them exactly.

    The histogram gives the share of values below each bin's first edge. The count of zeros
    gives the jump at 0 when 0 is an edge (often the minimum of a count or a zero-inflated
    amount, or one of the two values of a 0/1 flag).
    """
    total = float(counts.sum())
    below = np.concatenate(([0.0], np.cumsum(counts)[:-1])) / total
    left: dict[float, float] = {}
    for edge, share in zip(edges[:-1].tolist(), below.tolist(), strict=True):
        left.setdefault(edge, share)  # a repeated edge (constant column): the first
    right: dict[float, float] = {}
    if zeros and 0.0 in left:
        right[0.0] = left[0.0] + zeros / total
    elif zeros and edges[-1] == 0.0:
        left[0.0] = 1.0 - zeros / total
    return left, right


def _monotone(bounds: np.ndarray) -> np.ndarray:
    """Tighten bounds so that F is nondecreasing along x0-, x0, x1-, x1, ...

    Lower bounds carry forward, upper bounds carry backward; an upper bound below its lower
    bound (statistics rounded against each other) is raised to it.
    """
    lower = np.maximum.accumulate(bounds[[0, 2]].T.ravel()).reshape(-1, 2).T
    upper = np.minimum.accumulate(bounds[[1, 3]].T.ravel()[::-1])[::-1].reshape(-1, 2).T
    return np.array(
        [lower[0], np.maximum(upper[0], lower[0]), lower[1], np.maximum(upper[1], lower[1])]
    )


def _with_linear_stretches(
    knot_x: np.ndarray, bounds: np.ndarray, atom: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Add grid points inside each stretch where the CDF is a straight line.

    Between two knots without a jump the CDF runs straight from ``F(x_j)`` to
    ``F(x_{j+1}-)``; inside a stretch next to a jump it is only known to lie between the
    knots' bounds, which the knots themselves already test (a monotone empirical CDF is
    farthest from a constant band at the band's ends).
    """
    xs: list[np.ndarray] = []
    columns: list[np.ndarray] = []
    for j in range(knot_x.size):
        xs.append(knot_x[j : j + 1])
        columns.append(bounds[:, j : j + 1])
        if j + 1 == knot_x.size or atom[j] or atom[j + 1]:
            continue
        start, stop = bounds[2, j], bounds[0, j + 1]
        steps = int((stop - start) * _CDF_GRID)
        if steps < 1 or knot_x[j + 1] <= knot_x[j]:
            continue
        level = np.linspace(start, stop, steps + 2)[1:-1]
        x = knot_x[j] + (level - start) / (stop - start) * (knot_x[j + 1] - knot_x[j])
        keep = (x > knot_x[j]) & (x < knot_x[j + 1])
        x, level = x[keep], level[keep]
        if x.size == 0:
            continue
        keep = np.concatenate(([True], np.diff(x) > 0))
        xs.append(x[keep])
        columns.append(np.tile(level[keep], (4, 1)))
    return np.concatenate(xs), np.concatenate(columns, axis=1)


# -- categorical --------------------------------------------------------------------------


def _categorical_baseline(
    name: str, kind: Kind, entry: dict[str, Any], count: int, missing: int, where: str
) -> FeatureBaseline:
    """Cells of a categorical or boolean column: top values, other, unseen."""
    top = entry.get("top") or []
    if not isinstance(top, list):
        raise _bad(where, name, "'top' must be a list of {value, count}", top)
    merged: dict[str, int] = {}
    for item in top:  # 1 and "1" may both be listed: one label as text
        if not isinstance(item, dict) or "value" not in item:
            raise _bad(where, name, "each 'top' item needs a 'value' and a 'count'", item)
        label = str(item["value"])
        merged[label] = merged.get(label, 0) + _int_field(item, "count", name, where)
    other = _check_int(entry.get("other_count", 0), "other_count", name, where)
    raw_categories = entry.get("categories")
    if raw_categories is not None and not isinstance(raw_categories, list):
        raise _bad(where, name, "'categories' must be a list of values or null", raw_categories)
    categories = None if raw_categories is None else frozenset(str(c) for c in raw_categories)
    counts = np.array([*merged.values(), other, 0], dtype=np.int64)
    return FeatureBaseline(
        name,
        kind,
        count,
        missing,
        counts=counts,
        labels=tuple(merged),
        categories=categories,
    )


# -- checks -------------------------------------------------------------------------------


def _int_field(entry: dict[str, Any], key: str, name: str, where: str) -> int:
    """``entry[key]`` as an int >= 0, or a clear error."""
    if key not in entry:
        raise _bad(where, name, f"the entry has no {key!r}", sorted(entry))
    return _check_int(entry[key], key, name, where)


def _check_int(value: object, key: str, name: str, where: str) -> int:
    """``value`` as an int >= 0, or a clear error."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise _bad(where, name, f"{key!r} must be an int >= 0", value)
    return int(value)


def _float_array(values: object, what: str, name: str, where: str) -> np.ndarray:
    """A list of finite numbers as a float array, or a clear error."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise _bad(where, name, f"the {what} must be finite numbers", values) from None
    if array.ndim != 1 or not np.all(np.isfinite(array)):
        raise _bad(where, name, f"the {what} must be finite numbers", values)
    return array


def _bad(where: str, name: str, problem: str, value: object) -> InvalidInputError:
    """The error for a statistics entry that drift detection cannot read."""
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return InvalidInputError(
        f"{where} describes column '{name}' in a way drift detection cannot read: {problem}. "
        f"Got {shown}.",
        hint="Pass the statistics dict that compute_statistics returned for the training data.",
        column=name,
        value=value,
    )
