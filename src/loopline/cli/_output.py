"""Console output helpers: one console, errors, durations and times."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import sys
from typing import TYPE_CHECKING, Any

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
    """The console for normal output: no wrapping at 80 columns when piped or redirected."""
    from rich.console import Console

    if sys.stdout.isatty():
        return Console(highlight=False)
    # Piped: lines stay whole (a width wide enough for any line); no colours, no markup codes.
    return Console(highlight=False, width=100_000, no_color=True, soft_wrap=True)


def print_json(value: Any) -> None:
    """Print ``value`` as JSON on standard output (dataclasses become objects)."""
    sys.stdout.write(json.dumps(to_plain(value), indent=2, allow_nan=False, default=str) + "\n")
    sys.stdout.flush()


def to_plain(value: Any) -> Any:
    """Dataclasses, tuples and NaN-free floats as JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_plain(v) for v in value]
    if isinstance(value, float) and value != value:  # NaN
        return None
    return value


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
