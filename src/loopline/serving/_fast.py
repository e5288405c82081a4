"""The fast path for clean requests: one pass in plain Python, no per-column pandas work.

Most requests are well-formed: every field present, numbers that are finite and inside the
training range, known categories. For those, checking the JSON's values directly is some
forty times cheaper than the full checks (which locate every problem per field), and the
result stays plain columns (``Records``: lists, or the float64 array a long numeric column
was checked as) until a batch of requests becomes one DataFrame.
Anything unusual — a missing or extra field, a non-number, a missing value, a value
outside the range (a warning), an unseen category, a kind other than numeric or
categorical, a format this path does not read — returns None, and the full path
(``body_to_frame`` + ``check_frame``) answers instead, with its messages. The fast path
never accepts what the full path would refuse, and its records make the same frame
(``tests/serving/test_fast.py`` checks both).
"""

from __future__ import annotations

import math
import sys
from operator import itemgetter
from typing import Any

import numpy as np

from ..components import Schema
from ..requestlog import NUMERIC, TEXT, Records

#: The largest finite double; ints beyond it are not numbers a model can take.
_LARGEST = sys.float_info.max
#: Ints below this size are doubles exactly (and a rounded int is below it only if the
#: int is).
_EXACT = float(2**53)
_NUMBER_TYPES: frozenset[type] = frozenset({float, int})
#: From this many values on, a numeric column is checked whole with numpy.
_WHOLE_COLUMN_ROWS = 64


def fast_records(
    body: Any, schema: Schema, *, format: str, max_rows: int, max_string_length: int
) -> Records | None:
    """The checked records of a clean request, or None to use the full checks."""
    names = tuple(c.name for c in schema.columns)
    columns = _columns(body, format, names)
    if columns is None:
        return None
    if not 0 < len(columns[0]) <= max_rows:
        return None
    checked: list[list[Any] | np.ndarray] = []
    dtypes: list[np.dtype[Any]] = []
    for column, values in zip(schema.columns, columns, strict=True):
        if column.kind == "numeric":
            numbers = _numbers(values, column.min, column.max)
            if numbers is None:
                return None
            checked.append(numbers)
            dtypes.append(NUMERIC)
        elif column.kind == "categorical":
            if not _categories(values, column.categories, max_string_length):
                return None
            checked.append(values)
            dtypes.append(TEXT)
        else:
            return None  # booleans and datetimes: the full path coerces them
    return Records(names, tuple(checked), tuple(dtypes))


def _columns(body: Any, format: str, names: tuple[str, ...]) -> tuple[list[Any], ...] | None:
    """The values of each of ``names``, from records or a columns + data table; or None."""
    table = _table(body, format)
    if table is not None:
        header, rows = table
        if not (
            isinstance(header, list)
            and len(header) == len(names)
            and all(type(name) is str for name in header)
            and set(header) == set(names)
            and rows
        ):
            return None
        width = len(header)
        for row in rows:
            if not isinstance(row, list) or len(row) != width:
                return None
        position = {name: i for i, name in enumerate(header)}
        return tuple([row[position[name]] for row in rows] for name in names)
    records = _records(body, format)
    if records is None or not records:
        return None
    # Whole-list checks at C speed: every record a dict of as many fields as the schema
    # has, each of them found (so no field is missing and none is extra).
    if set(map(type, records)) != {dict} or set(map(len, records)) != {len(names)}:
        return None
    try:
        if len(names) == 1:
            return ([record[names[0]] for record in records],)
        rows = list(map(itemgetter(*names), records))
    except KeyError:
        return None
    return tuple(map(list, zip(*rows, strict=True)))


def _table(body: Any, format: str) -> tuple[Any, list[Any]] | None:
    """``(columns, data)`` of a columns + data body (both protocols have one)."""
    if not isinstance(body, dict) or len(body) != 1:
        return None
    key, value = next(iter(body.items()))
    readable = (
        key == "dataframe_split"
        and format in ("mlflow", "any")
        and isinstance(value, dict)
        and set(value) <= {"columns", "data", "index"}
        and isinstance(value.get("data"), list)
    )
    return (value.get("columns"), value["data"]) if readable else None


def _records(body: Any, format: str) -> list[Any] | None:
    """Records from the body shapes both protocols share; None for any other shape."""
    if isinstance(body, list):
        return body if format in ("loopline", "any") else None
    if not isinstance(body, dict) or len(body) != 1:
        return None
    key, value = next(iter(body.items()))
    allowed = {"loopline": ("records",), "mlflow": ("dataframe_records", "instances")}
    keys = allowed.get(format, ("records", "dataframe_records", "instances"))
    if key in keys and isinstance(value, list):
        return value
    return None


def _numbers(
    values: list[Any], low: float | None, high: float | None
) -> list[Any] | np.ndarray | None:
    """The column to hand on if every value is a finite number within the training range,
    else None.

    A short column is checked one value at a time and stays a list (numpy's fixed cost per
    call is more than the loop for a few values); a long one is checked whole at C speed
    and handed on as the float64 array built to check it, so no one converts it again.
    """
    if len(values) < _WHOLE_COLUMN_ROWS:
        return values if _numbers_one_by_one(values, low, high) else None
    kinds = set(map(type, values))
    if kinds <= _NUMBER_TYPES:
        # Floats, and ints a double holds exactly (so every comparison means what the
        # loop's exact one means).
        try:
            array = np.array(values, dtype=np.float64)
        except OverflowError:  # an int beyond a double: the loop refuses it
            return None
        if (int not in kinds or bool(np.abs(array).max() < _EXACT)) and bool(
            np.isfinite(array).all()
        ):
            inside = (low is None or bool(array.min() >= low)) and (
                high is None or bool(array.max() <= high)
            )
            return array if inside else None
    return values if _numbers_one_by_one(values, low, high) else None


def _numbers_one_by_one(values: list[Any], low: float | None, high: float | None) -> bool:
    for value in values:
        kind = type(value)
        if kind is float:
            if not math.isfinite(value):
                return False  # NaN and infinities: the full path words them
        elif kind is not int or not -_LARGEST <= value <= _LARGEST:
            return False  # bools, text, None, ints beyond a double: the full path judges
        if (low is not None and value < low) or (high is not None and value > high):
            return False  # out of range: a warning the full path words
    return True


def _categories(values: list[Any], allowed: list[str] | None, max_length: int) -> bool:
    """Whether every value is a string of a known category (of any, without a list)."""
    if set(map(type, values)) == {str}:  # whole columns at C speed
        if max(map(len, values)) > max_length:
            return False
        return allowed is None or set(values) <= set(allowed)
    known = set(allowed) if allowed is not None else None
    for value in values:
        if type(value) is not str or len(value) > max_length:
            return False
        if known is not None and value not in known:
            return False  # unseen: an error (strict) or a warning (lenient), worded there
    return True
