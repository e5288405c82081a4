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

import math
import numbers
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from loopline.errors import InvalidInputError

from ..components import METRICS
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
    format_timestamp,
    render_badge,
    render_note,
    render_page,
    render_table,
    slugify,
)
from ._run_report import SupportsToDict
from ._svg import LineSeries, draw_line_chart, draw_paired_histogram

__all__ = ["render_monitoring_report"]

#: Categories shown in a categorical feature's chart; the rest are pooled in one bar.
MAX_CATEGORIES = 12
#: The label of that pooled bar.
OTHER_VALUES = "(all other values)"
#: Features listed in the table of how often each one drifted over the windows.
MAX_FREQUENT = 15
#: Width of a trend chart: two fit side by side on the page.
_TREND_WIDTH = 480

_EMPTY = "no requests in the window"
_TRAINING, _WINDOW = "training", "this window"
_SEVERITY_TONES: dict[str, Tone] = {
    "critical": "bad",
    "error": "bad",
    "high": "bad",
    "page": "bad",
    "warning": "warn",
    "warn": "warn",
    "medium": "warn",
    "info": "neutral",
    "low": "neutral",
}
_STATE_TONES: dict[str, Tone] = {
    "resolved": "good",
    "ok": "good",
    "inactive": "neutral",
    "pending": "warn",
}


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
    report = _drift_dict(drift)
    window = _checked_mapping(window, "window")
    baseline = _checked_mapping(baseline, "baseline")
    current = None if current is None else _checked_mapping(current, "current")
    performance = None if performance is None else _checked_mapping(performance, "performance")
    data = _Inputs(
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
        _alerts_section(data),
        _drifted_section(data),
    ]
    if data.drift.get("prediction") is not None and not data.empty:
        sections.append(_prediction_section(data))
    sections += [_performance_section(data), _history_section(data)]
    if not data.empty:  # an empty window compared nothing: no table, no schema to show
        others = _others_section(data)
        sections += [_overview_section(data), *([others] if others else []), _schema_section(data)]
    sections.append(_settings_section(data))
    start, end = data.window.get("start"), data.window.get("end")
    page = render_page(
        f"Monitoring report: {data.model} v{_version_text(version)}",
        subtitle=_span_text(start, end),
        badges=[render_badge(verdict, tone), _alerts_badge(data)],
        facts=[
            ("Model", data.model),
            ("Version", _version_text(version)),
            ("Window start", _time_text(start)),
            ("Window end", _time_text(end)),
            ("Rows", data.rows),
            ("Requests", data.window.get("requests")),
            ("Skipped files", data.window.get("skipped_files")),
            ("Verdict", render_badge(verdict, tone)),
            ("Features drifted", _drifted_count_text(data)),
            ("Alerts", _alerts_badge(data)),
        ],
        sections=sections,
    )
    return page.replace("</style>", _CSS + "</style>", 1)


# -- inputs -------------------------------------------------------------------------------


class _Inputs:
    """The checked inputs, and what several sections derive from them."""

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
        rows, compared_rows = _count(window.get("rows")), _count(drift.get("n_rows"))
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
        return [(n, e) for n, e in self.features if e.get("drifted") and not self.empty]

    @property
    def metrics(self) -> Mapping[str, Any]:
        return as_mapping(self.performance.get("metrics")) if self.performance else {}

    @property
    def holdout(self) -> Mapping[str, Any]:
        return as_mapping(self.performance.get("holdout")) if self.performance else {}

    @property
    def labelled(self) -> bool:
        """Whether the window has labels and metrics computed on them."""
        if self.performance is None or not self.metrics:
            return False
        rows = self.performance.get("labelled_rows")
        return _count(rows) != 0


def _drift_dict(drift: Any) -> Mapping[str, Any]:
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


