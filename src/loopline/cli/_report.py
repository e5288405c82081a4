"""``loopline report RUN``: one self-contained HTML file about a run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._output import console

if TYPE_CHECKING:
    from ..artifacts import ArtifactStore
    from ..store import Store

#: (step, output) of the standard workflow that each report section shows.
SECTIONS = {
    "validation": ("validate_data", "validation"),
    "statistics": ("statistics", "statistics"),
    "leaderboard": ("select", "leaderboard"),
    "tuning": ("tune_best", "tuning"),
    "evaluation": ("evaluate_model", "evaluation"),
    "blessing": ("bless", "blessing"),
    "span": ("ingest", "span"),
}


def write_run_report(project: Path | None, run_id: str, output: Path | None) -> Path:
    """Render the report of a run and write it to ``output``; return the path."""
    from ..artifacts import ArtifactStore
    from ..config import load_settings
    from ..reports import render_run_report, write_report
    from ..store import Store

    settings = load_settings(project)
    with Store(settings.store_url) as store:
        run = store.runs.get(run_id)
        artifacts = ArtifactStore(settings.artifacts_url)
        steps = store.runs.steps(run.id)
        sections = {
            key: _latest_output(store, artifacts, steps, step, name)
            for key, (step, name) in SECTIONS.items()
        }
    summary = {
        "id": run.id,
        "pipeline": run.name,
        "status": run.status,
        "started_at": run.started_at,
        "duration": run.duration,
        "params": run.params,
        "error": run.error,
        "steps": [
            {"name": s.name, "status": s.status, "duration": s.duration, "cache_hit": s.cache_hit}
            for s in steps
        ],
    }
    html = render_run_report(summary, **sections)
    path = write_report(html, output or Path(f"report-{run.id[:8]}.html"))
    console().print(f"Wrote {path}")
    return path


def _latest_output(
    store: Store, artifacts: ArtifactStore, steps: list[Any], step: str, output: str
) -> Any:
    """The named output of the step's latest attempt, including artifacts a failed step logged."""
    for step_run in reversed(steps):
        if step_run.name != step:
            continue
        found = store.runs.step_outputs(step_run.id).get(output)
        if found is not None:
            return artifacts.load(found.uri, found.sha256, found.materializer)
    return None
