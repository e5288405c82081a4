"""Engines, transactions, migrations and schema versions, and concurrent writers."""

from __future__ import annotations

import re
import sqlite3
import time

import pytest
import sqlalchemy as sa

from loopline.errors import BackendUnavailableError, ConfigError, SchemaVersionError
from loopline.store import Store
from loopline.store import _schema as t
from loopline.store._engine import create_engine, current_revision, transaction, upgrade_to
from loopline.store._schema import SCHEMA_REVISION, VERSION_TABLE

WRITER_SCRIPT = """
    import os, sys, time
    from loopline.store import Store

    url, count, go = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    print("ready", flush=True)
    deadline = time.time() + 60
    while not os.path.exists(go):  # start together
        assert time.time() < deadline, "never told to go"
        time.sleep(0.001)
    started = time.time()
    store = Store(url)
    for i in range(count):
        run = store.runs.create(f"writer-{os.getpid()}", params={"i": i})
        metrics = [("m", float(i), i, time.time())]
        store.tracking.write(run.id, None, metrics=metrics, params={"i": i})
        store.events.append("run.started", "run", run.id, payload={"i": i})
        store.runs.finish(run.id, "succeeded")
    print("done", started, time.time(), flush=True)
"""


def revision_of(url: str) -> str | None:
    """The revision in the store's version table, read with plain SQLAlchemy."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(VERSION_TABLE):
                return None
            return conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar_one()
    finally:
        engine.dispose()


# -- URLs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "The store URL 'not a url' is not a valid SQLAlchemy URL."),
        ("", "The store URL '' is not a valid SQLAlchemy URL."),
        (
            "sqlite+nosuchdriver:///x.db",
            "The store URL 'sqlite+nosuchdriver:///x.db' needs a database driver "
            "that is not installed",
        ),
        (
            "nosuchdb://host/db",
            "The store URL 'nosuchdb://host/db' needs a database driver that is not installed",
        ),
    ],
)
def test_bad_urls_are_config_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        Store(url)
    assert info.value.value == url
    assert "sqlite:///" in info.value.hint or "pip install" in info.value.hint
    assert isinstance(info.value, ValueError)


def test_missing_driver_hint_says_what_to_install() -> None:
    with pytest.raises(ConfigError, match="needs a database driver") as info:
        Store("postgresql+nosuchdriver://user@localhost/db")
    assert info.value.hint == "For PostgreSQL: pip install 'loopline[postgres]'."


def test_config_errors_do_not_show_the_password() -> None:
    with pytest.raises(ConfigError) as info:
        Store("postgresql+nosuchdriver://user:s3cret@localhost/db")
    assert "s3cret" not in str(info.value)
    assert "s3cret" not in repr(info.value.data)


def test_an_unreachable_sqlite_file_is_backend_unavailable(tmp_path) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    with pytest.raises(
        BackendUnavailableError,
        match=re.escape(f"The metadata store at sqlite:///{folder} is unavailable"),
    ) as info:
        Store(f"sqlite:///{folder}")
    assert "writable" in info.value.hint
    assert isinstance(info.value, OSError)


def test_a_file_that_is_not_a_database_is_a_loopline_error(tmp_path) -> None:
    from loopline.errors import LooplineError

    path = tmp_path / "notes.db"
    path.write_bytes(b"these are not the tables you are looking for" * 100)
    with pytest.raises(LooplineError, match=re.escape(str(path))):
        Store(f"sqlite:///{path}")


def test_sqlite_parent_folders_are_created(tmp_path) -> None:
    path = tmp_path / "deep" / "er" / "loopline.db"
    with Store(f"sqlite:///{path}") as store:
        store.runs.create("x")
    assert path.is_file()


def test_sqlite_is_tuned_for_several_processes(sqlite_url: str) -> None:
    with Store(sqlite_url) as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 60_000


def test_in_memory_store() -> None:
    with Store("sqlite://") as store:
        run = store.runs.create("example")
        assert store.runs.get(run.id).name == "example"


def test_repr_hides_the_password(sqlite_url: str) -> None:
    with Store(sqlite_url) as store:
        assert repr(store) == f"Store({sqlite_url!r})"


# -- transactions ------------------------------------------------------------------------


def test_a_transaction_rolls_back_on_error(store: Store) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction(store.engine) as conn:
        conn.execute(t.pipelines.insert().values(name="p", created_at=0.0))
        raise Boom
    with transaction(store.engine, write=False) as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.pipelines)).scalar() == 0


def test_a_transaction_commits_on_success(store: Store) -> None:
    with transaction(store.engine) as conn:
        conn.execute(t.pipelines.insert().values(name="p", created_at=0.0))
    with transaction(store.engine, write=False) as conn:
        assert conn.execute(sa.select(t.pipelines.c.name)).scalars().all() == ["p"]


# -- schema versions ---------------------------------------------------------------------


def test_a_fresh_store_is_at_head(store_url: str) -> None:
    Store(store_url).close()
    assert revision_of(store_url) == SCHEMA_REVISION


def test_opening_twice_keeps_the_data(store_url: str) -> None:
    with Store(store_url) as store:
        run = store.runs.create("kept")
    with Store(store_url) as store:
        assert store.runs.get(run.id).name == "kept"
    assert revision_of(store_url) == SCHEMA_REVISION


def test_an_old_store_is_migrated_on_open_and_keeps_its_rows(store_url: str) -> None:
    engine = create_engine(store_url)
    try:
        upgrade_to(engine, "0001")
        with engine.begin() as conn:
            assert current_revision(conn) == "0001"
            assert not sa.inspect(conn).has_table("events")
            conn.execute(
                sa.text(
                    "INSERT INTO runs"
                    " (id, name, params, status, started_at, ended_at, host, pid, executor)"
                    " VALUES (:id, 'legacy', :params, 'succeeded', 1.0, 2.0, 'old-host', 1,"
                    " 'inprocess')"
                ),
                {"id": "0001" + "a" * 28, "params": '{"lr":0.1}'},
            )
    finally:
        engine.dispose()

    with Store(store_url) as store:
        run = store.runs.get("0001" + "a" * 28)
        assert (run.name, run.status, run.params, run.duration) == (
            "legacy",
            "succeeded",
            {"lr": 0.1},
            1.0,
        )
        store.events.append("run.migrated", "run", run.id)
        assert [e.kind for e in store.events.list()] == ["run.migrated"]
    assert revision_of(store_url) == SCHEMA_REVISION


def test_a_store_from_a_newer_loopline_is_refused(store_url: str) -> None:
    Store(store_url).close()
    engine = create_engine(store_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    finally:
        engine.dispose()
    with pytest.raises(SchemaVersionError, match="written by a newer Loopline") as info:
        Store(store_url)
    assert re.search(
        r"schema revision '9999'.*revisions up to '" + SCHEMA_REVISION + "'", str(info.value)
    )
    assert info.value.revision == "9999"
    assert "pip install -U loopline" in info.value.hint
    assert revision_of(store_url) == "9999"  # left untouched


def test_current_revision_reads_the_version_table(store_url: str) -> None:
    Store(store_url).close()
    engine = create_engine(store_url)
    try:
        with transaction(engine, write=False) as conn:
            assert current_revision(conn) == SCHEMA_REVISION
    finally:
        engine.dispose()


def test_a_store_with_the_former_version_table_name_still_opens(store_url: str) -> None:
    with Store(store_url) as store:
        run = store.runs.create("before the rename")
    engine = sa.create_engine(store_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"ALTER TABLE {VERSION_TABLE} RENAME TO alembic_version"))
    finally:
        engine.dispose()
    with Store(store_url) as store:
        assert store.runs.get(run.id).name == "before the rename"


# -- concurrency -------------------------------------------------------------------------


def test_two_processes_write_the_same_store_at_once(store_url: str, tmp_path, start_script) -> None:
    Store(store_url).close()
    count = 150
    go = tmp_path / "go"
    writers = [start_script(WRITER_SCRIPT, store_url, str(count), str(go)) for _ in range(2)]
    for proc in writers:
        assert proc.stdout.readline() == "ready\n", proc.communicate(timeout=60)[1]
    go.touch()
    spans = []
    for proc in writers:
        out, err = proc.communicate(timeout=120)
        assert "database is locked" not in err
        assert proc.returncode == 0, err
        word, started, ended = out.split()
        assert word == "done"
        spans.append((float(started), float(ended)))
    # The two writers really wrote at the same time.
    assert max(s for s, _ in spans) < min(e for _, e in spans)

    with Store(store_url) as store:
        runs = store.runs.list(limit=10 * count)
        assert len(runs) == 2 * count
        assert {r.status for r in runs} == {"succeeded"}
        assert len({r.pid for r in runs}) == 2
        for run in runs:
            assert store.tracking.params(run.id) == {"i": run.params["i"]}
            assert [m.value for m in store.tracking.metrics(run.id)] == [float(run.params["i"])]
        assert len(store.events.list(kind="run.*", limit=10 * count)) == 2 * count


OPEN_SCRIPT = """
    import sys
    from loopline.store import Store

    print("ready", flush=True)
    try:
        Store(sys.argv[1]).close()
    except Exception as exc:
        print(f"{type(exc).__name__}: {exc}", flush=True)
    else:
        print("ok", flush=True)
"""


def test_opening_waits_for_a_writer_of_a_file_not_yet_in_wal_mode(tmp_path, start_script) -> None:
    path = tmp_path / "fresh.db"
    # Another process is initialising the file: rollback journal, write lock held.
    holder = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        holder.execute("CREATE TABLE other (a)")
        holder.execute("BEGIN IMMEDIATE")
        opener = start_script(OPEN_SCRIPT, f"sqlite:///{path}")
        assert opener.stdout.readline() == "ready\n"
        time.sleep(0.5)  # the opener now waits on the lock (busy timeout: 60 s)
        holder.execute("COMMIT")
    finally:
        holder.close()
    out, err = opener.communicate(timeout=60)
    assert out.strip() == "ok", err
