"""A project with trained model packages, shared by the registry tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sklearn.datasets import load_wine

from loopline.artifacts import ArtifactStore
from loopline.components import parse_workflow_config, standard_pipeline
from loopline.pipeline import Runner
from loopline.registry import Registry
from loopline.store import Store

FAST = {
    "training": {
        "folds": 3,
        "trials": 0,
        "candidates": [
            {"estimator": "sklearn.linear_model.LogisticRegression", "params": {"max_iter": 2000}}
        ],
    }
}


def train(project: Path, *, C: float = 1.0, source: str = "wine.csv") -> Any:
    """Run the standard pipeline once; return the run result."""
    raw = {
        "data": {"source": source, "target": "target"},
        "training": {
            **FAST["training"],
            "candidates": [
                {
                    "estimator": "sklearn.linear_model.LogisticRegression",
                    "params": {"max_iter": 2000, "C": C},
                }
            ],
        },
    }
    settings_store = Store(f"sqlite:///{project / 'loopline.db'}")
    with Runner(settings_store, ArtifactStore(project / "artifacts")) as runner:
        return runner.run(
            standard_pipeline(parse_workflow_config(raw), project, name="wine", store=runner.store)
        )


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two runs with different models in one project (trained once per module)."""
    project = tmp_path_factory.mktemp("registry")
    load_wine(as_frame=True).frame.to_csv(project / "wine.csv", index=False)
    first = train(project, C=1.0)
    second = train(project, C=0.01)
    return {"project": project, "runs": [first.run.id, second.run.id]}


@pytest.fixture
def registry(trained: dict[str, Any], tmp_path: Path) -> Registry:
    """A registry on a fresh copy of the trained project's store (tests stay independent)."""
    import shutil

    project = tmp_path / "p"
    shutil.copytree(trained["project"], project)
    store = Store(f"sqlite:///{project / 'loopline.db'}")
    yield Registry(store, ArtifactStore(project / "artifacts"), actor="tester")
    store.close()
