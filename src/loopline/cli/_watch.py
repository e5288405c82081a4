"""``loopline watch``, ``loopline retrain`` and ``loopline events``."""

from __future__ import annotations

import time
from pathlib import Path

from ._output import console, err_console, print_json, when


def _echo(line: str) -> None:
    from rich.markup import escape

    console().print(f"[dim]{when(time.time())}[/] {escape(line)}")


def _echo_err(line: str) -> None:
    from rich.markup import escape

    err_console().print(f"[dim]{when(time.time())}[/] {escape(line)}")


def watch_command(
    project: Path | None, *, once: bool, interval: float, as_json: bool = False
) -> None:
    """Run the controller once, or every ``interval`` seconds until interrupted.

    With ``as_json`` (and ``once``) the narration goes to standard error and standard output
    is one JSON object: ``{"events": [...], "window": {...} | null}``.
    """
    from ..automation import Controller
    from ..config import load_settings

    settings = load_settings(project)
    with Controller(settings, echo=_echo_err if as_json else _echo) as controller:
        if once:
            latest = controller.store.events.list(limit=1)
            first = latest[0].id if latest else 0
            kinds = controller.run_once()
            if as_json:
                made = [
                    e for e in reversed(controller.store.events.list(limit=500)) if e.id > first
                ]
                window = controller.last_window
                print_json(
                    {
                        "events": made,
                        "window": None if window is None else _window_json(window),
                    }
                )
                return
            console().print(f"Recorded {len(kinds)} event(s): {', '.join(kinds) or 'none'}")
            return
        console().print(f"Watching {controller.name} every {interval:g} s (Ctrl-C to stop)")
        controller.watch(interval=interval)


def _window_json(window: object) -> dict[str, object]:
    data = window.to_dict()  # type: ignore[attr-defined]
    data.pop("current_statistics", None)
    data.pop("current_counts", None)
    data["report_id"] = window.report_id  # type: ignore[attr-defined]
    return data  # type: ignore[no-any-return]


def retrain_command(project: Path | None) -> None:
    """Retrain now, or ask the running controller to."""
    from ..automation import Controller, request_retrain
    from ..config import load_settings
    from ..errors import ConflictError

    settings = load_settings(project)
    try:
        controller = Controller(settings, echo=_echo).__enter__()
    except ConflictError as exc:
        request_retrain(settings)
        console().print(f"{exc} It will retrain at its next check.")
        return
    try:
        controller.run_once(manual=True)
    finally:
        controller.close()


def events_command(
    project: Path | None, *, limit: int, kind: str | None, as_json: bool = False
) -> None:
    """Print the event log, oldest of the selection first (a JSON list with ``as_json``)."""
    from rich.markup import escape

    from ..config import load_settings
    from ..store import Store

    with Store(load_settings(project).store_url) as store:
        shown = list(reversed(store.events.list(limit=limit, kind=kind)))
    if as_json:
        print_json(shown)
        return
    if not shown:
        console().print("No events yet.")
        return
    for event in shown:
        reason = f" — {escape(event.reason)}" if event.reason else ""
        console().print(
            f"{when(event.time)}  [bold]{event.kind:<24}[/] {escape(event.subject_id):<14} "
            f"[dim]{escape(event.actor)}[/]{reason}"
        )
