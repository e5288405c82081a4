"""Named locks held in the store (one controller per project), and small durable state."""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..errors import ConflictError
from . import _schema as t
from ._engine import transaction
from ._events import default_actor
from ._json import dumps, loads
from ._runs import _pid_alive


class LockStore:
    """Exclusive named locks; a lock whose holder died or stopped renewing it is taken over."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.holder = f"{default_actor()}:{os.getpid()}"

    def acquire(self, name: str, *, stale_after: float = 600.0) -> None:
        """Take the lock ``name`` for this process.

        A lock is taken over when its holder's process is gone (on this host, where that
        can be checked) or, held from another host, was not renewed (:meth:`renew`) for
        ``stale_after`` seconds.

        Raises:
            ConflictError: Another live process holds it; the error names the holder.
        """
        now, host, pid = time.time(), socket.gethostname(), os.getpid()
        with transaction(self._engine) as conn:
            row = conn.execute(sa.select(t.locks).where(t.locks.c.name == name)).first()
            if row is not None and not (row.host == host and row.pid == pid):
                dead = row.host == host and not _pid_alive(row.pid)
                stale = row.host != host and now - row.heartbeat_at > stale_after
                if not (dead or stale):
                    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row.acquired_at))
                    raise ConflictError(
                        f"The {name} of this project is already running: {row.holder} has held "
                        f"the lock since {since}.",
                        hint=f"Stop that process first (pid {row.pid} on {row.host}); a lock "
                        f"not renewed for {stale_after:.0f} s is taken over.",
                        holder=row.holder,
                        pid=row.pid,
                    )
            conn.execute(t.locks.delete().where(t.locks.c.name == name))
            conn.execute(
                t.locks.insert().values(
                    name=name,
                    holder=self.holder,
                    host=host,
                    pid=pid,
                    acquired_at=now,
                    heartbeat_at=now,
                )
            )

    def renew(self, name: str) -> None:
        """Show that the holder is alive."""
        with transaction(self._engine) as conn:
            conn.execute(
                t.locks.update()
                .where(t.locks.c.name == name, t.locks.c.pid == os.getpid())
                .values(heartbeat_at=time.time())
            )

    def release(self, name: str) -> None:
        """Give the lock up (only if this process holds it)."""
        with transaction(self._engine) as conn:
            conn.execute(
                t.locks.delete().where(
                    t.locks.c.name == name,
                    t.locks.c.pid == os.getpid(),
                    t.locks.c.host == socket.gethostname(),
                )
            )


class StateStore:
    """Small JSON values by key, e.g. the controller's canary in progress."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, key: str, default: Any = None) -> Any:
        """The value stored under ``key``, or ``default``."""
        with transaction(self._engine, write=False) as conn:
            value = conn.execute(sa.select(t.state.c.value).where(t.state.c.key == key)).scalar()
        return default if value is None else loads(value)

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` (JSON-able) under ``key``; None deletes it."""
        with transaction(self._engine) as conn:
            conn.execute(t.state.delete().where(t.state.c.key == key))
            if value is not None:
                conn.execute(
                    t.state.insert().values(key=key, value=dumps(value), updated_at=time.time())
                )
