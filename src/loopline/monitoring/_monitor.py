"""One monitoring window: read the request log, compare with the model's baseline, store it.

The reference side is the training statistics stored in the model package, so only the
window is scanned. Labels that arrived as feedback turn into performance metrics for the
window and their decay against the model's holdout metrics. Each window is stored (a
summary row with the flat *signals* alert rules read, and the full report as an artifact)
and recorded as an event.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..components import compute_statistics, metric_direction, score_predictions
from ._drift import DriftDetector
from ._feedback import LabelTarget
from ._report import DriftReport

if TYPE_CHECKING:
    from ..components import ModelPackage
    from ..registry import Registry
    from ..store import ModelVersion, Store

INPUT, OUTPUT = "in.", "out."


@dataclass
class MonitoringResult:
    """What one monitoring window found."""

    model: str
    version: int
    window_start: float | None
    window_end: float
    rows: int
    requests: int
    skipped_files: int
    drift: DriftReport
    performance: dict[str, Any] | None
    signals: dict[str, float]
    report_id: int = 0
    current_statistics: dict[str, Any] | None = None
    current_counts: dict[str, Any] = field(default_factory=dict)
    errors: int = 0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, stored as the window's artifact."""
        return {
            "model": self.model,
            "version": self.version,
            "window": {
                "start": self.window_start,
                "end": self.window_end,
                "rows": self.rows,
                "requests": self.requests,
                "skipped_files": self.skipped_files,
                "errors": self.errors,
            },
            "drift": self.drift.to_dict(),
            "performance": self.performance,
            "signals": self.signals,
            "current_statistics": self.current_statistics,
            "current_counts": self.current_counts,
            "notes": self.notes,
        }


def monitor(
    registry: Registry,
    ref: str,
    *,
    request_log: str | os.PathLike[str],
    window: timedelta | None = None,
    last: int | None = None,
    last_labelled: int | None = None,
    last_requests: int | None = None,
    now: datetime | None = None,
    detector: DriftDetector | None = None,
) -> MonitoringResult:
    """Monitor the version behind ``ref`` over a window of its logged requests.

    Args:
        registry: The registry the model is resolved in (its package is verified).
        ref: ``NAME@ALIAS`` or ``NAME/VERSION``.
        request_log: The request log's folder or URL (``Settings.request_log_url``).
        window: How far back from ``now`` to look (default: everything logged).
        last: Only the latest this many records of the version instead of a time window.
        last_labelled: The latest records of the version back to the one that makes this
            many labelled records (or all of them, when fewer are labelled).
        last_requests: The records of the version's latest this many requests (batches).
        now: The end of the window (default: now).
        detector: The drift detector's settings (default thresholds when None).

    Returns:
        The result, stored in the metadata store (``report_id``).

    Raises:
        NotFoundError: The reference names no model, alias or version.
    """
    version = registry.resolve(ref)
    package = registry.load_package(f"{version.model}/{version.version}")
    end = now or datetime.now(timezone.utc)
    start = end - window if window is not None else None
    frame, read = _read_window(
        request_log, version, start, end, last, last_labelled, last_requests, registry.store
    )
    features = frame[[f"{INPUT}{f}" for f in package.features if f"{INPUT}{f}" in frame]]
    features = features.rename(columns=lambda c: c[len(INPUT) :])
    predictions = frame.get(f"{OUTPUT}prediction")
    fitted = (detector or DriftDetector()).fit(package.statistics, package.prediction_statistics)
    drift = fitted.score(features, predictions=predictions if len(frame) else None)
    performance = window_performance(registry.store, version.model, package, frame)
    requests = int(frame["request_id"].nunique()) if len(frame) else 0
    from ..requestlog import count_errors

    errors = count_errors(request_log, version.model, start, end)
    result = MonitoringResult(
        model=version.model,
        version=version.version,
        window_start=start.timestamp() if start else _first_time(frame),
        window_end=end.timestamp(),
        rows=len(frame),
        requests=requests,
        skipped_files=read.files_skipped,
        drift=drift,
        performance=performance,
        signals=signals_of(drift, performance, len(frame), errors=errors, requests=requests),
        current_statistics=compute_statistics(features) if len(features) else None,
        current_counts=_counts_on_baseline(features, package.statistics),
        errors=errors,
        notes=list(drift.notes)
        + (
            [f"{read.files_skipped} request-log file(s) could not be read and were skipped"]
            if read.files_skipped
            else []
        ),
    )
    _store(registry, result)
    return result


