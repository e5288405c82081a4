"""The monitoring report's performance over time: this window's metrics against the
holdout, and the trends of drift share, metrics and rows over the earlier windows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._html import (
    Markup,
    Section,
    as_list,
    as_mapping,
    escape,
    finite_or_none,
    format_number,
    format_percent,
    plural,
    render_badge,
    render_note,
    render_table,
)
from ._metrics import better_word
from ._monitoring_format import (
    WINDOW,
    cell_number,
    chart_box,
    compact,
    compact_text,
    time_text,
    to_epoch,
)
from ._monitoring_inputs import MonitoringInputs
from ._svg import LineSeries, draw_line_chart

__all__ = ["history_section", "performance_section"]

#: Features listed in the table of how often each one drifted over the windows.
MAX_FREQUENT = 15
#: Width of a trend chart: two fit side by side on the page.
_TREND_WIDTH = 480


def performance_section(data: MonitoringInputs) -> Section:
    """This window's metrics against the holdout; a note while no label arrived."""
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
                compact(data.metrics.get(name)),
                compact(data.holdout.get(name)),
                compact(decay.get(name)),
                better_word(name),
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
    badge = render_badge(f"{name} {compact_text(value)}", "neutral")
    return Section("performance", "Performance", Markup("".join(parts)), badge)


def _points(data: MonitoringInputs) -> list[Mapping[str, Any]]:
    """The earlier windows and this one, oldest first."""
    points = [h for h in data.history if to_epoch(h.get("end")) is not None]
    end = to_epoch(data.window.get("end"))
    if end is None or (points and to_epoch(points[-1].get("end")) == end):
        return points
    here: dict[str, Any] = {
        "end": end,
        "drift_share": None if data.empty else data.drift.get("share_drifted"),
        "drifted": [name for name, _ in data.drifted],
        "metrics": dict(data.metrics) if data.labelled else {},
        "rows": data.rows,
    }
    return [*points, here]


def history_section(data: MonitoringInputs) -> Section:
    """Trends over the windows: drift share, metrics, rows, and the drift tables."""
    points = _points(data)
    if len(points) < 2:
        body = render_note("No earlier window yet: trends appear from the second window on.")
        return Section("history", "Trends", body, render_badge("first window", "neutral"))
    ends = [to_epoch(p.get("end")) for p in points]
    now = to_epoch(data.window.get("end"))
    last = [ends[-1]] if now is not None and ends[-1] == now else []
    charts = []
    shares = [p.get("drift_share") for p in points]
    series = [LineSeries("share of features drifted", ends, shares)]
    if last and finite_or_none(shares[-1]) is not None:
        series.append(LineSeries(WINDOW, last, [shares[-1]], "points"))
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
            series.append(LineSeries(WINDOW, last, [values[-1]], "points"))
        holdout = finite_or_none(data.holdout.get(metric))
        better = better_word(metric)
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
    parts = ['<div class="charts">' + "".join(chart_box(c) for c in charts) + "</div>"]
    if single:
        parts.append(
            render_note(f"Measured in one window only, so not charted: {', '.join(single)}.")
        )
    parts.append(_frequency_table(points))
    parts.append(_history_table(points, metrics))
    badge = render_badge(plural(len(points), "window"), "neutral")
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
                Markup(escape(time_text(point.get("end")))),
                cell_number(point.get("rows")),
                Markup(escape(format_percent(point.get("drift_share")))),
                ", ".join(drifted) or "—",
                *(compact(scores.get(m)) for m in metrics),
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
