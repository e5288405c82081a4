"""Fixtures of the store tests: one store per backend, raw rows, subprocess scripts.

Every store test runs over ``store_url``: a SQLite file under ``tmp_path`` always, and
a PostgreSQL database when ``LOOPLINE_TEST_POSTGRES_URL`` names one (each test gets a
schema of its own there, dropped afterwards).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

from loopline.store import Artifact, Store

POSTGRES_ENV = "LOOPLINE_TEST_POSTGRES_URL"
# Read once at import: the autouse ``clean_environ`` of tests/conftest.py removes every
# LOOPLINE_* variable before a test's fixtures run.
POSTGRES_URL = os.environ.get(POSTGRES_ENV)


def _postgres_url() -> Iterator[str]:
    base = POSTGRES_URL
    assert base, "the postgresql param is skipped without it"
    schema = f"loopline_test_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = sa.engine.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            # A plain skip mark (not skipif) so -ra folds the skips into one line per file.
            marks=()
            if POSTGRES_URL
            else pytest.mark.skip(reason=f"{POSTGRES_ENV} is not set: no PostgreSQL store tests."),
        ),
    ]
)
def store_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """URL of an empty metadata store, once per available backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store' / 'loopline.db'}"
    else:
        yield from _postgres_url()


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
