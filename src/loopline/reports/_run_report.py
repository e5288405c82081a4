"""The HTML report of one run: what it checked, compared, tuned, scored and decided.

``render_run_report`` takes plain dicts, the ``to_dict()`` of the components' results (or
the results themselves), so a report can be rebuilt from what the store keeps without
importing the pipeline. ``write_report`` saves it atomically.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from loopline.errors import InvalidInputError

from ..components import METRICS
from ._html import (
    Markup,
    Section,
    Tone,
    as_list,
    as_mapping,
    as_records,
    escape,
    finite_or_none,
    format_duration,
    format_mean_std,
    format_number,
    format_percent,
    format_timestamp,
    render_badge,
    render_note,
    render_page,
    render_table,
    slugify,
)
from ._svg import (
    LineSeries,
    draw_bar_chart,
    draw_calibration_curve,
    draw_heatmap,
    draw_line_chart,
    draw_scatter,
    draw_sparkline,
)

__all__ = ["SupportsToDict", "render_run_report", "write_report"]

NOT_IN_RUN = "Not part of this run."


class SupportsToDict(Protocol):
    """A component result with a ``to_dict()`` (``ValidationReport``, ``Leaderboard``, ...)."""

    def to_dict(self) -> Mapping[str, Any]:
        """Return the result as plain JSON values."""
        ...


ReportInput = Mapping[str, Any] | SupportsToDict


def render_run_report(
    run: Mapping[str, Any],
    *,
    validation: ReportInput | None = None,
    statistics: Mapping[str, Any] | None = None,
    leaderboard: ReportInput | None = None,
    tuning: ReportInput | None = None,
    evaluation: ReportInput | None = None,
    blessing: ReportInput | None = None,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """Render the self-contained HTML report of one run.

    Every section given as None says it was not part of this run.

    Args:
        run: ``{"id", "pipeline", "status", "started_at" (epoch seconds), "duration"
            (seconds or None), "steps": [{"name", "status", "duration", "cache_hit"}],
            "params": {...}}``; an ``"error"`` is shown when present. Missing keys show as
            "—".
        validation: ``ValidationReport.to_dict()``.
        statistics: ``compute_statistics`` output of the training data.
        leaderboard: ``Leaderboard.to_dict()``.
        tuning: ``TuningResult.to_dict()``.
        evaluation: ``Evaluation.to_dict()``.
        blessing: ``BlessingRule.to_dict()`` of a fitted rule.
        extra: More sections, title -> content: ``Markup`` is inserted as is, a string
            becomes a paragraph, a dict a two-column table, a list of dicts a table, and
            anything else its JSON.

    Returns:
        The page, as a string (see ``write_report``).

    Raises:
        InvalidInputError: ``run`` is not a mapping, or a section is neither a mapping nor
            an object with ``to_dict()``.

    Example:
        >>> page = render_run_report({"id": "r1", "pipeline": "train", "status": "succeeded"})
        >>> "Not part of this run." in page
        True
    """
    if not isinstance(run, Mapping):
        raise InvalidInputError(
            "The 'run' argument of render_run_report must be a dict with id, pipeline, "
            f"status, started_at, duration, steps and params. Got {type(run).__name__}.",
            value=type(run).__name__,
        )
    inputs = {
        "validation": _as_dict(validation, "validation"),
        "statistics": _as_dict(statistics, "statistics"),
        "leaderboard": _as_dict(leaderboard, "leaderboard"),
        "tuning": _as_dict(tuning, "tuning"),
        "evaluation": _as_dict(evaluation, "evaluation"),
        "blessing": _as_dict(blessing, "blessing"),
    }
    builders = {
        "validation": ("Data validation", _validation_section),
        "statistics": ("Statistics", _statistics_section),
        "leaderboard": ("Leaderboard", _leaderboard_section),
        "tuning": ("Tuning history", _tuning_section),
        "evaluation": ("Evaluation", _evaluation_section),
        "blessing": ("Blessing", _blessing_section),
    }
    sections = [_summary_section(run, inputs)]
    for key, (title, build) in builders.items():
        data = inputs[key]
        if data is None:
            sections.append(
                Section(key, title, render_note(NOT_IN_RUN), render_badge("not run", "neutral"))
            )
        else:
            body, badge = build(data)
            sections.append(Section(key, title, body, badge))
    sections += _extra_sections(extra or {}, {s.id for s in sections})
    pipeline = str(run.get("pipeline") or "pipeline")
    verdict_text, verdict_tone = _verdict(inputs["blessing"])
    status = run.get("status")
    return render_page(
        f"Run report: {pipeline}",
        subtitle=f"Run {run.get('id', '—')}",
        badges=[render_badge(status or "unknown"), render_badge(verdict_text, verdict_tone)],
        facts=[
            ("Pipeline", pipeline),
            ("Run", run.get("id")),
            ("Status", render_badge(status or "unknown")),
            ("Blessing", render_badge(verdict_text, verdict_tone)),
            ("Started", format_timestamp(run.get("started_at"))),
            ("Duration", format_duration(run.get("duration"))),
        ],
        sections=sections,
    )


def write_report(html: str, path: str | os.PathLike[str]) -> Path:
    """Write ``html`` to ``path`` in UTF-8, atomically: a temporary file, then a rename.

    A reader never sees half a report, and a crash leaves the previous one in place.
    Missing parent folders are created.

    Args:
        html: The page (``render_run_report`` output).
        path: Where to write it.

    Returns:
        The path written.

    Raises:
        InvalidInputError: ``html`` is not a string.
        OSError: The folder cannot be created or written.
    """
    if not isinstance(html, str):
        raise InvalidInputError(
            f"write_report needs the page as a str. Got {type(html).__name__}.",
            value=type(html).__name__,
        )
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(html.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes it private; a report is for reading
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return target


# -- summary ------------------------------------------------------------------------------


def _summary_section(run: Mapping[str, Any], inputs: Mapping[str, Any]) -> Section:
    text, tone = _verdict(inputs["blessing"])
    parts = [_verdict_box(text, tone, _verdict_detail(inputs["blessing"]))]
    if run.get("error"):
        parts.append(f"<p><strong>Error:</strong> {escape(run['error'])}</p>")
    highlights = _highlights(run, inputs)
    parts.append('<ul class="plain">' + "".join(f"<li>{h}</li>" for h in highlights) + "</ul>")
    parts.append("<h3>Steps</h3>")
    steps = as_records(run.get("steps"))
    parts.append(
        render_table(
            ["Step", "Status", "Duration", "Cache hit"],
            [
                [
                    s.get("name", "—"),
                    render_badge(s.get("status") or "unknown"),
                    Markup(escape(format_duration(s.get("duration")))),
                    _yes_no(s.get("cache_hit")),
                ]
                for s in steps
            ],
            numeric=[False, False, True, False],
            empty="No steps recorded.",
        )
    )
    parts.append("<h3>Parameters</h3>")
    params = as_mapping(run.get("params"))
    parts.append(
        render_table(
            ["Parameter", "Value"],
            [[name, _plain(value)] for name, value in sorted(params.items(), key=_key)],
            empty="No parameters.",
        )
    )
    return Section("summary", "Summary", Markup("".join(parts)), render_badge(text, tone))


def _highlights(run: Mapping[str, Any], inputs: Mapping[str, Any]) -> list[str]:
    lines = [f"Run status: {render_badge(run.get('status') or 'unknown')}"]
    steps = as_records(run.get("steps"))
    if steps:
        counts: dict[str, int] = {}
        for step in steps:
            counts[str(step.get("status"))] = counts.get(str(step.get("status")), 0) + 1
        spread = ", ".join(f"{n} {escape(status)}" for status, n in counts.items())
        lines.append(f"{len(steps)} steps: {spread}.")
    validation = inputs["validation"]
    if validation is not None:
        lines.append(f"Data validation: {escape(_validation_headline(validation))}")
    leaderboard = inputs["leaderboard"]
    if leaderboard is not None:
        best = _best_row(leaderboard)
        metric = leaderboard.get("metric", "")
        if best is not None:
            score = _mean_std(best, metric)
            lines.append(
                f"Best candidate: <strong>{escape(best.get('name'))}</strong>, "
                f"{escape(metric)} {escape(score)} ({escape(leaderboard.get('folds'))}-fold CV)."
            )
    tuning = inputs["tuning"]
    if tuning is not None:
        lines.append(
            f"Tuning of {escape(tuning.get('candidate'))}: best {escape(tuning.get('metric'))} "
            f"{escape(format_number(tuning.get('best_value')))} after "
            f"{escape(format_number(tuning.get('n_trials')))} trials."
        )
    evaluation = inputs["evaluation"]
    if evaluation is not None:
        metrics = as_mapping(evaluation.get("metrics"))
        shown = ", ".join(
            f"{escape(name)} {escape(format_number(value))}" for name, value in metrics.items()
        )
        lines.append(
            f"Evaluation on {escape(format_number(evaluation.get('n_rows')))} rows: "
            f"{shown or 'no metric'}."
        )
    return lines


def _verdict(blessing: Mapping[str, Any] | None) -> tuple[str, Tone]:
    if blessing is None:
        return "no blessing", "neutral"
    if blessing.get("blessed") is True:
        return "blessed", "good"
    return "not blessed", "bad"


def _verdict_detail(blessing: Mapping[str, Any] | None) -> str:
    if blessing is None:
        return "Blessing was not part of this run."
    reasons = as_records(blessing.get("reasons"))
    failed = [r for r in reasons if not r.get("passed")]
    if blessing.get("blessed") is True:
        return (
            f"The candidate passed all {len(reasons)} checks on "
            f"{blessing.get('metric', 'the metric')} and may replace the champion."
        )
    if not failed:
        return "The candidate was not blessed."
    messages = "; ".join(str(r.get("message") or r.get("metric")) for r in failed[:3])
    more = f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""
    return f"{len(failed)} of {len(reasons)} checks failed: {messages}{more}."


def _verdict_box(text: str, tone: Tone, detail: str) -> str:
    return (
        f'<div class="verdict {tone}">{render_badge(text, tone)}<span>{escape(detail)}</span></div>'
    )


# -- validation ---------------------------------------------------------------------------


def _validation_section(report: Mapping[str, Any]) -> tuple[Markup, Markup]:
    anomalies = as_records(report.get("anomalies"))
    ordered = [a for a in anomalies if a.get("severity") == "error"]
    ordered += [a for a in anomalies if a.get("severity") != "error"]
    errors = len([a for a in anomalies if a.get("severity") == "error"])
    warnings = len(anomalies) - errors
    if errors:
        badge = render_badge(_plural(errors, "error"), "bad")
    elif warnings:
        badge = render_badge(_plural(warnings, "warning"), "warn")
    else:
        badge = render_badge("no anomalies", "good")
    parts = [f"<p>{escape(_validation_headline(report))}</p>"]
    parts.append(
        render_table(
            ["Severity", "Column", "Kind", "Message"],
            [
                [
                    render_badge(a.get("severity") or "unknown"),
                    "(whole table)" if a.get("column") is None else a.get("column"),
                    a.get("kind"),
                    a.get("message"),
                ]
                for a in ordered
            ],
            empty="No anomalies: the data matches the schema.",
        )
    )
    return Markup("".join(parts)), badge


def _validation_headline(report: Mapping[str, Any]) -> str:
    anomalies = as_records(report.get("anomalies"))
    errors = len([a for a in anomalies if a.get("severity") == "error"])
    shape = (
        f"{format_number(report.get('num_rows'))} rows x "
        f"{format_number(report.get('num_columns'))} columns"
    )
    if not anomalies:
        return f"Checked {shape}: no anomalies."
    return (
        f"Checked {shape}: {_plural(errors, 'error')}, "
        f"{_plural(len(anomalies) - errors, 'warning')}."
    )


# -- statistics ---------------------------------------------------------------------------


def _statistics_section(statistics: Mapping[str, Any]) -> tuple[Markup, Markup | None]:
    columns = statistics.get("columns")
    if not isinstance(columns, Mapping) or not columns:
        return render_note("The statistics describe no column."), None
    parts = [
        f"<p>{escape(format_number(statistics.get('num_rows')))} rows x "
        f"{escape(format_number(statistics.get('num_columns', len(columns))))} columns.</p>"
    ]
    by_kind: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    for name, entry in columns.items():
        if isinstance(entry, Mapping):
            kind = str(entry.get("kind"))
            group = kind if kind in ("numeric", "datetime") else "categorical"
            by_kind.setdefault(group, []).append((str(name), entry))
    if "numeric" in by_kind:
        parts.append("<h3>Numeric columns</h3>")
        parts.append(
            render_table(
                ["Column", "Missing", "Distinct", "Mean", "Std", "Min", "Max", "Histogram"],
                [_numeric_row(name, entry) for name, entry in by_kind["numeric"]],
                numeric=[False, True, True, True, True, True, True, False],
            )
        )
    if "datetime" in by_kind:
        parts.append("<h3>Datetime columns (UTC)</h3>")
        parts.append(
            render_table(
                ["Column", "Missing", "Distinct", "Earliest", "Latest", "Span", "Histogram"],
                [_datetime_row(name, entry) for name, entry in by_kind["datetime"]],
                numeric=[False, True, True, True, True, True, False],
            )
        )
    if "categorical" in by_kind:
        parts.append("<h3>Categorical and boolean columns</h3>")
        parts.append(
            render_table(
                ["Column", "Kind", "Missing", "Distinct", "Top values", "Frequencies"],
                [_categorical_row(name, entry) for name, entry in by_kind["categorical"]],
                numeric=[False, False, True, True, False, False],
            )
        )
    missing = [n for n, c in columns.items() if (c.get("missing") or 0) > 0]
    badge = render_badge(
        f"{_plural(len(missing), 'column')} with missing values" if missing else "no missing",
        "warn" if missing else "good",
    )
    return Markup("".join(parts)), badge


def _numeric_row(name: str, entry: Mapping[str, Any]) -> list[object]:
    return [
        name,
        _missing_cell(entry),
        entry.get("distinct"),
        format_number(entry.get("mean")),
        format_number(entry.get("std")),
        format_number(entry.get("min")),
        format_number(entry.get("max")),
        _histogram_cell(name, entry),
    ]


def _datetime_row(name: str, entry: Mapping[str, Any]) -> list[object]:
    first, last = finite_or_none(entry.get("min")), finite_or_none(entry.get("max"))
    return [
        name,
        _missing_cell(entry),
        entry.get("distinct"),
        format_timestamp(first).removesuffix(" UTC"),
        format_timestamp(last).removesuffix(" UTC"),
        format_duration(last - first) if first is not None and last is not None else "—",
        _histogram_cell(name, entry),
    ]


def _histogram_cell(name: str, entry: Mapping[str, Any]) -> Markup:
    histogram = as_mapping(entry.get("histogram"))
    return Markup(
        draw_sparkline(
            as_list(histogram.get("counts")),
            edges=histogram.get("edges"),
            description=f"Histogram of {name}",
        )
    )


def _categorical_row(name: str, entry: Mapping[str, Any]) -> list[object]:
    top = as_records(entry.get("top"))
    shown = top[:5]
    words = ", ".join(f"{t.get('value')} ({format_percent(t.get('frequency'))})" for t in shown)
    rest = int(entry.get("distinct") or 0) - len(shown)
    if rest > 0:
        words += f", … {rest} more"
    bars = [t.get("count") for t in top[:10]]
    labels = [str(t.get("value")) for t in top[:10]]
    other = (entry.get("other_count") or 0) + sum(int(t.get("count") or 0) for t in top[10:])
    if other:
        bars.append(other)
        labels.append("other values")
    spark = draw_sparkline(bars, labels=labels, description=f"Most frequent values of {name}")
    return [
        name,
        entry.get("kind"),
        _missing_cell(entry),
        entry.get("distinct"),
        words or "—",
        Markup(spark),
    ]


def _missing_cell(entry: Mapping[str, Any]) -> str:
    rate = entry.get("missing_rate")
    missing = entry.get("missing")
    if not missing:
        return "0%" if missing == 0 else format_percent(rate)
    return f"{format_percent(rate)} ({format_number(missing)})"


# -- leaderboard --------------------------------------------------------------------------


def _leaderboard_section(board: Mapping[str, Any]) -> tuple[Markup, Markup | None]:
    rows = as_records(board.get("rows"))
    metric = str(board.get("metric", ""))
    direction = board.get("direction")
    best = _best_row(board)
    better = "higher" if direction == "max" else "lower" if direction == "min" else "?"
    parts = [
        f"<p>{escape(format_number(len(rows)))} candidates, {escape(board.get('task', ''))}, "
        f"ranked by <strong>{escape(metric)}</strong> ({better} is better) over "
        f"{escape(format_number(board.get('folds')))}-fold cross-validation."
    ]
    if best is not None:
        parts.append(f" Best: <strong>{escape(best.get('name'))}</strong>.")
    parts.append("</p>")
    if not rows:
        return Markup("".join(parts) + render_note("No candidate was compared.")), None
    chart = draw_bar_chart(
        [r.get("name") for r in rows],
        [as_mapping(r.get("means")).get(metric) for r in rows],
        [as_mapping(r.get("stds")).get(metric) for r in rows],
        title=f"{metric}: mean ± std over folds",
        x_label=metric,
        highlight=best.get("name") if best is not None else None,
    )
    parts.append(f'<div class="chart">{chart}</div>')
    metrics = _metric_names(rows, metric)
    failed = sum(1 for r in rows if r.get("error"))
    table_rows = []
    for rank, row in enumerate(rows, start=1):
        error = row.get("error")
        cells: list[object] = [rank, row.get("name"), _estimator_cell(row.get("estimator"))]
        cells += [_mean_std(row, m) for m in metrics]
        cells.append(format_duration(row.get("fit_seconds")))
        if failed:  # a status column only when a candidate failed
            cells.append(render_badge("failed", "bad") if error else render_badge("ok", "good"))
        table_rows.append(cells)
    headers = ["#", "Candidate", "Estimator"] + [f"{m} {_arrow(m, board)}" for m in metrics]
    headers += ["Fit time"] + (["Status"] if failed else [])
    numeric = [True, False, False] + [True] * len(metrics) + [True, False]
    parts.append(render_table(headers, table_rows, numeric=numeric))
    if failed:
        parts.append("<h3>Failed candidates</h3>")
        errors = [
            f"<li><strong>{escape(r.get('name'))}</strong>: {escape(r.get('error'))}</li>"
            for r in rows
            if r.get("error")
        ]
        parts.append('<ul class="plain">' + "".join(errors) + "</ul>")
    parts.append(_candidate_params(rows))
    badge = (
        render_badge(f"{failed} failed", "warn")
        if failed
        else render_badge(str(best.get("name")) if best else "no winner", "good" if best else "bad")
    )
    return Markup("".join(parts)), badge


def _candidate_params(rows: Sequence[Mapping[str, Any]]) -> str:
    table = render_table(
        ["Candidate", "Parameters"],
        [[r.get("name"), _plain(as_mapping(r.get("params")))] for r in rows],
    )
    return f'<details class="sub"><summary>Candidate parameters</summary>{table}</details>'


def _best_row(board: Mapping[str, Any]) -> Mapping[str, Any] | None:
    metric = board.get("metric")
    for row in as_list(board.get("rows")):
        if (
            isinstance(row, Mapping)
            and not row.get("error")
            and metric in as_mapping(row.get("means"))
        ):
            return row
    return None


def _metric_names(rows: Sequence[Mapping[str, Any]], first: str) -> list[str]:
    seen = {m for r in rows for m in as_mapping(r.get("means"))}
    ordered = [first] + [m for m in METRICS if m in seen and m != first]
    return ordered + sorted(m for m in seen if m not in ordered)


def _mean_std(row: Mapping[str, Any], metric: str) -> str:
    mean = as_mapping(row.get("means")).get(metric)
    std = as_mapping(row.get("stds")).get(metric)
    return format_mean_std(mean, std)


def _estimator_cell(path: Any) -> Markup:
    """The estimator's class name, with its import path as the tooltip."""
    text = str(path or "—")
    return Markup(f'<code title="{escape(text)}">{escape(text.rsplit(".", 1)[-1])}</code>')


