"""Tests for candidate algorithms and search spaces (components/_candidates.py)."""

from __future__ import annotations

import importlib.util
import re

import numpy as np
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from sklearn.base import is_classifier, is_regressor
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from loopline.components._candidates import (
    Candidate,
    default_candidates,
    infer_task,
    make_candidate,
    parse_search_space,
    resolve_estimator_class,
)
from loopline.errors import ConfigError, InvalidInputError


@pytest.mark.parametrize(
    ("task", "check", "names"),
    [
        (
            "classification",
            is_classifier,
            ["logistic_regression", "random_forest", "hist_gradient_boosting"],
        ),
        ("regression", is_regressor, ["ridge", "random_forest", "hist_gradient_boosting"]),
    ],
)
def test_default_candidates_build_with_valid_search_spaces(task, check, names) -> None:
    candidates = default_candidates(task)

    assert [c.name for c in candidates][:3] == names
    for candidate in candidates:
        estimator = candidate.build(random_state=0)
        assert check(estimator)
        space = parse_search_space(candidate.search_space, candidate=candidate.name)
        assert space, candidate.name
        candidate.check_param_names(space)


def test_default_logistic_regression_has_enough_iterations() -> None:
    estimator = default_candidates("classification")[0].build()
    assert isinstance(estimator, LogisticRegression)
    assert estimator.max_iter == 1000


@pytest.mark.skipif(importlib.util.find_spec("lightgbm") is not None, reason="lightgbm installed")
def test_optional_libraries_are_left_out_when_missing() -> None:
    names = [c.name for c in default_candidates("regression")]
    assert "lightgbm" not in names


def test_make_candidate_and_build() -> None:
    candidate = make_candidate(
        "sklearn.ensemble.RandomForestClassifier",
        {"n_estimators": 7},
        search_space={"max_depth": {"type": "int", "low": 2, "high": 8}},
        task="classification",
    )

    estimator = candidate.build({"max_depth": 3}, random_state=5)

    assert candidate.name == "random_forest_classifier"
    assert isinstance(estimator, RandomForestClassifier)
    assert (estimator.n_estimators, estimator.max_depth, estimator.random_state) == (7, 3, 5)


def test_explicit_random_state_wins() -> None:
    candidate = make_candidate("sklearn.ensemble.RandomForestRegressor", {"random_state": 1})
    assert candidate.build(random_state=99).random_state == 1


def test_build_pipeline_clones_the_preprocessor() -> None:
    scaler = StandardScaler()
    candidate = make_candidate("sklearn.linear_model.Ridge", {"alpha": 2.0}, name="ridge")

    pipeline = candidate.build_pipeline(scaler)

    assert isinstance(pipeline, Pipeline)
    assert pipeline.named_steps["preprocess"] is not scaler
    assert isinstance(pipeline.named_steps["model"], Ridge)


def test_candidate_round_trips_through_dict() -> None:
    candidate = default_candidates("classification")[1]
    assert Candidate.from_dict(candidate.to_dict()) == candidate


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (
            "sklearn.ensemble.RandomForestClasifier",
            "Cannot import estimator 'sklearn.ensemble.RandomForestClasifier': "
            "'sklearn.ensemble' has no 'RandomForestClasifier'. "
            "Did you mean 'sklearn.ensemble.RandomForestClassifier'? "
            "Give the dotted import path of a scikit-learn compatible estimator class, "
            "e.g. 'sklearn.ensemble.RandomForestClassifier'.",
        ),
        (
            "sklearn.ensemle.RandomForestClassifier",
            "Cannot import estimator 'sklearn.ensemle.RandomForestClassifier': 'sklearn' has no "
            "'ensemle'. Did you mean 'sklearn.ensemble.RandomForestClassifier'?",
        ),
        (
            "sklern.linear_model.Ridge",
            "Cannot import estimator 'sklern.linear_model.Ridge': '(top level)' has no 'sklern'. "
            "Did you mean 'sklearn.linear_model.Ridge'?",
        ),
        (
            "sklearn.linear_model.NoSuchModel",
            "Cannot import estimator 'sklearn.linear_model.NoSuchModel': 'sklearn.linear_model' "
            "has no 'NoSuchModel'. Give the dotted import path",
        ),
        (
            "LogisticRegresion",
            "Estimator 'LogisticRegresion' is not a dotted import path. Give the dotted import "
            "path of a scikit-learn compatible estimator class, e.g. "
            "'sklearn.ensemble.RandomForestClassifier'. "
            "Did you mean 'sklearn.linear_model.LogisticRegression'?",
        ),
        (
            "collections.OrderedDict",
            "'collections.OrderedDict' is not a scikit-learn estimator: it has no fit, "
            "get_params, set_params.",
        ),
        (
            "sklearn.preprocessing.StandardScaler",
            "'sklearn.preprocessing.StandardScaler' is not a scikit-learn estimator: it has no "
            "predict.",
        ),
        ("os.path.join", "'os.path.join' is a function, not a class."),
    ],
)
def test_bad_estimator_paths(path, message) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        resolve_estimator_class(path)
    assert info.value.value == path


@pytest.mark.skipif(importlib.util.find_spec("xgboost") is not None, reason="xgboost installed")
def test_known_but_missing_package() -> None:
    message = (
        "Cannot import estimator 'xgboost.XGBRegressor': the package 'xgboost' is not "
        "installed. Install it (pip install xgboost) or choose another candidate."
    )
    with pytest.raises(ConfigError, match=re.escape(message)):
        resolve_estimator_class("xgboost.XGBRegressor")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"params": {"n_estimator": 10}},
            "Unknown parameter 'n_estimator' for candidate 'rf' "
            "(sklearn.ensemble.RandomForestClassifier). Allowed: bootstrap,",
        ),
        (
            {"search_space": {"depth": {"type": "int", "low": 1, "high": 3}}},
            "Unknown search space parameter 'depth' for candidate 'rf'",
        ),
        (
            {"task": "regression"},
            "Candidate 'rf' (RandomForestClassifier) is not a regressor, so it cannot be used "
            "for regression.",
        ),
    ],
)
def test_bad_candidate_definitions(kwargs, message) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        make_candidate("sklearn.ensemble.RandomForestClassifier", name="rf", **kwargs)


