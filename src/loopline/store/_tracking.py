"""Params, metrics and tags logged by steps, written in batches."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from . import _schema as t
from ._engine import transaction
from ._json import dumps, loads
from ._records import Metric
from ._runs import _unknown_reference, record_from_row


def _keep_latest(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Upsert each key's last value of the batch into ``latest_metrics`` (one statement)."""
    last = {row["key"]: row for row in rows}  # later rows of a key win
    values = [
        dict(run_id=r["run_id"], key=k, value=r["value"], step=r["step"], timestamp=r["timestamp"])
        for k, r in last.items()
    ]
    dialects: dict[str, Any] = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}
    if conn.dialect.name not in dialects:  # any other SQLAlchemy backend: replace the rows
        table = t.latest_metrics
        for row in values:
            conn.execute(
                table.delete().where(table.c.run_id == row["run_id"], table.c.key == row["key"])
            )
        conn.execute(table.insert(), values)
        return
    insert = dialects[conn.dialect.name](t.latest_metrics)
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=["run_id", "key"],
            set_={c: insert.excluded[c] for c in ("value", "step", "timestamp")},
        ),
        values,
    )


class TrackingStore:
    """Write and read the params, metrics and tags of runs."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def write(
        self,
        run_id: str,
        step_run_id: int | None,
        *,
        metrics: Iterable[tuple[str, float, int | None, float]] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        """Write a batch of ``(key, value, step, timestamp)`` metrics, params and tags."""
        metric_rows = [
            dict(run_id=run_id, step_run_id=step_run_id, key=k, value=v, step=s, timestamp=ts)
            for k, v, s, ts in metrics
        ]
        param_rows = [
            dict(run_id=run_id, step_run_id=step_run_id, key=k, value=dumps(v))
            for k, v in (params or {}).items()
        ]
        if not (metric_rows or param_rows or tags):
            return
        with _unknown_reference(run_id), transaction(self._engine) as conn:
            if metric_rows:
                conn.execute(t.metrics.insert(), metric_rows)
                _keep_latest(conn, metric_rows)
            if param_rows:
                conn.execute(t.params.insert(), param_rows)
            for key, value in (tags or {}).items():
                conn.execute(t.tags.delete().where(t.tags.c.run_id == run_id, t.tags.c.key == key))
                conn.execute(t.tags.insert().values(run_id=run_id, key=key, value=str(value)))

    def metrics(self, run_id: str, key: str | None = None) -> list[Metric]:
        """Every metric value of a run (optionally one key), in logging order."""
        query = sa.select(t.metrics).where(t.metrics.c.run_id == run_id).order_by(t.metrics.c.id)
        if key is not None:
            query = query.where(t.metrics.c.key == key)
        with transaction(self._engine, write=False) as conn:
            return [record_from_row(Metric, row) for row in conn.execute(query)]

    def latest_metrics(self, run_id: str) -> dict[str, float]:
        """The last value logged for each metric key of a run."""
        return {m.key: m.value for m in self.metrics(run_id)}

    def params(self, run_id: str) -> dict[str, Any]:
        """The params of a run (the last value wins when a key was logged twice)."""
        query = sa.select(t.params.c.key, t.params.c.value).where(t.params.c.run_id == run_id)
        with transaction(self._engine, write=False) as conn:
            rows = conn.execute(query.order_by(t.params.c.id)).all()
        return {key: loads(value) if value else value for key, value in rows}

    def tags(self, run_id: str) -> dict[str, str]:
        """The tags of a run."""
        query = sa.select(t.tags.c.key, t.tags.c.value).where(t.tags.c.run_id == run_id)
        with transaction(self._engine, write=False) as conn:
            return {key: value for key, value in conn.execute(query)}