def _checked_mapping(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInputError(
            f"The {name!r} argument of render_monitoring_report must be a dict. "
            f"Got {type(value).__name__}.",
            value=type(value).__name__,
        )
    return value


# -- verdict and summary ------------------------------------------------------------------


def _verdict(data: _Inputs) -> tuple[str, Tone]:
    if data.empty:
        return "no requests", "neutral"
    if data.drift.get("dataset_drift") or data.drift.get("prediction_drift"):
        return "drift", "bad"
    if data.drift.get("share_drifted") is None:
        return "nothing compared", "warn"
    if data.drifted:
        return "no dataset drift", "warn"
    return "no drift", "good"


def _verdict_detail(data: _Inputs) -> str:
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


def _summary_section(data: _Inputs, verdict: str, tone: Tone) -> Section:
    parts = [
        f'<div class="verdict {tone}">{render_badge(verdict, tone)}'
        f"<span>{escape(_verdict_detail(data))}</span></div>"
    ]
    lines = [_traffic_line(data)]
    if not data.empty:
        if data.drifted:
            links = ", ".join(_feature_link(data, name) for name, _ in data.drifted)
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
                f"{_plural(len(violations), 'feature')} {verb} the training schema "
                '(see <a href="#schema">Schema</a>).'
            )
    lines.append(_performance_line(data))
    if data.alerts:
        lines.append(
            f'{_plural(len(data.alerts), "alert")} fired: see <a href="#alerts">Alerts</a>.'
        )
    else:
        lines.append("No alert fired.")
    for note in as_list(data.drift.get("notes")):
        if note == _EMPTY:
            continue  # the verdict says it
        lines.append(f'<span class="muted">Note: {escape(note)}.</span>')
    parts.append('<ul class="plain">' + "".join(f"<li>{line}</li>" for line in lines) + "</ul>")
    return Section("summary", "Summary", Markup("".join(parts)), render_badge(verdict, tone))


def _traffic_line(data: _Inputs) -> str:
    window = data.window
    if data.empty:
        text = f"0 rows: {_EMPTY}."
    else:
        text = (
            f"{escape(format_number(data.rows))} rows from "
            f"{escape(format_number(window.get('requests')))} requests."
        )
    skipped = _count(window.get("skipped_files"))
    if skipped:
        text += (
            f" {render_badge(_plural(skipped, 'file') + ' skipped', 'warn')} (they could "
            "not be read: their requests are not in these numbers)."
        )
    return text


def _performance_line(data: _Inputs) -> str:
    if not data.labelled:
        return "Performance: no labels yet for this window."
    assert data.performance is not None
    shown = []
    for name, value in data.metrics.items():
        text = f"{escape(name)} {escape(_compact_text(value))}"
        holdout = data.holdout.get(name)
        if finite_or_none(holdout) is not None:
            text += f" (holdout {escape(_compact_text(holdout))})"
        shown.append(text)
    rows = data.performance.get("labelled_rows")
    return f"Performance on {escape(format_number(rows))} labelled rows: {', '.join(shown)}."


def _drifted_count_text(data: _Inputs) -> str:
    if data.empty:
        return MISSING
    return f"{len(data.drifted)} of {format_number(data.drift.get('n_compared'))}"


# -- alerts -------------------------------------------------------------------------------


def _alerts_badge(data: _Inputs) -> Markup:
    if not data.alerts:
        return render_badge("no alerts", "neutral" if data.empty else "good")
    tones = [_severity_tone(a.get("severity")) for a in data.alerts]
    worst: Tone = "bad" if "bad" in tones else "warn" if "warn" in tones else "neutral"
    return render_badge(_plural(len(data.alerts), "alert"), worst)


def _severity_tone(severity: Any) -> Tone:
    return _SEVERITY_TONES.get(str(severity).strip().lower(), "neutral")


def _alerts_section(data: _Inputs) -> Section:
    order = {"bad": 0, "warn": 1, "neutral": 2, "good": 3}
    alerts = sorted(data.alerts, key=lambda a: order[_severity_tone(a.get("severity"))])
    rows = []
    for alert in alerts:
        severity = alert.get("severity") or "—"
        state = str(alert.get("state") or "—")
        state_tone = _STATE_TONES.get(state.lower(), _severity_tone(severity))
        rows.append(
            [
                render_badge(severity, _severity_tone(severity)),
                Markup(f"<code>{escape(alert.get('rule') or '—')}</code>"),
                render_badge(state, state_tone),
                _compact(alert.get("value")),
                alert.get("message") or "",
                Markup(escape(_time_text(alert.get("time")))),
            ]
        )
    body = render_table(
        ["Severity", "Rule", "State", "Value", "Message", "Time"],
        rows,
        numeric=[False, False, False, True, False, False],
        empty="No alert fired in this window.",
    )
    return Section("alerts", "Alerts", body, _alerts_badge(data))


# -- features -----------------------------------------------------------------------------


def _drifted_section(data: _Inputs) -> Section:
    if data.empty:
        body = render_note("No requests in the window: no feature was compared.")
        return Section("drifted", "Drifted features", body, render_badge("none", "neutral"))
    drifted = data.drifted
    if not drifted:
        compared = format_number(data.drift.get("n_compared"))
        body = render_note(
            f"No feature drifted: all {compared} compared features match the training data "
            "(their charts are under Other features)."
        )
        return Section("drifted", "Drifted features", body, render_badge("none", "good"))
    parts = [
        "<p>Each drifted feature's distribution in the training data and in this window, on "
        "the training histogram's bins (numeric) or the most frequent categories, with the "
        "tests that decided.</p>"
    ]
    parts += [_feature_card(data, name, entry, data.anchors[name]) for name, entry in drifted]
    badge = render_badge(_plural(len(drifted), "feature"), "bad")
    return Section("drifted", "Drifted features", Markup("".join(parts)), badge)