def _arrow(metric: str, board: Mapping[str, Any] | None = None) -> str:
    if metric in METRICS:
        return "↑" if METRICS[metric][1] == "max" else "↓"
    if board is not None and metric == board.get("metric"):
        return "↑" if board.get("direction") == "max" else "↓"
    return ""


# -- tuning -------------------------------------------------------------------------------


def _tuning_section(result: Mapping[str, Any]) -> tuple[Markup, Markup | None]:
    history = as_records(result.get("history"))
    metric = str(result.get("metric", ""))
    maximise = result.get("direction", "max") != "min"
    states: dict[str, int] = {}
    for entry in history:
        states[str(entry.get("state"))] = states.get(str(entry.get("state")), 0) + 1
    resumed = result.get("n_previous") or 0
    parts = [
        f"<p>Tuned <strong>{escape(result.get('candidate'))}</strong> for "
        f"<strong>{escape(metric)}</strong> ({'higher' if maximise else 'lower'} is better): "
        f"best value <strong>{escape(format_number(result.get('best_value')))}</strong> over "
        f"{escape(format_number(result.get('n_trials')))} finished trials"
        + (f", {escape(format_number(resumed))} of them from an earlier call" if resumed else "")
        + f" ({escape(', '.join(f'{n} {s}' for s, n in states.items()))})"
        + (
            f". Study <code>{escape(result.get('study_name'))}</code>."
            if result.get("study_name")
            else "."
        )
        + "</p>"
    ]
    complete = [h for h in history if h.get("state") == "complete"]
    pruned = [h for h in history if h.get("state") == "pruned"]
    best: list[float | None] = []
    running: float | None = None
    for entry in complete:
        value = finite_or_none(entry.get("value"))
        if value is not None and (
            running is None or (value > running if maximise else value < running)
        ):
            running = value
        best.append(running)
    series = [
        LineSeries(
            "trial value",
            [h.get("number") for h in complete],
            [h.get("value") for h in complete],
            "points",
        ),
        LineSeries("best so far", [h.get("number") for h in complete], best, "step"),
    ]
    if pruned:
        series.append(
            LineSeries(
                "pruned (last value)",
                [h.get("number") for h in pruned],
                [h.get("value") for h in pruned],
                "points",
            )
        )
    chart = draw_line_chart(series, title=f"{metric} per trial", x_label="trial", y_label=metric)
    parts.append(f'<div class="chart">{chart}</div>')
    parts.append("<h3>Best parameters</h3>")
    best_params = as_mapping(result.get("best_params"))
    parts.append(
        render_table(
            ["Parameter", "Value"],
            [[name, _plain(value)] for name, value in sorted(best_params.items(), key=_key)],
            empty="No parameters were tuned.",
        )
    )
    trials = render_table(
        ["Trial", "State", metric, "Duration", "Parameters", "Error"],
        [
            [
                h.get("number"),
                render_badge(h.get("state") or "unknown"),
                h.get("value"),
                Markup(escape(format_duration(h.get("duration")))),
                _plain(as_mapping(h.get("params"))),
                h.get("error") or "",
            ]
            for h in history
        ],
        numeric=[True, False, True, True, False, False],
        empty="No trial recorded.",
    )
    parts.append(
        f'<details class="sub"><summary>All {len(history)} trials</summary>{trials}</details>'
    )
    badge = render_badge(f"best {format_number(result.get('best_value'))}", "neutral")
    return Markup("".join(parts)), badge


