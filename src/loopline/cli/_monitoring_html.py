"""Writing a monitoring window's HTML report (with its history) from the store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..monitoring import MonitoringResult
    from ..registry import Registry


def write_monitoring_report(registry: Registry, result: MonitoringResult, path: Path) -> Path:
    """Render the window with the model's earlier windows, and write it."""
    from ..reports import render_monitoring_report, write_report

    history = [
        {
            "end": r.window_end,
            "drift_share": r.drift_share,
            "drifted": r.drifted,
            "rows": r.rows,
            "metrics": {
                k[len("metric.") :]: v for k, v in r.signals.items() if k.startswith("metric.")
            },
        }
        for r in registry.store.monitoring.reports(result.model, limit=200)
    ]
    package = registry.load_package(f"{result.model}/{result.version}")
    html = render_monitoring_report(
        model=result.model,
        version=result.version,
        window={
            "start": result.window_start,
            "end": result.window_end,
            "rows": result.rows,
            "requests": result.requests,
            "skipped_files": result.skipped_files,
        },
        drift=result.drift.to_dict(),
        baseline=package.statistics,
        current=result.current_statistics,
        current_counts=result.current_counts,
        history=history,
        performance=result.performance,
    )
    return write_report(html, path)