def test_unknown_parameter_suggests_the_close_one() -> None:
    with pytest.raises(ConfigError, match=re.escape("Did you mean 'n_estimators'?")):
        make_candidate("sklearn.ensemble.RandomForestClassifier", {"n_estimator": 10})


def test_parse_search_space() -> None:
    space = parse_search_space(
        {
            "n_estimators": {"type": "int", "low": 10, "high": 300, "log": False},
            "C": {"type": "float", "low": 1e-4, "high": 10, "log": True},
            "step": {"type": "float", "low": 0, "high": 1, "step": 0.25},
            "max_features": {"type": "categorical", "choices": ["sqrt", None, 0.5]},
            "ready": IntDistribution(1, 2),
        }
    )

    assert space["n_estimators"] == IntDistribution(10, 300)
    assert space["C"] == FloatDistribution(1e-4, 10.0, log=True)
    assert space["step"] == FloatDistribution(0.0, 1.0, step=0.25)
    assert space["max_features"] == CategoricalDistribution(["sqrt", None, 0.5])
    assert space["ready"] == IntDistribution(1, 2)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"type": "gausian", "low": 0, "high": 1},
            "Unknown distribution 'gausian' for parameter 'C' of candidate 'logreg'. "
            "Use one of: categorical, float, int.",
        ),
        (
            {"type": "flot", "low": 0, "high": 1},
            "Unknown distribution 'flot' for parameter 'C' of candidate 'logreg'. "
            "Use one of: categorical, float, int. Did you mean 'float'?",
        ),
        (
            {"low": 0, "high": 1},
            "The search space for parameter 'C' of candidate 'logreg' must be a mapping with "
            "a 'type' (one of: categorical, float, int).",
        ),
        (
            {"type": "float", "low": 0.1},
            "The 'float' distribution for parameter 'C' of candidate 'logreg' needs 'low' and "
            "'high'; missing 'high'.",
        ),
        (
            {"type": "float", "low": 5, "high": 1},
            "'low' must not exceed 'high' in the 'float' distribution for parameter 'C' of "
            "candidate 'logreg'. Got low=5, high=1.",
        ),
        (
            {"type": "float", "low": 0, "high": 1, "log": True},
            "A log-scaled 'float' distribution for parameter 'C' of candidate 'logreg' needs "
            "low > 0. Got low=0.",
        ),
        (
            {"type": "int", "low": 1.5, "high": 3},
            "'low' of the 'int' distribution for parameter 'C' of candidate 'logreg' must be "
            "an integer. Got 1.5.",
        ),
        (
            {"type": "float", "low": "a", "high": 3},
            "'low' of the 'float' distribution for parameter 'C' of candidate 'logreg' must be "
            "a finite number. Got 'a'.",
        ),
        (
            {"type": "float", "low": 1, "high": 3, "log": "yes"},
            "'log' of the 'float' distribution for parameter 'C' of candidate 'logreg' must "
            "be true or false. Got 'yes'.",
        ),
        (
            {"type": "float", "low": 1, "high": 3, "log": True, "step": 1},
            "cannot have both 'step' and 'log'",
        ),
        (
            {"type": "int", "lo": 1, "high": 3},
            "Unknown key(s) 'lo' in the 'int' distribution for parameter 'C' of candidate "
            "'logreg'. Allowed: high, log, low, step, type.",
        ),
        (
            {"type": "categorical", "choices": []},
            "The 'categorical' distribution for parameter 'C' of candidate 'logreg' needs a "
            "non-empty list 'choices'. Got [].",
        ),
        (
            {"type": "categorical", "choices": [[1, 2]]},
            "Choices for parameter 'C' of candidate 'logreg' must be None, booleans, numbers "
            "or strings. Got [[1, 2]].",
        ),
    ],
)
def test_bad_search_spaces(spec, message) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_search_space({"C": spec}, candidate="logreg")


def test_search_space_must_be_a_mapping() -> None:
    with pytest.raises(ConfigError, match="A search space must be a mapping"):
        parse_search_space([("C", 1)])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (pd.Series(["a", "b", "a"], dtype="str"), "classification"),
        (pd.Series(["x", "y"], dtype="category"), "classification"),
        (pd.Series([True, False, True]), "classification"),
        (pd.Series([0, 1, 2, 1, 0]), "classification"),
        (pd.Series([0.0, 1.0, np.nan, 1.0]), "classification"),
        (pd.Series(np.arange(100)), "regression"),
        (pd.Series([0.5, 1.25, 3.0]), "regression"),
        ([1.5, 2.5], "regression"),
    ],
)
def test_infer_task(values, task) -> None:
    assert infer_task(values) == task


def test_infer_task_from_real_targets() -> None:
    from sklearn.datasets import load_diabetes, load_wine

    assert infer_task(load_wine(as_frame=True).target) == "classification"
    assert infer_task(load_diabetes(as_frame=True).target) == "regression"


def test_infer_task_needs_values() -> None:
    with pytest.raises(InvalidInputError, match="Cannot infer the task from an empty"):
        infer_task(pd.Series([np.nan, np.nan]))


def test_unknown_task() -> None:
    with pytest.raises(ConfigError, match=re.escape("Unknown task 'clustering'.")):
        default_candidates("clustering")