# -- evaluation ---------------------------------------------------------------------------


def _evaluation_section(evaluation: Mapping[str, Any]) -> tuple[Markup, Markup | None]:
    task = evaluation.get("task")
    metrics = as_mapping(evaluation.get("metrics"))
    skipped = as_mapping(evaluation.get("skipped"))
    parts = [
        f"<p>{escape(str(task).capitalize())} model scored on "
        f"{escape(format_number(evaluation.get('n_rows')))} rows.</p>",
        render_table(
            ["Metric", "Value", "Better"] + (["Note"] if skipped else []),
            [
                [name, value, _better(name)] + ([""] if skipped else [])
                for name, value in metrics.items()
            ]
            + [
                [name, None, _better(name), f"not computed: {why}"] for name, why in skipped.items()
            ],
            numeric=[False, True, False, False],
            empty="No metric was computed.",
        ),
    ]
    parts.append(_charts(evaluation))
    slices = as_mapping(evaluation.get("slices"))
    for column, values in slices.items():
        if isinstance(values, Mapping):
            parts.append(_slice_table(str(column), values))
    headline = next(iter(metrics.items()), None)
    badge = (
        render_badge(f"{headline[0]} {format_number(headline[1])}", "neutral") if headline else None
    )
    return Markup("".join(parts)), badge


