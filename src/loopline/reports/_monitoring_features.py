"""The monitoring report's feature sections: a card per drifted feature (its tests against
their thresholds, reasons and chart), the other features, prediction drift, the overview
of all features, the schema and the detector's settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._html import (
    MISSING,
    Markup,
    Section,
    as_list,
    as_mapping,
    as_records,
    escape,
    finite_or_none,
    format_number,
    format_percent,
    plural,
    render_badge,
    render_note,
    render_table,
)
from ._monitoring_charts import feature_chart
from ._monitoring_format import cell_number, compact, feature_link, flag, flag_text
from ._monitoring_inputs import MonitoringInputs, as_count

__all__ = [
    "drifted_section",
    "others_section",
    "overview_section",
    "prediction_section",
    "schema_section",
    "settings_section",
]


def drifted_section(data: MonitoringInputs) -> Section:
    """A card per drifted feature; a note when none drifted or the window is empty."""
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
    badge = render_badge(plural(len(drifted), "feature"), "bad")
    return Section("drifted", "Drifted features", Markup("".join(parts)), badge)


def others_section(data: MonitoringInputs) -> Section | None:
    """The cards of the features that did not drift (collapsed); None if there are none."""
    others = [(n, e) for n, e in _ordered(data) if not e.get("drifted")]
    if not others:
        return None
    parts = [
        "<p>The features that did not drift, the closest to drifting first (by PSI).</p>",
        *(_feature_card(data, name, entry, data.anchors[name]) for name, entry in others),
    ]
    badge = render_badge(plural(len(others), "feature"), "neutral")
    return Section("others", "Other features", Markup("".join(parts)), badge, open=False)


def prediction_section(data: MonitoringInputs) -> Section:
    """The model's outputs in the window against its outputs on the training data."""
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


def _ordered(data: MonitoringInputs) -> list[tuple[str, Mapping[str, Any]]]:
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


# -- one feature's card -------------------------------------------------------------------


def _feature_card(
    data: MonitoringInputs,
    name: str,
    entry: Mapping[str, Any],
    anchor: str,
    *,
    prediction: bool = False,
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
    chart = feature_chart(data, name, entry, prediction=prediction)
    state = " drifted" if drifted else ""
    charts = f'<div class="feature-charts">{chart}</div>' if chart else ""
    return (
        f'<article class="feature-card{state}" id="{escape(anchor)}">{head}'
        f'<div class="feature-grid{"" if chart else " single"}">{charts}'
        f'<div class="feature-facts">{"".join(facts)}</div></div></article>'
    )


def _numbers_table(data: MonitoringInputs, name: str, entry: Mapping[str, Any]) -> str:
    psi_t = data.threshold("psi_threshold", 0.2)
    ks_t, ks_a = data.threshold("ks_threshold", 0.1), data.threshold("ks_alpha", 0.01)
    js_t, chi_a = data.threshold("js_threshold", 0.1), data.threshold("chi2_alpha", 0.01)
    missing_t = data.threshold("missing_rate_threshold", 0.05)
    kind = entry.get("kind")
    rows: list[list[object]] = []
    count = entry.get("count")
    rows.append(["Values", cell_number(count), ""])
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
            ["PSI", flag(psi, significant and psi is not None and psi > psi_t), f"> {psi_t:g}"]
        )
        rows.append(
            [
                "KS distance",
                flag(ks, significant and ks is not None and ks > ks_t),
                f"> {ks_t:g}",
            ]
        )
        rows.append(["KS p-value", flag(ks_p, significant, p_value=True), f"< {ks_a:g}"])
        out, rows_in = as_count(entry.get("out_of_range")), as_count(count)
        if out is not None:
            share = f" ({format_percent(out / rows_in)})" if rows_in else ""
            rows.append(
                [
                    "Out of training range",
                    flag_text(f"{format_number(out)}{share}", bool(out)),
                    "",
                ]
            )
    elif kind in ("categorical", "boolean"):
        significant = chi_p is not None and chi_p < chi_a
        rows.append(
            ["PSI", flag(psi, significant and psi is not None and psi > psi_t), f"> {psi_t:g}"]
        )
        rows.append(
            ["JS distance", flag(js, significant and js is not None and js > js_t), f"> {js_t:g}"]
        )
        rows.append(["χ² statistic", cell_number(chi), ""])
        rows.append(["χ² p-value", flag(chi_p, significant, p_value=True), f"< {chi_a:g}"])
        unseen = entry.get("unseen")
        if unseen is None:
            rows.append(["Unseen categories", "not known", ""])
        elif as_count(unseen) is not None:
            examples = ", ".join(str(v) for v in as_list(entry.get("unseen_values")))
            text = format_number(unseen) + (f" ({examples})" if examples else "")
            rows.append(["Unseen categories", flag_text(text, bool(unseen)), ""])
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
            flag_text(f"{format_percent(reference)} → {format_percent(missing)}", loud),
            "",
        ]
    )
    change_text = MISSING if change is None else f"{change * 100:+.1f} pp"
    rows.append(["Missing change", flag_text(change_text, loud), f"> {missing_t * 100:g} pp"])
    rows += _moment_rows(data, name, entry)
    return render_table(
        ["Measure", "Value", "Threshold"],
        rows,
        numeric=[False, True, True],
        caption="Tests and numbers",
    )


def _moment_rows(data: MonitoringInputs, name: str, entry: Mapping[str, Any]) -> list[list[object]]:
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


# -- overview, schema, settings -----------------------------------------------------------


def overview_section(data: MonitoringInputs) -> Section:
    """A table of every feature's status and scores, drifted first."""
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
                Markup(feature_link(data, name)),
                entry.get("kind"),
                status,
                cell_number(entry.get("psi")),
                cell_number(entry.get("ks_statistic")),
                cell_number(entry.get("js_distance")),
                Markup(escape(format_percent(entry.get("missing_rate")))),
                Markup(escape(MISSING if change is None else f"{change * 100:+.1f} pp")),
                render_badge(plural(violations, "violation"), "warn") if violations else "",
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


def schema_section(data: MonitoringInputs) -> Section:
    """The schema violations, and the columns missing from or new in the window."""
    violations = as_mapping(data.drift.get("schema_violations"))
    rows = [
        [Markup(feature_link(data, str(name))), problem]
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
        render_badge(plural(len(violations), "feature"), "warn")
        if violations
        else render_badge("ok", "good")
    )
    return Section("schema", "Schema", Markup("".join(parts)), badge)


def settings_section(data: MonitoringInputs) -> Section:
    """The detector's parameters, and how they decide that a feature drifted."""
    rows = [[name, compact(value)] for name, value in sorted(data.params.items())]
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
