"""A project with trained model packages, shared by the registry tests.

The project is trained once per module and backend; each test gets a copy of its store
(``copy_store``) and of its artifacts.
"""

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

from ..conftest import StoreUrls, copy_store

FAST = {
    "training": {
        "folds": 3,
        "trials": 0,
        "candidates": [
            {"estimator": "sklearn.linear_model.LogisticRegression", "params": {"max_iter": 2000}}
        ],
    }
}


def train(
    project: Path, *, C: float = 1.0, source: str = "wine.csv", store_url: str | None = None
) -> Any:
    """Run the standard pipeline once (store: ``store_url``, else the project's SQLite file)."""
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
    settings_store = Store(store_url or f"sqlite:///{project / 'loopline.db'}")
    with Runner(settings_store, ArtifactStore(project / "artifacts")) as runner:
        return runner.run(
            standard_pipeline(parse_workflow_config(raw), project, name="wine", store=runner.store)
        )


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory, module_store_urls: StoreUrls
) -> dict[str, Any]:
    """Two runs with different models in one project (trained once per module and backend)."""
    project = tmp_path_factory.mktemp("registry")
    load_wine(as_frame=True).frame.to_csv(project / "wine.csv", index=False)
    url = module_store_urls.new()
    first = train(project, C=1.0, store_url=url)
    second = train(project, C=0.01, store_url=url)
    return {"project": project, "store_url": url, "runs": [first.run.id, second.run.id]}


def copy_project(trained: dict[str, Any], folder: Path, store_urls: StoreUrls) -> str:
    """Copy the trained project's files to ``folder`` and its store to a new one; its URL."""
    import shutil

    shutil.copytree(trained["project"], folder)
    # On SQLite the copy lives in the project folder, as a user's store does by default.
    url = (
        f"sqlite:///{folder / 'loopline.db'}"
        if store_urls.backend == "sqlite"
        else store_urls.new()
    )
    copy_store(trained["store_url"], url)
    return url


@pytest.fixture
def registry(trained: dict[str, Any], tmp_path: Path, store_urls: StoreUrls) -> Registry:
    """A registry on a fresh copy of the trained project's store (tests stay independent)."""
    project = tmp_path / "p"
    store = Store(copy_project(trained, project, store_urls))
    yield Registry(store, ArtifactStore(project / "artifacts"), actor="tester")
    store.close()