def _others_section(data: _Inputs) -> Section | None:
    others = [(n, e) for n, e in _ordered(data) if not e.get("drifted")]
    if not others:
        return None
    parts = [
        "<p>The features that did not drift, the closest to drifting first (by PSI).</p>",
        *(_feature_card(data, name, entry, data.anchors[name]) for name, entry in others),
    ]
    badge = render_badge(_plural(len(others), "feature"), "neutral")
    return Section("others", "Other features", Markup("".join(parts)), badge, open=False)


def _prediction_section(data: _Inputs) -> Section:
    prediction = as_mapping(data.drift.get("prediction"))
    name = str(prediction.get("name") or "prediction")
    intro = (
        "<p>The model's outputs in this window against its outputs on the training data: a "
        "shift here means the model now answers differently, whatever the cause.</p>"
    )
    body = Markup(intro + _feature_card(data, name, prediction, "prediction-card", prediction=True))
    drifted = bool(prediction.get("drifted"))
    badge = render_badge("drifted" if drifted else "stable", "bad" if drifted else "good")
    return Section("prediction", "Prediction drift", body, badge)


def _ordered(data: _Inputs) -> list[tuple[str, Mapping[str, Any]]]:
    """Drifted features first, then compared ones by PSI (largest first), then the rest."""

    def key(item: tuple[str, Mapping[str, Any]]) -> tuple[int, float]:
        _, entry = item
        if entry.get("drifted"):
            return 0, 0.0
        if not entry.get("compared"):
            return 2, 0.0
        psi = finite_or_none(entry.get("psi"))
        return 1, -(psi if psi is not None else -1.0)

    return sorted(data.features, key=key)


def _feature_card(
    data: _Inputs, name: str, entry: Mapping[str, Any], anchor: str, *, prediction: bool = False
) -> str:
    drifted = bool(entry.get("drifted")) and not data.empty
    kind = str(entry.get("kind") or "—")
    if drifted:
        status = render_badge("drifted", "bad")
    elif entry.get("compared"):
        status = render_badge("stable", "good")
    else:
        status = render_badge("not compared", "neutral")
    head = (
        f'<div class="feature-head"><h3>{escape(name)}</h3>'
        f"{render_badge(kind, 'neutral')}{status}</div>"
    )
    facts: list[str] = []
    reasons = as_list(entry.get("reasons"))
    if reasons:
        facts.append(
            '<p class="label">Drifted because</p><ul class="plain reasons">'
            + "".join(f"<li>{escape(r)}</li>" for r in reasons)
            + "</ul>"
        )
    facts.append(_numbers_table(data, name, entry))
    violations = as_list(entry.get("schema_violations"))
    if violations:
        facts.append(
            '<p class="label">Schema violations</p><ul class="plain violations">'
            + "".join(f"<li>{escape(v)}</li>" for v in violations)
            + "</ul>"
        )
    if entry.get("note"):
        facts.append(render_note(f"Note: {entry.get('note')}."))
    chart = _feature_chart(data, name, entry, prediction=prediction)
    state = " drifted" if drifted else ""
    charts = f'<div class="feature-charts">{chart}</div>' if chart else ""
    return (
        f'<article class="feature-card{state}" id="{escape(anchor)}">{head}'
        f'<div class="feature-grid{"" if chart else " single"}">{charts}'
        f'<div class="feature-facts">{"".join(facts)}</div></div></article>'
    )


