"""Plain records the store hands out: frozen dataclasses, no SQLAlchemy types."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RUN_STATUSES = ("running", "succeeded", "failed", "interrupted")
STEP_STATUSES = ("pending", "running", "succeeded", "cached", "failed", "interrupted", "skipped")
#: Step run statuses whose outputs exist and may be reused.
DONE_STATUSES = ("succeeded", "cached")


@dataclass(frozen=True)
class Run:
    """One execution of a pipeline."""

    id: str
    name: str
    status: str
    started_at: float
    ended_at: float | None
    pipeline_ref: str | None
    params: dict[str, Any]
    error: str | None
    host: str
    pid: int
    executor: str
    pipeline_version_id: int | None = None

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, or None while running."""
        return None if self.ended_at is None else self.ended_at - self.started_at


@dataclass(frozen=True)
class StepRun:
    """One execution (or cache hit) of a step inside a run."""

    id: int
    run_id: str
    name: str
    attempt: int
    code_hash: str
    cache_key: str
    params: dict[str, Any]
    status: str
    cache_hit: bool
    started_at: float | None
    ended_at: float | None
    duration: float | None
    error: str | None
    traceback: str | None


@dataclass(frozen=True)
class Artifact:
    """An immutable, content-addressed output of a step."""

    id: int
    uri: str
    sha256: str
    type: str
    materializer: str
    size: int
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0


@dataclass(frozen=True)
class LineageEdge:
    """A step run read (``input``) or wrote (``output``) an artifact under ``name``."""

    step_run_id: int
    artifact_id: int
    direction: str
    name: str


@dataclass(frozen=True)
class Metric:
    """One logged metric value."""

    key: str
    value: float
    step: int | None
    timestamp: float
    step_run_id: int | None = None


@dataclass(frozen=True)
class Event:
    """One entry of the append-only event log."""

    id: int
    time: float
    actor: str
    kind: str
    subject_type: str
    subject_id: str
    reason: str | None
    payload: dict[str, Any]


@dataclass(frozen=True)
class ModelVersion:
    """One registered version of a model: a model package with its approval status."""

    id: int
    model: str
    version: int
    artifact_id: int
    run_id: str | None
    status: str
    blessed: bool | None
    metrics: dict[str, Any]
    infra_valid: bool | None
    infra_details: dict[str, Any] | None
    created_at: float

    @property
    def ref(self) -> str:
        """``NAME/VERSION``."""
        return f"{self.model}/{self.version}"


@dataclass(frozen=True)
class AliasMove:
    """An alias pointed at ``version`` (None: removed) instead of ``previous``."""

    model: str
    alias: str
    version: int | None
    previous: int | None
    time: float
    actor: str
    reason: str | None
