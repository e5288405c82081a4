"""Runs and step runs: their status, timing, errors, and the cache lookups over them."""

from __future__ import annotations

import builtins
import dataclasses
import os
import socket
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, CursorResult, Engine, Row

from ..errors import InvalidInputError, NotFoundError
from . import _schema as t
from ._engine import transaction
from ._json import dumps, loads
from ._records import DONE_STATUSES, Artifact, Event, Run, StepRun

R = TypeVar("R")


def record_from_row(
    cls: type[R], row: Row[Any], *, json: tuple[str, ...] = (), flags: tuple[str, ...] = ()
) -> R:
    """Build a record dataclass from a row: JSON columns parsed, flag columns as bools."""
    values = dict(row._mapping)
    for key in json:
        values[key] = loads(values[key])
    for key in flags:
        values[key] = bool(values[key])
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in values.items() if k in names})


def _run(row: Row[Any]) -> Run:
    return record_from_row(Run, row, json=("params",))


def _step_run(row: Row[Any]) -> StepRun:
    return record_from_row(StepRun, row, json=("params",), flags=("cache_hit",))


def event_from_row(row: Row[Any]) -> Event:
    """Build an :class:`Event` from an ``events`` row."""
    return record_from_row(Event, row, json=("payload",))


def artifact_from_row(row: Row[Any]) -> Artifact:
    """Build an :class:`Artifact` from an ``artifacts`` row."""
    return record_from_row(Artifact, row, json=("metadata",))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - another user's live process
        return True
    return True


