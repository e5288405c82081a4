"""The fast path gives the full path's frame for clean requests, and steps aside otherwise."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopline.components import ColumnSchema, Schema
from loopline.serving._fast import fast_frame
from loopline.serving._payload import body_to_frame
from loopline.serving._validation import check_frame

SCHEMA = Schema(
    [
        ColumnSchema("age", "numeric", min=18.0, max=90.0),
        ColumnSchema("income", "numeric"),
        ColumnSchema("region", "categorical", categories=["east", "north", "west"]),
        ColumnSchema("note", "categorical"),
    ]
)
CLEAN = {"age": 40, "income": 52.5, "region": "west", "note": "x"}


def _fast(body: Any, schema: Schema = SCHEMA, format: str = "loopline") -> pd.DataFrame | None:
    return fast_frame(
        body, schema, format=format, max_rows=100, max_string_length=50, policy="strict"
    )


def _full(body: Any, format: str = "loopline") -> pd.DataFrame:
    result = check_frame(body_to_frame(body, SCHEMA, format=format), SCHEMA)
    assert result.ok and not result.warnings
    return result.frame


@pytest.mark.parametrize(
    ("body", "format"),
    [
        ([CLEAN, {**CLEAN, "age": 30.5}], "loopline"),
        ({"records": [CLEAN]}, "loopline"),
        ({"dataframe_records": [CLEAN, CLEAN]}, "mlflow"),
        ({"instances": [CLEAN]}, "mlflow"),
        (
            {"dataframe_split": {"columns": list(CLEAN), "data": [list(CLEAN.values())] * 3}},
            "mlflow",
        ),
        (
            {
                "dataframe_split": {
                    "columns": list(reversed(CLEAN)),
                    "data": [list(reversed(CLEAN.values()))],
                    "index": [7],
                }
            },
            "mlflow",
        ),
    ],
)
def test_clean_requests_give_the_full_paths_frame(body: Any, format: str) -> None:
    fast = _fast(body, format=format)
    assert fast is not None
    pd.testing.assert_frame_equal(fast, _full(body, format))


@pytest.mark.parametrize(
    "record",
    [
        {k: v for k, v in CLEAN.items() if k != "age"},  # missing field
        {**CLEAN, "extra": 1},  # unknown field
        {**CLEAN, "age": "40"},  # a number as text
        {**CLEAN, "age": True},  # a bool
        {**CLEAN, "age": math.nan},
        {**CLEAN, "income": math.inf},
        {**CLEAN, "income": None},
        {**CLEAN, "age": 12},  # below the training range: a warning
        {**CLEAN, "region": "south"},  # unseen category
        {**CLEAN, "note": 7},  # a number in a text field
        {**CLEAN, "note": "y" * 51},  # too long
    ],
)
def test_anything_unusual_goes_to_the_full_path(record: dict[str, Any]) -> None:
    assert _fast([CLEAN, record]) is None


@pytest.mark.parametrize(
    "body",
    [
        [],
        [CLEAN] * 101,
        {"columns": ["age"], "data": [[1]]},
        {"records": [CLEAN], "x": 1},
        "text",
        [1, 2],
    ],
)
def test_shapes_it_does_not_read(body: Any) -> None:
    assert _fast(body) is None


def test_other_kinds_go_to_the_full_path() -> None:
    schema = Schema([ColumnSchema("flag", "boolean"), ColumnSchema("x", "numeric")])
    assert _fast([{"flag": True, "x": 1.0}], schema) is None


@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "age": st.integers(18, 90) | st.floats(18, 90),
                "income": st.floats(-1e9, 1e9, allow_nan=False),
                "region": st.sampled_from(["east", "north", "west"]),
                "note": st.text(max_size=50),
            }
        ),
        min_size=1,
        max_size=20,
    )
)
def test_the_fast_frame_equals_the_full_one(records: list[dict[str, Any]]) -> None:
    fast = _fast(records)
    assert fast is not None
    pd.testing.assert_frame_equal(fast, _full(records))
