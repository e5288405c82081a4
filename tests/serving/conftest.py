"""The serving suites' fixtures: a trained project (once per module and store backend), a
copy of it per test, and a server on that copy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sklearn.datasets import load_wine

from loopline.artifacts import ArtifactStore
from loopline.registry import Registry
from loopline.serving import ServingOptions
from loopline.store import Store

from ..conftest import StoreUrls
from ..registry.conftest import copy_project, train
from ._server import ADMIN, TOKEN, Server


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory, module_store_urls: StoreUrls
) -> dict[str, Any]:
    """A project with two approved versions of 'wine', v1 in production, v2 in staging
    (once per module and store backend)."""
    project = tmp_path_factory.mktemp("serving")
    load_wine(as_frame=True).frame.to_csv(project / "wine.csv", index=False)
    url = module_store_urls.new()
    runs = [train(project, C=c, store_url=url).run.id for c in (1.0, 0.001)]
    with Store(url) as store:
        registry = Registry(store, ArtifactStore(project / "artifacts"))
        for run_id in runs:
            registry.register_run(run_id, name="wine", policy="auto")
        registry.promote("wine", 1)
        registry.promote("wine", 2, alias="staging")
    return {"project": project, "store_url": url}


@pytest.fixture
def project(trained: dict[str, Any], tmp_path: Path, store_urls: StoreUrls) -> Path:
    """A copy of the trained project (files and store), its loopline.toml naming both."""
    copy = tmp_path / "project"
    url = copy_project(trained, copy, store_urls)
    (copy / "loopline.toml").write_text(
        f'[store]\nurl = "{url}"\n[artifacts]\nurl = "artifacts"\n', encoding="utf-8"
    )
    return copy


@pytest.fixture
def server(project: Path) -> Iterator[Server]:
    options = ServingOptions(
        token=TOKEN,
        admin_token=ADMIN,
        request_log_dir=project / "requests",
        poll_interval=0.1,
        max_body_bytes=200_000,
    )
    with Server(project, {}, options) as running:
        yield running
