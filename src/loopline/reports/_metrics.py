"""How the reports name metrics: which way each one is better, and the order of metric
columns (the direction comes from ``loopline.components.METRICS``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..components import METRICS
from ._html import as_mapping

__all__ = ["better_word", "metric_arrow", "metric_names"]


def better_word(metric: str) -> str:
    """Which way ``metric`` is better, ``"higher"`` or ``"lower"``; ``""`` if unknown."""
    if metric not in METRICS:
        return ""
    return "higher" if METRICS[metric][1] == "max" else "lower"


def metric_arrow(metric: str, board: Mapping[str, Any] | None = None) -> str:
    """↑ or ↓ for a metric's better direction (the board's own metric too); ``""`` if unknown."""
    if metric in METRICS:
        return "↑" if METRICS[metric][1] == "max" else "↓"
    if board is not None and metric == board.get("metric"):
        return "↑" if board.get("direction") == "max" else "↓"
    return ""


def metric_names(rows: Sequence[Mapping[str, Any]], first: str) -> list[str]:
    """The metrics of ``rows``' means: ``first``, then the known ones in order, then the rest."""
    seen = {m for r in rows for m in as_mapping(r.get("means"))}
    ordered = [first] + [m for m in METRICS if m in seen and m != first]
    return ordered + sorted(m for m in seen if m not in ordered)
