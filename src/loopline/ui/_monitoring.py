"""Monitoring over time for one model: drift per feature, performance as labels arrive,
alerts, and the controller's decisions, with the latest window's report embedded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from ..reports import (
    LineSeries,
    draw_heatmap,
    draw_line_chart,
    escape,
    format_percent,
    format_timestamp,
    render_badge,
    render_table,
)
from ..store import Event, MonitoringRecord, Store
from ._layout import link, section, when

#: Windows shown in the per-feature drift heatmap (the latest ones).
HEATMAP_WINDOWS = 16
LABELLED = "labelled_rows"
Tone = Literal["good", "warn", "bad", "neutral"]
#: Event kinds of the controller's decisions.
DECISIONS = ("trigger.", "retrain.", "candidate.", "canary.", "alias.", "model.", "controller.")


def monitoring_body(store: Store, name: str) -> str:
    """Charts over the model's windows, alerts, decisions, and the latest report."""
    store.models.versions(name)  # NotFoundError for an unknown model
    windows = store.monitoring.reports(name, limit=500)
    parts = []
    if not windows:
        parts.append(
            '<p class="note">No monitoring window yet: run loopline monitor '
            f"{escape(name)} (or loopline watch) after serving some traffic.</p>"
        )
    else:
        last = windows[-1]
        parts.append(
            '<dl class="facts">'
            f"<div><dt>windows</dt><dd>{len(windows)}</dd></div>"
            f"<div><dt>latest window</dt><dd>{escape(format_timestamp(last.window_end))}</dd></div>"
            f"<div><dt>version</dt><dd>{last.version}</dd></div>"
            f"<div><dt>rows</dt><dd>{last.rows:,}</dd></div>"
            f"<div><dt>drift share</dt><dd>{escape(format_percent(last.drift_share))}</dd></div>"
            f"<div><dt>dataset drift</dt><dd>"
            f"{_drift_badge(last.dataset_drift)}"
            "</dd></div></dl>"
        )
        parts.append(section("Drift", _drift(windows), id="drift"))
        parts.append(section("Performance", _performance(windows), id="performance"))
        parts.append(section("Windows", _windows_table(windows), id="windows"))
    events = store.browse.model_events(name, limit=300)
    alerts = [e for e in events if e.kind.startswith("alert.")]
    parts.append(section("Alerts", _events_table(alerts, "No alert fired."), id="alerts"))
    decisions = [e for e in events if e.kind.startswith(DECISIONS)]
    parts.append(
        section(
            "Controller decisions", _events_table(decisions, "No decision yet."), id="decisions"
        )
    )
    if windows:
        last = windows[-1]
        parts.append(
            section(
                "Latest window report",
                f"<p>{link(f'/monitoring/{last.id}/report', 'Open the report on its own page')}</p>"
                f'<iframe class="report" loading="lazy" title="monitoring report" '
                f'src="/monitoring/{last.id}/report"></iframe>',
                id="report",
            )
        )
    return "".join(parts)


def _drift(windows: Sequence[MonitoringRecord]) -> str:
    times = [w.window_end for w in windows]
    share = draw_line_chart(
        [LineSeries("drift share", times, [w.drift_share for w in windows])],
        title="Share of drifted features",
        time_axis=True,
        y_from_zero=True,
        width=560,
        height=240,
    )
    recent = list(windows[-HEATMAP_WINDOWS:])
    features = sorted({k[len("psi.") :] for w in recent for k in w.signals if k.startswith("psi.")})
    if features:
        matrix = [[_num(w.signals.get(f"psi.{f}")) for w in recent] for f in features]
        heat = draw_heatmap(
            matrix,
            row_labels=features,
            column_labels=[format_timestamp(w.window_end)[5:16] for w in recent],
            title="PSI per feature and window",
            x_label="window end (UTC)",
            subtitle="darker: more drift (PSI > 0.2 is usually a shift)",
        )
    else:
        heat = '<p class="note">No per-feature PSI in these windows.</p>'
    return (
        f'<div class="charts"><div class="chart">{share}</div><div class="chart">{heat}</div></div>'
    )


def _performance(windows: Sequence[MonitoringRecord]) -> str:
    keys = sorted(
        {k[len("metric.") :] for w in windows for k in w.signals if k.startswith("metric.")}
    )
    if not keys:
        return (
            '<p class="note">No labels have arrived for these windows yet (loopline feedback).</p>'
        )
    times = [w.window_end for w in windows]
    chart = draw_line_chart(
        [LineSeries(k, times, [_num(w.signals.get(f"metric.{k}")) for w in windows]) for k in keys],
        title="Performance on labelled requests",
        time_axis=True,
        width=760,
        height=260,
    )
    labelled = draw_line_chart(
        [
            LineSeries(
                "labelled rows", times, [_num(w.signals.get("labelled_rows")) for w in windows]
            )
        ],
        title="Labels arrived per window",
        time_axis=True,
        y_from_zero=True,
        width=420,
        height=240,
    )
    return _charts(chart, labelled)


def _windows_table(windows: Sequence[MonitoringRecord]) -> str:
    rows = [
        [
            when(w.window_end),
            w.version,
            w.rows,
            format_percent(w.drift_share),
            render_badge("drift", "bad") if w.dataset_drift else render_badge("no drift", "good"),
            ", ".join(w.drifted[:6]) + (" …" if len(w.drifted) > 6 else ""),
            link(f"/monitoring/{w.id}/report", "report"),
        ]
        for w in reversed(windows[-50:])
    ]
    return render_table(
        ["window end", "version", "rows", "drift share", "verdict", "drifted features", ""], rows
    )


def _events_table(events: Sequence[Event], empty: str) -> str:
    rows = [
        [
            when(e.time),
            render_badge(e.kind, _tone(e.kind)),
            e.subject_id,
            e.actor,
            e.reason or "",
        ]
        for e in events
    ]
    return render_table(["time", "event", "subject", "who", "why"], rows, empty=empty)


def _charts(*charts: str) -> str:
    inner = "".join(f'<div class="chart">{c}</div>' for c in charts)
    return f'<div class="charts">{inner}</div>'


def _drift_badge(drift: bool) -> str:
    return render_badge("drift", "bad") if drift else render_badge("no drift", "good")


def _tone(kind: str) -> Tone:
    if kind.endswith(("failed", "firing", "not_blessed", "error", "rejected")):
        return "bad"
    if kind.endswith(("fired", "started", "coalesced", "suppressed", "awaiting_approval")):
        return "warn"
    if kind.endswith(("passed", "blessed", "approved", "moved", "resolved", "validated")):
        return "good"
    return "neutral"


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