def _charts(evaluation: Mapping[str, Any]) -> str:
    plots = as_mapping(evaluation.get("plots"))
    charts = []
    matrix = plots.get("confusion_matrix")
    if isinstance(matrix, Mapping):
        labels = matrix.get("labels") or evaluation.get("labels")
        charts.append(
            draw_heatmap(
                as_list(matrix.get("matrix")),
                row_labels=labels,
                column_labels=labels,
                title="Confusion matrix",
                subtitle="counts; shade = share of the true class",
                x_label="predicted",
                y_label="true",
                colour_by="row",
            )
        )
    calibration = plots.get("calibration")
    if isinstance(calibration, Mapping):
        points = as_records(calibration.get("points"))
        which = (
            f"class {calibration.get('positive_label')}"
            if calibration.get("kind") == "positive_class"
            else "top-class confidence"
        )
        charts.append(
            draw_calibration_curve(
                [p.get("mean_predicted") for p in points],
                [p.get("fraction_positive") for p in points],
                [p.get("count") for p in points],
                title=f"Calibration ({which})",
                subtitle=f"expected calibration error {format_number(calibration.get('ece'))}",
            )
        )
    residuals = plots.get("residuals")
    if isinstance(residuals, Mapping):
        shown = len(as_list(residuals.get("y_pred")))
        total = residuals.get("n_total") or shown
        charts.append(
            draw_scatter(
                as_list(residuals.get("y_pred")),
                as_list(residuals.get("residual")),
                title="Residuals against predictions",
                subtitle=f"{format_number(shown)} of {format_number(total)} rows; "
                "residual = true - predicted",
                x_label="predicted",
                y_label="residual",
                zero_line=True,
            )
        )
    if not charts:
        return ""
    return (
        '<div class="charts">' + "".join(f'<div class="chart">{c}</div>' for c in charts) + "</div>"
    )


