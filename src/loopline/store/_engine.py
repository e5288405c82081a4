"""Connecting to the metadata store: engines, transactions, migrations, error mapping.

SQLite is tuned for several processes writing one file: WAL so readers never block,
a busy timeout so writers wait instead of failing, and ``BEGIN IMMEDIATE`` for write
transactions so two writers never deadlock on a read-to-write lock upgrade (the
cause of "database is locked" with SQLite's default deferred transactions; see
https://www.sqlite.org/lang_transaction.html).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from ..errors import BackendUnavailableError, ConfigError, SchemaVersionError
from ..errors import IntegrityError as StoreIntegrityError
from ._schema import SCHEMA_REVISION, VERSION_TABLE

_MIGRATIONS = Path(__file__).parent / "_migrations"
_BUSY_TIMEOUT_S = 60.0
_migrate_lock = threading.Lock()


def create_engine(url: str) -> Engine:
    """Create an engine for ``url`` with Loopline's settings for its backend.

    Raises:
        ConfigError: The URL cannot be parsed or names a driver that is not installed.
    """
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        masked = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
        raise ConfigError(
            f"The store URL {masked!r} is not a valid SQLAlchemy URL.",
            hint="Use e.g. 'sqlite:///path/to/loopline.db' or "
            "'postgresql+psycopg://user:pass@host/db'.",
            value=masked,
        ) from exc
    shown = parsed.render_as_string(hide_password=True)
    is_sqlite = parsed.get_backend_name() == "sqlite"
    kwargs: dict[str, Any] = {}
    if is_sqlite:
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": _BUSY_TIMEOUT_S, "check_same_thread": False}
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = sa.create_engine(url, **kwargs)
    except (sa.exc.NoSuchModuleError, ModuleNotFoundError) as exc:
        raise ConfigError(
            f"The store URL {shown!r} needs a database driver that is not installed "
            f"({type(exc).__name__}).",
            hint="For PostgreSQL: pip install 'loopline[postgres]'.",
            value=shown,
        ) from exc
    if is_sqlite:
        _tune_sqlite(engine)
    elif parsed.get_backend_name() == "postgresql":
        _serialize_postgres_writes(engine)
    return engine


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below issue BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(_BUSY_TIMEOUT_S * 1000)}")
        _enable_wal(cursor)
        # NORMAL is durable against a crash of the process (not of the OS) in WAL mode.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("loopline_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


#: Advisory-lock class of Loopline's write transactions (the second key is the schema's).
_WRITE_LOCK = 7243002


def _serialize_postgres_writes(engine: Engine) -> None:
    """Give PostgreSQL write transactions SQLite's ``BEGIN IMMEDIATE`` meaning.

    The stores read, check and then write in one transaction (the next version number,
    where an alias points now, who holds a lock). Under PostgreSQL's default READ
    COMMITTED two such transactions can both pass the check: two alias moves would both
    record the same previous version, two processes would both insert the same lock. A
    transaction-scoped advisory lock, per schema, taken when a write transaction begins
    makes writers take turns as on SQLite, while readers never wait (decision 0008).
    """

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("loopline_write", False):
            conn.exec_driver_sql(
                f"SELECT pg_advisory_xact_lock({_WRITE_LOCK}, hashtext(current_schema()))"
            )


def _enable_wal(cursor: Any) -> None:
    """Switch to WAL, waiting while another process holds the lock of a fresh file.

    Changing the journal mode does not go through SQLite's busy handler, so processes
    opening a new store together would otherwise see "database is locked" at once.
    """
    import sqlite3

    deadline = time.monotonic() + _BUSY_TIMEOUT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


@contextmanager
def transaction(engine: Engine, *, write: bool = True) -> Iterator[Connection]:
    """A connection inside one transaction, committed on success, rolled back on error.

    Raises:
        BackendUnavailableError: The database could not be reached or stayed locked.
    """
    with translate_errors(engine), engine.connect() as conn:
        if write:
            conn = conn.execution_options(loopline_write=True)
        with conn.begin():
            yield conn


@contextmanager
def translate_errors(engine: Engine) -> Iterator[None]:
    """Turn SQLAlchemy's connection failures into :class:`BackendUnavailableError`."""
    shown = engine.url.render_as_string(hide_password=True)
    try:
        yield
    except sa.exc.OperationalError as exc:
        raise BackendUnavailableError(
            f"The metadata store at {shown} is unavailable: {exc.orig}",
            hint="Check that the database is reachable and its file or server is writable.",
            url=shown,
        ) from exc
    except sa.exc.IntegrityError:
        raise  # a broken constraint: the caller knows which record it was about
    except sa.exc.DatabaseError as exc:
        raise StoreIntegrityError(
            f"The metadata store at {shown} cannot be read: {exc.orig}",
            hint="Point LOOPLINE_STORE_URL (or [store] url) at a Loopline store, or at a new file.",
            url=shown,
        ) from exc


