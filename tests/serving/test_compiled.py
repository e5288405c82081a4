"""The compiled preprocessing gives scikit-learn's numbers and errors, or is not used."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from loopline.components import build_preprocessor
from loopline.serving._compiled import compile_preprocessing, compile_probabilities

NUMERIC = [
    "Culmen Length (mm)",
    "Culmen Depth (mm)",
    "Flipper Length (mm)",
    "Body Mass (g)",
    "Delta 15 N (o/oo)",
    "Delta 13 C (o/oo)",
]
CATEGORICAL = ["Island", "Sex", "Clutch Completion", "Individual ID"]


@pytest.fixture(scope="module")
def penguins() -> pd.DataFrame:
    """Palmer penguins (the raw table shipped by ``palmerpenguins``): gaps in most columns."""
    pytest.importorskip("palmerpenguins")
    path = resources.files("palmerpenguins").joinpath("data/penguins-raw.csv")
    with resources.as_file(path) as csv:
        frame = pd.read_csv(csv)
    frame["Date Egg"] = pd.to_datetime(frame["Date Egg"])
    return frame


def _fitted(frame: pd.DataFrame, **options: object) -> Pipeline:
    preprocess = build_preprocessor(
        NUMERIC,
        CATEGORICAL,
        ["Date Egg"],
        text=["Comments"],
        category_counts={c: frame[c].nunique() for c in CATEGORICAL},
        **options,  # type: ignore[arg-type]
    )
    return preprocess.fit(frame, frame["Species"])


@pytest.mark.parametrize("scale", [True, False])
def test_compiled_equals_scikit_learn_bit_for_bit_on_a_real_table(
    penguins: pd.DataFrame, scale: bool
) -> None:
    train, served = penguins.iloc[:250], penguins.iloc[250:]
    preprocess = _fitted(train, scale=scale)
    compiled = compile_preprocessing(preprocess, train.head(20))
    assert compiled is not None
    for frame in (served, served.head(1), served.iloc[[5, 2, 9]]):
        expected = preprocess.transform(frame)
        got = compiled(frame)
        assert got.dtype == expected.dtype and got.shape == expected.shape
        assert np.array_equal(got, expected, equal_nan=True)
    # Values it never saw at fit: missing numbers, unknown categories, a new date.
    odd = served.head(4).copy()
    odd[NUMERIC] = np.nan
    odd["Island"] = "Atlantis"
    odd["Date Egg"] = pd.Timestamp("2031-01-01")
    assert np.array_equal(compiled(odd), preprocess.transform(odd), equal_nan=True)


def test_inputs_it_does_not_handle_get_scikit_learns_own_errors(penguins: pd.DataFrame) -> None:
    preprocess = _fitted(penguins)
    compiled = compile_preprocessing(preprocess, penguins.head(20))
    assert compiled is not None
    for change in ({"Body Mass (g)": np.inf}, {"Body Mass (g)": "heavy"}):
        bad = penguins.head(3).astype({"Body Mass (g)": object})
        for column, value in change.items():
            bad.loc[bad.index[1], column] = value
        with pytest.raises(ValueError) as expected:
            preprocess.transform(bad)
        with pytest.raises(ValueError) as got:
            compiled(bad)
        assert str(got.value) == str(expected.value)
    with pytest.raises(ValueError, match="columns are missing"):
        compiled(penguins.head(3).drop(columns=["Body Mass (g)"]))


def test_a_float_overflow_raises_as_in_scikit_learn() -> None:
    frame = pd.DataFrame({"x": [0.0, 1e-10, 2e-10]})
    preprocess = build_preprocessor(["x"], []).fit(frame)
    compiled = compile_preprocessing(preprocess, frame)
    assert compiled is not None
    huge = pd.DataFrame({"x": [1e308]})
    with np.errstate(over="raise"):
        with pytest.raises(FloatingPointError):
            preprocess.transform(huge)
        with pytest.raises(FloatingPointError):
            compiled(huge)


def test_pipelines_it_does_not_know_are_left_to_scikit_learn(penguins: pd.DataFrame) -> None:
    numbers = penguins[NUMERIC].fillna(0.0)
    by_position = ColumnTransformer([("scale", StandardScaler(), [0, 1])]).fit(numbers)
    assert compile_preprocessing(Pipeline([("columns", by_position)]), numbers) is None
    assert (
        compile_preprocessing(Pipeline([("scale", StandardScaler().fit(numbers))]), numbers) is None
    )
    as_frames = build_preprocessor(NUMERIC, ["Island"]).fit(penguins).set_output(transform="pandas")
    assert compile_preprocessing(as_frames, penguins.head(5)) is None
    assert compile_preprocessing(_fitted(penguins), penguins.head(0)) is None


def test_a_passed_through_remainder_is_compiled_when_it_checks_out(penguins: pd.DataFrame) -> None:
    numbers = penguins[NUMERIC].fillna(0.0)
    passthrough = ColumnTransformer(
        [("scale", StandardScaler(), NUMERIC[:2])], remainder="passthrough"
    ).fit(numbers)
    compiled = compile_preprocessing(Pipeline([("columns", passthrough)]), numbers.head(9))
    assert compiled is not None
    assert np.array_equal(compiled(numbers), passthrough.transform(numbers))


@pytest.mark.parametrize("forest", [RandomForestClassifier, ExtraTreesClassifier])
@pytest.mark.parametrize("load", [load_wine, load_breast_cancer])
def test_forest_probabilities_equal_scikit_learns_bit_for_bit(forest: type, load: object) -> None:
    X, y = load(return_X_y=True)  # type: ignore[operator]
    model = forest(n_estimators=25, random_state=0).fit(X[::2], y[::2])
    fast = compile_probabilities(model, X[:10])
    assert fast is not None
    for rows in (X[1::2], X[1:2], X[::-3]):
        assert np.array_equal(fast(rows), model.predict_proba(rows))


@pytest.mark.parametrize("forest", [RandomForestClassifier, ExtraTreesClassifier])
def test_forest_probabilities_equal_scikit_learns_for_every_batch_size(forest: type) -> None:
    X, y = load_digits(return_X_y=True)  # whole numbers: many thresholds are exactly n + 0.5
    model = forest(n_estimators=30, random_state=1).fit(X[::2], y[::2])
    fast = compile_probabilities(model, X[:3])
    assert fast is not None
    rng = np.random.default_rng(7)
    for size in [*range(1, 70), 200]:  # small batches walk all trees at once, larger ones not
        shift = rng.choice([-0.5, 0.0, 0.5], (size, X.shape[1]))  # values on the thresholds
        rows = X[rng.integers(0, len(X), size)] + shift
        assert np.array_equal(fast(rows), model.predict_proba(rows)), size


def test_forest_inputs_it_does_not_handle_get_scikit_learns_answer_or_error() -> None:
    X, y = load_wine(return_X_y=True)
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)
    fast = compile_probabilities(model, X[:5])
    assert fast is not None
    with_gap = X[:3].copy()
    with_gap[1, 4] = np.nan  # forests learn where missing values go: scikit-learn decides
    assert np.array_equal(fast(with_gap), model.predict_proba(with_gap))
    with pytest.raises(ValueError) as expected:
        model.predict_proba(X[:3, :5])
    with pytest.raises(ValueError) as got:
        fast(X[:3, :5])
    assert str(got.value) == str(expected.value)
    with np.errstate(over="raise"):  # as served: too large for the trees' float32
        for predict_proba in (model.predict_proba, fast):
            with pytest.raises(FloatingPointError):
                predict_proba(np.full((2, X.shape[1]), 1e39))


def test_other_estimators_keep_their_own_predict_proba() -> None:
    X, y = load_wine(return_X_y=True)
    assert compile_probabilities(LogisticRegression(max_iter=5000).fit(X, y), X[:5]) is None
    two_outputs = RandomForestClassifier(n_estimators=5).fit(X, np.c_[y, y])
    assert compile_probabilities(two_outputs, X[:5]) is None
    assert compile_probabilities(RandomForestClassifier(n_estimators=5).fit(X, y), X[:0]) is None
