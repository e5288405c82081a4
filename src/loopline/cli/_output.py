"""Console output helpers: one console, errors, durations and times."""

from __future__ import annotations

import datetime as dt
import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

STATUS_STYLE = {
    "succeeded": "green",
    "cached": "cyan",
    "reused": "cyan",
    "running": "yellow",
    "failed": "red",
    "interrupted": "magenta",
    "pending": "dim",
}


@functools.cache
def console() -> Console:
    """The console for normal output."""
    from rich.console import Console

    return Console(highlight=False)


@functools.cache
def err_console() -> Console:
    """The console for errors (standard error)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def print_error(headline: str, hint: str | None = None) -> None:
    """Print an error's headline and, below it, what to do."""
    from rich.markup import escape

    err_console().print(f"[bold red]Error:[/] {escape(headline)}")
    if hint:
        err_console().print(f"[dim]Fix:[/] {escape(hint)}")


def status_text(text: str) -> str:
    """A status word in its colour."""
    return f"[{STATUS_STYLE.get(text, 'white')}]{text}[/]"


def duration(seconds: float | None) -> str:
    """``0.42 s``, ``3.1 s``, ``2 min 5 s``; ``-`` for None."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"


def when(timestamp: float | None) -> str:
    """A local date and time to the second."""
    if timestamp is None:
        return "-"
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")