def _numbers_table(data: _Inputs, name: str, entry: Mapping[str, Any]) -> str:
    psi_t = data.threshold("psi_threshold", 0.2)
    ks_t, ks_a = data.threshold("ks_threshold", 0.1), data.threshold("ks_alpha", 0.01)
    js_t, chi_a = data.threshold("js_threshold", 0.1), data.threshold("chi2_alpha", 0.01)
    missing_t = data.threshold("missing_rate_threshold", 0.05)
    kind = entry.get("kind")
    rows: list[list[object]] = []
    count = entry.get("count")
    rows.append(["Values", _cell_number(count), ""])
    psi = finite_or_none(entry.get("psi"))
    ks, ks_p = finite_or_none(entry.get("ks_statistic")), finite_or_none(entry.get("ks_p_value"))
    chi, chi_p = (
        finite_or_none(entry.get("chi2_statistic")),
        finite_or_none(entry.get("chi2_p_value")),
    )
    js = finite_or_none(entry.get("js_distance"))
    if kind == "numeric":
        significant = ks_p is not None and ks_p < ks_a
        rows.append(
            ["PSI", _flag(psi, significant and psi is not None and psi > psi_t), f"> {psi_t:g}"]
        )
        rows.append(
            [
                "KS distance",
                _flag(ks, significant and ks is not None and ks > ks_t),
                f"> {ks_t:g}",
            ]
        )
        rows.append(["KS p-value", _flag(ks_p, significant, p_value=True), f"< {ks_a:g}"])
        out, rows_in = _count(entry.get("out_of_range")), _count(count)
        if out is not None:
            share = f" ({format_percent(out / rows_in)})" if rows_in else ""
            rows.append(
                [
                    "Out of training range",
                    _flag_text(f"{format_number(out)}{share}", bool(out)),
                    "",
                ]
            )
    elif kind in ("categorical", "boolean"):
        significant = chi_p is not None and chi_p < chi_a
        rows.append(
            ["PSI", _flag(psi, significant and psi is not None and psi > psi_t), f"> {psi_t:g}"]
        )
        rows.append(
            ["JS distance", _flag(js, significant and js is not None and js > js_t), f"> {js_t:g}"]
        )
        rows.append(["χ² statistic", _cell_number(chi), ""])
        rows.append(["χ² p-value", _flag(chi_p, significant, p_value=True), f"< {chi_a:g}"])
        unseen = entry.get("unseen")
        if unseen is None:
            rows.append(["Unseen categories", "not known", ""])
        elif _count(unseen) is not None:
            examples = ", ".join(str(v) for v in as_list(entry.get("unseen_values")))
            text = format_number(unseen) + (f" ({examples})" if examples else "")
            rows.append(["Unseen categories", _flag_text(text, bool(unseen)), ""])
    reference, missing = entry.get("reference_missing_rate"), entry.get("missing_rate")
    change, missing_p = (
        finite_or_none(entry.get("missing_rate_change")),
        finite_or_none(entry.get("missing_rate_p_value")),
    )
    loud = (
        change is not None
        and missing_p is not None
        and missing_p < chi_a
        and abs(change) > missing_t
    )
    rows.append(
        [
            "Missing rate",
            _flag_text(f"{format_percent(reference)} → {format_percent(missing)}", loud),
            "",
        ]
    )
    change_text = MISSING if change is None else f"{change * 100:+.1f} pp"
    rows.append(["Missing change", _flag_text(change_text, loud), f"> {missing_t * 100:g} pp"])
    rows += _moment_rows(data, name, entry)
    return render_table(
        ["Measure", "Value", "Threshold"],
        rows,
        numeric=[False, True, True],
        caption="Tests and numbers",
    )


def _moment_rows(data: _Inputs, name: str, entry: Mapping[str, Any]) -> list[list[object]]:
    """Training -> window mean and median of a numeric feature, top value of a categorical."""
    reference = as_mapping(data.baseline.get(name))
    window = as_mapping(data.current.get(name)) if data.current is not None else {}
    if not reference or not window:
        return []
    if entry.get("kind") == "numeric":
        rows: list[list[object]] = []
        for label, ref, cur in (
            ("Mean", reference.get("mean"), window.get("mean")),
            (
                "Median",
                as_mapping(reference.get("quantiles")).get("0.5"),
                as_mapping(window.get("quantiles")).get("0.5"),
            ),
            ("Std", reference.get("std"), window.get("std")),
        ):
            rows.append([label, f"{format_number(ref)} → {format_number(cur)}", ""])
        return rows
    ref_top, cur_top = as_records(reference.get("top")), as_records(window.get("top"))
    if ref_top and cur_top:
        first, second = ref_top[0], cur_top[0]
        text = (
            f"{first.get('value')} ({format_percent(first.get('frequency'))}) → "
            f"{second.get('value')} ({format_percent(second.get('frequency'))})"
        )
        return [["Most frequent", text, ""]]
    return []


# -- feature charts -----------------------------------------------------------------------


def _feature_chart(
    data: _Inputs, name: str, entry: Mapping[str, Any], *, prediction: bool = False
) -> str:
    """The feature's paired histogram; "" when there is nothing to draw (the card's note
    says why)."""
    kind = entry.get("kind")
    reference = as_mapping(data.baseline.get(name))
    if kind == "datetime" or not entry.get("compared"):
        return ""
    if not reference:
        if prediction:
            return render_note(
                "No chart: the statistics given describe the features, not the predictions."
            )
        return render_note("No chart: the training statistics do not describe this column.")
    subtitle = _scores_text(entry)
    if kind == "numeric":
        return _numeric_chart(data, name, entry, reference, subtitle)
    if kind in ("categorical", "boolean"):
        return _categorical_chart(data, name, reference, subtitle)
    return render_note(f"No chart for a feature of kind {kind}.")


