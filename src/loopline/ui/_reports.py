"""The existing HTML reports, rendered from the store for the UI to embed."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import NotFoundError
from ..registry import Registry
from ..reports import render_monitoring_report, render_run_report
from ..store import StepRun

#: (step, output) of the standard workflow shown by each run report section (as the CLI's
#: ``loopline report`` does).
RUN_SECTIONS = {
    "validation": ("validate_data", "validation"),
    "statistics": ("statistics", "statistics"),
    "leaderboard": ("select", "leaderboard"),
    "tuning": ("tune_best", "tuning"),
    "evaluation": ("evaluate_model", "evaluation"),
    "blessing": ("bless", "blessing"),
    "span": ("ingest", "span"),
}


class ReportRenderer:
    """Renders run and monitoring reports; keeps a few training baselines in memory.

    Args:
        registry: The registry (store and artifact store) the reports read.
        cache_size: How many model versions' training statistics to keep.
    """

    def __init__(self, registry: Registry, *, cache_size: int = 8) -> None:
        self.registry = registry
        self._baselines: OrderedDict[str, Mapping[str, Any]] = OrderedDict()
        self._size = cache_size
        self._lock = threading.Lock()

    def run_report(self, run_id: str) -> str:
        """The run's report page (``loopline report RUN`` writes the same)."""
        store = self.registry.store
        run = store.runs.get(run_id)
        steps = store.runs.steps(run.id)
        sections = {key: self._output(steps, s, o) for key, (s, o) in RUN_SECTIONS.items()}
        summary = {
            "id": run.id,
            "pipeline": run.name,
            "status": run.status,
            "started_at": run.started_at,
            "duration": run.duration,
            "params": run.params,
            "error": run.error,
            "steps": [
                {
                    "name": s.name,
                    "status": s.status,
                    "duration": s.duration,
                    "cache_hit": s.cache_hit,
                }
                for s in steps
            ],
        }
        return render_run_report(summary, **sections)

    def monitoring_report(self, report_id: int) -> str:
        """A stored monitoring window's report page, with the model's earlier windows."""
        store = self.registry.store
        record = store.browse.monitoring_report(report_id)
        if record.artifact_id is None:
            raise NotFoundError(
                f"Monitoring window {report_id} kept no full report.", report_id=report_id
            )
        artifact = store.artifacts.get(record.artifact_id)
        data = self.registry.artifacts.load(artifact.uri, artifact.sha256, artifact.materializer)
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
            for r in store.monitoring.reports(record.model, limit=200)
            if r.window_end <= record.window_end
        ]
        return render_monitoring_report(
            model=record.model,
            version=record.version,
            window=data.get("window") or {},
            drift=data.get("drift") or {},
            baseline=self._baseline(f"{record.model}/{record.version}"),
            current=data.get("current_statistics"),
            current_counts=data.get("current_counts") or {},
            history=history,
            performance=data.get("performance"),
        )

    def _baseline(self, ref: str) -> Mapping[str, Any]:
        with self._lock:
            if ref in self._baselines:
                self._baselines.move_to_end(ref)
                return self._baselines[ref]
        statistics = self.registry.load_package(ref).statistics
        with self._lock:
            self._baselines[ref] = statistics
            while len(self._baselines) > self._size:
                self._baselines.popitem(last=False)
        return statistics

    def _output(self, steps: Sequence[StepRun], step: str, output: str) -> Any:
        """The named output of the step's latest attempt (a failed step's logged ones too)."""
        store = self.registry.store
        for step_run in reversed(steps):
            if step_run.name != step:
                continue
            found = store.runs.step_outputs(step_run.id).get(output)
            if found is not None:
                return self.registry.artifacts.load(found.uri, found.sha256, found.materializer)
        return None
