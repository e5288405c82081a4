"""The HTML report of one monitoring window of a served model: drift, performance, alerts.

``render_monitoring_report`` takes plain dicts (a ``DriftReport.to_dict()``, the training
statistics the model carries, the window's statistics, the summaries of earlier windows), so
a report can be rebuilt from what the store keeps. The page answers, top to bottom: is the
model still fine (the verdict), what fired (alerts), which features moved and how (a paired
histogram per drifted feature, training against the window, with the tests' numbers and the
reasons), whether the predictions and the measured performance moved, and how all of this
evolved over the earlier windows.

An empty window (no requests) is not an alarm: the page says so in a neutral tone and shows
no feature as drifted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._html import (
    MISSING,
    Markup,
    Section,
    Tone,
    as_list,
    as_mapping,
    as_records,
    escape,
    finite_or_none,
    format_duration,
    format_number,
    format_percent,
    plural,
    render_badge,
    render_page,
)
from ._monitoring_alerts import alerts_badge, alerts_section
from ._monitoring_features import (
    drifted_section,
    others_section,
    overview_section,
    prediction_section,
    schema_section,
    settings_section,
)
from ._monitoring_format import compact_text, feature_link, time_text, to_epoch
from ._monitoring_inputs import MonitoringInputs, as_count, checked_mapping, drift_dict
from ._monitoring_performance import history_section, performance_section
from ._run_report import SupportsToDict

__all__ = ["render_monitoring_report"]

_EMPTY = "no requests in the window"


def render_monitoring_report(
    *,
    model: str,
    version: int,
    window: Mapping[str, Any],
    drift: Mapping[str, Any] | SupportsToDict,
    baseline: Mapping[str, Any],
    current: Mapping[str, Any] | None = None,
    current_counts: Mapping[str, Sequence[Any] | Mapping[str, Any]] | None = None,
    history: Sequence[Mapping[str, Any]] = (),
    performance: Mapping[str, Any] | None = None,
    alerts: Sequence[Mapping[str, Any]] = (),
) -> str:
    """Render the self-contained HTML report of one monitoring window of a served model.

    The page has a header (model, version, window span, rows, a verdict badge: *drift*,
    *no drift* or *no requests*, and the number of alerts), then the sections: summary,
    alerts, drifted features (a paired histogram each, training against the window, with
    PSI / KS / chi-square / JS, the missing-rate change, schema violations and the reasons
    it drifted), prediction drift (when compared), performance, trends over the earlier
    windows, an overview table of every feature, the other features (collapsed), schema and
    the detector's settings.

    Args:
        model: The served model's name.
        version: Its version.
        window: ``{"start": epoch s, "end": epoch s, "rows": int, "requests": int,
            "skipped_files": int}``; missing keys show as "—" (rows default to the drift
            report's ``n_rows``).
        drift: ``DriftReport.to_dict()`` of the window (or the ``DriftReport`` itself).
        baseline: The training statistics the model carries (``compute_statistics``
            format); the charts use its histograms' edges and its top categories.
        current: ``compute_statistics`` of the window's features, or None (an empty window,
            or not computed): then a feature shows its numbers and, from ``current_counts``,
            its chart.
        current_counts: Feature -> the window's counts on the baseline's bins: for a
            numeric feature a list of ``len(edges) - 1`` counts (``bin_counts(values,
            edges)``), for a categorical one a mapping category -> count. Preferred over
            ``current``; needed when ``current``'s histogram edges differ from the
            baseline's (else the two histograms are shown side by side, each on its own
            bins).
        history: Summaries of earlier windows, oldest first: ``{"end": epoch s,
            "drift_share": float | None, "drifted": [names], "metrics": {name: value},
            "rows": int}``. This window is added as the last point unless the last entry
            already ends where it ends.
        performance: ``{"labelled_rows": int, "metrics": {name: value} (this window),
            "holdout": {name: value} (the model's holdout evaluation), "decay": {name:
            value}}``, or None while no label has arrived. The holdout values are drawn as
            reference lines on the metrics' trends.
        alerts: The alerts fired in this window: ``{"rule", "state", "value", "message",
            "severity", "time" (epoch s)}``.

    Returns:
        The page, starting with ``<!DOCTYPE html>`` (save it with ``write_report``).

    Raises:
        InvalidInputError: ``drift`` is not a drift report dict (no ``features`` mapping),
            or ``window``, ``baseline``, ``current``, ``performance`` is not a mapping.

    Example:
        >>> import pandas as pd
        >>> from loopline.components import compute_statistics
        >>> from loopline.monitoring import DriftDetector
        >>> train = pd.DataFrame({"x": [float(i % 17) for i in range(200)]})
        >>> stats = compute_statistics(train)
        >>> drift = DriftDetector().fit(stats).score(train.iloc[:0]).to_dict()
        >>> window = {"start": 0, "end": 3600, "rows": 0, "requests": 0, "skipped_files": 0}
        >>> page = render_monitoring_report(
        ...     model="m", version=1, window=window, drift=drift, baseline=stats
        ... )
        >>> "no requests in the window" in page
        True
    """
    report = drift_dict(drift)
    window = checked_mapping(window, "window")
    baseline = checked_mapping(baseline, "baseline")
    current = None if current is None else checked_mapping(current, "current")
    performance = None if performance is None else checked_mapping(performance, "performance")
    data = MonitoringInputs(
        model=str(model),
        version=version,
        window=window,
        drift=report,
        baseline=as_mapping(baseline.get("columns")),
        current=None if current is None else as_mapping(current.get("columns")),
        counts=as_mapping(current_counts),
        history=as_records(history),
        performance=performance,
        alerts=as_records(alerts),
    )
    verdict, tone = _verdict(data)
    sections = [
        _summary_section(data, verdict, tone),
        alerts_section(data),
        drifted_section(data),
    ]
    if data.drift.get("prediction") is not None and not data.empty:
        sections.append(prediction_section(data))
    sections += [performance_section(data), history_section(data)]
    if not data.empty:  # an empty window compared nothing: no table, no schema to show
        others = others_section(data)
        sections += [overview_section(data), *([others] if others else []), schema_section(data)]
    sections.append(settings_section(data))
    start, end = data.window.get("start"), data.window.get("end")
    page = render_page(
        f"Monitoring report: {data.model} v{_version_text(version)}",
        subtitle=_span_text(start, end),
        badges=[render_badge(verdict, tone), alerts_badge(data)],
        facts=[
            ("Model", data.model),
            ("Version", _version_text(version)),
            ("Window start", time_text(start)),
            ("Window end", time_text(end)),
            ("Rows", data.rows),
            ("Requests", data.window.get("requests")),
            ("Skipped files", data.window.get("skipped_files")),
            ("Verdict", render_badge(verdict, tone)),
            ("Features drifted", _drifted_count_text(data)),
            ("Alerts", alerts_badge(data)),
        ],
        sections=sections,
    )
    return page.replace("</style>", _CSS + "</style>", 1)


# -- verdict and summary ------------------------------------------------------------------


def _verdict(data: MonitoringInputs) -> tuple[str, Tone]:
    if data.empty:
        return "no requests", "neutral"
    if data.drift.get("dataset_drift") or data.drift.get("prediction_drift"):
        return "drift", "bad"
    if data.drift.get("share_drifted") is None:
        return "nothing compared", "warn"
    if data.drifted:
        return "no dataset drift", "warn"
    return "no drift", "good"


def _verdict_detail(data: MonitoringInputs) -> str:
    if data.empty:
        return "No requests in the window: nothing was compared, so nothing can have drifted."
    share = data.drift.get("share_drifted")
    if share is None:
        return (
            "No feature could be compared with the training data (see Schema): the window's "
            "columns are missing or of another type."
        )
    threshold = data.threshold("drift_share", 0.5)
    count = f"{len(data.drifted)} of {format_number(data.drift.get('n_compared'))}"
    text = (
        f"{count} compared features drifted ({format_percent(share)}); the dataset drifts "
        f"from {format_percent(threshold, 0)}."
    )
    if data.drift.get("dataset_drift"):
        text = f"Dataset drift: {text}"
    elif data.drifted:
        text = f"No dataset drift: {text}"
    if data.drift.get("prediction_drift"):
        text = f"The model's predictions drifted. {text}"
    return text


def _summary_section(data: MonitoringInputs, verdict: str, tone: Tone) -> Section:
    parts = [
        f'<div class="verdict {tone}">{render_badge(verdict, tone)}'
        f"<span>{escape(_verdict_detail(data))}</span></div>"
    ]
    lines = [_traffic_line(data)]
    if not data.empty:
        if data.drifted:
            links = ", ".join(feature_link(data, name) for name, _ in data.drifted)
            lines.append(f"Drifted features: {links}.")
        else:
            lines.append("No feature drifted.")
        prediction = data.drift.get("prediction")
        if isinstance(prediction, Mapping):
            state = "drifted" if prediction.get("drifted") else "are stable"
            lines.append(f'Predictions {state} (see <a href="#prediction">Prediction drift</a>).')
        violations = as_mapping(data.drift.get("schema_violations"))
        if violations:
            verb = "breaks" if len(violations) == 1 else "break"
            lines.append(
                f"{plural(len(violations), 'feature')} {verb} the training schema "
                '(see <a href="#schema">Schema</a>).'
            )
    lines.append(_performance_line(data))
    if data.alerts:
        lines.append(
            f'{plural(len(data.alerts), "alert")} fired: see <a href="#alerts">Alerts</a>.'
        )
    else:
        lines.append("No alert fired.")
    for note in as_list(data.drift.get("notes")):
        if note == _EMPTY:
            continue  # the verdict says it
        lines.append(f'<span class="muted">Note: {escape(note)}.</span>')
    parts.append('<ul class="plain">' + "".join(f"<li>{line}</li>" for line in lines) + "</ul>")
    return Section("summary", "Summary", Markup("".join(parts)), render_badge(verdict, tone))


def _traffic_line(data: MonitoringInputs) -> str:
    window = data.window
    if data.empty:
        text = f"0 rows: {_EMPTY}."
    else:
        text = (
            f"{escape(format_number(data.rows))} rows from "
            f"{escape(format_number(window.get('requests')))} requests."
        )
    skipped = as_count(window.get("skipped_files"))
    if skipped:
        text += (
            f" {render_badge(plural(skipped, 'file') + ' skipped', 'warn')} (they could "
            "not be read: their requests are not in these numbers)."
        )
    return text


def _performance_line(data: MonitoringInputs) -> str:
    if not data.labelled:
        return "Performance: no labels yet for this window."
    assert data.performance is not None
    shown = []
    for name, value in data.metrics.items():
        text = f"{escape(name)} {escape(compact_text(value))}"
        holdout = data.holdout.get(name)
        if finite_or_none(holdout) is not None:
            text += f" (holdout {escape(compact_text(holdout))})"
        shown.append(text)
    rows = data.performance.get("labelled_rows")
    return f"Performance on {escape(format_number(rows))} labelled rows: {', '.join(shown)}."


# -- header -------------------------------------------------------------------------------


def _drifted_count_text(data: MonitoringInputs) -> str:
    if data.empty:
        return MISSING
    return f"{len(data.drifted)} of {format_number(data.drift.get('n_compared'))}"


def _span_text(start: Any, end: Any) -> str:
    first, last = to_epoch(start), to_epoch(end)
    text = f"Window from {time_text(start)} to {time_text(end)}"
    if first is not None and last is not None and last >= first:
        text += f" ({format_duration(last - first)})"
    return text


def _version_text(version: Any) -> str:
    return str(version) if version is not None else MISSING


_CSS = """
.feature-card { border: 1px solid var(--border); border-radius: 8px; padding: 10px 14px;
  margin: 14px 0; }
.feature-card.drifted { border-left: 4px solid var(--bad); }
.feature-head { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; }
.feature-head h3 { margin: 0; overflow-wrap: anywhere; }
.feature-grid { display: grid; grid-template-columns: minmax(0, 560px) minmax(260px, 1fr);
  gap: 4px 24px; align-items: start; }
.feature-grid.single { grid-template-columns: minmax(0, 560px); }
.feature-facts .table-wrap { margin-top: 0; }
.feature-facts caption { font-size: 13px; color: var(--muted); }
p.label { margin: 8px 0 2px; font-size: 12px; color: var(--muted); text-transform: uppercase;
  letter-spacing: .04em; }
ul.reasons li { color: var(--bad); }
ul.violations li { color: var(--warn); }
.over { color: var(--bad); font-weight: 600; }
.feature-facts table { width: 100%; }
.feature-facts td.num { white-space: normal; }
.freq { display: inline-block; width: 120px; height: 10px; background: var(--neutral-bg);
  border-radius: 3px; vertical-align: middle; overflow: hidden; }
.freq > span { display: block; height: 100%; background: #0072B2; }
@media (max-width: 960px) { .feature-grid { grid-template-columns: minmax(0, 1fr); } }
"""