#: The version table's name before Loopline's own name (kept to open early stores).
_FORMER_VERSION_TABLE = "alembic_version"
#: Loopline's revisions are four digits; Optuna's, in the same table name, are not.
_LOOPLINE_REVISION = re.compile(r"^\d{4}$")


def current_revision(conn: Connection) -> str | None:
    """The Alembic revision the database is at, or None for an empty database."""
    inspector = sa.inspect(conn)
    if inspector.has_table(VERSION_TABLE):
        return conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").scalar()
    return _former_revision(conn)


def _former_revision(conn: Connection) -> str | None:
    """The revision of a store whose version table still has Alembic's default name."""
    inspector = sa.inspect(conn)
    if not (inspector.has_table(_FORMER_VERSION_TABLE) and inspector.has_table("runs")):
        return None
    revision = conn.exec_driver_sql(f"SELECT version_num FROM {_FORMER_VERSION_TABLE}").scalar()
    return revision if revision and _LOOPLINE_REVISION.match(revision) else None


def _adopt_former_version_table(conn: Connection, revision: str) -> None:
    """Move the revision into Loopline's own version table (Optuna needs the old name)."""
    conn.exec_driver_sql(
        f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"
    )
    conn.execute(
        sa.text(f"INSERT INTO {VERSION_TABLE} (version_num) VALUES (:revision)"),
        {"revision": revision},
    )
    conn.exec_driver_sql(f"DROP TABLE {_FORMER_VERSION_TABLE}")


def ensure_schema(engine: Engine) -> None:
    """Create or migrate the schema to ``SCHEMA_REVISION``.

    The fast path (already at head) reads one row and imports nothing more.

    Raises:
        SchemaVersionError: The database was written by a newer Loopline.
    """
    with transaction(engine, write=False) as conn:
        revision = current_revision(conn)
    if revision == SCHEMA_REVISION:
        return
    with _migrate_lock, transaction(engine, write=True) as conn:
        if conn.dialect.name == "postgresql":
            # SQLite's BEGIN IMMEDIATE serialises migrations; on PostgreSQL a transaction-
            # scoped advisory lock does (the key is arbitrary but fixed for Loopline).
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7243001)")
        # Re-read under the write lock: another process may have migrated meanwhile.
        revision = current_revision(conn)
        if revision is not None and not sa.inspect(conn).has_table(VERSION_TABLE):
            _adopt_former_version_table(conn, revision)
        if revision == SCHEMA_REVISION:
            return
        _check_known(revision, engine)
        _upgrade(conn)


def _alembic_config(connection: Connection | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _check_known(revision: str | None, engine: Engine) -> None:
    if revision is None:
        return
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config())
    known = {rev.revision for rev in script.walk_revisions()}
    if revision not in known:
        raise SchemaVersionError(
            f"The metadata store at {engine.url.render_as_string(hide_password=True)} has "
            f"schema revision {revision!r}, written by a newer Loopline; this one knows "
            f"revisions up to {SCHEMA_REVISION!r}.",
            hint="Upgrade Loopline (pip install -U loopline) to open this store.",
            revision=revision,
        )


def _upgrade(conn: Connection) -> None:
    from alembic import command

    command.upgrade(_alembic_config(conn), "head")


def upgrade_to(engine: Engine, revision: str) -> None:
    """Migrate the database to a given revision (used to test upgrades from old stores)."""
    from alembic import command

    with transaction(engine, write=True) as conn:
        command.upgrade(_alembic_config(conn), revision)
