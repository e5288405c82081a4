"""Parameters and free-form values as text or table cells, for the run report's
parameter tables and extra sections.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ._html import format_number

__all__ = ["by_name", "cell_value", "plain", "to_json"]


def plain(value: Any) -> str:
    """A parameter value as text: numbers formatted, containers as compact JSON."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={plain(v)}" for k, v in value.items()) or "—"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return format_number(value)
    if isinstance(value, float):  # a setting: as typed, unless it has many digits
        return repr(value) if len(repr(value)) <= 10 else f"{value:.6g}"
    if isinstance(value, str):
        return value
    return to_json(value)


def cell_value(value: Any) -> object:
    """A table cell: numbers stay numbers (formatted and right-aligned), the rest is text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return to_json(value)


def to_json(value: Any) -> str:
    """``value`` as compact, sorted JSON (anything unknown as its ``str``)."""
    return json.dumps(value, default=str, ensure_ascii=False, sort_keys=True)


def by_name(item: tuple[Any, Any]) -> str:
    """Sort key of a ``(name, value)`` pair: the name as text."""
    return str(item[0])