def _read_window(
    root: str | os.PathLike[str],
    version: ModelVersion,
    start: datetime | None,
    end: datetime,
    last: int | None,
    last_labelled: int | None = None,
    last_requests: int | None = None,
    store: Store | None = None,
) -> tuple[pd.DataFrame, Any]:
    from ..requestlog import has_requests, read_request_log

    if not has_requests(root, version.model):
        from ..requestlog import ReadStats

        return pd.DataFrame({"request_id": [], "version": []}), ReadStats(0, 0, 0)
    wanted = last or last_labelled or last_requests
    if wanted is None:
        frame, read = read_request_log(root, version.model, since=start, until=end)
        return _of_version(frame, version), read
    # Read the newest records, more and more of them, until the version has enough: the
    # window is an amount of data, never "everything since the start" unless that is all.
    size = wanted
    while True:
        frame, read = read_request_log(root, version.model, until=end, last=size)
        # Past 64 times the amount, older versions' records fill the log: stop there.
        exhausted = len(frame) < size or size >= 64 * wanted
        mine = _of_version(frame, version)
        if last is not None:
            if len(mine) >= last or exhausted:
                return mine.tail(last).reset_index(drop=True), read
        elif last_requests is not None:
            ids = mine["request_id"].drop_duplicates() if len(mine) else mine["request_id"]
            if len(ids) >= last_requests or exhausted:
                keep = set(ids.tail(last_requests))
                return mine[mine["request_id"].isin(keep)].reset_index(drop=True), read
        else:
            assert last_labelled is not None and store is not None
            labels = store.monitoring.labels(version.model, mine["request_id"].unique())
            keys = list(zip(mine["request_id"], mine["row"].astype(int), strict=True))
            flags = np.array([key in labels for key in keys], dtype=bool)
            if int(flags.sum()) >= last_labelled or exhausted:
                if int(flags.sum()) > last_labelled:
                    first = np.flatnonzero(flags)[-last_labelled]
                    mine = mine.iloc[first:]
                return mine.reset_index(drop=True), read
        size *= 4


def _of_version(frame: pd.DataFrame, version: ModelVersion) -> pd.DataFrame:
    if len(frame):
        frame = frame[frame["version"].astype(str) == str(version.version)]
    return frame.reset_index(drop=True)


def _first_time(frame: pd.DataFrame) -> float | None:
    if not len(frame) or "timestamp" not in frame:
        return None
    return float(pd.to_datetime(frame["timestamp"]).min().timestamp())


def window_performance(
    store: Store, model: str, package: ModelPackage, frame: pd.DataFrame
) -> dict[str, Any] | None:
    """Metrics on the logged records of ``frame`` that have labels, and their decay vs the
    package's holdout metrics; None when no record has a label."""
    if not len(frame):
        return None
    labels = store.monitoring.labels(model, frame["request_id"].unique())
    # Labels stored before /feedback checked them may not fit the model: they are skipped
    # (a string among 0/1 labels made scikit-learn refuse the whole window, issue 10).
    target = LabelTarget.of(package)
    checked = {key: target.check(label) for key, label in labels.items()}
    labels = {key: label for key, (label, reason) in checked.items() if reason is None}
    if not labels:
        return None
    keys = list(zip(frame["request_id"], frame["row"].astype(int), strict=True))
    mask = np.array([key in labels for key in keys])
    labelled = frame[mask]
    y_true = np.array([labels[key] for key, keep in zip(keys, mask, strict=True) if keep])
    y_pred = labelled[f"{OUTPUT}prediction"].to_numpy()
    proba, classes = None, None
    if package.task == "classification":
        classes = package.manifest.get("classes") or []
        columns = [f"{OUTPUT}proba.{c}" for c in classes]
        if classes and all(c in labelled for c in columns):
            proba = labelled[columns].to_numpy(dtype=float)
        y_true = _like(y_true, y_pred)
    metrics, skipped = score_predictions(package.task, y_true, y_pred, proba=proba, labels=classes)
    holdout = package.evaluation.get("metrics", {})
    decay = {}
    for metric, value in metrics.items():
        if metric in holdout:
            gap = holdout[metric] - value
            decay[metric] = gap if metric_direction(metric) == "max" else -gap
    return {
        "labelled_rows": int(mask.sum()),
        "metrics": metrics,
        "skipped": skipped,
        "holdout": {k: v for k, v in holdout.items() if k in metrics},
        "decay": decay,
    }


