"""The run report's evaluation section: the metrics on held-out data beside the dummy
baseline's, the confusion matrix, calibration, ROC and precision-recall curves, residuals,
permutation feature importance, and the metrics per slice.
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
    format_number,
    render_badge,
    render_table,
)
from ._metrics import better_word, metric_arrow, metric_names
from ._svg import (
    LineSeries,
    draw_bar_chart,
    draw_calibration_curve,
    draw_heatmap,
    draw_line_chart,
    draw_scatter,
)

_MAX_IMPORTANCES = 15

__all__ = ["evaluation_section"]


def evaluation_section(evaluation: Mapping[str, Any]) -> tuple[Markup, Markup | None]:
    """The evaluation's metrics, charts and slice tables; the first metric as badge."""
    task = evaluation.get("task")
    metrics = as_mapping(evaluation.get("metrics"))
    skipped = as_mapping(evaluation.get("skipped"))
    baseline = as_mapping(evaluation.get("baseline"))
    dummy = as_mapping(baseline.get("metrics"))
    parts = [
        f"<p>{escape(str(task).capitalize())} model scored on "
        f"{escape(format_number(evaluation.get('n_rows')))} rows"
        + (
            f", beside {escape(baseline.get('description'))} fitted on the same training rows"
            if baseline
            else ""
        )
        + ".</p>",
        render_table(
            ["Metric", "Value"]
            + (["Dummy baseline"] if baseline else [])
            + ["Better"]
            + (["Note"] if skipped else []),
            [
                [name, value]
                + ([dummy.get(name)] if baseline else [])
                + [better_word(name)]
                + ([""] if skipped else [])
                for name, value in metrics.items()
            ]
            + [
                [name, None]
                + ([None] if baseline else [])
                + [better_word(name), f"not computed: {why}"]
                for name, why in skipped.items()
            ],
            numeric=[False, True] + ([True] if baseline else []) + [False, False],
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
    charts += _curves(plots)
    importance = plots.get("permutation_importance")
    if isinstance(importance, Mapping):
        features = as_records(importance.get("features"))[:_MAX_IMPORTANCES]
        if features:
            charts.append(
                draw_bar_chart(
                    [f.get("feature") for f in features],
                    [f.get("mean") for f in features],
                    [f.get("std") for f in features],
                    title="Permutation feature importance",
                    subtitle=f"drop in {importance.get('metric')} when the column is shuffled "
                    f"({format_number(importance.get('repeats'))} times, "
                    f"{format_number(importance.get('rows'))} held-out rows)",
                    x_label=str(importance.get("metric")),
                )
            )
    if not charts:
        return ""
    return (
        '<div class="charts">' + "".join(f'<div class="chart">{c}</div>' for c in charts) + "</div>"
    )


def _curves(plots: Mapping[str, Any]) -> list[str]:
    """ROC and precision-recall curves, one line per class (or the positive class)."""
    charts = []
    roc = as_records(plots.get("roc"))
    if roc:
        series = [
            LineSeries(
                f"{r.get('label')} (AUC {format_number(r.get('auc'))})",
                as_list(r.get("fpr")),
                as_list(r.get("tpr")),
            )
            for r in roc
        ]
        series.append(LineSeries("chance", [0.0, 1.0], [0.0, 1.0]))
        charts.append(
            draw_line_chart(
                series,
                title="ROC curve",
                subtitle="true against false positive rate, by class",
                x_label="false positive rate",
                y_label="true positive rate",
                y_from_zero=True,
            )
        )
    pr = as_records(plots.get("precision_recall"))
    if pr:
        charts.append(
            draw_line_chart(
                [
                    LineSeries(
                        f"{r.get('label')} (AP {format_number(r.get('average_precision'))})",
                        as_list(r.get("recall")),
                        as_list(r.get("precision")),
                    )
                    for r in pr
                ],
                title="Precision-recall curve",
                subtitle="dashed: the share of positives, what guessing scores",
                x_label="recall",
                y_label="precision",
                reference_lines={
                    f"prevalence of {r.get('label')}": float(r.get("prevalence") or 0.0)
                    for r in pr[:1]
                },
                y_from_zero=True,
            )
        )
    return charts


def _slice_table(column: str, values: Mapping[str, Any]) -> str:
    entries = [(key, v) for key, v in values.items() if isinstance(v, Mapping)]
    names = metric_names([{"means": as_mapping(v.get("metrics"))} for _, v in entries], "")[1:]
    rows = []
    for key, entry in entries:
        scores = as_mapping(entry.get("metrics"))
        rows.append([key, entry.get("rows")] + [scores.get(m) for m in names])
    return f"<h3>By {escape(column)}</h3>" + render_table(
        ["Value", "Rows"] + [f"{m} {metric_arrow(m)}".strip() for m in names],
        rows,
        numeric=[False, True] + [True] * len(names),
    )
