"""``loopline runs list|show`` and ``loopline lineage``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import NotFoundError
from ._output import console, duration, print_json, status_text, when

if TYPE_CHECKING:
    from rich.tree import Tree

    from ..store import Artifact, LineageGraph, Store


def _open_store(project: Path | None) -> Store:
    from ..config import load_settings
    from ..store import Store

    return Store(load_settings(project).store_url)


def list_runs(
    project: Path | None, *, limit: int, status: str | None, as_json: bool = False
) -> None:
    """Print the latest runs as a table (a JSON list with ``as_json``)."""
    from rich.table import Table

    with _open_store(project) as store:
        runs = store.runs.list(limit=limit, status=status)
        if as_json:
            print_json([{"run": run, "steps": len(store.runs.steps(run.id))} for run in runs])
            return
        if not runs:
            console().print("No runs yet. Start one with 'loopline run'.")
            return
        table = Table(box=None)
        for column in ("run", "pipeline", "status", "started", "duration", "steps"):
            table.add_column(column)
        for run in runs:
            steps = store.runs.steps(run.id)
            cached = sum(s.cache_hit for s in steps)
            table.add_row(
                run.id[:8],
                run.name,
                status_text(run.status),
                when(run.started_at),
                duration(run.duration),
                f"{len(steps)}" + (f" ({cached} cached)" if cached else ""),
            )
        console().print(table)


def show_run(project: Path | None, run_id: str, *, as_json: bool = False) -> None:
    """Print a run with its steps, artifacts, params, metrics, tags and errors."""
    from rich.markup import escape
    from rich.table import Table

    with _open_store(project) as store:
        run = store.runs.get(run_id)
        if as_json:
            print_json(
                {
                    "run": run,
                    "steps": [
                        {"step": sr, "outputs": store.runs.step_outputs(sr.id)}
                        for sr in store.runs.steps(run.id)
                    ],
                    "metrics": store.tracking.latest_metrics(run.id),
                    "params": store.tracking.params(run.id),
                    "tags": store.tracking.tags(run.id),
                }
            )
            return
        out = console()
        out.print(f"[bold]Run {run.id}[/]  pipeline [bold]{run.name}[/]  {status_text(run.status)}")
        out.print(
            f"started {when(run.started_at)}, took {duration(run.duration)}, "
            f"executor {run.executor}, pid {run.pid} on {run.host}"
        )
        if run.params:
            out.print(f"params: {escape(json.dumps(run.params))}")
        if run.error:
            out.print(f"[red]error:[/] {escape(run.error)}")
        table = Table(box=None, title="steps", title_justify="left")
        for column in ("step", "status", "time", "outputs"):
            table.add_column(column)
        failed = []
        for sr in store.runs.steps(run.id):
            outputs = store.runs.step_outputs(sr.id)
            table.add_row(
                sr.name,
                status_text(sr.status),
                duration(sr.duration),
                ", ".join(
                    f"{name}=#{a.id} ({a.sha256[:8]}, {_size(a.size)})"
                    for name, a in outputs.items()
                ),
            )
            if sr.status == "failed":
                failed.append(sr)
        out.print(table)
        metrics = store.tracking.latest_metrics(run.id)
        if metrics:
            out.print("metrics: " + ", ".join(f"{k}={v:.6g}" for k, v in metrics.items()))
        params = store.tracking.params(run.id)
        if params:
            out.print(f"logged params: {escape(json.dumps(params))}")
        tags = store.tracking.tags(run.id)
        if tags:
            out.print("tags: " + ", ".join(f"{k}={v}" for k, v in tags.items()))
        for sr in failed:
            out.print(f"\n[red]Step {sr.name} failed:[/] {escape(sr.error or '')}")
            if sr.traceback:
                out.print(escape(sr.traceback.rstrip()), style="dim")


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover - the loop always returns


def show_lineage(project: Path | None, target: str, *, down: bool) -> None:
    """Print the lineage of an artifact (up or down) or of a run, as a tree."""
    with _open_store(project) as store:
        artifact = _find_artifact(store, target)
        if artifact is None:
            run = store.runs.get(target)
            console().print(
                _run_tree(store.lineage.of_run(run.id), f"Run {run.id[:8]} ({run.name})")
            )
            return
        graph = (
            store.lineage.downstream(artifact.id) if down else store.lineage.upstream(artifact.id)
        )
        console().print(_artifact_tree(graph, artifact, down=down))


def _find_artifact(store: Store, target: str) -> Artifact | None:
    if target.isdigit():
        try:
            return store.artifacts.get(int(target))
        except NotFoundError as missing:
            try:  # a run id's prefix can be all digits too (1 in 43 of 8 characters)
                store.runs.get(target)
            except NotFoundError:
                raise missing from None
            return None
    try:
        store.runs.get(target)
        return None
    except NotFoundError:
        return store.artifacts.find(target)


def _label(a: Artifact) -> str:
    return f"artifact #{a.id} [cyan]{a.type}[/] {a.sha256[:12]} ({_size(a.size)})"


def _artifact_tree(graph: LineageGraph, root: Artifact, *, down: bool) -> Tree:
    from rich.tree import Tree

    tree = Tree(_label(root))
    seen: set[int] = set()

    def grow(node: Tree, artifact_id: int) -> None:
        step_ids = [
            e.step_run_id
            for e in graph.edges
            if e.artifact_id == artifact_id and e.direction == ("input" if down else "output")
        ]
        for step_id in dict.fromkeys(step_ids):
            sr = graph.step_runs[step_id]
            arrow = "read by" if down else "made by"
            branch = node.add(
                f"{arrow} step [bold]{sr.name}[/] of run {sr.run_id[:8]} "
                f"(code {sr.code_hash[:8]}, params {json.dumps(sr.params)[:80]})"
            )
            if step_id in seen:
                continue
            seen.add(step_id)
            nxt = graph.outputs_of(step_id) if down else graph.inputs_of(step_id)
            for name, artifact in nxt.items():
                grow(branch.add(f"{name}: {_label(artifact)}"), artifact.id)

    grow(tree, root.id)
    return tree


def _run_tree(graph: LineageGraph, title: str) -> Tree:
    from rich.tree import Tree

    tree = Tree(title)
    for step_id, sr in sorted(graph.step_runs.items()):
        branch = tree.add(f"step [bold]{sr.name}[/] {status_text(sr.status)}")
        for name, artifact in graph.inputs_of(step_id).items():
            branch.add(f"in  {name}: {_label(artifact)}")
        for name, artifact in graph.outputs_of(step_id).items():
            branch.add(f"out {name}: {_label(artifact)}")
    return tree