def _like(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Labels in the predictions' type (JSON may turn class 1 into "1" or 1.0)."""
    try:
        return y_true.astype(y_pred.dtype)
    except (TypeError, ValueError):
        return y_true.astype(str)


def signals_of(
    drift: DriftReport,
    performance: dict[str, Any] | None,
    rows: int,
    *,
    errors: int = 0,
    requests: int = 0,
) -> dict[str, float]:
    """The flat numbers alert rules and triggers read (``drift_share``, ``psi.<f>``,
    ``metric.<m>``, ``decay.<m>``, ``error_rate``, ``rows``)."""
    signals: dict[str, float] = {"rows": float(rows)}
    if errors or requests:
        signals["error_rate"] = errors / (errors + requests)
    if drift.share_drifted is not None:
        signals["drift_share"] = float(drift.share_drifted)
        signals["dataset_drift"] = float(drift.dataset_drift)
    for feature in drift.features:
        if feature.psi is not None:
            signals[f"psi.{feature.name}"] = float(feature.psi)
    if drift.prediction is not None and drift.prediction.psi is not None:
        signals["psi.prediction"] = float(drift.prediction.psi)
    for key in ("metrics", "decay"):
        for metric, value in (performance or {}).get(key, {}).items():
            signals[f"{'metric' if key == 'metrics' else 'decay'}.{metric}"] = float(value)
    if performance:
        signals["labelled_rows"] = float(performance["labelled_rows"])
    return signals


def _store(registry: Registry, result: MonitoringResult) -> None:
    blob = registry.artifacts.save(result.to_dict())
    record = registry.store.artifacts.add(
        uri=blob.uri,
        sha256=blob.sha256,
        type="monitoring.report",
        materializer=blob.materializer,
        size=blob.size,
        metadata={"model": result.model, "version": result.version},
    )
    result.report_id = registry.store.monitoring.add_report(
        model=result.model,
        version=result.version,
        window_start=result.window_start,
        window_end=result.window_end,
        rows=result.rows,
        drift_share=result.drift.share_drifted,
        dataset_drift=result.drift.dataset_drift,
        drifted=result.drift.drifted_features,
        signals=result.signals,
        artifact_id=record.id,
    )
    registry.store.events.append(
        "monitoring.window",
        "model",
        f"{result.model}/{result.version}",
        actor="monitor",
        reason=_headline(result),
        payload={
            "report": result.report_id,
            "rows": result.rows,
            "drifted": result.drift.drifted_features,
        },
    )


def _headline(result: MonitoringResult) -> str:
    if result.rows == 0:
        return "no requests in the window"
    drifted = result.drift.drifted_features
    text = f"{len(drifted)} of {result.drift.n_compared} features drifted" + (
        f" ({', '.join(drifted)})" if drifted else ""
    )
    if result.performance:
        shown = ", ".join(f"{k} {v:.3f}" for k, v in sorted(result.performance["metrics"].items()))
        text += f"; on {result.performance['labelled_rows']} labelled rows: {shown}"
    return text


def _counts_on_baseline(features: pd.DataFrame, baseline: dict[str, Any]) -> dict[str, Any]:
    """The window's counts on the training histogram's bins (numeric) or per category."""
    from ..components import bin_counts

    counts: dict[str, Any] = {}
    for name, entry in baseline.get("columns", {}).items():
        if name not in features or not len(features):
            continue
        edges = (entry.get("histogram") or {}).get("edges") or []
        if entry.get("kind") == "numeric" and len(edges) >= 2:
            values = pd.to_numeric(features[name], errors="coerce").to_numpy(dtype=float)
            counts[name] = [int(c) for c in bin_counts(values, np.asarray(edges, dtype=float))]
        elif entry.get("kind") in ("categorical", "boolean"):
            tally = features[name].dropna().astype(str).value_counts()
            counts[name] = {str(k): int(v) for k, v in tally.items()}
    return counts
