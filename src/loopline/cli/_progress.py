"""A live view of a run's steps, fed by the runner's listener calls."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..pipeline import RunListener
from ._output import console, duration, status_text

if TYPE_CHECKING:
    from rich.live import Live
    from rich.table import Table

    from ..pipeline import PipelineGraph, RunResult
    from ..store import Run


class LiveProgress(RunListener):
    """Shows each step's status and time while the run goes on."""

    def __init__(self) -> None:
        self._rows: dict[str, list[str]] = {}
        self._started: dict[str, float] = {}
        self._live: Live | None = None

    def on_run_start(self, run: Run, graph: PipelineGraph) -> None:
        from rich.live import Live

        console().print(f"Run {run.id[:8]} of pipeline [bold]{graph.name}[/]")
        self._rows = {name: [status_text("pending"), "", ""] for name in graph.order}
        self._live = Live(self._table(), console=console(), refresh_per_second=8, transient=False)
        self._live.start()

    def on_step_start(self, name: str) -> None:
        self._started[name] = time.perf_counter()
        self._rows[name] = [status_text("running"), "", ""]
        self._refresh()

    def on_step_end(self, name: str, state: str, seconds: float | None, error: str | None) -> None:
        note = (error or "").strip().split("\n", 1)[0][:120]
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
            self._live.update(self._table())

    def _table(self) -> Table:
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        table.add_column("step")
        table.add_column("status")
        table.add_column("time", justify="right")
        table.add_column("note", style="red", overflow="fold")
        for name, row in self._rows.items():
            table.add_row(name, *row)
        return table
