"""Tests for loopline.components._statistics and _drift_math."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine

from loopline.components import _statistics
from loopline.components._drift_math import psi
from loopline.components._statistics import (
    QUANTILES,
    bin_counts,
    check_statistics,
    column_kind,
    compute_statistics,
)
from loopline.errors import InvalidInputError


def _json_roundtrip(stats: dict) -> dict:
    """The stats must be strict JSON: no NaN, no infinity, only plain types."""
    return json.loads(json.dumps(stats, allow_nan=False))


@pytest.fixture(scope="module")
def wine() -> pd.DataFrame:
    return load_wine(as_frame=True).frame


@pytest.fixture(scope="module")
def mixed() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 2_000
    colours = np.array(["red", "green", "blue", "black"])
    frame = pd.DataFrame(
        {
            "x": rng.normal(10, 2, n),
            "k": rng.integers(0, 5, n),
            "colour": colours[rng.choice(4, n, p=[0.4, 0.3, 0.2, 0.1])],
            "flag": rng.random(n) < 0.3,
            "when": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 86_400, n), "s"),
        }
    )
    frame.loc[::10, "x"] = np.nan
    frame["colour"] = frame["colour"].astype(object)
    frame.loc[::25, "colour"] = None
    return frame


# -- real data: agrees with pandas ---------------------------------------------------------


@pytest.mark.parametrize("loader", [load_wine, load_breast_cancer, load_diabetes])
def test_numeric_statistics_agree_with_pandas(loader) -> None:
    df = loader(as_frame=True).frame
    stats = compute_statistics(df)
    assert _json_roundtrip(stats) == stats
    assert stats["format"] == 1
    assert stats["num_rows"] == len(df) and stats["num_columns"] == df.shape[1]
    described = df.describe()
    for name in df.columns:
        column = stats["columns"][name]
        assert column["kind"] == "numeric"
        assert column["dtype"] == str(df[name].dtype)
        assert column["count"] == described.loc["count", name]
        assert column["missing"] == 0 and column["missing_rate"] == 0.0
        assert column["distinct"] == df[name].nunique()
        assert column["zeros"] == int((df[name] == 0).sum())
        assert column["infinite"] == 0
        for key in ("mean", "std", "min", "max"):
            assert column[key] == pytest.approx(described.loc[key, name], rel=1e-9, abs=1e-12)
        expected = np.quantile(df[name].to_numpy(dtype=float), QUANTILES)
        got = [column["quantiles"][str(q)] for q in QUANTILES]
        assert got == pytest.approx(expected.tolist(), rel=1e-12, abs=1e-12)


def test_histogram_edges_are_quantiles_and_counts_sum_to_count(wine: pd.DataFrame) -> None:
    stats = compute_statistics(wine, bins=10)
    for name in wine.columns:
        column = stats["columns"][name]
        edges, counts = column["histogram"]["edges"], column["histogram"]["counts"]
        assert 2 <= len(edges) <= 11
        assert edges[0] == column["min"] and edges[-1] == column["max"]
        assert all(a < b for a, b in zip(edges, edges[1:], strict=False))
        assert len(counts) == len(edges) - 1
        assert sum(counts) == column["count"]
        assert counts == bin_counts(wine[name].to_numpy(dtype=float), edges).tolist()


def test_quantile_edges_balance_the_bins() -> None:
    values = np.random.default_rng(0).normal(size=10_000)
    column = compute_statistics(pd.DataFrame({"v": values}), bins=5)["columns"]["v"]
    assert column["histogram"]["counts"] == [2_000] * 5


def test_tied_edges_are_merged() -> None:
    values = np.r_[np.zeros(900), np.arange(1, 101)]
    column = compute_statistics(pd.DataFrame({"v": values}), bins=10)["columns"]["v"]
    edges = column["histogram"]["edges"]
    assert edges[0] == 0.0 and edges[-1] == 100.0
    assert len(edges) == len(set(edges)) < 11
    assert sum(column["histogram"]["counts"]) == 1_000
    assert column["zeros"] == 900


# -- kinds -------------------------------------------------------------------------------


def test_kinds_and_categorical_statistics(mixed: pd.DataFrame) -> None:
    stats = compute_statistics(mixed, top_k=2)
    columns = stats["columns"]
    assert {name: c["kind"] for name, c in columns.items()} == {
        "x": "numeric",
        "k": "numeric",
        "colour": "categorical",
        "flag": "boolean",
        "when": "datetime",
    }
    colour = columns["colour"]
    expected = mixed["colour"].value_counts()
    assert colour["missing"] == 80 and colour["count"] == 1_920
    assert colour["distinct"] == 4
    assert [t["value"] for t in colour["top"]] == expected.index[:2].tolist()
    assert [t["count"] for t in colour["top"]] == expected.iloc[:2].tolist()
    assert colour["top"][0]["frequency"] == pytest.approx(expected.iloc[0] / 1_920)
    assert colour["other_count"] == int(expected.iloc[2:].sum())
    assert colour["categories"] == ["black", "blue", "green", "red"]
    assert "mean" not in colour and "histogram" not in colour
    flag = columns["flag"]
    assert {t["value"] for t in flag["top"]} == {"True", "False"}
    assert flag["categories"] == ["False", "True"]
    assert columns["x"]["missing"] == 200
    assert _json_roundtrip(stats) == stats


def test_datetime_statistics_are_epoch_seconds(mixed: pd.DataFrame) -> None:
    column = compute_statistics(mixed)["columns"]["when"]
    # A naive pandas Timestamp's .timestamp() reads it as UTC, as the statistics do.
    assert column["min"] == mixed["when"].min().timestamp()
    assert column["max"] == mixed["when"].max().timestamp()
    assert column["mean"] == pytest.approx(mixed["when"].mean().timestamp())
    assert sum(column["histogram"]["counts"]) == len(mixed)


def test_timezone_aware_datetimes_are_utc() -> None:
    stamps = pd.Series(pd.to_datetime(["2024-01-01 01:00"])).dt.tz_localize("Europe/Paris")
    column = compute_statistics(pd.DataFrame({"t": stamps}))["columns"]["t"]
    assert column["kind"] == "datetime"
    assert column["min"] == pd.Timestamp("2024-01-01 00:00", tz="UTC").timestamp()


@pytest.mark.parametrize(
    ("series", "kind"),
    [
        (pd.Series([1, None, 3], dtype="Int64"), "numeric"),
        (pd.Series([1.5, None], dtype="Float64"), "numeric"),
        (pd.Series([1, 2], dtype="uint8"), "numeric"),
        (pd.Series([True, None], dtype="boolean"), "boolean"),
        (pd.Series(["1", "2.5"]), "categorical"),  # numbers as text stay categorical
        (pd.Series(["a", "b"], dtype="category"), "categorical"),
        (pd.Series([pd.Period("2024-01", "M")]), "categorical"),
    ],
)
def test_column_kind(series: pd.Series, kind: str) -> None:
    assert column_kind(series) == kind
    stats = compute_statistics(pd.DataFrame({"c": series}))
    assert stats["columns"]["c"]["kind"] == kind
    assert _json_roundtrip(stats) == stats


def test_nullable_integers_count_missing() -> None:
    column = compute_statistics(pd.DataFrame({"n": pd.array([1, None, 3, 3], dtype="Int64")}))
    entry = column["columns"]["n"]
    assert (entry["count"], entry["missing"], entry["distinct"], entry["mean"]) == (3, 1, 2, 7 / 3)


def test_unused_categories_are_not_counted() -> None:
    series = pd.Series(["a", "b", "a"], dtype=pd.CategoricalDtype(["a", "b", "zzz"]))
    entry = compute_statistics(pd.DataFrame({"c": series}))["columns"]["c"]
    assert entry["distinct"] == 2 and entry["categories"] == ["a", "b"]
    assert [t["value"] for t in entry["top"]] == ["a", "b"]


def test_categories_are_listed_only_up_to_max_categories() -> None:
    frame = pd.DataFrame({"c": [f"v{i}" for i in range(30)]})
    assert compute_statistics(frame, max_categories=29)["columns"]["c"]["categories"] is None
    entry = compute_statistics(frame, top_k=3)["columns"]["c"]
    assert len(entry["categories"]) == 30 and len(entry["top"]) == 3
    assert entry["other_count"] == 27


# -- edge cases ----------------------------------------------------------------------------


def test_all_missing_columns_have_no_summary_numbers() -> None:
    frame = pd.DataFrame({"x": [np.nan] * 4, "c": pd.Series([None] * 4, dtype=object)})
    stats = compute_statistics(frame)
    assert _json_roundtrip(stats) == stats
    x = stats["columns"]["x"]
    assert (x["count"], x["missing"], x["missing_rate"], x["distinct"]) == (0, 4, 1.0, 0)
    assert x["mean"] is x["std"] is x["min"] is x["max"] is None
    assert set(x["quantiles"].values()) == {None}
    assert x["histogram"] == {"edges": [], "counts": []}
    c = stats["columns"]["c"]
    assert (c["kind"], c["count"], c["top"], c["other_count"]) == ("categorical", 0, [], 0)


def test_infinities_are_counted_but_not_summarised() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, np.inf, -np.inf, np.nan, 3.0]})
    x = compute_statistics(frame)["columns"]["x"]
    assert (x["count"], x["missing"], x["infinite"]) == (5, 1, 2)
    assert (x["min"], x["max"], x["mean"]) == (1.0, 3.0, 2.0)
    assert sum(x["histogram"]["counts"]) == 5  # infinities land in the end bins
    json.dumps(x, allow_nan=False)


def test_huge_values_do_not_overflow_into_nan() -> None:
    frame = pd.DataFrame({"x": [-1.5e308, 1.5e308, 1.0e308]})
    x = compute_statistics(frame)["columns"]["x"]
    assert x["min"] == -1.5e308 and x["max"] == 1.5e308
    json.dumps(x, allow_nan=False)


def test_constant_column_keeps_one_bin() -> None:
    x = compute_statistics(pd.DataFrame({"x": [4.0] * 7}))["columns"]["x"]
    assert x["histogram"] == {"edges": [4.0, 4.0], "counts": [7]}
    assert x["std"] == 0.0 and x["distinct"] == 1


def test_single_row_has_no_std() -> None:
    x = compute_statistics(pd.DataFrame({"x": [4.0]}))["columns"]["x"]
    assert x["std"] is None and x["mean"] == 4.0


def test_nested_values_are_counted_as_text() -> None:
    entry = compute_statistics(pd.DataFrame({"n": [[1, 2], [3], [1, 2]]}))["columns"]["n"]
    assert entry["kind"] == "categorical"
    assert entry["top"][0] == {"value": "[1, 2]", "count": 2, "frequency": 2 / 3}


def test_non_string_column_names_become_strings() -> None:
    stats = compute_statistics(pd.DataFrame({0: [1.0], 1: ["a"]}))
    assert list(stats["columns"]) == ["0", "1"]


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame(), "needs at least one row and one column; got a DataFrame with 0 rows"),
        (pd.DataFrame({"x": pd.Series([], dtype=float)}), "with 0 rows and 1 columns"),
        (pd.DataFrame(index=range(3)), "with 3 rows and 0 columns"),
        (
            pd.DataFrame([[1, 2, 3]], columns=["a", "b", "a"]),
            "needs unique column names, but the DataFrame has duplicate columns ['a']",
        ),
        (
            pd.DataFrame([[1, 2]], columns=[1, "1"]),
            "duplicate columns ['1']",
        ),
        (
            pd.DataFrame({"d": pd.to_timedelta([1, 2], unit="s")}),
            "Column 'd' has dtype timedelta64",
        ),
        (pd.DataFrame({"z": [1 + 2j]}), "Column 'z' has dtype complex128"),
    ],
)
def test_bad_frames_are_rejected(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        compute_statistics(frame)


def test_a_non_frame_is_rejected() -> None:
    with pytest.raises(InvalidInputError, match="needs a pandas DataFrame. Got dict instead"):
        compute_statistics({"x": [1]})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bins": 0}, "The 'bins' argument of compute_statistics must be an int >= 1. Got 0"),
        ({"bins": True}, "The 'bins' argument of compute_statistics must be an int >= 1. Got True"),
        ({"bins": 2.5}, "must be an int >= 1. Got 2.5"),
        ({"top_k": -1}, "The 'top_k' argument of compute_statistics must be an int >= 0. Got -1"),
        ({"max_categories": -1}, "The 'max_categories' argument"),
    ],
)
def test_bad_arguments_are_rejected(kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        compute_statistics(pd.DataFrame({"x": [1.0]}), **kwargs)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "must be a statistics dict from compute_statistics"),
        ({"format": 1}, "with a 'columns' mapping. Got dict instead"),
        ({"format": 9, "columns": {}}, "has statistics format 9, but this version"),
        ({"format": 1, "columns": {"a": {"kind": "text"}}}, "column 'a' with kind 'text'"),
    ],
)
def test_check_statistics_rejects_other_dicts(value: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        check_statistics(value, "The 'x' argument")


# -- bin_counts ----------------------------------------------------------------------------


def test_bin_counts_clamps_to_the_end_bins_and_skips_nan() -> None:
    values = [-5.0, 0.0, 0.5, 1.0, 2.0, 9.0, np.nan, np.inf, -np.inf]
    assert bin_counts(values, [0.0, 1.0, 2.0]).tolist() == [4, 4]
    assert bin_counts(values, [0.0, 1.0, 2.0, 3.0]).tolist() == [4, 1, 3]
    assert bin_counts(values, [1.0]).tolist() == []
    assert bin_counts(values, [1.0, 1.0]).tolist() == [8]


def test_bin_counts_for_many_bins_matches_few_bins_semantics() -> None:
    values = np.random.default_rng(3).normal(size=5_000)
    values[::7] = np.nan
    edges = np.linspace(-2, 2, 201)  # 200 bins: the binary-search path
    counts = bin_counts(values, edges)
    assert counts.sum() == np.count_nonzero(~np.isnan(values))
    clipped = np.clip(values[~np.isnan(values)], -2, 2)
    assert counts.tolist() == np.histogram(clipped, edges)[0].tolist()


finite_floats = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
column_values = hnp.arrays(
    np.float64,
    st.integers(1, 200),
    elements=st.one_of(finite_floats, st.just(np.nan), st.sampled_from([0.0, 1.0, -2.5])),
)


@settings(max_examples=60, deadline=None)
@given(values=column_values, bins=st.integers(1, 20))
def test_histogram_counts_sum_to_the_non_missing_count(values: np.ndarray, bins: int) -> None:
    column = compute_statistics(pd.DataFrame({"v": values}), bins=bins)["columns"]["v"]
    present = values[~np.isnan(values)]
    assert column["count"] == present.size
    assert column["distinct"] == np.unique(present).size
    histogram = column["histogram"]
    if present.size:
        assert sum(histogram["counts"]) == present.size
        assert histogram["counts"] == bin_counts(values, histogram["edges"]).tolist()
        assert histogram["edges"][0] == present.min() and histogram["edges"][-1] == present.max()
        assert len(histogram["edges"]) <= bins + 1
        assert column["quantiles"]["0.5"] == pytest.approx(np.median(present), rel=1e-9, abs=1e-9)
    else:
        assert histogram == {"edges": [], "counts": []}


@settings(max_examples=60, deadline=None)
@given(
    values=hnp.arrays(np.float64, st.integers(0, 100), elements=finite_floats),
    edges=st.lists(finite_floats, min_size=2, max_size=80, unique=True).map(sorted),
)
def test_bin_counts_count_every_value_once(values: np.ndarray, edges: list[float]) -> None:
    counts = bin_counts(values, edges)
    assert counts.sum() == values.size and len(counts) == len(edges) - 1
    index = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
    assert counts.tolist() == np.bincount(index, minlength=len(edges) - 1).tolist()


# -- psi -------------------------------------------------------------------------------------


def test_psi_known_values() -> None:
    assert psi([10, 20, 30], [10, 20, 30]) == 0.0
    assert psi([50, 50], [90, 10]) == pytest.approx(0.4 * math.log(1.8) + 0.4 * math.log(5))
    assert psi([100, 0], [50, 50]) > 1.0  # an empty bin is smoothed, not infinite
    assert math.isfinite(psi([100, 0], [0, 100]))


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(0, 1_000), min_size=1, max_size=30).filter(lambda c: sum(c) > 0),
    scale=st.integers(1, 5),
)
def test_psi_is_zero_on_identical_distributions(counts: list[int], scale: int) -> None:
    assert psi(counts, [c * scale for c in counts]) == pytest.approx(0.0, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    pair=st.integers(1, 20)
    .flatmap(
        lambda n: st.tuples(
            st.lists(st.integers(0, 1_000), min_size=n, max_size=n),
            st.lists(st.integers(0, 1_000), min_size=n, max_size=n),
        )
    )
    .filter(lambda p: sum(p[0]) > 0 and sum(p[1]) > 0)
)
def test_psi_is_non_negative_and_symmetric(pair: tuple[list[int], list[int]]) -> None:
    expected, actual = pair
    score = psi(expected, actual)
    assert score >= 0.0
    assert score == pytest.approx(psi(actual, expected), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(
    ("expected", "actual", "kwargs", "message"),
    [
        ([1, 2], [1, 2, 3], {}, "expected_counts has 2 bins and actual_counts has 3"),
        ([], [], {}, "The 'expected_counts' argument of psi must be a non-empty 1-D sequence"),
        ([1, -1], [1, 1], {}, "must hold finite counts >= 0. Got [1.0, -1.0]"),
        ([1, np.nan], [1, 1], {}, "must hold finite counts >= 0"),
        ([1, 1], [0, 0], {}, "The 'actual_counts' argument of psi counts nothing"),
        ([1, 1], [1, 1], {"epsilon": 0.0}, "'epsilon' argument of psi must be a float in (0, 1)"),
    ],
)
def test_psi_rejects_bad_counts(expected, actual, kwargs, message) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        psi(expected, actual, **kwargs)


def test_numeric_columns_in_several_blocks_give_the_same_statistics(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    df = load_wine(as_frame=True).frame
    whole = compute_statistics(df)
    monkeypatch.setattr(_statistics, "_BLOCK_BYTES", 8 * len(df) * 3)  # 3 columns per block
    assert compute_statistics(df) == whole
