"""Tests for loopline.components._schema."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_breast_cancer, load_wine

from loopline.components._schema import ColumnSchema, Schema, infer_schema
from loopline.components._statistics import KINDS, compute_statistics
from loopline.errors import ConfigError, InvalidInputError


@pytest.fixture(scope="module")
def wine_schema() -> Schema:
    return infer_schema(compute_statistics(load_wine(as_frame=True).frame))


# -- inference ----------------------------------------------------------------------------


def test_inferred_numeric_columns_are_required_non_nullable_and_widened() -> None:
    df = load_breast_cancer(as_frame=True).frame
    stats = compute_statistics(df)
    schema = infer_schema(stats, range_tolerance=0.1)
    assert schema.names == [str(c) for c in df.columns]
    for column in schema.columns:
        observed = stats["columns"][column.name]
        width = observed["max"] - observed["min"]
        assert column.kind == "numeric"
        assert column.required and not column.nullable and column.max_missing_rate == 0.0
        assert column.categories is None
        assert column.min == pytest.approx(max(observed["min"] - 0.1 * width, 0.0))
        assert column.max == pytest.approx(observed["max"] + 0.1 * width)


def test_no_tolerance_keeps_the_observed_range(wine_schema: Schema) -> None:
    df = load_wine(as_frame=True).frame
    schema = infer_schema(compute_statistics(df), range_tolerance=0.0)
    assert schema.column("alcohol").min == df["alcohol"].min()
    assert schema.column("alcohol").max == df["alcohol"].max()
    assert wine_schema.column("alcohol").min < df["alcohol"].min()


def test_widening_never_crosses_zero() -> None:
    frame = pd.DataFrame({"pos": [0.5, 10.0], "neg": [-10.0, -0.5], "both": [-1.0, 1.0]})
    schema = infer_schema(compute_statistics(frame), range_tolerance=0.1)
    assert (schema.column("pos").min, schema.column("pos").max) == (0.0, 10.95)
    assert (schema.column("neg").min, schema.column("neg").max) == (-10.95, 0.0)
    assert (schema.column("both").min, schema.column("both").max) == (-1.2, 1.2)


def test_constant_column_is_widened_by_its_magnitude() -> None:
    schema = infer_schema(compute_statistics(pd.DataFrame({"x": [5.0, 5.0]})))
    assert (schema.column("x").min, schema.column("x").max) == (4.5, 5.5)


def test_categorical_columns_close_their_categories_up_to_max_categories() -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "small": rng.choice(["a", "b", "c"], 500),
            "large": [f"id{i}" for i in range(500)],
            "flag": rng.random(500) < 0.5,
        }
    )
    stats = compute_statistics(frame)
    schema = infer_schema(stats, max_categories=50)
    assert schema.column("small").categories == ["a", "b", "c"]
    assert schema.column("large").categories is None
    assert schema.column("flag").kind == "boolean"
    assert schema.column("flag").categories is None
    assert infer_schema(stats, max_categories=2).column("small").categories is None


def test_categories_come_from_the_top_list_when_it_covers_every_value() -> None:
    stats = compute_statistics(pd.DataFrame({"c": ["x", "y", "x"]}))
    stats["columns"]["c"].pop("categories")
    assert infer_schema(stats).column("c").categories == ["x", "y"]
    stats = compute_statistics(pd.DataFrame({"c": ["x", "y", "x"]}), top_k=1)
    stats["columns"]["c"]["categories"] = None
    assert infer_schema(stats).column("c").categories is None  # "y" is not known


def test_missing_values_make_a_column_nullable_with_a_tolerance() -> None:
    frame = pd.DataFrame({"x": [1.0, np.nan, 3.0, 4.0], "gone": [np.nan] * 4})
    schema = infer_schema(compute_statistics(frame), missing_tolerance=0.05)
    x = schema.column("x")
    assert x.nullable and x.max_missing_rate == pytest.approx(0.30)
    gone = schema.column("gone")
    assert gone.nullable and gone.max_missing_rate == 1.0
    assert gone.min is None and gone.max is None and gone.required


def test_datetimes_get_no_range() -> None:
    frame = pd.DataFrame({"t": pd.date_range("2024-01-01", periods=3, freq="D")})
    column = infer_schema(compute_statistics(frame)).column("t")
    assert column.kind == "datetime" and column.min is None and column.max is None


@pytest.mark.parametrize(
    ("statistics", "kwargs", "message"),
    [
        ({"columns": []}, {}, "The 'statistics' argument of infer_schema must be a statistics"),
        ({"format": 2, "columns": {}}, {}, "has statistics format 2"),
        ({"format": 1, "columns": {}}, {"max_categories": -1}, "'max_categories' argument"),
        (
            {"format": 1, "columns": {}},
            {"range_tolerance": -0.1},
            "The 'range_tolerance' argument of infer_schema must be a finite float >= 0. Got -0.1",
        ),
        ({"format": 1, "columns": {}}, {"missing_tolerance": "x"}, "'missing_tolerance'"),
    ],
)
def test_infer_schema_rejects_bad_input(statistics: dict, kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        infer_schema(statistics, **kwargs)


# -- round trips ----------------------------------------------------------------------------


def test_dict_and_json_round_trip(wine_schema: Schema, tmp_path: Path) -> None:
    data = wine_schema.to_dict()
    assert data["format"] == 1
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert Schema.from_dict(data) == wine_schema
    path = tmp_path / "schema.json"
    wine_schema.to_json(path)
    assert Schema.from_json(path) == wine_schema
    assert Schema.from_json(str(path)) == wine_schema


def test_to_dict_does_not_share_lists() -> None:
    schema = Schema([ColumnSchema("c", "categorical", categories=["a"])])
    schema.to_dict()["columns"][0]["categories"].append("b")
    assert schema.column("c").categories == ["a"]


def test_a_hand_written_schema_may_omit_defaults(tmp_path: Path) -> None:
    path = tmp_path / "pinned.json"
    path.write_text('{"columns": [{"name": "age", "kind": "numeric", "min": 0, "max": 120}]}')
    column = Schema.from_json(path).column("age")
    assert (column.required, column.nullable, column.max_missing_rate) == (True, True, 1.0)
    assert (column.min, column.max) == (0, 120)


def test_column_lookup_of_an_unknown_name_raises_key_error(wine_schema: Schema) -> None:
    with pytest.raises(KeyError, match="nope"):
        wine_schema.column("nope")


columns = st.builds(
    ColumnSchema,
    name=st.text(min_size=1, max_size=10),
    kind=st.sampled_from(KINDS),
    required=st.booleans(),
    nullable=st.booleans(),
    max_missing_rate=st.floats(0, 1),
    categories=st.none() | st.lists(st.text(max_size=5), unique=True, max_size=5),
    min=st.none() | st.floats(-1e9, 0),
    max=st.none() | st.floats(0, 1e9),
)


@settings(max_examples=50, deadline=None)
@given(st.lists(columns, max_size=6, unique_by=lambda c: c.name))
def test_any_schema_round_trips_through_json(column_list: list[ColumnSchema]) -> None:
    schema = Schema(column_list)
    text = json.dumps(schema.to_dict(), allow_nan=False)
    assert Schema.from_dict(json.loads(text)) == schema


# -- bad schema files ------------------------------------------------------------------------


def _column(**overrides: object) -> dict:
    return {"name": "age", "kind": "numeric", **overrides}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            {"columns": [], "colums": []},
            "unknown key 'colums'. Allowed keys are: columns, format. Did you mean 'columns'?",
        ),
        (
            {"columns": [_column(nulable=True)]},
            "unknown key 'columns[0].nulable'. Allowed keys are: categories, kind, max, "
            "max_missing_rate, min, name, nullable, required. Did you mean 'nullable'?",
        ),
        (
            {"columns": [_column(required="yes")]},
            "key 'columns[0].required' must be true or false; got str 'yes'",
        ),
        (
            {"columns": [_column(kind="text")]},
            "key 'columns[0].kind' must be one of 'numeric', 'categorical', 'boolean', "
            "'datetime'; got 'text'",
        ),
        ({"columns": [_column(kind=3)]}, "key 'columns[0].kind' must be a string; got int 3"),
        (
            {"columns": [_column(max_missing_rate=1.5)]},
            "key 'columns[0].max_missing_rate' must be between 0 and 1; got 1.5",
        ),
        (
            {"columns": [_column(max_missing_rate=True)]},
            "key 'columns[0].max_missing_rate' must be a number; got bool True",
        ),
        (
            {"columns": [_column(min=10, max=1)]},
            "key 'columns[0].min' must not be greater than max (1); got 10",
        ),
        ({"columns": [_column(max="9")]}, "key 'columns[0].max' must be null or a number"),
        (
            {"columns": [_column(categories=["a", 1])]},
            "key 'columns[0].categories' must be null or a list of strings; got list ['a', 1]",
        ),
        (
            {"columns": [_column(categories=["a", "a"])]},
            "key 'columns[0].categories' must not repeat a value; 'a' appears twice",
        ),
        ({"columns": [{"kind": "numeric"}]}, "key 'columns[0].name' is required but missing"),
        ({"columns": [_column(name="")]}, "key 'columns[0].name' must be a string; got str ''"),
        ({"columns": [_column(), _column()]}, "key 'columns' must not repeat a value; 'age'"),
        ({"columns": [_column(), "age"]}, "key 'columns[1]' must be an object; got str 'age'"),
        ({"columns": {"age": {}}}, "key 'columns' must be a list; got dict"),
        ({"format": 2, "columns": []}, "key 'format' must be 1; got 2"),
        ([_column()], "key '(top level)' must be an object; got list"),
    ],
)
def test_bad_schema_files_name_the_file_and_the_key(
    tmp_path: Path, content: object, message: str
) -> None:
    path = tmp_path / "pinned.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ConfigError, match=re.escape(f"Schema file '{path}': {message}")) as info:
        Schema.from_json(path)
    assert info.value.path == str(path)
    assert info.value.key in message


def test_infinite_bounds_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "pinned.json"
    path.write_text('{"columns": [{"name": "a", "kind": "numeric", "max": Infinity}]}')
    with pytest.raises(ConfigError, match=re.escape("key 'columns[0].max' must be a finite")):
        Schema.from_json(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"columns": [', "is not valid JSON: Expecting value at line 1, column 14"),
        (b"\xff\xfe\x00", "cannot be read"),
    ],
)
def test_unreadable_schema_files(tmp_path: Path, text: str | bytes, message: str) -> None:
    path = tmp_path / "broken.json"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(f"Schema file '{path}' {message}")):
        Schema.from_json(path)


def test_a_missing_schema_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(ConfigError, match=re.escape(f"Schema file '{path}' does not exist.")):
        Schema.from_json(path)


def test_a_schema_dict_is_named_as_such() -> None:
    with pytest.raises(ConfigError, match=re.escape("Schema dict: unknown key 'extra'")):
        Schema.from_dict({"columns": [], "extra": 1})


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: ColumnSchema("a", "text"),  # type: ignore[arg-type]
            "ColumnSchema('a'): key 'kind' must be one of",
        ),
        (
            lambda: ColumnSchema("a", "numeric", max_missing_rate=-0.5),
            "ColumnSchema('a'): key 'max_missing_rate' must be between 0 and 1; got -0.5",
        ),
        (
            lambda: Schema([ColumnSchema("a", "numeric"), ColumnSchema("a", "boolean")]),
            "Schema: key 'columns' must not repeat a value; 'a' appears twice",
        ),
    ],
)
def test_bad_schemas_built_in_code(build, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        build()
