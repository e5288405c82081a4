"""The run report's model-selection sections: the leaderboard of cross-validated
candidates, and the tuning history of the chosen one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._html import (
    Markup,
    as_list,
    as_mapping,
    as_records,
    escape,
    finite_or_none,
    format_duration,
    format_mean_std,
    format_number,
    render_badge,
    render_note,
    render_table,
)
from ._metrics import metric_arrow, metric_names
from ._svg import LineSeries, draw_bar_chart, draw_line_chart
from ._values import by_name, plain

__all__ = ["best_row", "leaderboard_section", "mean_std", "tuning_section"]

# -- leaderboard --------------------------------------------------------------------------


def _context_notes(board: Mapping[str, Any], metric: str) -> list[str]:
    """The sample cross-validated, the class balance, the budget, and the dummy baseline."""
    notes = []
    cv_rows, total = board.get("cv_rows"), board.get("total_rows")
    if isinstance(cv_rows, int) and isinstance(total, int) and 0 < cv_rows < total:
        notes.append(
            f"Cross-validated on a stratified sample of {format_number(cv_rows)} of "
            f"{format_number(total)} training rows; the final model is fitted on all of them."
        )
    balance = as_mapping(board.get("balance"))
    if balance.get("imbalanced"):
        notes.append(
            f"Imbalanced target: class {balance.get('minority')} is "
            f"{format_number(100 * float(balance.get('minority_share') or 0))}% of rows, so "
            f"accuracy would reward predicting the majority; ranked by {metric}."
        )
    if board.get("note"):
        notes.append(str(board.get("note")).capitalize() + ".")
    baseline = as_mapping(as_mapping(board.get("baseline")).get("means"))
    if metric in baseline:
        notes.append(
            f"The dummy baseline (majority class or mean) scores {format_number(baseline[metric])}"
            f" {metric} on the same folds: a candidate must beat it to be blessed."
        )
    return [render_note(n) for n in notes]


def leaderboard_section(board: Mapping[str, Any]) -> tuple[Markup, Markup | None]:
    """The candidates ranked by the metric: a bar chart, a table, failures, params."""
    rows = as_records(board.get("rows"))
    metric = str(board.get("metric", ""))
    direction = board.get("direction")
    best = best_row(board)
    better = "higher" if direction == "max" else "lower" if direction == "min" else "?"
    parts = [
        f"<p>{escape(format_number(len(rows)))} candidates, {escape(board.get('task', ''))}, "
        f"ranked by <strong>{escape(metric)}</strong> ({better} is better) over "
        f"{escape(format_number(board.get('folds')))}-fold cross-validation."
    ]
    if best is not None:
        parts.append(f" Best: <strong>{escape(best.get('name'))}</strong>.")
    parts.append("</p>")
    parts += _context_notes(board, metric)
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
    metrics = metric_names(rows, metric)
    failed = sum(1 for r in rows if r.get("error"))
    table_rows = []
    for rank, row in enumerate(rows, start=1):
        error = row.get("error")
        cells: list[object] = [rank, row.get("name"), _estimator_cell(row.get("estimator"))]
        cells += [mean_std(row, m) for m in metrics]
        cells.append(format_duration(row.get("fit_seconds")))
        if failed:  # a status column only when a candidate failed
            cells.append(render_badge("failed", "bad") if error else render_badge("ok", "good"))
        table_rows.append(cells)
    headers = ["#", "Candidate", "Estimator"] + [f"{m} {metric_arrow(m, board)}" for m in metrics]
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
        [[r.get("name"), plain(as_mapping(r.get("params")))] for r in rows],
    )
    return f'<details class="sub"><summary>Candidate parameters</summary>{table}</details>'


def best_row(board: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The first candidate without error that has the board's metric, or None."""
    metric = board.get("metric")
    for row in as_list(board.get("rows")):
        if (
            isinstance(row, Mapping)
            and not row.get("error")
            and metric in as_mapping(row.get("means"))
        ):
            return row
    return None


def mean_std(row: Mapping[str, Any], metric: str) -> str:
    """A candidate's ``mean ± std`` of ``metric`` over the folds."""
    mean = as_mapping(row.get("means")).get(metric)
    std = as_mapping(row.get("stds")).get(metric)
    return format_mean_std(mean, std)


def _estimator_cell(path: Any) -> Markup:
    """The estimator's class name, with its import path as the tooltip."""
    text = str(path or "—")
    return Markup(f'<code title="{escape(text)}">{escape(text.rsplit(".", 1)[-1])}</code>')


# -- tuning -------------------------------------------------------------------------------


def tuning_section(result: Mapping[str, Any]) -> tuple[Markup, Markup | None]:
    """The tuning history: value per trial, best so far, best params, all trials."""
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
            [[name, plain(value)] for name, value in sorted(best_params.items(), key=by_name)],
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
                plain(as_mapping(h.get("params"))),
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
