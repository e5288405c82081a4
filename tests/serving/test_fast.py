"""The fast path gives the full path's frame for clean requests, and steps aside otherwise."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopline.components import ColumnSchema, Schema
from loopline.requestlog import NUMERIC, TEXT, Records, frame_of
from loopline.serving._fast import fast_records
from loopline.serving._payload import PayloadError, body_to_frame, read_payload
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


def _records(body: Any, schema: Schema = SCHEMA, format: str = "loopline") -> Records | None:
    return fast_records(body, schema, format=format, max_rows=100, max_string_length=50)


def _fast(body: Any, schema: Schema = SCHEMA, format: str = "loopline") -> pd.DataFrame | None:
    records = _records(body, schema, format)
    return None if records is None else records.to_frame()


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
        {**CLEAN, "income": 9 * 10**308},  # an int no double can hold
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
        {"dataframe_split": {"columns": [1, "age", "income", "region"], "data": [[1, 2, 3, 4]]}},
        {"dataframe_split": {"columns": [["age"], "income", "region", "note"], "data": [[1] * 4]}},
        {"dataframe_split": {"columns": ["age", "age", "region", "note"], "data": [[1] * 4]}},
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


@pytest.mark.parametrize(
    "raw",
    [
        b'[{"x": 9' + b"0" * 308 + b"}]",
        b'{"dataframe_split": {"columns": [1, "x"], "data": [[1, 2]]}}',
        b'{"dataframe_split": {"columns": [["x"]], "data": [[1]]}}',
    ],
)
def test_odd_bodies_get_a_422_not_a_crash(raw: bytes) -> None:
    # These once raised OverflowError / TypeError inside the fast path (a 500).
    schema = Schema([ColumnSchema("x", "numeric")])
    with pytest.raises(PayloadError) as caught:
        read_payload(raw, schema, format="any")
    assert caught.value.status == 422


@given(
    st.lists(
        st.lists(
            st.fixed_dictionaries(
                {
                    "age": st.integers(18, 90),
                    "income": st.floats(-1e6, 1e6, allow_nan=False),
                    "region": st.sampled_from(["east", "west"]),
                    "note": st.text(max_size=5),
                }
            ),
            min_size=1,
            max_size=4,
        ),
        min_size=1,
        max_size=6,
    )
)
def test_a_batch_of_records_is_the_frame_of_all_their_rows(requests: list[list[Any]]) -> None:
    parts = [_records(request) for request in requests]
    assert all(part is not None for part in parts)
    everyone = [record for request in requests for record in request]
    pd.testing.assert_frame_equal(frame_of(parts), _full(everyone))  # type: ignore[arg-type]


def test_records_and_frames_join_in_order() -> None:
    first, third = _records([CLEAN]), _records([{**CLEAN, "age": 50}])
    second = _full([{**CLEAN, "age": 33}]).set_axis([5])  # an index of its own
    assert first is not None and third is not None
    joined = frame_of([first, second, third])
    assert joined["age"].tolist() == [40.0, 33.0, 50.0]
    assert isinstance(joined.index, pd.RangeIndex)
    pd.testing.assert_frame_equal(
        joined, _full([CLEAN, {**CLEAN, "age": 33}, {**CLEAN, "age": 50}])
    )


def test_long_numeric_columns_are_handed_on_as_the_arrays_they_were_checked_as() -> None:
    long = [{**CLEAN, "age": 18 + i % 70, "income": i * 1.5 - 40} for i in range(100)]
    records = _records(long)
    assert records is not None
    age, income, region, _ = records.columns
    assert isinstance(age, np.ndarray) and isinstance(income, np.ndarray)
    assert isinstance(region, list)
    pd.testing.assert_frame_equal(records.to_frame(), _full(long))
    short = _records([CLEAN])
    assert short is not None and isinstance(short.columns[0], list)
    # A batch of short (lists) and long (arrays) requests is still the full path's frame.
    pd.testing.assert_frame_equal(frame_of([short, records, short]), _full([CLEAN, *long, CLEAN]))


def test_records_of_two_schemas_with_the_same_names_are_not_mixed() -> None:
    # Around a hot swap, a field may change kind between two versions of a model.
    numbers = Records(("x",), ([1.5],), (NUMERIC,))
    words = Records(("x",), (["one"],), (TEXT,))
    joined = frame_of([numbers, words, numbers])
    assert joined["x"].tolist() == [1.5, "one", 1.5]


@pytest.mark.parametrize(
    ("values", "low", "high"),
    [
        ([1.0, 2, 3.5], 0.0, 4.0),
        ([1.0, 5], 0.0, 4.0),
        ([-1, 0.5], 0.0, None),
        ([2**53 + 1], None, float(2**53)),  # rounds to the bound as a double; above it exactly
        ([2**53 - 1], None, float(2**53)),
        ([2**60, 1.5], None, None),
        ([10**400], None, None),
        ([1.0, float("nan")], None, None),
        ([1.0, float("inf")], None, None),
        ([True, 1.0], None, None),
        ([1.0, "2"], None, None),
        ([1.0, None], None, None),
    ],
)
def test_whole_column_number_checks_agree_with_the_loop(
    values: list[object], low: float | None, high: float | None
) -> None:
    from loopline.serving._fast import _WHOLE_COLUMN_ROWS, _numbers, _numbers_one_by_one

    column = values * _WHOLE_COLUMN_ROWS  # long enough to be checked whole
    checked = _numbers(column, low, high)
    assert (checked is not None) == _numbers_one_by_one(column, low, high)
    if checked is not None:  # the values frame_of would have built (a float64 array, or
        # the list when a value made numpy's check inexact and the loop judged)
        assert not isinstance(checked, np.ndarray) or checked.dtype == np.float64
        expected = np.array(column, dtype=np.float64).tolist()
        assert np.array(checked, dtype=np.float64).tolist() == expected
    short = _numbers(values, low, high)  # checked one by one, handed on as the list
    assert short is (values if _numbers_one_by_one(values, low, high) else None)
