"""A live view of a run's steps, fed by the runner's listener calls.

Long steps (selection, tuning) report how far they are with ``report_progress``; the view
reads that from the store about once a second and shows "12/20, ETA 40 s" beside them.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from ..pipeline import RunListener
from ._output import console, duration, status_text

if TYPE_CHECKING:
    from rich.live import Live
    from rich.table import Table

    from ..pipeline import PipelineGraph, RunResult
    from ..store import Run, Store

_POLL_S = 1.0


class LiveProgress(RunListener):
    """Shows each step's status and time, and the progress of the running ones.

    Args:
        store: Where steps' ``report_progress`` calls are written; without it no progress
            beyond the status is shown.
    """

    def __init__(self, store: Store | None = None) -> None:
        self.store = store
        self._rows: dict[str, list[str]] = {}
        self._started: dict[str, float] = {}
        self._progress: dict[str, str] = {}
        self._run_id: str | None = None
        self._polled = 0.0
        self._lock = threading.Lock()
        self._live: Live | None = None

    def on_run_start(self, run: Run, graph: PipelineGraph) -> None:
        from rich.live import Live

        console().print(f"Run {run.id[:8]} of pipeline [bold]{graph.name}[/]")
        self._run_id = run.id
        self._rows = {name: [status_text("pending"), "", ""] for name in graph.order}
        self._live = Live(
            console=console(),
            refresh_per_second=4,
            transient=False,
            get_renderable=self._renderable,
        )
        self._live.start()

    def on_step_start(self, name: str) -> None:
        with self._lock:
            self._started[name] = time.perf_counter()
            self._rows[name] = [status_text("running"), "", ""]
        self._refresh()

    def on_step_end(self, name: str, state: str, seconds: float | None, error: str | None) -> None:
        note = (error or "").strip().split("\n", 1)[0][:120]
        with self._lock:
            self._started.pop(name, None)
            self._progress.pop(name, None)
            self._rows[name] = [
                status_text(state),
                duration(seconds) if state == "succeeded" or state == "failed" else "",
                note,
            ]
        self._refresh()

    def on_step_warning(self, name: str, message: str) -> None:
        from rich.markup import escape

        # Live prints above its table, so the warning stays on screen after the run.
        target = self._live.console if self._live is not None else console()
        target.print(f"[yellow]Warning:[/] {escape(message)}")

    def on_run_end(self, result: RunResult) -> None:
        self._refresh()
        if self._live is not None:
            self._live.stop()
            self._live = None
            if not console().is_terminal:
                console().line()  # Live leaves its last frame unterminated off a terminal

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.refresh()

    def _renderable(self) -> Table:
        self._poll()
        return self._table()

    def _poll(self) -> None:
        """Read the running steps' latest progress from the store, at most once a second."""
        now = time.monotonic()
        if self.store is None or self._run_id is None or now - self._polled < _POLL_S:
            return
        self._polled = now
        with self._lock:
            running = set(self._started)
        if not running:
            return
        try:
            progress = latest_progress(self.store, self._run_id, running)
        except Exception:  # the view must never break the run it shows
            return
        with self._lock:
            self._progress.update({k: v for k, v in progress.items() if k in self._started})

    def _table(self) -> Table:
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        table.add_column("step")
        table.add_column("status")
        table.add_column("time", justify="right")
        table.add_column("note", overflow="fold")
        with self._lock:
            for name, row in self._rows.items():
                status, took, note = row
                if name in self._progress:
                    note = self._progress[name]
                elif note:
                    note = f"[red]{note}[/]"
                table.add_row(name, status, took, note)
        return table


def latest_progress(store: Store, run_id: str, steps: set[str]) -> dict[str, str]:
    """``"12/20, ETA 40 s"`` per step of ``steps`` that reported progress in run ``run_id``."""
    from ..pipeline import step_progress

    out = {}
    for name, progress in step_progress(store, run_id).items():
        if name not in steps:
            continue
        text = f"{progress.done}/{progress.total}"
        if progress.seconds_left is not None and progress.done < progress.total:
            text += f", ETA {duration(progress.seconds_left)}"
        out[name] = text
    return out