def _numeric_chart(
    data: _Inputs,
    name: str,
    entry: Mapping[str, Any],
    reference: Mapping[str, Any],
    subtitle: str,
) -> str:
    histogram = as_mapping(reference.get("histogram"))
    edges = as_list(histogram.get("edges"))
    ref_counts = as_list(histogram.get("counts"))
    if len(edges) < 2 or len(ref_counts) != len(edges) - 1:
        return render_note("The training statistics have no histogram of this column: no chart.")
    title = f"{name}: training vs this window"
    if finite_or_none(entry.get("out_of_range")):
        subtitle += " · values beyond the training range are in the end bins"
    given = data.counts.get(name)
    counts: list[Any] | None = None
    if isinstance(given, Sequence) and not isinstance(given, str) and len(given) == len(ref_counts):
        counts = list(given)
    window = as_mapping(data.current.get(name)) if data.current is not None else {}
    own = as_mapping(window.get("histogram"))
    own_edges, own_counts = as_list(own.get("edges")), as_list(own.get("counts"))
    if counts is None and _same_edges(own_edges, edges) and len(own_counts) == len(ref_counts):
        counts = own_counts
    if counts is not None:
        return _chart_box(
            draw_paired_histogram(
                ref_counts,
                counts,
                edges=edges,
                title=title,
                subtitle=subtitle,
                x_label=name,
                reference_label=_TRAINING,
                current_label=_WINDOW,
                width=560,
            )
        )
    if len(own_edges) >= 2 and len(own_counts) == len(own_edges) - 1 and any(own_counts):
        # The window was binned on its own edges: show both, each on its bins.
        return _chart_box(
            draw_paired_histogram(
                ref_counts,
                edges=edges,
                title=f"{name}: training",
                subtitle=subtitle,
                x_label=name,
                reference_label=_TRAINING,
                width=560,
                height=230,
            )
        ) + _chart_box(
            draw_paired_histogram(
                own_counts,
                edges=own_edges,
                title=f"{name}: this window (on its own bins)",
                subtitle="not on the training bins: compare shapes and ranges, not bar by bar",
                x_label=name,
                reference_label=_WINDOW,
                width=560,
                height=230,
            )
        )
    return render_note("The window's values of this feature were not given: numbers only.")


def _categorical_chart(
    data: _Inputs, name: str, reference: Mapping[str, Any], subtitle: str
) -> str:
    ref_values, ref_total = _top_counts(reference)
    given = data.counts.get(name)
    if isinstance(given, Mapping):
        cur_values = {str(k): float(v) for k, v in given.items() if finite_or_none(v) is not None}
        cur_total = sum(cur_values.values())
    else:
        window = as_mapping(data.current.get(name)) if data.current is not None else {}
        if not window:
            return render_note("The window's values of this feature were not given: numbers only.")
        cur_values, cur_total = _top_counts(window)
    if ref_total <= 0 and cur_total <= 0:
        return render_note("No values to chart.")
    labels = list(dict.fromkeys([*ref_values, *cur_values]))

    def weight(label: str) -> float:
        return max(
            ref_values.get(label, 0.0) / ref_total if ref_total else 0.0,
            cur_values.get(label, 0.0) / cur_total if cur_total else 0.0,
        )

    shown = sorted(labels, key=weight, reverse=True)[:MAX_CATEGORIES]
    shown.sort(key=lambda label: -(ref_values.get(label, 0.0)))  # training order first
    ref_counts = [ref_values.get(label, 0.0) for label in shown]
    cur_counts = [cur_values.get(label, 0.0) for label in shown]
    names = list(shown)
    known = reference.get("categories")
    if isinstance(known, list):
        known_set = {str(c) for c in known}
        names = [f"{label} (new)" if label not in known_set else label for label in shown]
    ref_other = max(ref_total - sum(ref_counts), 0.0)
    cur_other = max(cur_total - sum(cur_counts), 0.0)
    if ref_other > 0.5 or cur_other > 0.5:
        names.append(OTHER_VALUES)
        ref_counts.append(ref_other)
        cur_counts.append(cur_other)
    return _chart_box(
        draw_paired_histogram(
            ref_counts,
            cur_counts,
            categories=names,
            title=f"{name}: training vs this window",
            subtitle=subtitle,
            reference_label=_TRAINING,
            current_label=_WINDOW,
            width=560,
            height=300,
        )
    )