class RunStore:
    """Create, update and query runs and step runs."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- pipelines ---------------------------------------------------------------------

    def register_pipeline_version(self, name: str, definition_hash: str, definition: str) -> int:
        """Record a pipeline's traced definition once; return the version's id."""
        with transaction(self._engine) as conn:
            pipeline_id = conn.execute(
                sa.select(t.pipelines.c.id).where(t.pipelines.c.name == name)
            ).scalar()
            if pipeline_id is None:
                pipeline_id = _new_id(
                    conn.execute(t.pipelines.insert().values(name=name, created_at=time.time()))
                )
            version_id = conn.execute(
                sa.select(t.pipeline_versions.c.id).where(
                    t.pipeline_versions.c.pipeline_id == pipeline_id,
                    t.pipeline_versions.c.definition_hash == definition_hash,
                )
            ).scalar()
            if version_id is None:
                version_id = _new_id(
                    conn.execute(
                        t.pipeline_versions.insert().values(
                            pipeline_id=pipeline_id,
                            definition_hash=definition_hash,
                            definition=definition,
                            created_at=time.time(),
                        )
                    )
                )
        return int(version_id)

    # -- runs --------------------------------------------------------------------------

    def create(
        self,
        name: str,
        *,
        pipeline_ref: str | None = None,
        params: Mapping[str, Any] | None = None,
        executor: str = "inprocess",
        pipeline_version_id: int | None = None,
    ) -> Run:
        """Start a new run owned by this process."""
        values = dict(
            id=uuid.uuid4().hex,
            name=name,
            pipeline_ref=pipeline_ref,
            params=dumps(dict(params or {})),
            status="running",
            started_at=time.time(),
            host=socket.gethostname(),
            pid=os.getpid(),
            executor=executor,
            pipeline_version_id=pipeline_version_id,
        )
        with transaction(self._engine) as conn:
            conn.execute(t.runs.insert().values(**values))
        return self.get(str(values["id"]))

    def get(self, run_id: str) -> Run:
        """The run with this id, or with this unique id prefix (at least 4 characters).

        Raises:
            NotFoundError: No run, or several runs, match.
        """
        with transaction(self._engine, write=False) as conn:
            row = conn.execute(sa.select(t.runs).where(t.runs.c.id == run_id)).first()
            if row is None and len(run_id) >= 4:
                rows = conn.execute(
                    sa.select(t.runs).where(t.runs.c.id.startswith(run_id, autoescape=True))
                ).fetchmany(2)
                if len(rows) > 1:
                    raise NotFoundError(
                        f"Run id prefix {run_id!r} matches several runs.",
                        hint="Give more characters of the run id (see 'loopline runs list').",
                        run_id=run_id,
                    )
                row = rows[0] if rows else None
        if row is None:
            raise NotFoundError(
                f"No run with id {run_id!r} in this store.",
                hint="List the runs with 'loopline runs list'.",
                run_id=run_id,
            )
        return _run(row)

    def list(
        self, *, limit: int = 50, status: str | None = None, name: str | None = None
    ) -> builtins.list[Run]:
        """The most recent runs first, optionally of one status or one pipeline name."""
        self.mark_orphans_interrupted()
        query = sa.select(t.runs).order_by(t.runs.c.started_at.desc()).limit(limit)
        if status is not None:
            query = query.where(t.runs.c.status == status)
        if name is not None:
            query = query.where(t.runs.c.name == name)
        with transaction(self._engine, write=False) as conn:
            return [_run(row) for row in conn.execute(query)]

    def finish(self, run_id: str, status: str, *, error: str | None = None) -> None:
        """Close a run with a final status."""
        with transaction(self._engine) as conn:
            conn.execute(
                t.runs.update()
                .where(t.runs.c.id == run_id)
                .values(status=status, ended_at=time.time(), error=error)
            )

    def reopen(self, run_id: str) -> Run:
        """Take over an unfinished run for ``--resume``: it runs again in this process.

        Raises:
            InvalidInputError: The run succeeded or is still running in a live process.
        """
        self.mark_orphans_interrupted()
        run = self.get(run_id)
        if run.status == "succeeded":
            raise InvalidInputError(
                f"Run {run.id} already succeeded; there is nothing to resume.",
                hint="Start a new run instead; unchanged steps are served from cache.",
                run_id=run.id,
            )
        if run.status == "running":
            raise InvalidInputError(
                f"Run {run.id} is still running (pid {run.pid} on {run.host}).",
                hint="Wait for it to finish, or stop that process first.",
                run_id=run.id,
            )
        with transaction(self._engine) as conn:
            conn.execute(
                t.runs.update()
                .where(t.runs.c.id == run.id)
                .values(
                    status="running",
                    ended_at=None,
                    error=None,
                    host=socket.gethostname(),
                    pid=os.getpid(),
                )
            )
        return self.get(run.id)

    def mark_orphans_interrupted(self) -> int:
        """Mark runs whose owning process on this host has died as interrupted.

        A run killed with ``kill -9`` cannot record its own end; this is how the store
        learns of it. Returns how many runs were marked.
        """
        host = socket.gethostname()
        with transaction(self._engine, write=False) as conn:
            rows = conn.execute(
                sa.select(t.runs.c.id, t.runs.c.pid).where(
                    t.runs.c.status == "running", t.runs.c.host == host
                )
            ).all()
        dead = [run_id for run_id, pid in rows if not _pid_alive(pid)]
        if not dead:
            return 0
        now = time.time()
        with transaction(self._engine) as conn:
            conn.execute(
                t.runs.update()
                .where(t.runs.c.id.in_(dead), t.runs.c.status == "running")
                .values(status="interrupted", ended_at=now, error="The run's process died.")
            )
            conn.execute(
                t.step_runs.update()
                .where(t.step_runs.c.run_id.in_(dead), t.step_runs.c.status == "running")
                .values(status="interrupted", ended_at=now, error="The run's process died.")
            )
        return len(dead)

    # -- step runs ---------------------------------------------------------------------

    def start_step(
        self,
        run_id: str,
        name: str,
        *,
        code_hash: str,
        cache_key: str,
        params: Mapping[str, Any],
        inputs: Mapping[str, int],
        attempt: int = 1,
    ) -> int:
        """Record that a step started, with the artifacts it reads; return its id.

        Raises:
            NotFoundError: The run, or an input artifact, does not exist.
        """
        with _unknown_reference(run_id), transaction(self._engine) as conn:
            inserted = conn.execute(
                t.step_runs.insert().values(
                    run_id=run_id,
                    name=name,
                    attempt=attempt,
                    code_hash=code_hash,
                    cache_key=cache_key,
                    params=dumps(dict(params)),
                    status="running",
                    cache_hit=False,
                    started_at=time.time(),
                )
            )
            step_run_id = _new_id(inserted)
            _add_edges(conn, step_run_id, "input", inputs)
        return step_run_id

    def finish_step(
        self,
        step_run_id: int,
        status: str,
        *,
        outputs: Mapping[str, int] | None = None,
        error: str | None = None,
        traceback: str | None = None,
    ) -> None:
        """Close a step run and link the artifacts it wrote, in one transaction."""
        now = time.time()
        with transaction(self._engine) as conn:
            started = conn.execute(
                sa.select(t.step_runs.c.started_at).where(t.step_runs.c.id == step_run_id)
            ).scalar()
            conn.execute(
                t.step_runs.update()
                .where(t.step_runs.c.id == step_run_id)
                .values(
                    status=status,
                    ended_at=now,
                    duration=None if started is None else now - started,
                    error=error,
                    traceback=traceback,
                )
            )
            _add_edges(conn, step_run_id, "output", outputs or {})

    def link_outputs(self, step_run_id: int, outputs: Mapping[str, int]) -> None:
        """Link extra artifacts a running step wrote (``log_artifact``) to it."""
        with transaction(self._engine) as conn:
            _add_edges(conn, step_run_id, "output", outputs)

    def link_inputs(self, step_run_id: int, inputs: Mapping[str, int]) -> None:
        """Link extra artifacts a running step read (``load_artifact``) to it."""
        with transaction(self._engine) as conn:
            _add_edges(conn, step_run_id, "input", inputs)

    def record_cached_step(
        self,
        run_id: str,
        name: str,
        *,
        code_hash: str,
        cache_key: str,
        params: Mapping[str, Any],
        inputs: Mapping[str, int],
        outputs: Mapping[str, int],
        status: str = "cached",
    ) -> int:
        """Record a step served from cache (or reused on resume) with its lineage."""
        now = time.time()
        with transaction(self._engine) as conn:
            inserted = conn.execute(
                t.step_runs.insert().values(
                    run_id=run_id,
                    name=name,
                    attempt=1,
                    code_hash=code_hash,
                    cache_key=cache_key,
                    params=dumps(dict(params)),
                    status=status,
                    cache_hit=status == "cached",
                    started_at=now,
                    ended_at=now,
                    duration=0.0,
                )
            )
            step_run_id = _new_id(inserted)
            _add_edges(conn, step_run_id, "input", inputs)
            _add_edges(conn, step_run_id, "output", outputs)
        return step_run_id

    def find_cached(
        self, cache_key: str, output_names: Sequence[str]
    ) -> dict[str, Artifact] | None:
        """Outputs of the latest finished step run with this cache key, if it has them all.

        Extra artifacts the step logged with ``log_artifact`` come along.
        """
        with transaction(self._engine, write=False) as conn:
            step_run_id = conn.execute(
                sa.select(t.step_runs.c.id)
                .where(
                    t.step_runs.c.cache_key == cache_key,
                    t.step_runs.c.status.in_(DONE_STATUSES),
                )
                .order_by(t.step_runs.c.id.desc())
                .limit(1)
            ).scalar()
            if step_run_id is None:
                return None
            outputs = _outputs(conn, step_run_id)
        if not set(output_names) <= set(outputs):
            return None
        return outputs

    def steps(self, run_id: str) -> builtins.list[StepRun]:
        """The step runs of a run, in the order they started (latest attempt last)."""
        with transaction(self._engine, write=False) as conn:
            rows = conn.execute(
                sa.select(t.step_runs)
                .where(t.step_runs.c.run_id == run_id)
                .order_by(t.step_runs.c.id)
            )
            return [_step_run(row) for row in rows]

    def get_step(self, step_run_id: int) -> StepRun:
        """One step run by id.

        Raises:
            NotFoundError: No such step run.
        """
        with transaction(self._engine, write=False) as conn:
            row = conn.execute(
                sa.select(t.step_runs).where(t.step_runs.c.id == step_run_id)
            ).first()
        if row is None:
            raise NotFoundError(f"No step run with id {step_run_id}.", step_run_id=step_run_id)
        return _step_run(row)

    def step_outputs(self, step_run_id: int) -> dict[str, Artifact]:
        """The artifacts a step run wrote, by output name."""
        with transaction(self._engine, write=False) as conn:
            return _outputs(conn, step_run_id)


@contextmanager
def _unknown_reference(run_id: str) -> Iterator[None]:
    """A broken foreign key means the run (or an artifact) named does not exist."""
    try:
        yield
    except sa.exc.IntegrityError as exc:
        raise NotFoundError(
            f"Cannot record for run {run_id!r}: it, or an artifact it names, is not in this "
            f"store ({exc.orig}).",
            hint="Start the run with Store.runs.create first.",
            run_id=run_id,
        ) from exc


def _new_id(result: CursorResult[Any]) -> int:
    """The primary key an INSERT generated."""
    key = result.inserted_primary_key
    assert key is not None  # every table here has an integer or given primary key
    return int(key[0])


def _add_edges(
    conn: Connection, step_run_id: int, direction: str, by_name: Mapping[str, int]
) -> None:
    if by_name:
        conn.execute(
            t.lineage_edges.insert(),
            [
                dict(
                    step_run_id=step_run_id, artifact_id=artifact_id, direction=direction, name=name
                )
                for name, artifact_id in by_name.items()
            ],
        )


def _outputs(conn: Connection, step_run_id: int) -> dict[str, Artifact]:
    rows = conn.execute(
        sa.select(t.lineage_edges.c.name, t.artifacts)
        .join(t.artifacts, t.artifacts.c.id == t.lineage_edges.c.artifact_id)
        .where(
            t.lineage_edges.c.step_run_id == step_run_id,
            t.lineage_edges.c.direction == "output",
        )
    )
    return {row._mapping["name"]: artifact_from_row(row) for row in rows}
