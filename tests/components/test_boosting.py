"""The boosted candidates stop early on held-out rows (components/boosting.py): real
LightGBM and XGBoost fits, skipped when the optional package is not installed."""

from __future__ import annotations

import pickle
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from threadpoolctl import threadpool_limits

from loopline.components import build_preprocessor, default_candidates
from loopline.components._candidates import resolve_estimator_class
from loopline.errors import ConfigError

CAP = 200


def _classification_frame(rows: int = 600) -> tuple[pd.DataFrame, pd.Series]:
    X, y = make_classification(rows, 6, n_informative=4, class_sep=2.0, random_state=0)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(6)])
    return frame, pd.Series(np.where(y == 1, "yes", "no"), name="label")


def _regression_frame(rows: int = 600) -> tuple[pd.DataFrame, pd.Series]:
    """A step and a slope plus noise: learnt in a few dozen rounds, then only noise is left."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(rows, 6)), columns=[f"x{i}" for i in range(6)])
    y = 3.0 * (X["x0"] > 0) + X["x1"] + rng.normal(scale=0.5, size=rows)
    return X, y.rename("y")


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_default_lightgbm_candidate_stops_before_its_cap(task: str) -> None:
    pytest.importorskip("lightgbm")
    # Above 10,000 rows: early stopping is on by default ("auto").
    X, y = _classification_frame(12_000) if task == "classification" else _regression_frame(12_000)
    candidate = next(c for c in default_candidates(task) if c.name == "lightgbm")
    assert candidate.estimator.startswith("loopline.components.boosting.")
    assert candidate.params["n_estimators"] == CAP
    assert "n_estimators" not in candidate.search_space  # early stopping picks the rounds

    pipeline = candidate.build_pipeline(
        build_preprocessor(list(X.columns), []), random_state=0
    ).fit(X, y)

    model = pipeline.named_steps["model"]
    assert 0 < model.best_iteration_ < CAP
    assert model.booster_.current_iteration() < CAP
    predictions = pipeline.predict(X)
    if task == "classification":
        assert set(predictions) <= {"yes", "no"}
        assert (predictions == y).mean() > 0.9
    else:
        assert np.corrcoef(predictions, y)[0, 1] > 0.9


def test_default_xgboost_candidate_stops_before_its_cap() -> None:
    pytest.importorskip("xgboost")
    X, y = _regression_frame(12_000)
    candidate = next(c for c in default_candidates("regression") if c.name == "xgboost")
    pipeline = candidate.build_pipeline(
        build_preprocessor(list(X.columns), []), random_state=0
    ).fit(X, y)

    model = pipeline.named_steps["model"]
    assert 0 < model.best_iteration < CAP - 1
    assert model.get_booster().num_boosted_rounds() < CAP
    # The stopping rounds were set for the fit only: the parameters are unchanged.
    assert model.get_params()["early_stopping_rounds"] is None
    assert np.corrcoef(pipeline.predict(X), y)[0, 1] > 0.9


@pytest.mark.parametrize("name", ["LGBMClassifier", "LGBMRegressor", "XGBRegressor"])
def test_boosted_estimators_clone_and_pickle_with_their_own_parameters(name: str) -> None:
    pytest.importorskip("xgboost" if name.startswith("XGB") else "lightgbm")
    cls = resolve_estimator_class(f"loopline.components.boosting.{name}")
    extra = {"verbose": -1} if name.startswith("LGBM") else {}
    model = cls(validation_fraction=0.2, n_iter_no_change=3, n_estimators=50, **extra)

    copy = clone(model)

    assert copy.get_params()["validation_fraction"] == 0.2
    assert copy.get_params()["n_iter_no_change"] == 3
    X, y = _classification_frame(300) if name == "LGBMClassifier" else _regression_frame(300)
    fitted = copy.fit(X, y)
    again = pickle.loads(pickle.dumps(fitted))
    assert np.array_equal(again.predict(X), fitted.predict(X))


@pytest.mark.parametrize(
    ("rows", "params"),
    [
        (600, {}),  # "auto": no early stopping on 10,000 rows or fewer
        (600, {"early_stopping": True, "validation_fraction": None}),
        (600, {"early_stopping": False}),
        (60, {"early_stopping": True}),  # 6 held-out rows would be noise
    ],
)
def test_without_early_stopping_every_round_is_fitted(rows: int, params: dict) -> None:
    pytest.importorskip("lightgbm")
    from loopline.components.boosting import LGBMRegressor

    X, y = _regression_frame(rows)
    model = LGBMRegressor(n_estimators=CAP, verbose=-1, **params).fit(X, y)

    assert model.booster_.current_iteration() == CAP


def test_early_stopping_on_small_data_when_asked() -> None:
    pytest.importorskip("lightgbm")
    from loopline.components.boosting import LGBMRegressor

    X, y = _regression_frame(600)
    model = LGBMRegressor(n_estimators=CAP, early_stopping=True, verbose=-1).fit(X, y)

    assert 0 < model.best_iteration_ < CAP


def test_a_rare_class_is_kept_in_the_fitted_rows() -> None:
    pytest.importorskip("lightgbm")
    from loopline.components.boosting import LGBMClassifier

    X, y = _classification_frame(400)
    y = y.copy()
    y.iloc[0] = "rare"  # one row: no stratified split; it must stay with the fitted rows

    model = LGBMClassifier(n_estimators=CAP, early_stopping=True, verbose=-1, random_state=0)
    model.fit(X, y)

    assert list(model.classes_) == ["no", "rare", "yes"]
    assert model.best_iteration_ < CAP


@pytest.mark.parametrize("limit", [1, 2])
def test_lightgbm_threads_follow_the_openmp_limit(limit: int) -> None:
    pytest.importorskip("lightgbm")
    from loopline.components.boosting import LGBMRegressor

    X, y = _regression_frame(300)
    with threadpool_limits(limits=limit, user_api="openmp"):
        model = LGBMRegressor(n_estimators=20, verbose=-1).fit(X, y)

    assert model.booster_.params["num_threads"] == limit
    explicit = LGBMRegressor(n_estimators=20, verbose=-1, n_jobs=2).fit(X, y)
    assert explicit.booster_.params["num_threads"] == 2


def test_a_missing_optional_package_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # The package import fails as it does when lightgbm is not installed.
    monkeypatch.setitem(sys.modules, "lightgbm", None)
    monkeypatch.delitem(sys.modules, "loopline.components._boosting_lightgbm", raising=False)

    with pytest.raises(ConfigError, match=r"the package 'lightgbm' is not installed\. Install it"):
        resolve_estimator_class("loopline.components.boosting.LGBMClassifier")
