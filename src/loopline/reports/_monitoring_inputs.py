"""The monitoring report's checked inputs, and what several of its sections derive from
them (rows, emptiness, features, anchors, detector thresholds, labelled metrics).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

from loopline.errors import InvalidInputError

from ._html import as_mapping, finite_or_none, slugify

__all__ = ["MonitoringInputs", "as_count", "checked_mapping", "drift_dict"]


class MonitoringInputs:
    """The checked inputs of ``render_monitoring_report``, and what several sections derive."""

    def __init__(
        self,
        *,
        model: str,
        version: int,
        window: Mapping[str, Any],
        drift: Mapping[str, Any],
        baseline: Mapping[str, Any],
        current: Mapping[str, Any] | None,
        counts: Mapping[str, Any],
        history: list[Mapping[str, Any]],
        performance: Mapping[str, Any] | None,
        alerts: list[Mapping[str, Any]],
    ) -> None:
        self.model = model
        self.version = version
        self.window = window
        self.drift = drift
        self.baseline = baseline
        self.current = current
        self.counts = counts
        self.history = history
        self.performance = performance
        self.alerts = alerts
        rows, compared_rows = as_count(window.get("rows")), as_count(drift.get("n_rows"))
        self.rows: int = rows if rows is not None else compared_rows or 0
        self.empty = self.rows == 0 or compared_rows == 0
        self.features: list[tuple[str, Mapping[str, Any]]] = [
            (str(name), entry)
            for name, entry in as_mapping(drift.get("features")).items()
            if isinstance(entry, Mapping)
        ]
        # Each feature's card anchor: its position makes it unique, its name readable.
        self.anchors = {
            name: f"feature-{i + 1}-{slugify(name)}" for i, (name, _) in enumerate(self.features)
        }
        self.params = as_mapping(drift.get("params"))

    def threshold(self, name: str, default: float) -> float:
        """A detector parameter (the default when the report lacks it)."""
        value = finite_or_none(self.params.get(name))
        return default if value is None else value

    @property
    def drifted(self) -> list[tuple[str, Mapping[str, Any]]]:
        """The features that drifted (none in an empty window)."""
        return [(n, e) for n, e in self.features if e.get("drifted") and not self.empty]

    @property
    def metrics(self) -> Mapping[str, Any]:
        """This window's metrics on labelled rows (empty without performance)."""
        return as_mapping(self.performance.get("metrics")) if self.performance else {}

    @property
    def holdout(self) -> Mapping[str, Any]:
        """The model's holdout metrics (empty without performance)."""
        return as_mapping(self.performance.get("holdout")) if self.performance else {}

    @property
    def labelled(self) -> bool:
        """Whether the window has labels and metrics computed on them."""
        if self.performance is None or not self.metrics:
            return False
        rows = self.performance.get("labelled_rows")
        return as_count(rows) != 0


def drift_dict(drift: Any) -> Mapping[str, Any]:
    """The drift report as a mapping; raises if it has no ``features`` mapping."""
    if not isinstance(drift, Mapping):
        to_dict = getattr(drift, "to_dict", None)
        drift = to_dict() if callable(to_dict) else drift
    if not isinstance(drift, Mapping) or not isinstance(drift.get("features"), Mapping):
        raise InvalidInputError(
            "The 'drift' argument of render_monitoring_report must be a DriftReport or its "
            f"to_dict(), with a 'features' mapping. Got {type(drift).__name__}.",
            hint="drift = DriftDetector().fit(statistics).score(window).to_dict()",
            value=type(drift).__name__,
        )
    return drift


def checked_mapping(value: Any, name: str) -> Mapping[str, Any]:
    """``value`` if it is a mapping; raises naming the argument otherwise."""
    if not isinstance(value, Mapping):
        raise InvalidInputError(
            f"The {name!r} argument of render_monitoring_report must be a dict. "
            f"Got {type(value).__name__}.",
            value=type(value).__name__,
        )
    return value


def as_count(value: Any) -> int | None:
    """``value`` as a count (an integer >= 0), or None if it is not one."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        return None
    return int(value)
