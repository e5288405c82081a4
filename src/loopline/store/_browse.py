"""Read-only queries for browsing (the web UI): a page of runs, metrics of many runs at once.

Every query here is bounded by a page: it reads the rows it shows and the counts it needs,
never a whole table, so it stays fast at 10,000 runs and a million metrics
(``benchmarks/ui.py``). Sorting and filtering by a metric read ``latest_metrics`` (each run's
last value per key, kept by ``TrackingStore.write``), never the metrics table; the indexes
they rely on are in ``_schema.py`` (revision 0005).
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..errors import InvalidInputError, NotFoundError
from . import _schema as t
from ._engine import transaction
from ._json import loads
from ._monitoring import MonitoringRecord, monitoring_record
from ._records import RUN_STATUSES, Event, Metric, ModelVersion, Run
from ._runs import _run, event_from_row, record_from_row

#: What a page of runs can be sorted by, besides ``metric:<key>``.
RUN_SORTS = ("started_at", "ended_at", "duration", "name", "status")
#: Metric filter operators.
METRIC_OPS = {">": "__gt__", ">=": "__ge__", "<": "__lt__", "<=": "__le__", "=": "__eq__"}
#: The most runs one page holds.
MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class RunQuery:
    """Which runs to list, in what order, and which page.

    Attributes:
        status: Only runs with this status.
        name: Only runs of this pipeline.
        id_prefix: Only runs whose id starts with this.
        metric: Only runs whose last value of this metric key satisfies ``op value``.
        op: ``>``, ``>=``, ``<``, ``<=`` or ``=``.
        value: The threshold of the metric filter.
        sort: One of ``RUN_SORTS`` or ``metric:<key>`` (the run's last value of that key).
        descending: Largest (latest) first.
        page: 1-based page number.
        page_size: Runs per page (at most ``MAX_PAGE_SIZE``).
    """

    status: str | None = None
    name: str | None = None
    id_prefix: str | None = None
    metric: str | None = None
    op: str = ">"
    value: float | None = None
    sort: str = "started_at"
    descending: bool = True
    page: int = 1
    page_size: int = 50


@dataclass(frozen=True)
class RunPage:
    """One page of runs, with the latest value of each metric they logged.

    Attributes:
        runs: The runs of this page, in order.
        total: How many runs match the filters (all pages).
        page: This page's number (1-based).
        page_size: Runs per page.
        metrics: Run id -> metric key -> its last logged value, for the runs of this page.
    """

    runs: list[Run]
    total: int
    page: int
    page_size: int
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        """How many pages the matching runs fill (at least one)."""
        return max(1, -(-self.total // self.page_size))


class BrowseStore:
    """Paged and filtered reads across runs, metrics, events and models, for the UI."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def runs(self, query: RunQuery) -> RunPage:
        """One page of runs matching ``query``, with the latest metrics of those runs.

        Raises:
            InvalidInputError: An unknown status, sort, operator, or a page out of range.
        """
        _check_query(query)
        runs = t.runs
        where: list[Any] = []
        if query.status:
            where.append(runs.c.status == query.status)
        if query.name:
            where.append(runs.c.name == query.name)
        if query.id_prefix:
            where.append(runs.c.id.startswith(query.id_prefix.lower(), autoescape=True))
        if query.metric and query.value is not None:
            last = _last_values(query.metric)
            compare = getattr(last.c.value, METRIC_OPS[query.op])
            where.append(runs.c.id.in_(sa.select(last.c.run_id).where(compare(query.value))))
        offset = (query.page - 1) * query.page_size
        count = sa.select(sa.func.count()).select_from(runs).where(*where)
        with transaction(self._engine, write=False) as conn:
            total = int(conn.execute(count).scalar() or 0)
            if query.sort.startswith("metric:"):
                page = _by_metric(conn, query, where, offset)
            else:
                select = sa.select(runs).where(*where).order_by(*_order(query))
                rows = conn.execute(select.limit(query.page_size).offset(offset))
                page = [_run(row) for row in rows]
        return RunPage(
            runs=page,
            total=total,
            page=query.page,
            page_size=query.page_size,
            metrics=self.latest_metrics([r.id for r in page]),
        )

    def run_names(self) -> builtins.list[str]:
        """The pipeline names that have runs, sorted (the runs list's filter choices)."""
        with transaction(self._engine, write=False) as conn:
            return sorted(conn.execute(sa.select(t.pipelines.c.name)).scalars())

    def latest_metrics(self, run_ids: Sequence[str]) -> dict[str, dict[str, float]]:
        """Run id -> metric key -> the last value logged, for a few runs at once."""
        if not run_ids:
            return {}
        latest = t.latest_metrics
        query = sa.select(latest.c.run_id, latest.c.key, latest.c.value).where(
            latest.c.run_id.in_(list(run_ids))
        )
        found: dict[str, dict[str, float]] = {run_id: {} for run_id in run_ids}
        with transaction(self._engine, write=False) as conn:
            for run_id, key, value in conn.execute(query.order_by(latest.c.key)):
                found[run_id][key] = value
        return found

    def metric_series(
        self, run_ids: Sequence[str], *, limit: int = 20_000
    ) -> dict[str, dict[str, builtins.list[Metric]]]:
        """Run id -> metric key -> every value in logging order (at most ``limit`` rows)."""
        found: dict[str, dict[str, list[Metric]]] = {run_id: {} for run_id in run_ids}
        if not run_ids:
            return found
        query = (
            sa.select(t.metrics)
            .where(t.metrics.c.run_id.in_(list(run_ids)))
            .order_by(t.metrics.c.id)
            .limit(limit)
        )
        with transaction(self._engine, write=False) as conn:
            for row in conn.execute(query):
                metric = record_from_row(Metric, row)
                found[row._mapping["run_id"]].setdefault(metric.key, []).append(metric)
        return found

    def pipeline_definition(self, run: Run) -> dict[str, Any] | None:
        """The traced definition (steps and their inputs) of the run's pipeline version."""
        if run.pipeline_version_id is None:
            return None
        query = sa.select(t.pipeline_versions.c.definition).where(
            t.pipeline_versions.c.id == run.pipeline_version_id
        )
        with transaction(self._engine, write=False) as conn:
            text = conn.execute(query).scalar()
        value = loads(text) if text else None
        return value if isinstance(value, dict) else None

    def versions_of_run(self, run_id: str) -> builtins.list[ModelVersion]:
        """The model versions a run registered."""
        query = (
            sa.select(t.model_versions, t.models.c.name.label("model"))
            .join(t.models, t.models.c.id == t.model_versions.c.model_id)
            .where(t.model_versions.c.run_id == run_id)
            .order_by(t.model_versions.c.id)
        )
        with transaction(self._engine, write=False) as conn:
            rows = conn.execute(query).all()
        return [
            ModelVersion(
                id=r.id,
                model=r.model,
                version=r.version,
                artifact_id=r.artifact_id,
                run_id=r.run_id,
                status=r.status,
                blessed=None if r.blessed is None else bool(r.blessed),
                metrics=loads(r.metrics) or {},
                infra_valid=None if r.infra_valid is None else bool(r.infra_valid),
                infra_details=loads(r.infra_details) if r.infra_details else None,
                created_at=r.created_at,
            )
            for r in rows
        ]

    def model_events(
        self, model: str, *, kind_prefix: str | None = None, limit: int = 200
    ) -> builtins.list[Event]:
        """The latest events about a model or any of its versions (``NAME``, ``NAME/N``)."""
        subject = sa.or_(
            t.events.c.subject_id == model,
            t.events.c.subject_id.startswith(f"{model}/", autoescape=True),
        )
        query = (
            sa.select(t.events)
            .where(t.events.c.subject_type == "model", subject)
            .order_by(t.events.c.id.desc())
            .limit(limit)
        )
        if kind_prefix:
            query = query.where(t.events.c.kind.startswith(kind_prefix, autoescape=True))
        with transaction(self._engine, write=False) as conn:
            return [event_from_row(row) for row in conn.execute(query)]

    def monitoring_report(self, report_id: int) -> MonitoringRecord:
        """One stored monitoring window by id.

        Raises:
            NotFoundError: No such window.
        """
        query = sa.select(t.monitoring_reports).where(t.monitoring_reports.c.id == report_id)
        with transaction(self._engine, write=False) as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFoundError(
                f"No monitoring window with id {report_id}.",
                hint="See a model's windows on its monitoring page.",
                report_id=report_id,
            )
        return monitoring_record(row)


def _check_query(query: RunQuery) -> None:
    if query.status and query.status not in RUN_STATUSES:
        raise InvalidInputError(
            f"Unknown run status {query.status!r}. Use one of: {', '.join(RUN_STATUSES)}.",
            value=query.status,
        )
    if query.sort not in RUN_SORTS and not (
        query.sort.startswith("metric:") and len(query.sort) > len("metric:")
    ):
        raise InvalidInputError(
            f"Cannot sort runs by {query.sort!r}. Use one of: {', '.join(RUN_SORTS)}, "
            "or metric:KEY.",
            value=query.sort,
        )
    if query.op not in METRIC_OPS:
        raise InvalidInputError(
            f"Unknown metric operator {query.op!r}. Use one of: {' '.join(METRIC_OPS)}.",
            value=query.op,
        )
    if query.page < 1 or not 1 <= query.page_size <= MAX_PAGE_SIZE:
        raise InvalidInputError(
            f"Page {query.page} of size {query.page_size} is out of range: pages start at 1 "
            f"and hold 1 to {MAX_PAGE_SIZE} runs.",
            value=(query.page, query.page_size),
        )


def _last_values(key: str) -> Any:
    """``(run_id, value)`` of each run's last logged value of ``key`` (``latest_metrics``,
    through ix_latest_metrics_key_value)."""
    latest = t.latest_metrics
    return sa.select(latest.c.run_id, latest.c.value).where(latest.c.key == key).subquery("last")


def _order(query: RunQuery) -> list[Any]:
    """ORDER BY terms of a sort on a run column, newest first among equals.

    A sort on the start time alone walks ix_runs_started_at (or ix_runs_name_started /
    ix_runs_status_started under a filter) and stops after the page.
    """
    runs = t.runs
    if query.sort == "duration":
        return [_direction(runs.c.ended_at - runs.c.started_at, query.descending), runs.c.id]
    column = _direction(runs.c[query.sort], query.descending)
    if query.sort in ("started_at", "ended_at"):
        return [column]
    return [column, runs.c.started_at.desc()]


def _by_metric(
    conn: Connection, query: RunQuery, where: list[Any], offset: int
) -> builtins.list[Run]:
    """A page of runs sorted by their last value of a metric; runs without it come last.

    The runs with the metric come from ix_latest_metrics_key_value in index order (the
    walk stops after the page); the others are only read when the page reaches past them.
    """
    runs, latest = t.runs, t.latest_metrics
    key = query.sort[len("metric:") :]
    joined = runs.join(latest, (latest.c.run_id == runs.c.id) & (latest.c.key == key))
    with_value = sa.select(runs).select_from(joined).where(*where)
    if query.descending:
        with_value = with_value.order_by(latest.c.value.desc(), latest.c.run_id.desc())
    else:
        with_value = with_value.order_by(latest.c.value.asc(), latest.c.run_id.asc())
    rows = conn.execute(with_value.limit(query.page_size).offset(offset)).all()
    page = [_run(row) for row in rows]
    if len(page) == query.page_size:
        return page
    having = int(
        conn.execute(sa.select(sa.func.count()).select_from(joined).where(*where)).scalar() or 0
    )
    has_metric = sa.exists().where(latest.c.run_id == runs.c.id, latest.c.key == key)
    rest = (
        sa.select(runs)
        .where(*where, ~has_metric)
        .order_by(runs.c.started_at.desc())
        .limit(query.page_size - len(page))
        .offset(max(0, offset - having))
    )
    return page + [_run(row) for row in conn.execute(rest)]


def _direction(column: Any, descending: bool) -> Any:
    # Runs without a value (no such metric, still running) go last either way.
    return column.desc().nulls_last() if descending else column.asc().nulls_last()
