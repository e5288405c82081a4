"""Validated records kept as plain columns until a batch needs a DataFrame.

Building a pandas DataFrame costs a tenth of a millisecond or more however few rows it
holds (its column index, its blocks), which is more than validating a one-record request.
So the fast path (``_fast``) hands on ``Records``: the request's values as one column each,
already checked (a Python list, or for a long numeric column the float64 array it was
checked as). The micro-batcher and the request log turn many of them into
one DataFrame at once with ``frame_of``, which gives exactly the frame the full path would
have given for the same records (``tests/serving/test_fast.py``).

Example:
    >>> parts = [Records(("x", "tag"), ([1.0], ["a"]), (NUMERIC, TEXT)),
    ...          Records(("x", "tag"), ([2.5, 3], ["b", "c"]), (NUMERIC, TEXT))]
    >>> frame_of(parts).to_dict("list")
    {'x': [1.0, 2.5, 3.0], 'tag': ['a', 'b', 'c']}
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["NUMERIC", "TEXT", "Records", "frame_of"]

#: The column types ``Records`` carry: numbers become float64, text stays Python ``str``
#: objects (the full path's types; not pandas' ``str`` dtype).
NUMERIC = np.dtype(np.float64)
TEXT = np.dtype(object)


class Records:
    """Some validated records, one column of values per name.

    Args:
        names: The column names, in the frame's order.
        columns: One list per name, all of the same length (at least one value); a
            ``NUMERIC`` column may be a float64 array instead. Never changed once made.
        dtypes: Per column, ``NUMERIC`` (ints and floats) or ``TEXT`` (strings).
    """

    __slots__ = ("columns", "dtypes", "names", "rows")

    def __init__(
        self,
        names: tuple[str, ...],
        columns: tuple[list[Any] | np.ndarray, ...],
        dtypes: tuple[np.dtype[Any], ...],
    ) -> None:
        self.names = names
        self.columns = columns
        self.dtypes = dtypes
        self.rows = len(columns[0]) if columns else 0

    def __len__(self) -> int:
        return self.rows

    def __repr__(self) -> str:
        return f"Records({self.rows} rows, columns {list(self.names)})"

    def to_frame(self) -> pd.DataFrame:
        """These records as the DataFrame the full path builds."""
        return _concat([self])


def frame_of(parts: Sequence[pd.DataFrame | Records]) -> pd.DataFrame:
    """One DataFrame of all the parts' rows, in order, with a ``RangeIndex``.

    A lone DataFrame that has one already is returned as it is, not copied.

    Consecutive ``Records`` with the same columns and types are joined list by list (one
    array per column for all of them); only what remains is joined by ``pd.concat``.
    """
    pieces: list[pd.DataFrame] = []
    run: list[Records] = []
    for part in parts:
        if isinstance(part, Records) and (
            not run or (part.names == run[0].names and part.dtypes == run[0].dtypes)
        ):
            run.append(part)
            continue
        if run:
            pieces.append(_concat(run))
            run = []
        if isinstance(part, Records):
            run.append(part)
        else:
            pieces.append(part)
    if run:
        pieces.append(_concat(run))
    if len(pieces) == 1:
        only = pieces[0]
        return only if isinstance(only.index, pd.RangeIndex) else only.reset_index(drop=True)
    return pd.concat(pieces, ignore_index=True)


def column_of(run: Sequence[Records], i: int) -> list[Any] | np.ndarray:
    """Column ``i`` of consecutive ``Records`` of the same columns, as one list (or one
    float64 array, if any of them holds that column as an array)."""
    if len(run) == 1:
        return run[0].columns[i]
    parts = [r.columns[i] for r in run]
    if any(isinstance(part, np.ndarray) for part in parts):
        return np.concatenate([np.asarray(part, dtype=NUMERIC) for part in parts])
    return list(chain(*parts))


def _concat(run: Sequence[Records]) -> pd.DataFrame:
    first = run[0]
    data: dict[str, Any] = {}
    for i, (name, dtype) in enumerate(zip(first.names, first.dtypes, strict=True)):
        array = np.array(column_of(run, i), dtype=dtype)
        # A Series keeps object dtype; an object array alone would be inferred as str.
        data[name] = pd.Series(array, dtype=object, copy=False) if dtype.kind == "O" else array
    return pd.DataFrame(data, columns=list(first.names))