def _top_counts(entry: Mapping[str, Any]) -> tuple[dict[str, float], float]:
    """A categorical column's listed values -> count, and its total count."""
    values: dict[str, float] = {}
    for item in as_records(entry.get("top")):
        count = finite_or_none(item.get("count"))
        if count is not None:
            values[str(item.get("value"))] = count
    total = finite_or_none(entry.get("count"))
    listed = sum(values.values())
    return values, max(total if total is not None else listed, listed)


def _same_edges(first: Sequence[Any], second: Sequence[Any]) -> bool:
    if len(first) != len(second) or len(first) < 2:
        return False
    for a, b in zip(first, second, strict=True):
        x, y = finite_or_none(a), finite_or_none(b)
        if x is None or y is None or not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12):
            return False
    return True


def _scores_text(entry: Mapping[str, Any]) -> str:
    scores = []
    for label, key in (
        ("PSI", "psi"),
        ("KS", "ks_statistic"),
        ("JS", "js_distance"),
    ):
        value = finite_or_none(entry.get(key))
        if value is not None:
            scores.append(f"{label} {format_number(value, 3)}")
    return " · ".join(scores) or "no test ran"


def _chart_box(svg: str) -> str:
    return f'<div class="chart">{svg}</div>'


# -- overview, schema, settings -----------------------------------------------------------


def _overview_section(data: _Inputs) -> Section:
    rows = []
    for name, entry in _ordered(data):
        if entry.get("drifted"):
            status = render_badge("drifted", "bad")
        elif entry.get("compared"):
            status = render_badge("stable", "good")
        else:
            status = Markup(
                f'<span title="{escape(entry.get("note") or "")}">'
                f"{render_badge('not compared', 'neutral')}</span>"
            )
        change = finite_or_none(entry.get("missing_rate_change"))
        violations = len(as_list(entry.get("schema_violations")))
        rows.append(
            [
                Markup(_feature_link(data, name)),
                entry.get("kind"),
                status,
                _cell_number(entry.get("psi")),
                _cell_number(entry.get("ks_statistic")),
                _cell_number(entry.get("js_distance")),
                Markup(escape(format_percent(entry.get("missing_rate")))),
                Markup(escape(MISSING if change is None else f"{change * 100:+.1f} pp")),
                render_badge(_plural(violations, "violation"), "warn") if violations else "",
            ]
        )
    body = render_table(
        ["Feature", "Kind", "Status", "PSI", "KS", "JS", "Missing", "Missing change", "Schema"],
        rows,
        numeric=[False, False, False, True, True, True, True, True, False],
        empty="The drift report lists no feature.",
    )
    note = render_note(
        "PSI: population stability index; KS: Kolmogorov-Smirnov distance (numeric); "
        "JS: Jensen-Shannon distance (categorical). Drifted first, then by PSI."
    )
    return Section("features", "All features", Markup(body + note), None)


def _schema_section(data: _Inputs) -> Section:
    violations = as_mapping(data.drift.get("schema_violations"))
    rows = [
        [Markup(_feature_link(data, str(name))), problem]
        for name, problems in violations.items()
        for problem in as_list(problems)
    ]
    parts: list[str] = [
        render_table(
            ["Feature", "Violation"], rows, empty="No schema violation: the window matches."
        )
    ]
    missing = [str(c) for c in as_list(data.drift.get("missing_columns"))]
    if missing:
        parts.append(
            "<p><strong>Missing from the window:</strong> "
            + ", ".join(f"<code>{escape(c)}</code>" for c in missing)
            + "</p>"
        )
    extra = [str(c) for c in as_list(data.drift.get("extra_columns"))]
    if extra:
        parts.append(
            '<p class="muted">Columns the training data did not have (ignored): '
            + ", ".join(f"<code>{escape(c)}</code>" for c in extra)
            + "</p>"
        )
    badge = (
        render_badge(_plural(len(violations), "feature"), "warn")
        if violations
        else render_badge("ok", "good")
    )
    return Section("schema", "Schema", Markup("".join(parts)), badge)


def _settings_section(data: _Inputs) -> Section:
    rows = [[name, _compact(value)] for name, value in sorted(data.params.items())]
    body = render_table(
        ["Parameter", "Value"],
        rows,
        numeric=[False, True],
        empty="The report records no parameter.",
    )
    extra = render_note(
        "A numeric feature drifts when the KS test is significant and its distance or the PSI "
        "is above its threshold; a categorical one when the chi-square test is significant "
        "and the JS distance or the PSI is above its threshold; any feature when its missing "
        "rate changes significantly by more than its threshold."
    )
    return Section("settings", "Detector settings", Markup(body + extra), None, open=False)


# -- performance and history --------------------------------------------------------------


