"""Shared fixtures: every test runs in a clean environment and its own folder.

Store-using tests run over every available metadata-store backend through ``store_urls``
(SQLite always, PostgreSQL when ``LOOPLINE_TEST_POSTGRES_URL`` names a database: each
store is a schema of its own there, dropped afterwards). Tests of S3-compatible artifact
stores run when ``LOOPLINE_TEST_S3_ENDPOINT`` names an S3-protocol server (CI starts
moto's on loopback, see ``.ci/s3.sh``); each gets a bucket of its own.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from loopline.artifacts import ArtifactStore
from loopline.store import Store

POSTGRES_ENV = "LOOPLINE_TEST_POSTGRES_URL"
S3_ENV = "LOOPLINE_TEST_S3_ENDPOINT"
# Read once at import: the autouse ``clean_environ`` below removes every LOOPLINE_*
# variable before a test's fixtures run.
POSTGRES_URL = os.environ.get(POSTGRES_ENV)
S3_ENDPOINT = os.environ.get(S3_ENV)

#: The metadata-store backends, as fixture params (a plain skip mark, not skipif, so -ra
#: folds the skips into one line per file).
BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=()
        if POSTGRES_URL
        else pytest.mark.skip(reason=f"{POSTGRES_ENV} is not set: no PostgreSQL store tests."),
    ),
]


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No LOOPLINE_* variable leaks in, and the working directory is the test's folder."""
    for key in list(os.environ):
        if key.startswith("LOOPLINE_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project folder (a loopline.toml with a name)."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "loopline.toml").write_text('[project]\nname = "test"\n', encoding="utf-8")
    return folder


class StoreUrls:
    """Makes URLs of new, empty metadata stores of one backend; ``close`` drops them."""

    _counter = itertools.count()

    def __init__(self, backend: str, folder: Path) -> None:
        self.backend = backend
        self.folder = folder
        self._schemas: list[str] = []

    def new(self) -> str:
        """The URL of a new empty store (a SQLite file, or a PostgreSQL schema)."""
        if self.backend == "sqlite":
            return f"sqlite:///{self.folder / f'store-{next(self._counter)}' / 'loopline.db'}"
        assert POSTGRES_URL, "the postgresql param is skipped without it"
        schema = f"loopline_test_{uuid.uuid4().hex[:16]}"
        admin = sa.create_engine(POSTGRES_URL)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        admin.dispose()
        self._schemas.append(schema)
        url = sa.engine.make_url(POSTGRES_URL).update_query_dict(
            {"options": f"-csearch_path={schema}"}
        )
        return url.render_as_string(hide_password=False)

    def close(self) -> None:
        if not self._schemas:
            return
        admin = sa.create_engine(POSTGRES_URL or "")
        with admin.begin() as conn:
            for schema in self._schemas:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(scope="module", params=BACKENDS)
def store_backend(request: pytest.FixtureRequest) -> str:
    """The metadata-store backend of this module's tests (each module runs once per backend)."""
    return str(request.param)


@pytest.fixture
def store_urls(store_backend: str, tmp_path: Path) -> Iterator[StoreUrls]:
    """New empty stores of ``store_backend`` for one test."""
    urls = StoreUrls(store_backend, tmp_path)
    yield urls
    urls.close()


@pytest.fixture(scope="module")
def module_store_urls(
    store_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StoreUrls]:
    """New empty stores of ``store_backend`` shared by a module's tests (trained projects)."""
    urls = StoreUrls(store_backend, tmp_path_factory.mktemp("stores"))
    yield urls
    urls.close()


def copy_store(source: str, target: str) -> None:
    """Copy every row of Loopline's tables from the store at ``source`` to a new one.

    Tests train a project once per module and give each test a copy, whatever the backend.
    """
    from loopline.store._schema import VERSION_TABLE, metadata

    Store(target).close()  # creates the schema at the current revision
    src, dst = sa.create_engine(source), sa.create_engine(target)
    try:
        with src.connect() as read, dst.begin() as write:
            for table in metadata.sorted_tables:
                if table.name == VERSION_TABLE:
                    continue
                rows = [dict(row._mapping) for row in read.execute(table.select())]
                if rows:
                    write.execute(table.insert(), rows)
                if (
                    dst.dialect.name == "postgresql"
                    and rows
                    and "id" in table.c
                    and isinstance(table.c.id.type, sa.Integer)
                ):
                    # Explicit ids leave the serial sequence behind: move it past them.
                    write.exec_driver_sql(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"(SELECT MAX(id) FROM {table.name}))"
                    )
    finally:
        src.dispose()
        dst.dispose()


@pytest.fixture(scope="session")
def s3_endpoint() -> str:
    """The S3-protocol server of the S3 tests (skipped without one)."""
    if not S3_ENDPOINT:
        pytest.skip(f"{S3_ENV} is not set: no S3 tests.")
    return S3_ENDPOINT


@pytest.fixture
def s3_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The usual AWS variables pointing at the test server (also set in this process)."""
    env = {
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def s3_bucket(s3_env: dict[str, str]) -> Iterator[str]:
    """``s3://<a new bucket>``, emptied and removed after the test."""
    import s3fs

    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    bucket = f"loopline-test-{uuid.uuid4().hex[:12]}"
    fs.mkdir(bucket)
    yield f"s3://{bucket}"
    fs.invalidate_cache()
    if fs.exists(bucket):
        fs.rm(bucket, recursive=True)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """A metadata store in a SQLite file under the test's folder."""
    with Store(f"sqlite:///{tmp_path / 'store.db'}") as s:
        yield s


@pytest.fixture
def artifacts(tmp_path: Path) -> ArtifactStore:
    """An artifact store in a folder under the test's folder."""
    return ArtifactStore(tmp_path / "artifacts")


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the real ``loopline`` command in a subprocess."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPLINE_")}
    full_env.update(env or {})
    full_env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "loopline", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


#: A running Ray cluster to test the Ray executor and parallel tuning on (.ci/ray.sh starts
#: one with 'ray start --head --num-cpus 2'); read at import, as clean_environ removes it.
RAY_ADDRESS = os.environ.get("LOOPLINE_TEST_RAY_ADDRESS")


@pytest.fixture(scope="session")
def ray_cluster() -> str:
    """The address of the test Ray cluster, connected once per session; else the test skips."""
    if not RAY_ADDRESS:
        pytest.skip("LOOPLINE_TEST_RAY_ADDRESS names no Ray cluster (.ci/ray.sh starts one)")
    from loopline.pipeline import RayExecutor

    executor = RayExecutor(RAY_ADDRESS)  # connects this process; later executors reuse it
    yield RAY_ADDRESS
    executor.shutdown()
