"""How the monitoring report writes its values: compact numbers, flagged numbers, times,
links to the feature cards, chart boxes and the labels of the compared samples.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from ._html import MISSING, Markup, escape, finite_or_none, format_number, format_timestamp
from ._monitoring_inputs import MonitoringInputs

__all__ = [
    "TRAINING",
    "WINDOW",
    "cell_number",
    "chart_box",
    "compact",
    "compact_text",
    "feature_link",
    "flag",
    "flag_text",
    "time_text",
    "to_epoch",
]

#: How the charts name the two samples they compare.
TRAINING, WINDOW = "training", "this window"


def feature_link(data: MonitoringInputs, name: str) -> str:
    """A feature's name, linked to its card when it has one."""
    anchor = data.anchors.get(name)
    if anchor is None:
        return f"<code>{escape(name)}</code>"
    return f'<a href="#{escape(anchor)}"><code>{escape(name)}</code></a>'


def flag(value: float | None, loud: bool, *, p_value: bool = False) -> Markup:
    """A number, in the alarm style when ``loud``."""
    text = format_number(value, 2 if p_value else 4) if value is not None else MISSING
    return flag_text(text, loud and value is not None)


def flag_text(text: str, loud: bool) -> Markup:
    """``text`` escaped, in the alarm style when ``loud``."""
    if loud:
        return Markup(f'<span class="over">{escape(text)}</span>')
    return escape(text)


def cell_number(value: Any) -> object:
    """A table cell: a finite number as is (formatted by the table), anything else as text."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return value
    number = finite_or_none(value)
    return MISSING if number is None else number


def compact(value: Any) -> Markup:
    """``compact_text(value)`` as a table cell."""
    return escape(compact_text(value))


def compact_text(value: Any) -> str:
    """A number without trailing zeros (``0.09`` rather than ``0.09000``)."""
    text = format_number(value)
    if finite_or_none(value) is not None and "." in text and "e" not in text:
        text = text.rstrip("0").rstrip(".")
    return text


def to_epoch(value: Any) -> float | None:
    """A time as epoch seconds: a number, a ``datetime`` (naive = UTC) or ISO 8601 text."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return moment.timestamp()
    if isinstance(value, str):
        try:
            return to_epoch(datetime.fromisoformat(value.strip()))
        except ValueError:
            return None
    return finite_or_none(value)


def time_text(value: Any) -> str:
    """A time for people (``2024-05-01 12:00:00 UTC``); text that is no time is kept."""
    epoch = to_epoch(value)
    if epoch is None:
        return MISSING if value is None or isinstance(value, int | float) else str(value)
    return format_timestamp(epoch)


def chart_box(svg: str) -> str:
    """An SVG chart in its ``div``."""
    return f'<div class="chart">{svg}</div>'
