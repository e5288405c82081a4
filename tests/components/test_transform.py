"""Tests for the preprocessing pipeline (components/_transform.py)."""

from __future__ import annotations

import re

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from loopline.components._transform import (
    CategoriesAsText,
    DateParts,
    FeatureFunctions,
    build_preprocessor,
)
from loopline.errors import ConfigError, InvalidInputError


def make_frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    """Numeric, pandas-3 string, categorical-dtype and datetime columns, with gaps."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "amount": rng.normal(100, 20, n),
            "count": rng.integers(0, 10, n).astype(float),
            "city": pd.Series(rng.choice(["paris", "lyon", "nice"], n), dtype="str"),
            "tier": pd.Series(rng.choice(["gold", "silver"], n), dtype="category"),
            "code": pd.Series([f"c{i % 40}" for i in range(n)], dtype="str"),
            "when": pd.date_range("2024-01-01", periods=n, freq="7h"),
        }
    )
    frame.loc[::17, "amount"] = np.nan
    frame.loc[::13, "city"] = None
    frame.loc[::19, "when"] = pd.NaT
    return frame


def add_ratio(frame: pd.DataFrame) -> pd.DataFrame:
    """A module-level feature function: it pickles with the model."""
    return frame.assign(ratio=frame["amount"] / (frame["count"] + 1))


def double_ratio(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(ratio=frame["ratio"] * 2)


def not_a_frame(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.to_numpy()  # type: ignore[return-value]


def drop_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.iloc[1:]


def test_output_is_dense_finite_float_with_expected_width() -> None:
    frame = make_frame()
    preprocessor = build_preprocessor(["amount", "count"], ["city", "tier"], ["when"])

    out = preprocessor.fit_transform(frame)

    # 2 numeric + 3 cities + 2 tiers + 7 date parts
    assert out.shape == (200, 14)
    assert out.dtype == np.float64
    assert np.isfinite(out).all()
    names = list(preprocessor.get_feature_names_out())
    assert "onehot_capped__city_paris" in names
    assert "datetime__when_dayofweek" in names


def test_numeric_columns_are_median_imputed_and_scaled() -> None:
    frame = pd.DataFrame({"x": [1.0, np.nan, 3.0, 5.0]})

    raw = build_preprocessor(["x"], [], scale=False).fit_transform(frame)
    scaled = build_preprocessor(["x"], []).fit_transform(frame)

    assert raw[:, 0].tolist() == [1.0, 3.0, 3.0, 5.0]
    assert scaled.mean() == pytest.approx(0.0)
    assert scaled.std() == pytest.approx(1.0)


def test_category_counts_route_to_onehot_or_target_encoding() -> None:
    frame = make_frame()
    y = (frame["code"].str[1:].astype(int) % 3).to_numpy()  # three classes
    preprocessor = build_preprocessor(
        [], ["city", "code"], category_counts={"city": 3, "code": 40}, max_onehot=20
    )

    out = preprocessor.fit_transform(frame, y)

    assert out.shape == (200, 3 + 3)  # one-hot city; code as one mean per class
    names = list(preprocessor.get_feature_names_out())
    assert names[-3:] == ["target__code_0", "target__code_1", "target__code_2"]


def test_unknown_categories_are_ignored_or_the_prior() -> None:
    train = make_frame()
    y = (train["code"].str[1:].astype(int) >= 20).astype(int).to_numpy()
    test = train.head(2).copy()
    test["city"] = pd.Series(["tokyo", "paris"], dtype="str")
    test["code"] = pd.Series(["never-seen", "c1"], dtype="str")
    preprocessor = build_preprocessor(
        [], ["city", "code"], category_counts={"city": 3, "code": 40}, scale=False
    )

    out = preprocessor.fit(train, y).transform(test)

    assert out[0, :3].tolist() == [0.0, 0.0, 0.0]  # one-hot: unknown -> no column set
    assert out[1, :3].sum() == 1.0
    assert out[0, 3] == pytest.approx(y.mean())  # target encoding: unknown -> the prior
    assert out[1, 3] < y.mean()  # c1's rows are all class 0


def test_uncounted_categorical_is_capped_at_max_onehot() -> None:
    frame = make_frame()

    out = build_preprocessor([], ["code"], max_onehot=5).fit_transform(frame)

    assert out.shape[1] == 5
    assert (out.sum(axis=1) == 1).all()


def test_categories_mixing_numbers_text_and_missing_are_encoded() -> None:
    frame = pd.DataFrame({"mixed": pd.Series([1, "a", None, 1, True], dtype=object)})

    out = build_preprocessor([], ["mixed"]).fit_transform(frame)

    assert out.shape == (5, 3)  # "1", "a", "True"; the gap filled with the mode "1"
    assert out[2].tolist() == out[0].tolist()


def test_categories_as_text_keeps_missing() -> None:
    out = CategoriesAsText().fit_transform(pd.DataFrame({"c": pd.Series(["a", None])}))
    assert out[0, 0] == "a"
    assert out[1, 0] is np.nan


def test_date_parts_from_datetimes_and_strings_agree() -> None:
    stamps = pd.Series(pd.to_datetime(["2024-03-05 14:30", None, "2023-12-31 23:00"]))
    strings = pd.Series(["2024-03-05 14:30", None, "2023-12-31 23:00"], dtype="str")

    from_stamps = DateParts().fit_transform(pd.DataFrame({"d": stamps}))
    from_strings = DateParts().fit_transform(pd.DataFrame({"d": strings}))

    elapsed = pd.Timestamp("2024-03-05 14:30").timestamp() / 86_400
    assert from_stamps[0].tolist() == pytest.approx([2024, 3, 5, 1, 65, 14, elapsed])
    assert np.isnan(from_stamps[1]).all()
    np.testing.assert_array_equal(from_stamps, from_strings)


def test_date_parts_unparseable_values_become_missing() -> None:
    frame = pd.DataFrame({"d": pd.Series(["2024-01-02", "not a date"], dtype="str")})
    out = DateParts(parts=("year",)).fit_transform(frame)
    assert out[0, 0] == 2024
    assert np.isnan(out[1, 0])


def test_date_parts_unknown_part() -> None:
    with pytest.raises(ConfigError, match=re.escape("Unknown date part(s) 'week' in DateParts")):
        DateParts(parts=("year", "week")).fit(pd.DataFrame({"d": ["2024-01-01"]}))


def test_feature_functions_run_first_and_feed_the_column_lists() -> None:
    frame = make_frame()
    preprocessor = build_preprocessor(
        ["ratio"], [], scale=False, feature_functions=[add_ratio, double_ratio]
    )

    out = preprocessor.fit_transform(frame.fillna({"amount": 100.0}))

    expected = 2 * frame["amount"].fillna(100.0) / (frame["count"] + 1)
    np.testing.assert_allclose(out[:, 0], expected)
    assert isinstance(preprocessor.named_steps["features"], FeatureFunctions)


def test_model_with_feature_functions_round_trips_through_joblib(tmp_path) -> None:
    frame = make_frame()
    target = (frame["count"] > 4).astype(int)
    model = Pipeline(
        [
            (
                "preprocess",
                build_preprocessor(
                    ["amount", "count", "ratio"],
                    ["city", "tier"],
                    ["when"],
                    feature_functions=[add_ratio],
                ),
            ),
            ("model", LogisticRegression(max_iter=1000)),
        ]
    ).fit(frame, target)
    path = tmp_path / "model.joblib"

    joblib.dump(model, path)
    loaded = joblib.load(path)

    np.testing.assert_array_equal(loaded.predict_proba(frame), model.predict_proba(frame))


def test_preprocessor_clones() -> None:
    preprocessor = build_preprocessor(["a"], ["b"], ["c"], feature_functions=[add_ratio])
    cloned = clone(preprocessor)
    assert cloned.get_params()["features__functions"] == [add_ratio]


def nested_factory():
    def nested(frame: pd.DataFrame) -> pd.DataFrame:
        return frame

    return nested


@pytest.mark.parametrize(
    ("function", "name"),
    [(lambda frame: frame, "<lambda>"), (nested_factory(), "nested_factory.<locals>.nested")],
)
def test_unpicklable_feature_function_is_refused(function, name) -> None:
    message = (
        f"Feature function '{name}' cannot be pickled with the model, so it could not be "
        "saved or served. Define it with 'def' at module level"
    )
    with pytest.raises(ConfigError, match=re.escape(message)):
        build_preprocessor(["a"], [], feature_functions=[function])


@pytest.mark.parametrize(
    ("function", "message"),
    [
        (
            not_a_frame,
            "Feature function 'not_a_frame' must return a pandas DataFrame. Got ndarray.",
        ),
        (drop_rows, "Feature function 'drop_rows' returned 199 rows for 200"),
    ],
)
def test_feature_function_bad_result(function, message) -> None:
    preprocessor = build_preprocessor(["amount"], [], feature_functions=[function])
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        preprocessor.fit(make_frame())


def test_feature_functions_need_a_dataframe() -> None:
    with pytest.raises(InvalidInputError, match="FeatureFunctions needs a pandas DataFrame"):
        FeatureFunctions([add_ratio]).fit(np.zeros((2, 2)))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"numeric": [], "categorical": []},
            "The preprocessor has no columns: give at least one numeric, categorical or "
            "datetime column.",
        ),
        (
            {"numeric": ["a", "b"], "categorical": ["b"]},
            "Column(s) 'b' are listed under more than one kind",
        ),
        (
            {"numeric": ["a"], "categorical": [], "max_onehot": 0},
            "The 'max_onehot' parameter must be an integer >= 1. Got 0 instead.",
        ),
    ],
)
def test_bad_configuration(kwargs, message) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        build_preprocessor(**kwargs)
