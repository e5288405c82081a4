"""Monitoring reports per window, and the labels (feedback) that arrive late."""

from __future__ import annotations

import builtins
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, Row

from . import _schema as t
from ._engine import transaction
from ._json import dumps, loads


@dataclass(frozen=True)
class MonitoringRecord:
    """The stored summary of one monitoring window."""

    id: int
    model: str
    version: int
    window_start: float | None
    window_end: float
    rows: int
    drift_share: float | None
    dataset_drift: bool
    drifted: list[str]
    signals: dict[str, Any]
    artifact_id: int | None
    created_at: float


def monitoring_record(r: Row[Any]) -> MonitoringRecord:
    """Build a :class:`MonitoringRecord` from a ``monitoring_reports`` row."""
    return MonitoringRecord(
        id=r.id,
        model=r.model,
        version=r.version,
        window_start=r.window_start,
        window_end=r.window_end,
        rows=r.rows,
        drift_share=r.drift_share,
        dataset_drift=bool(r.dataset_drift),
        drifted=loads(r.drifted) or [],
        signals=loads(r.signals),
        artifact_id=r.artifact_id,
        created_at=r.created_at,
    )


class MonitoringStore:
    """Store window reports and feedback labels; query them over time."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add_report(
        self,
        *,
        model: str,
        version: int,
        window_start: float | None,
        window_end: float,
        rows: int,
        drift_share: float | None,
        dataset_drift: bool,
        drifted: Iterable[str],
        signals: Mapping[str, Any],
        artifact_id: int | None,
    ) -> int:
        """Record one window's result; return its id."""
        with transaction(self._engine) as conn:
            result = conn.execute(
                t.monitoring_reports.insert().values(
                    model=model,
                    version=version,
                    window_start=window_start,
                    window_end=window_end,
                    rows=rows,
                    drift_share=drift_share,
                    dataset_drift=dataset_drift,
                    drifted=dumps(list(drifted)),
                    signals=dumps(dict(signals)),
                    artifact_id=artifact_id,
                    created_at=time.time(),
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def reports(
        self, model: str, *, version: int | None = None, limit: int = 100
    ) -> builtins.list[MonitoringRecord]:
        """The latest window reports of a model (optionally one version), oldest first."""
        query = (
            sa.select(t.monitoring_reports)
            .where(t.monitoring_reports.c.model == model)
            .order_by(t.monitoring_reports.c.id.desc())
            .limit(limit)
        )
        if version is not None:
            query = query.where(t.monitoring_reports.c.version == version)
        with transaction(self._engine, write=False) as conn:
            rows = conn.execute(query).all()
        return [monitoring_record(r) for r in reversed(rows)]

    def add_feedback(self, model: str, labels: Iterable[tuple[str, int, Any]]) -> int:
        """Store ``(request_id, row, label)`` triples; a later label replaces an earlier one.

        Returns:
            How many labels were stored.
        """
        latest = {(r, i): label for r, i, label in labels}  # the last label of a record wins
        rows = [
            dict(model=model, request_id=r, row=i, label=dumps(label), received_at=time.time())
            for (r, i), label in latest.items()
        ]
        if not rows:
            return 0
        with transaction(self._engine) as conn:
            for row in rows:
                conn.execute(
                    t.feedback.delete().where(
                        t.feedback.c.model == model,
                        t.feedback.c.request_id == row["request_id"],
                        t.feedback.c.row == row["row"],
                    )
                )
            conn.execute(t.feedback.insert(), rows)
        return len(rows)

    def labels(
        self, model: str, request_ids: Iterable[str] | None = None
    ) -> dict[tuple[str, int], Any]:
        """``(request_id, row) -> label`` for a model (optionally only some requests)."""
        query = sa.select(t.feedback.c.request_id, t.feedback.c.row, t.feedback.c.label).where(
            t.feedback.c.model == model
        )
        if request_ids is not None:
            query = query.where(t.feedback.c.request_id.in_(list(request_ids)))
        with transaction(self._engine, write=False) as conn:
            return {
                (r, i): loads(label) if label != "null" else None
                for r, i, label in conn.execute(query)
            }
