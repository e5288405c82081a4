"""Tests for drift detection (monitoring/_drift.py, _scoring.py, _baseline.py, _report.py).

Every baseline is the real ``compute_statistics`` of a frame, as a model carries it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats
from scipy.spatial.distance import jensenshannon
from sklearn.base import clone

from loopline.components._statistics import compute_statistics
from loopline.errors import ConfigError, InvalidInputError, NotFittedError
from loopline.monitoring import DriftDetector, DriftReport, FeatureBaseline, FeatureDrift

ROWS = 20_000
NUMERIC = [f"num_{i:02d}" for i in range(20)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]
SHIFTED = [*NUMERIC[:5], *CATEGORICAL[:2]]
#: Category weights, fixed once so that every sample shares one distribution.
_LEVELS = [np.array([f"level_{i}_{j:02d}" for j in range(6 + 2 * i)]) for i in range(5)]
_WEIGHTS = [
    np.sort(np.random.default_rng(100 + i).dirichlet(np.ones(levels.size)))[::-1]
    for i, levels in enumerate(_LEVELS)
]


def make_frame(rows: int, seed: int, *, shift: bool = False) -> pd.DataFrame:
    """20 numeric and 5 text columns, 1% missing; ``shift`` moves exactly ``SHIFTED``.

    The shifted numeric columns move by half a standard deviation, the shifted categorical
    ones swap their frequencies end for end.
    """
    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}
    for i, name in enumerate(NUMERIC):
        if i % 2:
            values, std = rng.normal(i, 1 + i, rows), 1.0 + i
        else:
            values, std = rng.gamma(2.0, 5.0 + i, rows), math.sqrt(2.0) * (5.0 + i)
        if shift and name in SHIFTED:
            values = values + 0.5 * std
        values[rng.random(rows) < 0.01] = np.nan
        columns[name] = values
    for i, name in enumerate(CATEGORICAL):
        weights = _WEIGHTS[i][::-1] if shift and name in SHIFTED else _WEIGHTS[i]
        values = _LEVELS[i].astype(object)[rng.choice(weights.size, rows, p=weights)]
        values[rng.random(rows) < 0.01] = None
        columns[name] = pd.array(values, dtype="str")
    return pd.DataFrame(columns)


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return make_frame(ROWS, seed=1)


@pytest.fixture(scope="module")
def statistics(reference: pd.DataFrame) -> dict[str, Any]:
    return compute_statistics(reference)


@pytest.fixture(scope="module")
def detector(statistics: dict[str, Any]) -> DriftDetector:
    return DriftDetector().fit(statistics)


# -- invariants -------------------------------------------------------------------------------

#: Numeric columns of every texture: continuous, few distinct values, constant, zero-inflated,
#: with missing values and infinities.
_number = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False),
    st.integers(-3, 3).map(float),
    st.just(0.0),
    st.just(float("nan")),
    st.sampled_from([float("inf"), float("-inf")]),
)
_numeric_column = st.one_of(
    st.lists(_number, min_size=1, max_size=150),
    st.lists(st.integers(0, 2).map(float), min_size=1, max_size=150),
    st.lists(st.just(7.5), min_size=1, max_size=150),
)
_text_column = st.lists(st.one_of(st.sampled_from("abcde"), st.none()), min_size=1, max_size=150)


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    """A frame of 1 to 6 numeric and text columns of one length."""
    kinds = draw(st.lists(st.sampled_from(["numeric", "text"]), min_size=1, max_size=6))
    rows = draw(st.integers(1, 150))
    columns: dict[str, Any] = {}
    for i, kind in enumerate(kinds):
        drawn: list[Any] = draw(_numeric_column if kind == "numeric" else _text_column)
        column = (drawn * rows)[:rows]
        if kind == "numeric":
            columns[f"c{i}"] = np.array(column, dtype=np.float64)
        else:
            columns[f"c{i}"] = pd.array(column, dtype="str")
    return pd.DataFrame(columns)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=frames())
def test_drift_is_zero_on_the_sample_the_baseline_was_computed_from(frame: pd.DataFrame) -> None:
    report = DriftDetector().fit(compute_statistics(frame)).score(frame)

    assert report.drifted_features == [] and not report.dataset_drift
    assert report.schema_violations == {}
    for feature in report.features:
        assert feature.compared and feature.missing_rate_change == 0.0
        assert feature.psi is None or feature.psi == pytest.approx(0.0, abs=1e-12)
        assert feature.js_distance is None or feature.js_distance == pytest.approx(0.0, abs=1e-6)
        assert feature.chi2_statistic is None or feature.chi2_statistic < 1e-9
        assert feature.out_of_range == 0 and feature.unseen in (0, None)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(2, 2**32 - 1))
def test_a_fresh_sample_of_the_same_distribution_is_not_flagged(
    detector: DriftDetector, seed: int
) -> None:
    report = detector.score(make_frame(ROWS, seed))

    assert report.drifted_features == []
    for feature in report.features:
        assert feature.psi is not None and feature.psi < 0.01
        assert feature.ks_statistic is None or feature.ks_statistic < 0.03
        assert feature.js_distance is None or feature.js_distance < 0.03


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(2, 2**32 - 1))
def test_exactly_the_shifted_features_are_flagged(
    detector: DriftDetector, statistics: dict[str, Any], seed: int
) -> None:
    report = detector.score(make_frame(ROWS, seed, shift=True))

    assert report.drifted_features == SHIFTED
    assert report.share_drifted == pytest.approx(7 / 25)
    assert not report.dataset_drift  # 28% < 50%
    strict = DriftDetector(drift_share=0.25).fit(statistics)
    assert strict.score(make_frame(2_000, seed, shift=True)).dataset_drift
    for name in NUMERIC[:5]:
        assert report.feature(name).reasons[0].startswith("KS ")
    for name in CATEGORICAL[:2]:
        assert report.feature(name).reasons[0].startswith("JS distance ")


# -- the tests against scipy ------------------------------------------------------------------


def test_ks_is_close_to_the_two_sample_test_on_the_raw_reference(
    reference: pd.DataFrame, detector: DriftDetector
) -> None:
    current = make_frame(ROWS, seed=7, shift=True)
    report = detector.score(current)
    for name in NUMERIC:
        exact = scipy_stats.ks_2samp(reference[name].dropna(), current[name].dropna())
        # The CDF rebuilt from deciles and 7 quantiles is off by < 0.01 for these shapes.
        assert report.feature(name).ks_statistic == pytest.approx(exact.statistic, abs=0.015)


def test_chi_square_is_the_two_sample_test_of_homogeneity(
    reference: pd.DataFrame, detector: DriftDetector
) -> None:
    current = make_frame(5_000, seed=8, shift=True)
    feature = detector.score(current).feature("cat_1")
    table = np.array(
        [
            reference["cat_1"].value_counts().reindex(_LEVELS[1]).to_numpy(),
            current["cat_1"].value_counts().reindex(_LEVELS[1], fill_value=0).to_numpy(),
        ]
    )
    expected = scipy_stats.chi2_contingency(table, correction=False)
    assert feature.chi2_statistic == pytest.approx(expected.statistic, rel=1e-9)
    assert feature.chi2_p_value == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-300)
    proportions = table / table.sum(axis=1, keepdims=True)
    js = jensenshannon(proportions[0], proportions[1], base=2)
    assert feature.js_distance == pytest.approx(js, rel=1e-9)


# -- one feature at a time --------------------------------------------------------------------


def test_a_missing_rate_jump_is_flagged(detector: DriftDetector) -> None:
    current = make_frame(ROWS, seed=9)
    current.loc[: ROWS // 4, "num_10"] = np.nan
    current.loc[: ROWS // 4, "cat_3"] = None

    report = detector.score(current)

    assert report.drifted_features == ["num_10", "cat_3"]
    feature = report.feature("num_10")
    assert feature.missing_rate == pytest.approx(0.25, abs=0.01)
    assert feature.missing_rate_change == pytest.approx(0.24, abs=0.01)
    assert feature.reasons[0].startswith("missing rate 1.0% -> 25.")
    assert feature.psi is not None and feature.psi < 0.01  # the values left did not move


def test_unseen_categories_are_counted(detector: DriftDetector) -> None:
    current = make_frame(ROWS, seed=10)
    current.loc[:99, "cat_2"] = "brand_new"
    current.loc[100:102, "cat_2"] = "other_new"

    feature = detector.score(current).feature("cat_2")

    assert feature.unseen == 103
    assert feature.unseen_values == ("brand_new", "other_new")
    assert feature.schema_violations == (
        "103 values of categories unseen in training: 'brand_new', 'other_new'",
    )
    assert not feature.drifted  # 0.5% of the values: a schema problem, not drift


def test_unseen_categories_are_unknown_without_the_full_category_list() -> None:
    frame = pd.DataFrame({"c": [f"v{i % 80}" for i in range(800)]})  # 80 > max_categories
    detector = DriftDetector().fit(compute_statistics(frame))

    feature = detector.score(pd.DataFrame({"c": ["v1", "zzz"] * 50})).feature("c")

    assert feature.unseen is None and feature.unseen_values == ()
    assert feature.drifted  # "zzz" falls in the "other" cell, which grew from 75% to ...


def test_out_of_range_values_are_counted(
    detector: DriftDetector, statistics: dict[str, Any]
) -> None:
    current = make_frame(1_000, seed=11)
    current.loc[:9, "num_01"] = 1e9
    current.loc[10:11, "num_01"] = -np.inf

    feature = detector.score(current).feature("num_01")

    assert feature.out_of_range == 12
    low, high = statistics["columns"]["num_01"]["min"], statistics["columns"]["num_01"]["max"]
    assert feature.schema_violations == (
        f"12 values outside the training range [{low:g}, {high:g}]",
    )


def test_an_empty_window_is_no_drift_and_says_so(detector: DriftDetector) -> None:
    for window in (make_frame(10, seed=12).iloc[:0], pd.DataFrame()):
        report = detector.score(window)

        assert report.n_rows == 0 and report.notes == ("no requests in the window",)
        assert not report.dataset_drift and report.drifted_features == []
        assert report.share_drifted is None and report.n_compared == 0
        assert report.missing_columns == () and report.schema_violations == {}
        assert report.summary().startswith("No dataset drift: nothing to compare (0 rows).")


def test_missing_columns_are_schema_violations_and_extra_ones_are_listed(
    detector: DriftDetector,
) -> None:
    current = make_frame(2_000, seed=13).drop(columns=["num_03", "cat_4"]).assign(new=1.0)

    report = detector.score(current)

    assert report.missing_columns == ("num_03", "cat_4")
    assert report.extra_columns == ("new",)
    violations = report.schema_violations  # also a few values beyond the training range
    assert violations["num_03"] == violations["cat_4"] == ["column missing from the window"]
    assert report.n_compared == 23 and report.drifted_features == []
    assert not report.feature("num_03").compared and not report.feature("num_03").drifted


@pytest.mark.parametrize(
    "empty",
    [
        pytest.param(np.full(2_000, np.nan), id="float NaN"),
        pytest.param(pd.Series([None] * 2_000, dtype=object), id="object None"),
        pytest.param(pd.array([None] * 2_000, dtype="str"), id="str NA"),
    ],
)
def test_a_column_of_only_missing_values_drifts_by_its_missing_rate(
    detector: DriftDetector, empty: Any
) -> None:
    current = make_frame(2_000, seed=14)
    current["num_05"] = empty
    current["cat_0"] = pd.array([None] * 2_000, dtype="str")

    report = detector.score(current)

    assert report.drifted_features == ["num_05", "cat_0"]
    feature = report.feature("num_05")
    assert feature.compared and feature.count == 0 and feature.missing_rate == 1.0
    assert feature.psi is None and feature.ks_statistic is None
    assert feature.note == "no values in the window: only the missing rate is compared"
    assert feature.schema_violations == ()


def test_a_column_without_training_values_compares_its_missing_rate_only() -> None:
    train = pd.DataFrame({"x": np.full(1_000, np.nan), "c": pd.array([None] * 1_000, dtype="str")})
    detector = DriftDetector().fit(compute_statistics(train))
    window = pd.DataFrame({"x": np.arange(100.0), "c": ["a"] * 100})

    report = detector.score(window)

    assert report.drifted_features == ["x", "c"]
    for feature in report.features:
        assert feature.note == "no values in the training data: only the missing rate is compared"
        assert feature.psi is None and feature.reasons[0].startswith("missing rate 100.0% -> 0.0%")
    assert report.feature("c").unseen == 100  # the training data listed no category at all


def test_a_constant_column_compares_on_its_single_value() -> None:
    train = pd.DataFrame({"k": np.full(5_000, 3.0)})
    statistics = compute_statistics(train)
    assert statistics["columns"]["k"]["histogram"]["edges"] == [3.0, 3.0]
    detector = DriftDetector().fit(statistics)

    same = detector.score(pd.DataFrame({"k": np.full(1_000, 3.0)})).feature("k")
    moved = detector.score(pd.DataFrame({"k": np.repeat([3.0, 4.0], [700, 300])})).feature("k")

    assert (same.psi, same.ks_statistic, same.drifted) == (0.0, 0.0, False)
    assert moved.psi == 0.0  # one bin: PSI cannot see it, the KS test does
    assert moved.ks_statistic == pytest.approx(0.3)
    assert moved.drifted and moved.out_of_range == 300


@pytest.mark.parametrize(
    ("draw", "moved"),
    [
        pytest.param(lambda r, n: r.poisson(1.5, n), lambda r, n: r.poisson(2.5, n), id="poisson"),
        pytest.param(
            lambda r, n: np.where(r.random(n) < 0.6, 0.0, r.exponential(size=n)),
            lambda r, n: np.where(r.random(n) < 0.4, 0.0, r.exponential(size=n)),
            id="zero-inflated",
        ),
        pytest.param(
            lambda r, n: np.minimum(r.normal(size=n), 0.5),
            lambda r, n: np.minimum(r.normal(0.5, size=n), 0.5),
            id="capped",
        ),
        pytest.param(
            lambda r, n: r.integers(0, 2, n).astype(float),
            lambda r, n: (r.random(n) < 0.7).astype(float),
            id="binary",
        ),
    ],
)
def test_discrete_and_atomic_columns_have_no_false_alarm_and_catch_moves(
    draw: Any, moved: Any
) -> None:
    rng = np.random.default_rng(15)
    detector = DriftDetector().fit(compute_statistics(pd.DataFrame({"x": draw(rng, 50_000)})))

    fresh = detector.score(pd.DataFrame({"x": draw(rng, 50_000)})).feature("x")
    shifted = detector.score(pd.DataFrame({"x": moved(rng, 50_000)})).feature("x")

    assert not fresh.drifted
    assert fresh.ks_statistic is not None and fresh.ks_statistic < 0.02
    assert shifted.drifted


def test_boolean_and_datetime_columns() -> None:
    rng = np.random.default_rng(16)
    stamps = pd.date_range("2024-01-01", periods=4_000, freq="h")
    train = pd.DataFrame({"flag": rng.random(4_000) < 0.2, "at": stamps})
    detector = DriftDetector().fit(compute_statistics(train))
    window = pd.DataFrame({"flag": rng.random(4_000) < 0.6, "at": stamps + pd.Timedelta(days=400)})

    report = detector.score(window)

    assert report.drifted_features == ["flag"]
    assert report.feature("at").note == "datetime: only the missing rate is compared"
    assert report.feature("at").ks_statistic is None


def test_a_column_of_the_wrong_type_is_a_schema_violation(detector: DriftDetector) -> None:
    current = make_frame(1_000, seed=17)
    current["num_02"] = current["num_02"].astype(str)

    feature = detector.score(current).feature("num_02")

    assert not feature.compared and not feature.drifted
    assert feature.schema_violations == ("expected numeric values, got dtype str",)


# -- predictions ------------------------------------------------------------------------------


def test_prediction_drift_uses_the_prediction_statistics(statistics: dict[str, Any]) -> None:
    rng = np.random.default_rng(18)
    scores = pd.DataFrame({"prediction": rng.beta(2, 5, ROWS)})
    detector = DriftDetector().fit(statistics, prediction_statistics=compute_statistics(scores))
    current = make_frame(5_000, seed=19)

    stable = detector.score(current, predictions=rng.beta(2, 5, 5_000))
    moved = detector.score(current, predictions=pd.Series(rng.beta(5, 2, 5_000)))
    without = detector.score(current)

    assert stable.prediction is not None and not stable.prediction_drift
    assert moved.prediction is not None and moved.prediction_drift
    assert moved.prediction.name == "prediction" and moved.drifted_features == []
    assert "Predictions drifted." in moved.summary()
    assert without.prediction is None
    assert without.notes == ("no predictions given: prediction drift not compared",)


def test_prediction_errors(detector: DriftDetector, statistics: dict[str, Any]) -> None:
    current = make_frame(100, seed=20)
    with pytest.raises(InvalidInputError, match="fitted without prediction_statistics"):
        detector.score(current, predictions=np.zeros(100))
    labels = pd.DataFrame({"label": ["a", "b"] * 50})
    fitted = DriftDetector().fit(statistics, prediction_statistics=compute_statistics(labels))
    with pytest.raises(InvalidInputError, match=re.escape("Got shape (100, 2) instead.")):
        fitted.score(current, predictions=np.zeros((100, 2)))
    with pytest.raises(InvalidInputError, match="must describe exactly one column"):
        DriftDetector().fit(statistics, prediction_statistics=statistics)
    report = fitted.score(current, predictions=pd.DataFrame({"label": ["a"] * 100}))
    assert report.prediction is not None and report.prediction.drifted


# -- scikit-learn conventions -----------------------------------------------------------------


def test_init_only_stores_parameters_and_round_trips_through_clone() -> None:
    detector = DriftDetector(psi_threshold=0.3, drift_share=0.4)

    assert detector.get_params() == {
        "psi_threshold": 0.3,
        "ks_alpha": 0.01,
        "ks_threshold": 0.1,
        "chi2_alpha": 0.01,
        "js_threshold": 0.1,
        "missing_rate_threshold": 0.05,
        "drift_share": 0.4,
    }
    copy = clone(detector.set_params(ks_threshold=0.2))
    assert copy.get_params() == detector.get_params() and copy is not detector
    assert DriftDetector(**copy.get_params()).get_params() == copy.get_params()
    assert DriftDetector(psi_threshold=-1).psi_threshold == -1  # checked in fit, not here
    assert repr(DriftDetector(js_threshold=0.2)) == "DriftDetector(js_threshold=0.2)"


def test_a_clone_of_a_fitted_detector_is_unfitted(detector: DriftDetector) -> None:
    assert detector.n_features_in_ == 25 and detector.feature_names_in_[:2] == NUMERIC[:2]
    assert isinstance(detector.baselines_["num_00"], FeatureBaseline)
    assert not hasattr(clone(detector), "baselines_")


def test_using_it_before_fit_raises_not_fitted() -> None:
    message = (
        "This DriftDetector is not fitted yet, so it cannot score. Call "
        "fit(reference_statistics) with the training statistics the model carries first."
    )
    with pytest.raises(NotFittedError, match=re.escape(message)) as caught:
        DriftDetector().score(pd.DataFrame({"x": [1.0]}))
    assert caught.value.hint is not None and "compute_statistics" in caught.value.hint
    with pytest.raises(NotFittedError, match="not fitted yet, so it has no baselines_. Call"):
        _ = DriftDetector().baselines_


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"psi_threshold": -1},
            "The 'psi_threshold' parameter of DriftDetector must be a float > 0. Got -1 instead.",
        ),
        (
            {"ks_alpha": 1.5},
            "The 'ks_alpha' parameter of DriftDetector must be a float in (0, 1). Got 1.5 instead.",
        ),
        (
            {"ks_threshold": True},
            "The 'ks_threshold' parameter of DriftDetector must be a float in [0, 1). "
            "Got True instead.",
        ),
        (
            {"js_threshold": "0.1"},
            "The 'js_threshold' parameter of DriftDetector must be a float in [0, 1). "
            "Got '0.1' instead.",
        ),
        (
            {"chi2_alpha": float("nan")},
            "The 'chi2_alpha' parameter of DriftDetector must be a float in (0, 1). "
            "Got nan instead.",
        ),
        (
            {"missing_rate_threshold": 1},
            "The 'missing_rate_threshold' parameter of DriftDetector must be a float in "
            "[0, 1). Got 1 instead.",
        ),
        (
            {"drift_share": 0},
            "The 'drift_share' parameter of DriftDetector must be a float in (0, 1]. "
            "Got 0 instead.",
        ),
    ],
)
def test_bad_parameters_fail_at_fit_with_a_clear_message(
    statistics: dict[str, Any], params: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        DriftDetector(**params).fit(statistics)
    got = caught.value.data["value"]
    assert got is params[next(iter(params))] or math.isnan(got)
    assert caught.value.data["parameter"] == next(iter(params))


def test_a_parameter_set_out_of_range_after_fit_fails_at_score(detector: DriftDetector) -> None:
    broken = clone(detector).set_params(drift_share=2.0)
    broken.baselines_ = detector.baselines_
    with pytest.raises(ConfigError, match="'drift_share' parameter"):
        broken.score(make_frame(10, seed=21))


def _garble(statistics: dict[str, Any], column: str, **changes: Any) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(statistics))
    copy["columns"][column].update(changes)
    return copy


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: [1, 2], "must be a statistics dict from compute_statistics"),
        (lambda s: {**s, "format": 99}, "has statistics format 99"),
        (lambda s: {**s, "columns": {}}, "describes no columns"),
        (
            lambda s: _garble(s, "num_00", histogram={"edges": [0.0, 1.0], "counts": [1, 2]}),
            "column 'num_00' in a way drift detection cannot read: the histogram needs at "
            "least 2 increasing edges and one count per bin (got 2 edges and 2 counts)",
        ),
        (
            lambda s: _garble(s, "num_00", histogram={"edges": [0.0, None], "counts": [1]}),
            "the histogram edges must be finite numbers",
        ),
        (lambda s: _garble(s, "num_00", count=-1), "'count' must be an int >= 0"),
        (lambda s: _garble(s, "cat_0", top="abc"), "'top' must be a list of {value, count}"),
        (lambda s: _garble(s, "num_01", quantiles={"x": 1.0}), "quantile key 'x'"),
    ],
)
def test_bad_statistics_fail_at_fit_with_a_clear_message(
    statistics: dict[str, Any], change: Any, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        DriftDetector().fit(change(statistics))


def test_score_needs_a_dataframe(detector: DriftDetector) -> None:
    with pytest.raises(InvalidInputError, match="DriftDetector.score needs a pandas DataFrame"):
        detector.score(np.zeros((3, 25)))


# -- the report -------------------------------------------------------------------------------


def test_the_report_round_trips_through_json_without_nan(detector: DriftDetector) -> None:
    current = make_frame(3_000, seed=22, shift=True).drop(columns=["num_19"]).assign(extra=1)
    current["num_05"] = np.nan
    current.loc[:4, "cat_2"] = "unseen"
    report = detector.score(current)

    data = report.to_dict()
    text = json.dumps(data, allow_nan=False)
    again = DriftReport.from_dict(json.loads(text))

    assert again == report
    assert again.to_dict() == data
    assert data["format"] == 1 and data["n_rows"] == 3_000
    assert data["drifted_features"] == [*NUMERIC[:5], "num_05", *CATEGORICAL[:2]]
    assert data["features"]["num_05"]["psi"] is None
    assert data["features"]["num_19"]["schema_violations"] == ["column missing from the window"]
    assert data["features"]["cat_2"]["unseen"] == 5
    fields = {f.name for f in dataclasses.fields(FeatureDrift)}
    assert set(data["features"]["num_00"]) == fields - {"name"} | {"missing_rate_change"}
    assert data["params"] == detector.get_params()
    with pytest.raises(ValueError, match="format 2"):
        DriftReport.from_dict({**data, "format": 2})


def test_the_summary_reads_well(detector: DriftDetector) -> None:
    current = make_frame(3_000, seed=23, shift=True).drop(columns=["num_19"])
    summary = detector.score(current).summary()

    lines = summary.splitlines()
    assert lines[0] == (
        "No dataset drift: 7 of 24 features drifted (29%; the dataset drifts at 50%), 3,000 rows."
    )
    assert lines[1].split() == ["feature", "kind", "psi", "ks", "js", "missing", "verdict"]
    assert any(
        line.split()[:2] == ["num_00", "numeric"] and "drifted: KS" in line for line in lines
    )
    assert lines[-1] == "  schema: 'num_19': column missing from the window"
