"""Tests for loopline.components._validate."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import pandas as hpd
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine

from loopline.components._schema import ColumnSchema, Schema, infer_schema
from loopline.components._statistics import compute_statistics
from loopline.components._validate import (
    ANOMALY_KINDS,
    Anomaly,
    DataValidationError,
    ValidationReport,
    validate,
)
from loopline.errors import InvalidInputError


def _kinds(report: ValidationReport) -> list[tuple[str | None, str, str]]:
    return [(a.column, a.kind, a.severity) for a in report.anomalies]


def _only(report: ValidationReport, kind: str, column: str) -> Anomaly:
    found = [a for a in report.anomalies if a.kind == kind and a.column == column]
    assert len(found) == 1, report.summary()
    return found[0]


@pytest.fixture(scope="module")
def shop() -> pd.DataFrame:
    """A generated span: numbers, a small category set, a flag, a timestamp, some missing."""
    rng = np.random.default_rng(11)
    n = 3_000
    frame = pd.DataFrame(
        {
            "price": rng.gamma(2.0, 20.0, n),
            "quantity": rng.integers(1, 10, n),
            "colour": rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2]),
            "member": rng.random(n) < 0.4,
            "at": pd.Timestamp("2024-05-01") + pd.to_timedelta(rng.integers(0, 10**6, n), "s"),
            "note": rng.choice(["", "gift", "rush"], n),
        }
    )
    frame.loc[::20, "note"] = None
    return frame


@pytest.fixture(scope="module")
def shop_stats(shop: pd.DataFrame) -> dict:
    return compute_statistics(shop)


@pytest.fixture(scope="module")
def shop_schema(shop_stats: dict) -> Schema:
    return infer_schema(shop_stats)


# -- clean data ----------------------------------------------------------------------------


@pytest.mark.parametrize("loader", [load_wine, load_breast_cancer, load_diabetes])
def test_data_passes_the_schema_inferred_from_it(loader) -> None:
    df = loader(as_frame=True).frame
    stats = compute_statistics(df)
    schema = infer_schema(stats)
    for report in (
        validate(df, schema),
        validate(df, schema, statistics=stats, previous=stats),
    ):
        assert report.anomalies == []
        assert not report.has_errors
        assert (
            report.summary()
            == f"Validation of {len(df):,} rows x {df.shape[1]} columns: no anomalies."
        )
        report.raise_for_errors()


def test_mixed_data_passes_its_own_schema(shop, shop_stats, shop_schema) -> None:
    assert validate(shop, shop_schema, statistics=shop_stats, previous=shop_stats).anomalies == []
    assert validate(shop, shop_schema, previous=shop_stats).anomalies == []


def test_a_later_sample_of_the_same_distribution_passes() -> None:
    df = load_breast_cancer(as_frame=True).frame.sample(frac=1.0, random_state=0)
    first, second = df.iloc[:280], df.iloc[280:]
    schema = infer_schema(compute_statistics(first), range_tolerance=0.5)
    report = validate(second, schema, previous=compute_statistics(first))
    assert not report.has_errors
    assert [a for a in report.anomalies if a.kind == "drift"] == []


frames = hpd.data_frames(
    [
        hpd.column("x", elements=st.floats(-1e6, 1e6) | st.just(np.nan)),
        hpd.column("n", elements=st.integers(-1000, 1000)),
        hpd.column("c", elements=st.sampled_from(["a", "b", "c", "d"])),
        hpd.column("b", dtype=bool),
    ],
    index=hpd.range_indexes(min_size=1, max_size=60),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames)
def test_validating_the_data_that_made_the_schema_finds_nothing(df: pd.DataFrame) -> None:
    stats = compute_statistics(df)
    schema = infer_schema(stats)
    assert validate(df, schema, statistics=stats, previous=stats).anomalies == []
    assert validate(df, schema).anomalies == []


# -- each kind of bad input ---------------------------------------------------------------------


def test_text_in_a_numeric_column_is_an_error_with_count_and_examples(shop, shop_schema) -> None:
    bad = shop.copy()
    bad["price"] = bad["price"].astype(object)
    bad.loc[[3, 4, 9], "price"] = ["abc", "n/a", "abc"]
    report = validate(bad, shop_schema)
    anomaly = _only(report, "wrong_type", "price")
    assert anomaly.severity == "error"
    assert anomaly.message == (
        "Column 'price' should be numeric, but 3 of 3,000 values are not numbers "
        "(e.g. 'abc', 'n/a'). Fix or remove these values at the source, or change the "
        "column's kind in the schema."
    )
    assert anomaly.details["count"] == 3 and anomaly.details["examples"] == ["abc", "n/a"]
    with pytest.raises(DataValidationError, match=re.escape("[price] wrong_type: Column 'price'")):
        report.raise_for_errors()


def test_numbers_stored_as_text_are_a_warning_and_still_range_checked(shop, shop_schema) -> None:
    bad = shop.copy()
    bad["quantity"] = bad["quantity"].astype(str)
    bad.loc[0, "quantity"] = "500"
    report = validate(bad, shop_schema)
    assert _kinds(report) == [
        ("quantity", "wrong_type", "warning"),
        ("quantity", "out_of_range", "warning"),
    ]
    assert "holds numbers stored as text (dtype str)" in report.anomalies[0].message
    assert report.anomalies[1].details["examples"] == [500.0]


def test_a_new_category_is_an_error(shop, shop_stats, shop_schema) -> None:
    bad = shop.copy()
    bad.loc[[1, 2, 5], "colour"] = ["purple", "purple", "teal"]
    for statistics in (None, compute_statistics(bad)):
        report = validate(bad, shop_schema, statistics=statistics)
        anomaly = _only(report, "unseen_category", "colour")
        assert anomaly.severity == "error"
        assert anomaly.message == (
            "Column 'colour' has 2 values outside its 3 allowed categories in 3 rows "
            "(e.g. 'purple', 'teal'); expected one of 'blue', 'green', 'red'. Fix the values, "
            "or add them to the column's categories in the schema (null allows any value), "
            "or use the lenient policy."
        )
        assert anomaly.details == {"count": 3, "distinct": 2, "examples": ["purple", "teal"]}


def test_an_out_of_range_value_is_a_warning(shop, shop_schema) -> None:
    bad = shop.copy()
    bad.loc[[0, 1], "price"] = [-50.0, 1e7]
    high = shop_schema.column("price").max
    for statistics in (None, compute_statistics(bad)):
        report = validate(bad, shop_schema, statistics=statistics)
        assert _kinds(report) == [("price", "out_of_range", "warning")]
        anomaly = report.anomalies[0]
        assert anomaly.details["count"] == 2
        assert anomaly.details["examples"] == [-50.0, 1e7]
        assert anomaly.message.startswith(
            f"Column 'price' has 2 values outside the expected range [0, {high:.6g}] "
            "(e.g. -50, 1e+07)."
        )
        assert not report.has_errors
        report.raise_for_errors()  # warnings do not raise


def test_infinity_is_out_of_range(shop, shop_schema) -> None:
    bad = shop.copy()
    bad.loc[0, "price"] = np.inf
    anomaly = _only(
        validate(bad, shop_schema, statistics=compute_statistics(bad)), "out_of_range", "price"
    )
    assert anomaly.details["examples"] == ["inf"]
    json.dumps(anomaly.to_dict(), allow_nan=False)


def test_an_all_missing_column_is_an_error(shop, shop_stats, shop_schema) -> None:
    bad = shop.copy()
    bad["price"] = np.nan
    report = validate(bad, shop_schema, previous=shop_stats)
    assert _kinds(report) == [
        ("price", "unexpected_missing", "error"),
        ("price", "missing_rate_jump", "warning"),
    ]
    assert report.anomalies[0].message == (
        "Column 'price' is entirely missing (100.0% of 3,000 rows), but the schema does not "
        "allow missing values. Fill or drop those rows, or set nullable to true for the "
        "column in the schema."
    )
    with pytest.raises(DataValidationError, match="Column 'price' is entirely missing"):
        report.raise_for_errors()


def test_missing_rate_above_the_schema_maximum(shop, shop_stats, shop_schema) -> None:
    bad = shop.copy()
    bad.loc[: len(bad) // 2, "note"] = None
    report = validate(bad, shop_schema, previous=shop_stats)
    rate = _only(report, "missing_rate", "note")
    assert rate.severity == "warning"
    assert re.match(
        r"Column 'note' is 5\d\.\d% missing \(1,5\d\d of 3,000 rows\), above the schema's "
        r"maximum of 15\.0%\.",
        rate.message,
    )
    jump = _only(report, "missing_rate_jump", "note")
    assert "up from 5.0% in the previous span" in jump.message
    assert jump.details["previous_rate"] == pytest.approx(0.05)


def test_a_missing_required_column_and_an_extra_column(shop, shop_schema) -> None:
    bad = shop.drop(columns=["price"]).assign(coupon="x")
    report = validate(bad, shop_schema)
    assert _kinds(report) == [
        ("price", "missing_column", "error"),
        ("coupon", "extra_column", "warning"),
    ]
    assert report.anomalies[0].message == (
        "Column 'price' (numeric) is missing from the data, but the schema requires it. Add "
        "the column to the data, or set required to false for it in the schema."
    )
    optional = Schema([ColumnSchema("price", "numeric", required=False)])
    assert validate(shop[["quantity"]], optional).anomalies[0].kind == "extra_column"


def test_an_empty_frame_is_an_error() -> None:
    schema = Schema([ColumnSchema("a", "numeric", nullable=False)])
    report = validate(pd.DataFrame({"a": pd.Series([], dtype=float)}), schema)
    assert _kinds(report) == [(None, "no_rows", "error")]
    with pytest.raises(
        DataValidationError, match=re.escape("- ERROR no_rows: The data has no rows")
    ):
        report.raise_for_errors()
    report = validate(pd.DataFrame(), schema)
    assert _kinds(report) == [(None, "no_rows", "error"), ("a", "missing_column", "error")]


@pytest.mark.parametrize(
    ("column", "values", "expected", "found"),
    [
        (
            "member",
            ["yes", "no"],
            "boolean",
            "2 of 3,000 values are not True/False (e.g. 'yes', 'no')",
        ),
        (
            "at",
            ["soon", "later"],
            "datetime",
            "2 of 3,000 values are not dates (e.g. 'soon', 'later')",
        ),
    ],
)
def test_wrong_values_for_booleans_and_datetimes(
    shop, shop_schema, column, values, expected, found
) -> None:
    bad = shop.copy()
    bad[column] = bad[column].astype(object)
    bad.loc[[0, 1], column] = values
    anomaly = _only(validate(bad, shop_schema), "wrong_type", column)
    assert anomaly.severity == "error" and found in anomaly.message
    assert anomaly.details["expected"] == expected


def test_objects_holding_booleans_and_missing_values_are_booleans(shop, shop_schema) -> None:
    ok = shop.copy()
    ok["member"] = ok["member"].astype(object)
    ok.loc[0, "member"] = None
    schema = Schema(
        [*shop_schema.columns[:3], ColumnSchema("member", "boolean"), *shop_schema.columns[4:]]
    )
    assert validate(ok, schema).anomalies == []


def test_dates_stored_as_text_are_a_warning(shop, shop_schema) -> None:
    ok = shop.copy()
    ok["at"] = ok["at"].dt.strftime("%Y-%m-%d %H:%M:%S")
    report = validate(ok, shop_schema)
    assert _kinds(report) == [("at", "wrong_type", "warning")]
    assert "holds dates stored as text" in report.anomalies[0].message


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            pd.to_timedelta(np.arange(3_000), unit="s"),
            "should be numeric, but it has dtype timedelta64",
        ),
        (
            pd.Series(np.arange(3_000) % 2 == 0),
            "should be numeric, but it has dtype bool (e.g. True, False)",
        ),
    ],
)
def test_other_dtypes_in_a_numeric_column(shop, shop_schema, values, message: str) -> None:
    bad = shop.assign(price=values)
    anomaly = _only(validate(bad, shop_schema), "wrong_type", "price")
    assert anomaly.severity == "error" and message in anomaly.message


def test_numbers_in_a_categorical_column_are_compared_as_text() -> None:
    schema = Schema([ColumnSchema("code", "categorical", categories=["1", "2"])])
    report = validate(pd.DataFrame({"code": [1, 2, 3]}), schema)
    assert _kinds(report) == [
        ("code", "wrong_type", "warning"),
        ("code", "unseen_category", "error"),
    ]
    assert report.anomalies[1].details["examples"] == ["3"]


# -- drift and jumps against the previous span ---------------------------------------------------


def test_a_shifted_numeric_column_drifts() -> None:
    df = load_diabetes(as_frame=True).frame
    previous = compute_statistics(df)
    shifted = df.assign(bmi=df["bmi"] + df["bmi"].std())
    report = validate(shifted, infer_schema(previous, range_tolerance=1.0), previous=previous)
    assert _kinds(report) == [("bmi", "drift", "warning")]
    anomaly = report.anomalies[0]
    assert anomaly.details["psi"] > 0.2 and anomaly.details["method"] == "psi"
    assert re.match(
        r"Column 'bmi' drifted from the previous span: PSI \d+\.\d{3} > 0\.2 \(mean ",
        anomaly.message,
    )


def test_a_reweighted_category_drifts_and_the_threshold_applies(
    shop, shop_stats, shop_schema
) -> None:
    shifted = shop.copy()
    shifted["colour"] = np.where(np.arange(len(shop)) % 10 < 8, "blue", shop["colour"])
    report = validate(shifted, shop_schema, previous=shop_stats)
    anomaly = _only(report, "drift", "colour")
    assert re.search(r"\('red' went from 5\d\.\d% to 1\d\.\d% of values\)", anomaly.message)
    score = anomaly.details["psi"]
    assert (
        validate(shifted, shop_schema, previous=shop_stats, drift_threshold=score + 0.01).anomalies
        == []
    )


def test_a_flag_that_flips_drifts(shop, shop_stats, shop_schema) -> None:
    flipped = shop.assign(member=~shop["member"])  # 40% -> 60% True: PSI 0.16, under 0.2
    assert validate(flipped, shop_schema, previous=shop_stats).anomalies == []
    report = validate(flipped, shop_schema, previous=shop_stats, drift_threshold=0.1)
    assert _kinds(report) == [("member", "drift", "warning")]
    assert report.anomalies[0].details["psi"] == pytest.approx(0.16, abs=0.02)


def test_statistics_give_the_same_report_as_the_data(shop, shop_stats, shop_schema) -> None:
    bad = shop.copy()
    bad.loc[:1500, "price"] = bad.loc[:1500, "price"] * 3
    bad.loc[:900, "note"] = None
    bad.loc[[7, 8], "colour"] = "mauve"
    without = validate(bad, shop_schema, previous=shop_stats)
    with_stats = validate(bad, shop_schema, statistics=compute_statistics(bad), previous=shop_stats)
    assert without == with_stats
    assert {a.kind for a in without.anomalies} == {
        "out_of_range",
        "drift",
        "missing_rate",
        "missing_rate_jump",
        "unseen_category",
    }


# -- every anomaly at once, and the report ---------------------------------------------------


def test_every_anomaly_is_reported_not_just_the_first(shop, shop_stats, shop_schema) -> None:
    bad = shop.copy().drop(columns=["quantity"]).assign(extra=1)
    bad["price"] = bad["price"].astype(object)
    bad.loc[0, "price"] = "free"
    bad.loc[1, "price"] = 1e9
    bad.loc[2, "colour"] = "purple"
    bad.loc[:, "note"] = None
    bad["member"] = True
    report = validate(bad, shop_schema, previous=shop_stats)
    assert _kinds(report) == [
        ("price", "wrong_type", "error"),
        ("price", "out_of_range", "warning"),
        ("quantity", "missing_column", "error"),
        ("colour", "unseen_category", "error"),
        ("member", "drift", "warning"),
        ("note", "missing_rate", "warning"),
        ("note", "missing_rate_jump", "warning"),
        ("extra", "extra_column", "warning"),
    ]
    assert {a.kind for a in report.anomalies} <= set(ANOMALY_KINDS)
    summary = report.summary()
    lines = summary.splitlines()
    assert lines[0] == "Validation of 3,000 rows x 6 columns: 3 errors, 5 warnings."
    assert len(lines) == 1 + len(report.anomalies)
    assert [line.split()[1] for line in lines[1:]] == ["ERROR"] * 3 + ["WARNING"] * 5
    for anomaly in report.anomalies:
        assert anomaly.message in summary
    with pytest.raises(DataValidationError) as info:
        report.raise_for_errors()
    assert str(info.value) == summary
    assert info.value.report is report
    assert isinstance(info.value, InvalidInputError) and isinstance(info.value, ValueError)
    assert "error.report lists every anomaly" in info.value.hint


def test_report_round_trips_through_json(shop, shop_stats, shop_schema) -> None:
    bad = shop.copy()
    bad.loc[0, "colour"] = "purple"
    bad.loc[1, "price"] = np.inf
    report = validate(bad, shop_schema, previous=shop_stats)
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["has_errors"] is True
    assert ValidationReport.from_dict(data) == report


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"format": 2}, "Not a validation report of format 1: got 2"),
        ({"format": 1, "anomalies": [{"kind": "x"}]}, "An anomaly dict needs the keys column"),
        (
            {
                "format": 1,
                "anomalies": [{"column": "a", "kind": "x", "severity": "fatal", "message": "m"}],
            },
            "An anomaly's severity must be 'error' or 'warning'. Got 'fatal' instead.",
        ),
    ],
)
def test_bad_report_dicts(data: dict, message: str) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        ValidationReport.from_dict(data)


# -- bad arguments ---------------------------------------------------------------------------


def test_duplicate_column_names_are_rejected(shop_schema) -> None:
    frame = pd.DataFrame([[1.0, 2.0]], columns=["price", "price"])
    with pytest.raises(
        InvalidInputError,
        match=re.escape(
            "validate needs unique column names, but the DataFrame has duplicate columns ['price']"
        ),
    ):
        validate(frame, shop_schema)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"schema": {"columns": []}}, "validate needs a Schema. Got dict instead."),
        (
            {"statistics": {"format": 1, "num_rows": 5, "columns": {}}},
            "describes 5 rows, but the DataFrame has 3000",
        ),
        (
            {"previous": {"columns": {}}},
            "The 'previous' argument of validate has statistics format None",
        ),
        (
            {"missing_jump": 1.5},
            "The 'missing_jump' argument of validate must be a float in [0, 1]. Got 1.5",
        ),
        (
            {"drift_threshold": -1},
            "The 'drift_threshold' argument of validate must be a float >= 0. Got -1",
        ),
        ({"df": [1, 2]}, "validate needs a pandas DataFrame. Got list instead."),
    ],
)
def test_bad_arguments_are_rejected(shop, shop_schema, kwargs: dict, message: str) -> None:
    arguments = {"df": shop, "schema": shop_schema, **kwargs}
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        validate(**arguments)


def test_values_equal_as_text_are_one_category() -> None:
    schema = Schema([ColumnSchema("code", "categorical", categories=["1"])])
    frame = pd.DataFrame({"code": pd.Series([1, "1", "2", 1], dtype=object)})
    anomaly = _only(validate(frame, schema), "unseen_category", "code")
    assert anomaly.details == {"count": 1, "distinct": 1, "examples": ["2"]}


def test_a_category_dtype_holding_numbers_in_a_numeric_column() -> None:
    schema = Schema([ColumnSchema("x", "numeric", min=0.0)])
    frame = pd.DataFrame({"x": pd.Series(["1.5", "-2", "oops"], dtype="category")})
    report = validate(frame, schema)
    assert _kinds(report) == [("x", "wrong_type", "error"), ("x", "out_of_range", "warning")]
    assert report.anomalies[0].details["examples"] == ["oops"]
    assert "outside the expected range [0, unbounded] (e.g. -2)" in report.anomalies[1].message
