"""The run report's sections about the training data: validation anomalies, and each
column's statistics with a sparkline of its distribution.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._html import (
    Markup,
    as_list,
    as_mapping,
    as_records,
    escape,
    finite_or_none,
    format_duration,
    format_number,
    format_percent,
    format_timestamp,
    plural,
    render_badge,
    render_note,
    render_table,
)
from ._svg import draw_sparkline

__all__ = ["statistics_section", "validation_headline", "validation_section"]

# -- validation ---------------------------------------------------------------------------


def validation_section(report: Mapping[str, Any]) -> tuple[Markup, Markup]:
    """The validation anomalies, errors first; a badge counting them."""
    anomalies = as_records(report.get("anomalies"))
    ordered = [a for a in anomalies if a.get("severity") == "error"]
    ordered += [a for a in anomalies if a.get("severity") != "error"]
    errors = len([a for a in anomalies if a.get("severity") == "error"])
    warnings = len(anomalies) - errors
    if errors:
        badge = render_badge(plural(errors, "error"), "bad")
    elif warnings:
        badge = render_badge(plural(warnings, "warning"), "warn")
    else:
        badge = render_badge("no anomalies", "good")
    parts = [f"<p>{escape(validation_headline(report))}</p>"]
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


def validation_headline(report: Mapping[str, Any]) -> str:
    """One sentence: the shape checked and how many errors and warnings."""
    anomalies = as_records(report.get("anomalies"))
    errors = len([a for a in anomalies if a.get("severity") == "error"])
    shape = (
        f"{format_number(report.get('num_rows'))} rows x "
        f"{format_number(report.get('num_columns'))} columns"
    )
    if not anomalies:
        return f"Checked {shape}: no anomalies."
    return (
        f"Checked {shape}: {plural(errors, 'error')}, {plural(len(anomalies) - errors, 'warning')}."
    )


# -- statistics ---------------------------------------------------------------------------


def statistics_section(statistics: Mapping[str, Any]) -> tuple[Markup, Markup | None]:
    """The columns' statistics by kind, each with a sparkline of its distribution."""
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
        f"{plural(len(missing), 'column')} with missing values" if missing else "no missing",
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
