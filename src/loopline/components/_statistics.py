"""Descriptive statistics of a DataFrame: the StatisticsGen of the loop.

``compute_statistics`` summarises every column of a span in a JSON-ready dict. The numeric
histogram edges it records are the drift baseline: a later window is counted on the *same*
edges with ``bin_counts`` and compared with ``psi``.

Speed comes from one sort per numeric column, done for numeric (and datetime) columns a few
at a time on a 2-D ``(columns, rows)`` block of about 32 MiB: min, max, quantiles, histogram
counts and zero counts are then binary searches into the sorted rows, and the distinct count
is one vectorised comparison of neighbours. Categorical columns cost one ``value_counts``
each.

The shape of the result (``format`` 1)::

    {"format": 1, "num_rows": int, "num_columns": int, "columns": {name: {
        "kind": "numeric" | "categorical" | "boolean" | "datetime",
        "dtype": str, "count": int, "missing": int, "missing_rate": float, "distinct": int,
        # numeric and datetime (datetimes as epoch seconds, UTC):
        "mean", "std", "min", "max": float | None,
        "quantiles": {"0.01", "0.05", "0.25", "0.5", "0.75", "0.95", "0.99": float | None},
        "histogram": {"edges": [float, ...], "counts": [int, ...]},
        "zeros": int, "infinite": int,
        # categorical and boolean:
        "top": [{"value": str, "count": int, "frequency": float}, ...],
        "other_count": int, "categories": [str, ...] | None}}}
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from loopline.errors import InvalidInputError

__all__ = [
    "FORMAT",
    "KINDS",
    "QUANTILES",
    "Kind",
    "bin_counts",
    "check_int_argument",
    "check_statistics",
    "column_kind",
    "column_names",
    "compute_statistics",
    "to_float_array",
    "value_counts",
]

#: Version of the statistics dict; bump when its shape changes incompatibly.
FORMAT = 1
#: Quantiles recorded for numeric and datetime columns (keys are ``str(q)``).
QUANTILES: tuple[float, ...] = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)

Kind: TypeAlias = Literal["numeric", "categorical", "boolean", "datetime"]
#: Every column kind, in the order the docs list them.
KINDS: tuple[Kind, ...] = ("numeric", "categorical", "boolean", "datetime")

_QUANTILE_KEYS = [str(q) for q in QUANTILES]
_MAX_BINS_BY_COMPARISON = 64
_BLOCK_BYTES = 32 * 2**20


def compute_statistics(
    df: pd.DataFrame, *, bins: int = 10, top_k: int = 20, max_categories: int = 50
) -> dict[str, Any]:
    """Summarise every column of ``df`` in a JSON-serialisable dict.

    Numeric columns (any numeric dtype but bool) get moments, quantiles, a histogram on
    quantile-based edges and counts of zeros and infinities; datetime columns get the same
    on epoch seconds (UTC). Object, string and category columns are *categorical* (even if
    their text parses as numbers: the schema and validation steps judge types) and get their
    most frequent values; boolean columns get the same. Missing values (NaN, None, NaT, NA)
    are counted, never summarised. Moments, quantiles and edges use only finite values; the
    histogram counts every non-missing value, infinities in the end bins, so its counts sum to
    ``count`` whenever the column has a finite value. No NaN or infinity appears in the
    result: an undefined number is ``None``.

    Args:
        df: The span to describe; at least one row and one column, unique column names.
        bins: Number of histogram bins (fewer when quantile edges coincide and are merged).
        top_k: How many of the most frequent values to list for categorical columns.
        max_categories: A categorical column with at most this many distinct values lists
            them all, sorted, under ``"categories"`` (``None`` otherwise), so a schema can
            close its category set.

    Returns:
        The statistics dict; its shape is in this module's docstring.

    Raises:
        InvalidInputError: If ``df`` is not a DataFrame, has no rows or no columns, has
            duplicate column names, a column of an unsupported dtype (complex, timedelta),
            or an argument is out of range.

    Example:
        >>> stats = compute_statistics(pd.DataFrame({"x": [1.0, 2.0, None], "c": ["a", "b", "a"]}))
        >>> stats["columns"]["x"]["missing"], stats["columns"]["c"]["top"][0]["value"]
        (1, 'a')
    """
    check_int_argument("compute_statistics", "bins", bins, minimum=1)
    check_int_argument("compute_statistics", "top_k", top_k, minimum=0)
    check_int_argument("compute_statistics", "max_categories", max_categories, minimum=0)
    names = column_names(df, "compute_statistics")
    if len(df) == 0 or not names:
        raise InvalidInputError(
            f"compute_statistics needs at least one row and one column; got a DataFrame with "
            f"{len(df)} rows and {len(names)} columns.",
            hint="Check that the span was read correctly and is not empty.",
            shape=df.shape,
        )
    kinds = [column_kind(df.iloc[:, i], name) for i, name in enumerate(names)]
    columns: dict[str, dict[str, Any]] = {}
    numeric_positions = [i for i, kind in enumerate(kinds) if kind in ("numeric", "datetime")]
    numeric_stats = _numeric_statistics(df, numeric_positions, kinds, bins)
    for i, name in enumerate(names):
        series = df.iloc[:, i]
        entry: dict[str, Any] = {"kind": kinds[i], "dtype": str(series.dtype)}
        if i in numeric_stats:
            entry.update(numeric_stats[i])
        else:
            entry.update(_categorical_statistics(series, top_k, max_categories))
        columns[name] = entry
    return {
        "format": FORMAT,
        "num_rows": len(df),
        "num_columns": len(names),
        "columns": columns,
    }


def bin_counts(
    values: Sequence[float] | np.ndarray, edges: Sequence[float] | np.ndarray
) -> np.ndarray:
    """Count ``values`` in the histogram bins that ``edges`` bound.

    Bin ``i`` holds ``edges[i] <= v < edges[i + 1]``; the last bin also holds values equal to
    the last edge. Values below the first edge count in the first bin and values above the
    last edge in the last bin, so a later window always fills the baseline's bins. NaN values
    are skipped.

    Args:
        values: The values to count (1-D).
        edges: Increasing bin edges, such as ``statistics["columns"][c]["histogram"]["edges"]``.

    Returns:
        An int64 array of ``len(edges) - 1`` counts (empty when there are fewer than 2 edges).

    Example:
        >>> bin_counts([-5.0, 0.0, 1.5, 2.0, 9.0, float("nan")], [0.0, 1.0, 2.0]).tolist()
        [2, 3]
    """
    edge_array = np.asarray(edges, dtype=np.float64)
    num_bins = edge_array.size - 1
    if num_bins < 1:
        return np.zeros(0, dtype=np.int64)
    array = np.asarray(values, dtype=np.float64).ravel()
    total = array.size - int(np.count_nonzero(np.isnan(array)))
    if num_bins <= _MAX_BINS_BY_COMPARISON:
        # One vectorised comparison per inner edge beats a binary search per value for few
        # bins (about 7x for 10); NaN compares False, so it is never counted.
        below = [int(np.count_nonzero(array < edge)) for edge in edge_array[1:-1]]
        return np.diff(np.array([0, *below, total], dtype=np.int64))
    index = np.searchsorted(edge_array, array[~np.isnan(array)], side="right") - 1
    np.clip(index, 0, num_bins - 1, out=index)
    return np.bincount(index, minlength=num_bins).astype(np.int64)


def check_statistics(statistics: object, where: str) -> dict[str, Any]:
    """Check that ``statistics`` looks like a ``compute_statistics`` result.

    Only the parts others rely on are checked (the format, the ``columns`` mapping and each
    column's ``kind``); a column's other keys are read defensively by their users.

    Args:
        statistics: The value to check.
        where: The argument and function it was passed to, for the message.

    Returns:
        ``statistics``, typed as a dict.

    Raises:
        InvalidInputError: If it is not a statistics dict of format ``FORMAT``.
    """
    if not isinstance(statistics, dict) or not isinstance(statistics.get("columns"), dict):
        raise InvalidInputError(
            f"{where} must be a statistics dict from compute_statistics, with a 'columns' "
            f"mapping. Got {type(statistics).__name__} instead.",
            hint="Pass the result of compute_statistics(df), or its JSON loaded back.",
        )
    if statistics.get("format") != FORMAT:
        raise InvalidInputError(
            f"{where} has statistics format {statistics.get('format')!r}, but this version of "
            f"Loopline reads format {FORMAT}.",
            hint="Recompute the statistics with this version of Loopline.",
            value=statistics.get("format"),
        )
    for name, entry in statistics["columns"].items():
        if not isinstance(entry, dict) or entry.get("kind") not in KINDS:
            kind = entry.get("kind") if isinstance(entry, dict) else entry
            raise InvalidInputError(
                f"{where} describes column '{name}' with kind {kind!r}; expected one of "
                f"{', '.join(KINDS)}.",
                column=name,
            )
    return statistics


def column_names(df: pd.DataFrame, where: str) -> list[str]:
    """Return ``df``'s column names as strings, rejecting what no statistics can key.

    Args:
        df: The frame to check.
        where: The calling function, named in error messages.

    Returns:
        ``[str(c) for c in df.columns]``.

    Raises:
        InvalidInputError: If ``df`` is not a DataFrame or two columns share a name
            (after conversion to ``str``).
    """
    if not isinstance(df, pd.DataFrame):
        raise InvalidInputError(
            f"{where} needs a pandas DataFrame. Got {type(df).__name__} instead.",
            value=type(df).__name__,
        )
    names = [str(c) for c in df.columns]
    if len(set(names)) != len(names):
        duplicates = sorted(name for name, n in Counter(names).items() if n > 1)
        raise InvalidInputError(
            f"{where} needs unique column names, but the DataFrame has duplicate columns "
            f"{duplicates}.",
            hint="Rename or drop the duplicates, e.g. df.loc[:, ~df.columns.duplicated()].",
            duplicates=duplicates,
        )
    return names


def column_kind(series: pd.Series, name: Hashable = None) -> Kind:
    """Classify a column as numeric, categorical, boolean or datetime by its dtype.

    Args:
        series: The column.
        name: Its name, for the error message (defaults to ``series.name``).

    Returns:
        ``"boolean"`` for bool dtypes, ``"datetime"`` for datetime64 (tz-aware or not),
        ``"numeric"`` for other numeric dtypes, ``"categorical"`` for everything else
        (object, string, category, period, interval).

    Raises:
        InvalidInputError: For complex and timedelta columns, which have no kind.
    """
    dtype = series.dtype
    if ptypes.is_bool_dtype(dtype):
        return "boolean"
    if ptypes.is_datetime64_any_dtype(dtype):
        return "datetime"
    if ptypes.is_complex_dtype(dtype) or ptypes.is_timedelta64_dtype(dtype):
        label = series.name if name is None else name
        raise InvalidInputError(
            f"Column '{label}' has dtype {dtype}, which Loopline cannot describe or validate; "
            "supported are numeric, boolean, datetime, text and category columns.",
            hint="Convert it first (e.g. s.dt.total_seconds() for durations) or drop it.",
            column=str(label),
            dtype=str(dtype),
        )
    if ptypes.is_numeric_dtype(dtype):
        return "numeric"
    return "categorical"


def to_float_array(series: pd.Series, kind: Kind) -> np.ndarray:
    """Return a numeric or datetime column as float64 with NaN for missing values.

    Datetimes become seconds since 1970-01-01 UTC (tz-aware values are converted to UTC).
    A float64 column is returned without a copy, so treat the result as read-only.

    Args:
        series: A column whose ``column_kind`` is ``kind``.
        kind: ``"numeric"`` or ``"datetime"``.

    Returns:
        A 1-D float64 array of ``len(series)``.
    """
    if kind == "datetime":
        stamps = series.to_numpy(dtype="datetime64[us]", na_value=np.datetime64("NaT"))
        seconds: np.ndarray = stamps.astype(np.int64) / 1e6
        seconds[np.isnat(stamps)] = np.nan
        return seconds
    if series.dtype == np.float64:
        return np.asarray(series.to_numpy(), dtype=np.float64)  # no copy
    return np.asarray(series.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


def check_int_argument(function: str, name: str, value: object, *, minimum: int) -> None:
    """Raise ``InvalidInputError`` unless ``value`` is an int >= ``minimum`` (not a bool).

    Args:
        function: The function the argument was passed to, named in the message.
        name: The argument's name.
        value: Its value.
        minimum: The smallest allowed value.
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InvalidInputError(
            f"The '{name}' argument of {function} must be an int >= {minimum}. "
            f"Got {value!r} instead.",
            value=value,
        )


def _numeric_statistics(
    df: pd.DataFrame, positions: list[int], kinds: list[Kind], bins: int
) -> dict[int, dict[str, Any]]:
    """Statistics of the numeric and datetime columns at ``positions``, keyed by position."""
    result: dict[int, dict[str, Any]] = {}
    # Columns go through in blocks of about _BLOCK_BYTES: batched numpy calls without
    # holding a sorted copy of every numeric column at once.
    step = max(1, _BLOCK_BYTES // (8 * len(df)))
    for start in range(0, len(positions), step):
        chunk = positions[start : start + step]
        block = np.empty((len(chunk), len(df)), dtype=np.float64)
        for row, position in enumerate(chunk):
            block[row] = to_float_array(df.iloc[:, position], kinds[position])
        block.sort(axis=1)  # NaN sorts last; one sort answers min, max, quantiles, bins, ...
        changes = np.count_nonzero(block[:, 1:] != block[:, :-1], axis=1)
        for row, position in enumerate(chunk):
            ordered = block[row]
            count = int(np.searchsorted(ordered, np.nan))  # first NaN: numpy sorts NaN last
            # Every change between neighbours counts, including the last value -> NaN step
            # and each NaN != NaN step: one per missing value, so subtract those.
            distinct = int(changes[row]) + 1 - (len(ordered) - count) if count else 0
            result[position] = _sorted_column_statistics(
                ordered[:count], len(ordered), distinct, bins
            )
    return result


def _sorted_column_statistics(
    ordered: np.ndarray, num_rows: int, distinct: int, bins: int
) -> dict[str, Any]:
    """Statistics of one column from its sorted non-missing values."""
    count = ordered.size
    low = int(np.searchsorted(ordered, -np.inf, side="right"))
    high = int(np.searchsorted(ordered, np.inf, side="left"))
    finite = ordered[low:high]
    edges = _histogram_edges(finite, bins)
    return {
        "count": count,
        "missing": num_rows - count,
        "missing_rate": (num_rows - count) / num_rows,
        "distinct": distinct,
        **_moments(finite),
        "quantiles": dict(
            zip(_QUANTILE_KEYS, _json_floats(_sorted_quantiles(finite, QUANTILES)), strict=True)
        ),
        "histogram": {
            "edges": _json_floats(edges),
            "counts": _sorted_bin_counts(ordered, edges).tolist(),
        },
        "zeros": int(np.searchsorted(finite, 0.0, "right") - np.searchsorted(finite, 0.0, "left")),
        "infinite": count - finite.size,
    }


def _moments(finite: np.ndarray) -> dict[str, float | None]:
    """Mean, sample standard deviation (ddof=1, as pandas), min and max of sorted values."""
    if finite.size == 0:
        return {"mean": None, "std": None, "min": None, "max": None}
    with np.errstate(over="ignore", invalid="ignore"):
        mean = float(finite.mean())
        std = float(finite.std(ddof=1)) if finite.size > 1 else None
    return {
        "mean": _json_float(mean),
        "std": None if std is None else _json_float(std),
        "min": float(finite[0]),
        "max": float(finite[-1]),
    }


def _sorted_quantiles(finite: np.ndarray, quantiles: Sequence[float] | np.ndarray) -> np.ndarray:
    """Linear-interpolation quantiles (numpy's default method) of sorted finite values."""
    q = np.asarray(quantiles, dtype=np.float64)
    if finite.size == 0:
        return np.full(q.shape, np.nan)
    position = q * (finite.size - 1)
    below = np.floor(position).astype(np.intp)
    above = np.minimum(below + 1, finite.size - 1)
    fraction = position - below
    # a * (1 - t) + b * t cannot overflow for finite a and b, unlike a + (b - a) * t.
    with np.errstate(over="ignore", invalid="ignore"):
        values = finite[below] * (1.0 - fraction) + finite[above] * fraction
    return np.where(fraction == 0.0, finite[below], np.clip(values, finite[below], finite[above]))


def _histogram_edges(finite: np.ndarray, bins: int) -> np.ndarray:
    """Quantile-based edges: ``bins + 1`` quantiles, merged where they coincide.

    A constant column keeps two equal edges (one bin holding everything), so its counts
    still add up; a column without finite values has no edges.
    """
    if finite.size == 0:
        return np.zeros(0)
    edges = np.unique(_sorted_quantiles(finite, np.linspace(0.0, 1.0, bins + 1)))
    edges[0], edges[-1] = finite[0], finite[-1]
    return edges if edges.size > 1 else np.repeat(edges, 2)


def _sorted_bin_counts(ordered: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``bin_counts(ordered, edges)`` for sorted values without NaN, by binary search."""
    if edges.size < 2:
        return np.zeros(0, dtype=np.int64)
    inner = np.searchsorted(ordered, edges[1:-1], side="left")
    return np.diff(np.concatenate(([0], inner, [ordered.size]))).astype(np.int64)


def _categorical_statistics(series: pd.Series, top_k: int, max_categories: int) -> dict[str, Any]:
    """Counts, distinct values and the most frequent values of a categorical/boolean column."""
    counts = value_counts(series)
    count = int(counts.sum())
    labels = [str(value) for value in counts.index[:top_k]]
    top: list[dict[str, Any]] = [
        {"value": label, "count": int(n), "frequency": int(n) / count}
        for label, n in zip(labels, counts.to_numpy()[:top_k], strict=True)
    ]
    categories = None
    if len(counts) <= max_categories:
        categories = sorted({str(value) for value in counts.index})
    return {
        "count": count,
        "missing": len(series) - count,
        "missing_rate": (len(series) - count) / len(series),
        "distinct": len(counts),
        "top": top,
        "other_count": count - sum(item["count"] for item in top),
        "categories": categories,
    }


def value_counts(series: pd.Series) -> pd.Series:
    """Non-missing value counts of a column, most frequent first, without zero counts.

    Args:
        series: Any column.

    Returns:
        Counts indexed by value (the categories of a category dtype that never occur are
        dropped). Lists, dicts and other objects are counted too (pandas 3 hashes them).
    """
    counts = series.value_counts(dropna=True, sort=True)
    if isinstance(series.dtype, pd.CategoricalDtype):
        counts = counts[counts > 0]
    return counts


def _json_float(value: float) -> float | None:
    """``value`` as a float, or ``None`` if it is NaN or infinite (JSON has neither)."""
    return float(value) if np.isfinite(value) else None


def _json_floats(values: np.ndarray) -> list[float | None]:
    """A float array as a list with ``None`` in place of NaN and infinities."""
    return [float(v) if np.isfinite(v) else None for v in values.tolist()]