def _slice_table(column: str, values: Mapping[str, Any]) -> str:
    entries = [(key, v) for key, v in values.items() if isinstance(v, Mapping)]
    names = _metric_names([{"means": as_mapping(v.get("metrics"))} for _, v in entries], "")[1:]
    rows = []
    for key, entry in entries:
        scores = as_mapping(entry.get("metrics"))
        rows.append([key, entry.get("rows")] + [scores.get(m) for m in names])
    return f"<h3>By {escape(column)}</h3>" + render_table(
        ["Value", "Rows"] + [f"{m} {_arrow(m)}".strip() for m in names],
        rows,
        numeric=[False, True] + [True] * len(names),
    )


def _better(metric: str) -> str:
    if metric not in METRICS:
        return ""
    return "higher" if METRICS[metric][1] == "max" else "lower"


# -- blessing -----------------------------------------------------------------------------


def _blessing_section(blessing: Mapping[str, Any]) -> tuple[Markup, Markup | None]:
    text, tone = _verdict(blessing)
    params = as_mapping(blessing.get("params"))
    parts = [_verdict_box(text, tone, _verdict_detail(blessing))]
    settings = [
        f"metric compared with the champion: <strong>{escape(blessing.get('metric'))}</strong>"
    ]
    thresholds = as_mapping(params.get("thresholds"))
    if thresholds:
        settings.append(
            "thresholds: "
            + ", ".join(f"{escape(m)} {escape(format_number(v))}" for m, v in thresholds.items())
        )
    settings.append(
        f"tolerated drop: the larger of {escape(format_number(params.get('absolute_margin')))} "
        f"and {escape(format_percent(params.get('relative_margin')))} of the champion's value"
    )
    if params.get("slice_min_rows") is not None:
        settings.append(
            f"slices compared from {escape(format_number(params.get('slice_min_rows')))} rows"
        )
    parts.append('<ul class="plain">' + "".join(f"<li>{s}</li>" for s in settings) + "</ul>")
    reasons = as_records(blessing.get("reasons"))
    parts.append(
        render_table(
            [
                "Check",
                "Metric",
                "Slice",
                "Candidate",
                "Champion / threshold",
                "Delta",
                "Result",
                "Message",
            ],
            [
                [
                    _check_kind(r),
                    r.get("metric"),
                    "overall" if r.get("slice") is None else r.get("slice"),
                    r.get("candidate"),
                    r.get("threshold") if r.get("threshold") is not None else r.get("champion"),
                    r.get("delta"),
                    render_badge("passed", "good")
                    if r.get("passed")
                    else render_badge("failed", "bad"),
                    r.get("message"),
                ]
                for r in reasons
            ],
            numeric=[False, False, False, True, True, True, False, False],
            empty="No check was made.",
        )
    )
    skipped = as_records(blessing.get("skipped"))
    if skipped:
        parts.append("<h3>Slices not compared</h3>")
        parts.append(
            render_table(
                ["Metric", "Slice", "Why"],
                [[s.get("metric"), s.get("slice"), s.get("message")] for s in skipped],
            )
        )
    return Markup("".join(parts)), render_badge(text, tone)


