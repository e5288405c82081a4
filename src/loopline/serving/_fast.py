"""The fast path for clean requests: one pass in plain Python, no per-column pandas work.

Most requests are well-formed: every field present, numbers that are finite and inside the
training range, known categories. For those, building the model's frame directly from the
JSON is some forty times cheaper than the full checks (which locate every problem per
field). Anything unusual — a missing or extra field, a non-number, a missing value, a value
outside the range (a warning), an unseen category, a kind other than numeric or
categorical, a format this path does not read — returns None, and the full path
(``body_to_frame`` + ``check_frame``) answers instead, with its messages. The fast path
never accepts what the full path would refuse, and it builds the same frame
(``tests/serving/test_fast.py`` checks both).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ..components import Schema

_NUMBER = (int, float)


def fast_frame(
    body: Any, schema: Schema, *, format: str, max_rows: int, max_string_length: int, policy: str
) -> pd.DataFrame | None:
    """The model's frame for a clean request, or None to use the full checks."""
    names = [c.name for c in schema.columns]
    columns = _columns(body, format, names)
    if columns is None:
        return None
    if not 0 < len(next(iter(columns.values()), [])) <= max_rows:
        return None
    data: dict[str, Any] = {}
    for column in schema.columns:
        values = columns[column.name]
        if column.kind == "numeric":
            checked = _numbers(values, column.min, column.max)
        elif column.kind == "categorical":
            checked = _categories(values, column.categories, max_string_length, policy)
        else:
            return None  # booleans and datetimes: the full path coerces them
        if checked is None:
            return None
        data[column.name] = checked
    return pd.DataFrame(data, columns=names)


def _columns(body: Any, format: str, names: list[str]) -> dict[str, list[Any]] | None:
    """Column name -> values, from records or from a columns + data table; None otherwise."""
    table = _table(body, format)
    if table is not None:
        header, rows = table
        if not isinstance(header, list) or sorted(header) != sorted(names) or not rows:
            return None
        width = len(header)
        for row in rows:
            if not isinstance(row, list) or len(row) != width:
                return None
        position = {name: i for i, name in enumerate(header)}
        return {name: [row[position[name]] for row in rows] for name in names}
    records = _records(body, format)
    if records is None or not records:
        return None
    wanted = set(names)
    for record in records:
        if not isinstance(record, dict) or record.keys() != wanted:
            return None
    return {name: [record[name] for record in records] for name in names}


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


def _numbers(values: list[Any], low: float | None, high: float | None) -> np.ndarray | None:
    for value in values:
        if type(value) not in _NUMBER or not math.isfinite(value):
            return None  # bools, text, None, NaN, infinities: the full path judges them
    array = np.asarray(values, dtype=np.float64)
    if (low is not None and (array < low).any()) or (high is not None and (array > high).any()):
        return None  # out of range: a warning the full path words
    return array


def _categories(
    values: list[Any], allowed: list[str] | None, max_length: int, policy: str
) -> pd.Series | None:
    known = set(allowed) if allowed is not None else None
    for value in values:
        if type(value) is not str or len(value) > max_length:
            return None
        if known is not None and value not in known:
            return None  # unseen: an error (strict) or a warning (lenient), worded there
    return pd.Series(values, dtype=object)  # object, as the full path gives (not pandas' str)
