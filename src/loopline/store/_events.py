"""The append-only event log: who did what, when and why."""

from __future__ import annotations

import builtins
import getpass
import socket
import time
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from . import _schema as t
from ._engine import transaction
from ._json import dumps
from ._records import Event
from ._runs import _new_id, event_from_row


def default_actor() -> str:
    """``user@host`` of this process: who an event is attributed to by default."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no passwd entry in some containers
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


class EventLog:
    """Append events and read them back; events are never updated or deleted."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def append(
        self,
        kind: str,
        subject_type: str,
        subject_id: str,
        *,
        actor: str | None = None,
        reason: str | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> Event:
        """Record one event and return it."""
        values = dict(
            time=time.time(),
            actor=actor or default_actor(),
            kind=kind,
            subject_type=subject_type,
            subject_id=str(subject_id),
            reason=reason,
            payload=dumps(dict(payload or {})),
        )
        with transaction(self._engine) as conn:
            event_id = _new_id(conn.execute(t.events.insert().values(**values)))
        return Event(
            id=int(event_id),
            time=float(values["time"]),  # type: ignore[arg-type]
            actor=str(values["actor"]),
            kind=kind,
            subject_type=subject_type,
            subject_id=str(subject_id),
            reason=reason,
            payload=dict(payload or {}),
        )

    def list(
        self,
        *,
        subject_type: str | None = None,
        subject_id: str | None = None,
        kind: str | None = None,
        limit: int = 100,
    ) -> builtins.list[Event]:
        """The latest events first, filtered by subject and kind (a ``prefix.*`` matches)."""
        query = sa.select(t.events).order_by(t.events.c.id.desc()).limit(limit)
        if subject_type is not None:
            query = query.where(t.events.c.subject_type == subject_type)
        if subject_id is not None:
            query = query.where(t.events.c.subject_id == str(subject_id))
        if kind is not None:
            if kind.endswith(".*"):
                query = query.where(t.events.c.kind.startswith(kind[:-1], autoescape=True))
            else:
                query = query.where(t.events.c.kind == kind)
        with transaction(self._engine, write=False) as conn:
            return [event_from_row(row) for row in conn.execute(query)]