def _performance_section(data: _Inputs) -> Section:
    if not data.labelled:
        text = (
            "No labels yet: performance is measured once feedback labels arrive for the "
            "window's requests."
        )
        return Section(
            "performance", "Performance", render_note(text), render_badge("no labels", "neutral")
        )
    assert data.performance is not None
    decay = as_mapping(data.performance.get("decay"))
    skipped = as_mapping(data.performance.get("skipped"))
    names = list(dict.fromkeys([*data.metrics, *data.holdout]))
    rows: list[list[object]] = []
    for name in names:
        rows.append(
            [
                name,
                _compact(data.metrics.get(name)),
                _compact(data.holdout.get(name)),
                _compact(decay.get(name)),
                _better(name),
            ]
        )
    for name, why in skipped.items():
        if name not in names:
            rows.append([name, Markup(f'<span class="muted">{escape(why)}</span>'), "", "", ""])
    parts = [
        f"<p>Measured on {escape(format_number(data.performance.get('labelled_rows')))} "
        "labelled rows of the window, against the model's holdout evaluation.</p>",
        render_table(
            ["Metric", "This window", "Holdout", "Decay", "Better"],
            rows,
            numeric=[False, True, True, True, False],
        ),
        render_note("Decay: how much worse than on the holdout (positive: worse)."),
    ]
    name, value = next(iter(data.metrics.items()))
    badge = render_badge(f"{name} {_compact_text(value)}", "neutral")
    return Section("performance", "Performance", Markup("".join(parts)), badge)


def _better(metric: str) -> str:
    if metric not in METRICS:
        return ""
    return "higher" if METRICS[metric][1] == "max" else "lower"


def _points(data: _Inputs) -> list[Mapping[str, Any]]:
    """The earlier windows and this one, oldest first."""
    points = [h for h in data.history if _epoch(h.get("end")) is not None]
    end = _epoch(data.window.get("end"))
    if end is None or (points and _epoch(points[-1].get("end")) == end):
        return points
    here: dict[str, Any] = {
        "end": end,
        "drift_share": None if data.empty else data.drift.get("share_drifted"),
        "drifted": [name for name, _ in data.drifted],
        "metrics": dict(data.metrics) if data.labelled else {},
        "rows": data.rows,
    }
    return [*points, here]


def _history_section(data: _Inputs) -> Section:
    points = _points(data)
    if len(points) < 2:
        body = render_note("No earlier window yet: trends appear from the second window on.")
        return Section("history", "Trends", body, render_badge("first window", "neutral"))
    ends = [_epoch(p.get("end")) for p in points]
    now = _epoch(data.window.get("end"))
    last = [ends[-1]] if now is not None and ends[-1] == now else []
    charts = []
    shares = [p.get("drift_share") for p in points]
    series = [LineSeries("share of features drifted", ends, shares)]
    if last and finite_or_none(shares[-1]) is not None:
        series.append(LineSeries(_WINDOW, last, [shares[-1]], "points"))
    charts.append(
        draw_line_chart(
            series,
            title="Drift share over time",
            subtitle="share of compared features that drifted; empty windows leave a gap",
            y_label="share drifted",
            time_axis=True,
            reference_lines={"dataset drift at": data.threshold("drift_share", 0.5)},
            y_from_zero=True,
            width=_TREND_WIDTH,
        )
    )
    metrics = list(dict.fromkeys(str(m) for p in points for m in as_mapping(p.get("metrics")) if m))
    single = []
    for metric in metrics:
        values = [as_mapping(p.get("metrics")).get(metric) for p in points]
        if sum(1 for v in values if finite_or_none(v) is not None) < 2:
            single.append(metric)  # one value is no trend; the tables show it
            continue
        series = [LineSeries(metric, ends, values)]
        if last and finite_or_none(values[-1]) is not None:
            series.append(LineSeries(_WINDOW, last, [values[-1]], "points"))
        holdout = finite_or_none(data.holdout.get(metric))
        better = _better(metric)
        charts.append(
            draw_line_chart(
                series,
                title=f"{metric} over time",
                subtitle=f"on labelled rows; {better} is better" if better else "on labelled rows",
                y_label=metric,
                time_axis=True,
                reference_lines={"holdout": holdout} if holdout is not None else None,
                width=_TREND_WIDTH,
            )
        )
    charts.append(
        draw_line_chart(
            [LineSeries("rows", ends, [p.get("rows") for p in points])],
            title="Rows per window",
            y_label="rows",
            time_axis=True,
            y_from_zero=True,
            width=_TREND_WIDTH,
        )
    )
    parts = ['<div class="charts">' + "".join(_chart_box(c) for c in charts) + "</div>"]
    if single:
        parts.append(
            render_note(f"Measured in one window only, so not charted: {', '.join(single)}.")
        )
    parts.append(_frequency_table(points))
    parts.append(_history_table(points, metrics))
    badge = render_badge(_plural(len(points), "window"), "neutral")
    return Section("history", "Trends", Markup("".join(parts)), badge)


