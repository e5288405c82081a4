"""The store: one engine, one schema, and a narrow interface per concern."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from ._artifact_records import ArtifactRecords
from ._browse import BrowseStore
from ._engine import create_engine, ensure_schema
from ._events import EventLog
from ._lineage import LineageStore
from ._locks import LockStore, StateStore
from ._models import ModelStore
from ._monitoring import MonitoringStore
from ._runs import RunStore
from ._tracking import TrackingStore


class Store:
    """The metadata & lineage store at a SQLAlchemy URL, migrated on open.

    Args:
        url: A SQLAlchemy URL: ``sqlite:///path/loopline.db`` (the embedded default) or
            ``postgresql+psycopg://user:pass@host/db``.

    Attributes:
        runs: Runs and step runs (:class:`RunStore`).
        artifacts: Artifact records (:class:`ArtifactRecords`).
        lineage: Lineage walks (:class:`LineageStore`).
        tracking: Params, metrics and tags (:class:`TrackingStore`).
        events: The append-only event log (:class:`EventLog`).
        models: Registered models, versions and aliases (:class:`ModelStore`).
        monitoring: Window reports and label feedback (:class:`MonitoringStore`).
        locks: Named locks, e.g. one controller per project (:class:`LockStore`).
        state: Small durable JSON values by key (:class:`StateStore`).
        browse: Paged, filtered reads for the web UI (:class:`BrowseStore`).

    Raises:
        ConfigError: The URL is invalid or its driver is missing.
        SchemaVersionError: The database was written by a newer Loopline.
        BackendUnavailableError: The database cannot be reached.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url)
        try:
            ensure_schema(self.engine)
        except BaseException:
            self.engine.dispose()  # a refused store leaves no connection open
            raise
        self.runs = RunStore(self.engine)
        self.artifacts = ArtifactRecords(self.engine)
        self.lineage = LineageStore(self.engine)
        self.tracking = TrackingStore(self.engine)
        self.events = EventLog(self.engine)
        self.models = ModelStore(self.engine)
        self.monitoring = MonitoringStore(self.engine)
        self.locks = LockStore(self.engine)
        self.state = StateStore(self.engine)
        self.browse = BrowseStore(self.engine)

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"