def _check_kind(reason: Mapping[str, Any]) -> str:
    if reason.get("threshold") is not None:
        return "threshold"
    if reason.get("champion") is None and "first model" in str(reason.get("message")):
        return "first model"
    return "vs champion"


# -- extra sections and helpers -----------------------------------------------------------


def _extra_sections(extra: Mapping[str, Any], taken: set[str]) -> list[Section]:
    sections = []
    for title, content in extra.items():
        base = f"extra-{slugify(str(title))}"
        ident, n = base, 2
        while ident in taken:
            ident, n = f"{base}-{n}", n + 1
        taken.add(ident)
        sections.append(Section(ident, str(title), _extra_body(content)))
    return sections


def _extra_body(content: Any) -> Markup:
    if isinstance(content, Markup):
        return content
    if isinstance(content, str):
        return Markup(f"<p>{escape(content)}</p>")
    if isinstance(content, Mapping):
        return render_table(
            ["Name", "Value"], [[k, _value(v)] for k, v in content.items()], empty="Empty."
        )
    if isinstance(content, Sequence) and content and all(isinstance(c, Mapping) for c in content):
        keys: list[str] = []
        for item in content:
            keys += [str(k) for k in item if str(k) not in keys]
        return render_table(keys, [[_value(item.get(k)) for k in keys] for item in content])
    return Markup(f"<pre>{escape(_json(content))}</pre>")


def _as_dict(value: Any, name: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return dict(value)
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        result = to_dict()
        if isinstance(result, Mapping):
            return dict(result)
    raise InvalidInputError(
        f"The {name!r} argument of render_run_report must be a dict (the result's to_dict()) "
        f"or None. Got {type(value).__name__}.",
        value=type(value).__name__,
    )


def _value(value: Any) -> object:
    """A table cell: numbers stay numbers (formatted and right-aligned), the rest is text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return _json(value)


def _plain(value: Any) -> str:
    """A parameter value as text: numbers formatted, containers as compact JSON."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_plain(v)}" for k, v in value.items()) or "—"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return format_number(value)
    if isinstance(value, float):  # a setting: as typed, unless it has many digits
        return repr(value) if len(repr(value)) <= 10 else f"{value:.6g}"
    if isinstance(value, str):
        return value
    return _json(value)


def _json(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False, sort_keys=True)


def _key(item: tuple[Any, Any]) -> str:
    return str(item[0])


def _yes_no(value: Any) -> str:
    if value is None:
        return "—"
    return "yes" if value else "no"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"
