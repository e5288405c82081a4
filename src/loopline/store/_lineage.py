"""Lineage queries: what produced an artifact, and what an artifact fed, transitively."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from . import _schema as t
from ._engine import transaction
from ._records import Artifact, LineageEdge, StepRun
from ._runs import _step_run, artifact_from_row


@dataclass
class LineageGraph:
    """Step runs and artifacts joined by input/output edges."""

    step_runs: dict[int, StepRun] = field(default_factory=dict)
    artifacts: dict[int, Artifact] = field(default_factory=dict)
    edges: list[LineageEdge] = field(default_factory=list)

    def producers(self, artifact_id: int) -> list[StepRun]:
        """The step runs in this graph that wrote the artifact."""
        return [
            self.step_runs[e.step_run_id]
            for e in self.edges
            if e.artifact_id == artifact_id and e.direction == "output"
        ]

    def inputs_of(self, step_run_id: int) -> dict[str, Artifact]:
        """The artifacts a step run read, by argument name."""
        return {
            e.name: self.artifacts[e.artifact_id]
            for e in self.edges
            if e.step_run_id == step_run_id and e.direction == "input"
        }

    def outputs_of(self, step_run_id: int) -> dict[str, Artifact]:
        """The artifacts a step run wrote, by output name."""
        return {
            e.name: self.artifacts[e.artifact_id]
            for e in self.edges
            if e.step_run_id == step_run_id and e.direction == "output"
        }


class LineageStore:
    """Walk lineage edges in both directions."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def upstream(self, artifact_id: int, *, max_depth: int = 50) -> LineageGraph:
        """What produced this artifact, from which inputs, code and params, transitively.

        Only the producing step run that really computed an artifact is followed (not the
        later cache hits that reused it), so the graph shows where the data came from.
        """
        return self._walk([artifact_id], upstream=True, max_depth=max_depth)

    def downstream(self, artifact_id: int, *, max_depth: int = 50) -> LineageGraph:
        """Every step run that read this artifact, what they wrote, and so on."""
        return self._walk([artifact_id], upstream=False, max_depth=max_depth)

    def of_run(self, run_id: str) -> LineageGraph:
        """The step runs of one run with every artifact they read or wrote."""
        graph = LineageGraph()
        with transaction(self._engine, write=False) as conn:
            rows = conn.execute(sa.select(t.step_runs).where(t.step_runs.c.run_id == run_id))
            graph.step_runs = {row.id: _step_run(row) for row in rows}
            _add_edges_of_steps(conn, graph, graph.step_runs)
        return graph

    def _walk(self, start: Iterable[int], *, upstream: bool, max_depth: int) -> LineageGraph:
        graph = LineageGraph()
        frontier = set(start)
        with transaction(self._engine, write=False) as conn:
            _load_artifacts(conn, graph, frontier)
            for _ in range(max_depth):
                if not frontier:
                    break
                # Upstream: who wrote these artifacts; downstream: who read them.
                direction = "output" if upstream else "input"
                query = (
                    sa.select(t.step_runs)
                    .join(t.lineage_edges, t.lineage_edges.c.step_run_id == t.step_runs.c.id)
                    .where(
                        t.lineage_edges.c.artifact_id.in_(frontier),
                        t.lineage_edges.c.direction == direction,
                    )
                )
                if upstream:
                    query = query.where(t.step_runs.c.cache_hit.is_(False))
                new_steps = {
                    row.id: _step_run(row)
                    for row in conn.execute(query)
                    if row.id not in graph.step_runs
                }
                graph.step_runs.update(new_steps)
                seen = set(graph.artifacts)
                _add_edges_of_steps(conn, graph, new_steps)
                # Continue from the other side of the new step runs.
                want = "input" if upstream else "output"
                frontier = {
                    e.artifact_id
                    for e in graph.edges
                    if e.step_run_id in new_steps and e.direction == want
                } - seen
        return graph


def _load_artifacts(conn: Connection, graph: LineageGraph, ids: Iterable[int]) -> None:
    missing = set(ids) - set(graph.artifacts)
    if missing:
        rows = conn.execute(sa.select(t.artifacts).where(t.artifacts.c.id.in_(missing)))
        graph.artifacts.update({row.id: artifact_from_row(row) for row in rows})


def _add_edges_of_steps(conn: Connection, graph: LineageGraph, step_runs: Iterable[int]) -> None:
    ids = list(step_runs)
    if not ids:
        return
    rows = conn.execute(
        sa.select(t.lineage_edges).where(t.lineage_edges.c.step_run_id.in_(ids))
    ).all()
    graph.edges.extend(
        LineageEdge(
            step_run_id=r.step_run_id, artifact_id=r.artifact_id, direction=r.direction, name=r.name
        )
        for r in rows
    )
    _load_artifacts(conn, graph, {r.artifact_id for r in rows})
