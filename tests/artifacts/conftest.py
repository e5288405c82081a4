"""Fixtures of the artifact tests: stores on a local folder, on fsspec's memory:// and on
an S3-protocol server (when ``LOOPLINE_TEST_S3_ENDPOINT`` names one)."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest

from loopline.artifacts import ArtifactStore, MaterializerRegistry


@pytest.fixture(autouse=True)
def system_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The folder ``tempfile`` uses in this test, so tests can see what is left there."""
    folder = tmp_path / "system-tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def registry() -> MaterializerRegistry:
    """A fresh registry of the built-in materializers (and installed plugins)."""
    return MaterializerRegistry()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The local folder of ``artifact_store``."""
    return tmp_path / "artifacts"


@pytest.fixture
def artifact_store(root: Path, registry: MaterializerRegistry) -> ArtifactStore:
    """An artifact store in a local folder."""
    return ArtifactStore(root, registry=registry)


@pytest.fixture(params=["memory", "s3"])
def remote_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A location of its own on a non-local filesystem, emptied after the test: fsspec's
    memory://, and s3:// on the test server (a bucket of its own, skipped without one)."""
    if request.param == "s3":
        yield f"{request.getfixturevalue('s3_bucket')}/artifacts"
        return
    url = f"memory://loopline-tests/{uuid.uuid4().hex}"
    yield url
    fs, path = fsspec.core.url_to_fs(url)
    if fs.exists(path):
        fs.rm(path, recursive=True)


@pytest.fixture
def remote_store(remote_url: str, registry: MaterializerRegistry) -> ArtifactStore:
    """An artifact store on ``remote_url`` (the non-local code path)."""
    return ArtifactStore(remote_url, registry=registry)


@pytest.fixture
def memory_store(registry: MaterializerRegistry) -> Iterator[ArtifactStore]:
    """An artifact store on fsspec's memory:// alone (the materializers' conformance run)."""
    url = f"memory://loopline-tests/{uuid.uuid4().hex}"
    yield ArtifactStore(url, registry=registry)
    fs, path = fsspec.core.url_to_fs(url)
    if fs.exists(path):
        fs.rm(path, recursive=True)
