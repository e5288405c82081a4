"""The lineage page: where an artifact (or a model's package) came from, or what it fed."""

from __future__ import annotations

from ..reports import format_number, format_timestamp, render_table
from ..store import LineageGraph, Store
from ._graphs import Node, draw_graph
from ._layout import facts, link, section

#: Graphs larger than this are cut (the table below lists everything).
MAX_NODES = 120


def lineage_body(store: Store, artifact_id: int, *, down: bool) -> str:
    """The graph of the artifact's lineage, one way, and its nodes as a table."""
    artifact = store.artifacts.get(artifact_id)  # NotFoundError for an unknown id
    graph = store.lineage.downstream(artifact_id) if down else store.lineage.upstream(artifact_id)
    versions = [
        v
        for name in store.models.names()
        for v in store.models.versions(name)
        if v.artifact_id == artifact_id
    ]
    header = facts(
        [
            ("artifact", f"#{artifact.id}"),
            ("type", artifact.type),
            ("sha256", artifact.sha256[:16] + "…"),
            ("size", f"{format_number(artifact.size)} bytes"),
            ("created", format_timestamp(artifact.created_at)),
            ("model version", ", ".join(v.ref for v in versions) or "—"),
        ]
    )
    switch = link(
        f"/artifacts/{artifact_id}/lineage",
        "show where it came from" if down else "show what it fed",
        direction="up" if down else "down",
    )
    title = "What it fed" if down else "Where it came from"
    return (
        header
        + f"<p>{switch}</p>"
        + section(title, _drawing(graph, artifact_id), id="graph")
        + section("Steps", _steps(graph), id="steps")
    )


def _drawing(graph: LineageGraph, focus: int) -> str:
    nodes: list[Node] = []
    for artifact in graph.artifacts.values():
        nodes.append(
            Node(
                id=f"a{artifact.id}",
                label=f"#{artifact.id} {artifact.type.rsplit('.', 1)[-1]}",
                detail=("this artifact · " if artifact.id == focus else "") + artifact.sha256[:10],
                tone="artifact",
                href=f"/artifacts/{artifact.id}/lineage",
            )
        )
    for step in graph.step_runs.values():
        nodes.append(
            Node(
                id=f"s{step.id}",
                label=step.name,
                detail=f"run {step.run_id[:8]} · {step.status}",
                tone="good" if step.status in ("succeeded", "cached") else "bad",
                href=f"/runs/{step.run_id}#step-{step.id}",
            )
        )
    edges = [
        (f"a{e.artifact_id}", f"s{e.step_run_id}")
        if e.direction == "input"
        else (f"s{e.step_run_id}", f"a{e.artifact_id}")
        for e in graph.edges
    ]
    note = ""
    if len(nodes) > MAX_NODES:
        keep = {n.id for n in nodes[:MAX_NODES]}
        nodes = nodes[:MAX_NODES]
        edges = [(a, b) for a, b in edges if a in keep and b in keep]
        note = f'<p class="note">Only the first {MAX_NODES} nodes are drawn.</p>'
    return note + f'<div class="graph">{draw_graph(nodes, edges, title="lineage")}</div>'


def _steps(graph: LineageGraph) -> str:
    rows = []
    for step in graph.step_runs.values():
        inputs = graph.inputs_of(step.id)
        outputs = graph.outputs_of(step.id)
        rows.append(
            [
                link(f"/runs/{step.run_id}", step.run_id[:8]),
                step.name,
                step.status,
                step.code_hash[:10],
                ", ".join(f"{k}=#{a.id}" for k, a in inputs.items()),
                ", ".join(f"{k}=#{a.id}" for k, a in outputs.items()),
            ]
        )
    return (
        render_table(["run", "step", "status", "code", "inputs", "outputs"], rows, empty="No step.")
        + '<p class="muted">CLI: <code>loopline lineage ARTIFACT_ID [--down]</code></p>'
    )
