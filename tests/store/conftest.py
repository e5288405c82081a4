"""Fixtures of the store tests: one store per backend, raw rows, subprocess scripts.

Every store test runs over ``store_url``: a SQLite file under ``tmp_path`` always, and
a PostgreSQL database when ``LOOPLINE_TEST_POSTGRES_URL`` names one (each test gets a
schema of its own there, dropped afterwards; see ``store_urls`` in tests/conftest.py).
"""

from __future__ import annotations

import hashlib
import itertools
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator

import pytest

from loopline.store import Artifact, Store

from ..conftest import StoreUrls


@pytest.fixture
def store_url(store_urls: StoreUrls) -> str:
    """URL of an empty metadata store, once per available backend."""
    return store_urls.new()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """URL of an empty SQLite store file, for tests of SQLite-only behaviour."""
    return f"sqlite:///{tmp_path / 'store' / 'loopline.db'}"


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An open store at ``store_url``, closed after the test."""
    with Store(store_url) as opened:
        yield opened


_counter = itertools.count()


@pytest.fixture
def make_artifact(store: Store) -> Callable[..., Artifact]:
    """Record a new artifact with content of its own; returns its record."""

    def make(label: str = "artifact", *, materializer: str = "json") -> Artifact:
        digest = hashlib.sha256(f"{label}-{next(_counter)}".encode()).hexdigest()
        return store.artifacts.add(
            uri=f"/objects/{digest[:2]}/{digest}",
            sha256=digest,
            type="dict",
            materializer=materializer,
            size=len(label),
            metadata={"label": label},
        )

    return make


@pytest.fixture
def start_script() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start ``python -c <code> <args>`` with text pipes; every one is killed after the test."""
    started: list[subprocess.Popen[str]] = []

    def start(code: str, *args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)
