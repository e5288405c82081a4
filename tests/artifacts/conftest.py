"""Fixtures of the artifact tests: stores on a local folder and on fsspec's memory://."""

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


@pytest.fixture
def memory_url() -> Iterator[str]:
    """A memory:// location of its own, emptied after the test."""
    url = f"memory://loopline-tests/{uuid.uuid4().hex}"
    yield url
    fs, path = fsspec.core.url_to_fs(url)
    if fs.exists(path):
        fs.rm(path, recursive=True)


@pytest.fixture
def memory_store(memory_url: str, registry: MaterializerRegistry) -> ArtifactStore:
    """An artifact store on fsspec's in-memory filesystem (the non-local code path)."""
    return ArtifactStore(memory_url, registry=registry)
