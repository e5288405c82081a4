"""A feature's chart in the monitoring report: the training distribution against the
window's, on the training histogram's bins (numeric) or the most frequent categories.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ._html import as_list, as_mapping, as_records, finite_or_none, format_number, render_note
from ._monitoring_format import TRAINING, WINDOW, chart_box
from ._monitoring_inputs import MonitoringInputs
from ._svg import draw_paired_histogram

__all__ = ["feature_chart"]

#: Categories shown in a categorical feature's chart; the rest are pooled in one bar.
MAX_CATEGORIES = 12
#: The label of that pooled bar.
OTHER_VALUES = "(all other values)"


def feature_chart(
    data: MonitoringInputs, name: str, entry: Mapping[str, Any], *, prediction: bool = False
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
    data: MonitoringInputs,
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
        return chart_box(
            draw_paired_histogram(
                ref_counts,
                counts,
                edges=edges,
                title=title,
                subtitle=subtitle,
                x_label=name,
                reference_label=TRAINING,
                current_label=WINDOW,
                width=560,
            )
        )
    if len(own_edges) >= 2 and len(own_counts) == len(own_edges) - 1 and any(own_counts):
        # The window was binned on its own edges: show both, each on its bins.
        return chart_box(
            draw_paired_histogram(
                ref_counts,
                edges=edges,
                title=f"{name}: training",
                subtitle=subtitle,
                x_label=name,
                reference_label=TRAINING,
                width=560,
                height=230,
            )
        ) + chart_box(
            draw_paired_histogram(
                own_counts,
                edges=own_edges,
                title=f"{name}: this window (on its own bins)",
                subtitle="not on the training bins: compare shapes and ranges, not bar by bar",
                x_label=name,
                reference_label=WINDOW,
                width=560,
                height=230,
            )
        )
    return render_note("The window's values of this feature were not given: numbers only.")


def _categorical_chart(
    data: MonitoringInputs, name: str, reference: Mapping[str, Any], subtitle: str
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
    return chart_box(
        draw_paired_histogram(
            ref_counts,
            cur_counts,
            categories=names,
            title=f"{name}: training vs this window",
            subtitle=subtitle,
            reference_label=TRAINING,
            current_label=WINDOW,
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