def _frequency_table(points: Sequence[Mapping[str, Any]]) -> str:
    """How many of the windows each feature drifted in, most often first, with a bar."""
    counts: dict[str, int] = {}
    for point in points:
        for name in dict.fromkeys(str(n) for n in as_list(point.get("drifted"))):
            counts[name] = counts.get(name, 0) + 1
    if not counts:
        return render_note(f"No feature drifted in any of the last {len(points)} windows.")
    ranked = sorted(counts.items(), key=lambda item: -item[1])[:MAX_FREQUENT]
    rows = []
    for name, count in ranked:
        share = count / len(points)
        bar = (
            f'<span class="freq"><span style="width:{share * 100:.0f}%"></span></span>'
            f" {count} of {len(points)}"
        )
        rows.append([Markup(f"<code>{escape(name)}</code>"), Markup(bar)])
    more = len(counts) - len(ranked)
    caption = "Features that drifted most often" + (f" ({more} more not shown)" if more else "")
    return render_table(["Feature", "Windows drifted"], rows, caption=caption)


def _history_table(points: Sequence[Mapping[str, Any]], metrics: Sequence[str]) -> str:
    rows = []
    for point in reversed(points):
        drifted = [str(n) for n in as_list(point.get("drifted"))]
        scores = as_mapping(point.get("metrics"))
        rows.append(
            [
                Markup(escape(_time_text(point.get("end")))),
                _cell_number(point.get("rows")),
                Markup(escape(format_percent(point.get("drift_share")))),
                ", ".join(drifted) or "—",
                *(_compact(scores.get(m)) for m in metrics),
            ]
        )
    table = render_table(
        ["Window end", "Rows", "Drift share", "Drifted features", *metrics],
        rows,
        numeric=[False, True, True, False, *([True] * len(metrics))],
    )
    return (
        f'<details class="sub"><summary>All {len(points)} windows, newest first</summary>'
        f"{table}</details>"
    )


# -- helpers ------------------------------------------------------------------------------


def _feature_link(data: _Inputs, name: str) -> str:
    anchor = data.anchors.get(name)
    if anchor is None:
        return f"<code>{escape(name)}</code>"
    return f'<a href="#{escape(anchor)}"><code>{escape(name)}</code></a>'


def _flag(value: float | None, loud: bool, *, p_value: bool = False) -> Markup:
    """A number, in the alarm style when ``loud``."""
    text = format_number(value, 2 if p_value else 4) if value is not None else MISSING
    return _flag_text(text, loud and value is not None)


def _flag_text(text: str, loud: bool) -> Markup:
    if loud:
        return Markup(f'<span class="over">{escape(text)}</span>')
    return escape(text)


def _cell_number(value: Any) -> object:
    """A table cell: a finite number as is (formatted by the table), anything else as text."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return value
    number = finite_or_none(value)
    return MISSING if number is None else number


def _compact(value: Any) -> Markup:
    """``_compact_text(value)`` as a table cell."""
    return escape(_compact_text(value))


def _compact_text(value: Any) -> str:
    """A number without trailing zeros (``0.09`` rather than ``0.09000``)."""
    text = format_number(value)
    if finite_or_none(value) is not None and "." in text and "e" not in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _span_text(start: Any, end: Any) -> str:
    first, last = _epoch(start), _epoch(end)
    text = f"Window from {_time_text(start)} to {_time_text(end)}"
    if first is not None and last is not None and last >= first:
        text += f" ({format_duration(last - first)})"
    return text


def _epoch(value: Any) -> float | None:
    """A time as epoch seconds: a number, a ``datetime`` (naive = UTC) or ISO 8601 text."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return moment.timestamp()
    if isinstance(value, str):
        try:
            return _epoch(datetime.fromisoformat(value.strip()))
        except ValueError:
            return None
    return finite_or_none(value)


def _time_text(value: Any) -> str:
    """A time for people (``2024-05-01 12:00:00 UTC``); text that is no time is kept."""
    epoch = _epoch(value)
    if epoch is None:
        return MISSING if value is None or isinstance(value, int | float) else str(value)
    return format_timestamp(epoch)


def _version_text(version: Any) -> str:
    return str(version) if version is not None else MISSING


def _count(value: Any) -> int | None:
    """``value`` as a count (an integer >= 0), or None if it is not one."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        return None
    return int(value)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


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
