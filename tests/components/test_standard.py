"""The standard workflow built from loopline.toml: bad inputs fail early and clearly."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_wine

from loopline.artifacts import ArtifactStore
from loopline.components import (
    PIPELINE_NAME,
    default_candidates,
    load_package,
    parse_workflow_config,
    standard_pipeline,
)
from loopline.errors import ConfigError, StepFailedError
from loopline.pipeline import Runner
from loopline.store import Store


def _config(**sections: Any) -> Any:
    raw: dict[str, Any] = {"data": {"source": "data.csv", "target": "target"}}
    raw["training"] = {"folds": 3, "trials": 2}
    for key, value in sections.items():
        raw[key] = {**raw.get(key, {}), **value}
    return parse_workflow_config(raw)


def _run(tmp_path: Path, config: Any) -> Any:
    with Runner(Store(f"sqlite:///{tmp_path / 'l.db'}"), ArtifactStore(tmp_path / "a")) as runner:
        return runner.run(standard_pipeline(config, tmp_path, store=runner.store))


@pytest.fixture
def wine_csv(tmp_path: Path) -> Path:
    path = tmp_path / "data.csv"
    load_wine(as_frame=True).frame.to_csv(path, index=False)
    return path


def test_classification_end_to_end_in_process(tmp_path: Path, wine_csv: Path) -> None:
    result = _run(tmp_path, _config())
    assert result.status == "succeeded"
    board = result.load("select", "leaderboard")
    assert board["task"] == "classification" and board["metric"] == "accuracy"
    # Three built-in candidates, and LightGBM when it is installed (the test extras do).
    assert [r["name"] for r in board["rows"]] and len(board["rows"]) == len(
        default_candidates("classification")
    )
    verdict = result.load("bless", "blessing")
    assert verdict["blessed"] is True
    package = load_package(result.load("package", "package"))
    assert package.task == "classification"
    assert package.features == [c for c in pd.read_csv(wine_csv).columns if c != "target"]
    samples = package.samples()
    assert len(package.model.predict(samples)) == len(samples)
    assert (package.path / "model_card.md").read_text().startswith("# Model card: model")
    assert set(package.statistics["columns"]) == set(package.features)


def test_regression_with_explicit_candidates(tmp_path: Path) -> None:
    load_diabetes(as_frame=True).frame.to_csv(tmp_path / "data.csv", index=False)
    config = _config(
        training={
            "candidates": [
                {
                    "estimator": "sklearn.linear_model.Ridge",
                    "search_space": {
                        "alpha": {"type": "float", "low": 0.01, "high": 10, "log": True}
                    },
                },
                {"estimator": "sklearn.tree.DecisionTreeRegressor", "params": {"max_depth": 3}},
            ]
        },
        blessing={"thresholds": {"r2": 0.1}},
    )
    result = _run(tmp_path, config)
    board = result.load("select", "leaderboard")
    assert board["task"] == "regression" and board["metric"] == "rmse"
    assert [r["name"] for r in board["rows"]][0] == "ridge"
    evaluation = result.load("evaluate_model", "evaluation")
    assert {"rmse", "mae", "r2"} <= set(evaluation["metrics"])
    assert result.load("bless", "blessing")["blessed"] is True


def test_validation_stops_on_new_data_and_lists_every_anomaly(tmp_path: Path) -> None:
    frame = load_wine(as_frame=True).frame
    frame.insert(0, "cellar", np.where(frame["alcohol"] > 13, "north", "south"))
    frame.to_csv(tmp_path / "data.csv", index=False)
    _run(tmp_path, _config())
    bad = frame.astype({"magnesium": object})
    bad.loc[3, "magnesium"] = "lots"
    bad.loc[5, "cellar"] = "west"
    bad.to_csv(tmp_path / "new.csv", index=False)
    with pytest.raises(StepFailedError) as info:
        _run(tmp_path, _config(data={"source": "new.csv"}))
    message = str(info.value)
    assert "Step 'validate_data'" in message
    assert (
        "Column 'cellar' has 1 value outside its 2 allowed categories" in message
        and "'west'" in message
    )
    assert "Column 'magnesium' should be numeric" in message and "'lots'" in message
    with Store(f"sqlite:///{tmp_path / 'l.db'}") as store:
        run = store.runs.get(info.value.run_id)
        steps = [s.name for s in store.runs.steps(run.id)]
        assert "select" not in steps  # nothing expensive ran
        failed = [s for s in store.runs.steps(run.id) if s.status == "failed"][0]
        assert "validation" in store.runs.step_outputs(failed.id)


def test_second_run_on_unchanged_data_is_fully_cached(tmp_path: Path, wine_csv: Path) -> None:
    _run(tmp_path, _config())
    second = _run(tmp_path, _config())
    assert len(second.cached) == len(second.steps) == 12


def _write(tmp_path: Path, frame: pd.DataFrame, **kwargs: Any) -> None:
    frame.to_csv(tmp_path / "data.csv", index=False, **kwargs)


def _wine() -> pd.DataFrame:
    return load_wine(as_frame=True).frame


BAD_DATA = [
    ("empty file", lambda p: (p / "data.csv").write_text(""), "data.csv is empty."),
    (
        "header only",
        lambda p: (p / "data.csv").write_text("a,b,target\n"),
        "data.csv has a header but no rows.",
    ),
    (
        "missing target",
        lambda p: _write(p, _wine().rename(columns={"target": "taget"})),
        "data.target 'target' is not a column of the data (did you mean 'taget'?)",
    ),
    (
        "single class",
        lambda p: _write(p, _wine().assign(target=1)),
        "the target column 'target' has a single value (1); a model needs at least two",
    ),
    (
        "all-missing column",
        lambda p: _write(p, _wine().assign(empty=np.nan)),
        "column(s) ['empty'] are entirely missing",
    ),
    (
        "fewer rows than folds",
        lambda p: _write(p, _wine().head(3)),
        "3 rows with a target leave 2 for training, fewer than the 3 cross-validation folds",
    ),
    (
        "duplicate column names",
        lambda p: (p / "data.csv").write_text("a,a,target\n1,2,0\n3,4,1\n"),
        "data.csv has duplicate column names: 'a'.",
    ),
    (
        "not UTF-8",
        lambda p: (p / "data.csv").write_bytes(
            "name,target\ncaf\xe9,0\nth\xe9,1\n".encode("latin-1")
        ),
        "data.csv is not valid utf-8 text",
    ),
]


@pytest.mark.parametrize(("name", "make", "message"), BAD_DATA, ids=[b[0] for b in BAD_DATA])
def test_bad_data_fails_at_ingest(tmp_path: Path, name: str, make: Any, message: str) -> None:
    make(tmp_path)
    with pytest.raises(StepFailedError) as info:
        _run(tmp_path, _config())
    assert "Step 'ingest'" in str(info.value)
    assert message in str(info.value)
    with Store(f"sqlite:///{tmp_path / 'l.db'}") as store:
        assert [s.name for s in store.runs.steps(info.value.run_id)] == ["ingest"]


BAD_CONFIG = [
    (
        "glob matches nothing",
        {"data": {"source": "nothing/*.csv"}},
        "data.source 'nothing/*.csv' matches no file",
    ),
    (
        "candidate path does not exist",
        {"training": {"candidates": [{"estimator": "sklearn.ensemble.RandomForestClasifier"}]}},
        "RandomForestClassifier",
    ),
    (
        "unknown distribution",
        {
            "training": {
                "candidates": [
                    {
                        "estimator": "sklearn.linear_model.LogisticRegression",
                        "search_space": {"C": {"type": "gausian", "low": 1, "high": 2}},
                    }
                ]
            }
        },
        "Unknown distribution 'gausian' for parameter 'C'",
    ),
    ("unknown metric", {"training": {"metric": "acuracy"}}, "acuracy"),
    (
        "missing pinned schema",
        {"schema": {"path": "schema.json"}},
        "schema.path 'schema.json' does not exist",
    ),
]


@pytest.mark.parametrize(
    ("name", "sections", "message"), BAD_CONFIG, ids=[b[0] for b in BAD_CONFIG]
)
def test_bad_configuration_fails_before_any_run(
    tmp_path: Path, wine_csv: Path, name: str, sections: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        standard_pipeline(_config(**sections), tmp_path)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"data": {"source": "a.csv", "target": "t", "taget": "x"}},
            "unknown key data.taget (did you mean 'target'?)",
        ),
        ({"data": {"source": "a.csv"}}, "data.target is required"),
        (
            {"data": {"source": "a.csv", "target": "t"}, "training": {"folds": "five"}},
            "training.folds",
        ),
        (
            {"data": {"source": "a.csv", "target": "t"}, "split": {"test_size": 1.5}},
            "split.test_size",
        ),
        ({}, "has no [data] section"),
    ],
)
def test_bad_project_file_keys(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_workflow_config(raw)


def test_runs_are_recorded_under_the_training_pipeline(tmp_path: Path, wine_csv: Path) -> None:
    result = _run(tmp_path, _config())
    assert result.run.name == PIPELINE_NAME
