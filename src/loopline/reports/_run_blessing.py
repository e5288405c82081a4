"""The run's blessing: the verdict shown in the report's header and summary, and the
section with the rule's settings and each check against the champion or a threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._html import (
    Markup,
    Tone,
    as_mapping,
    as_records,
    escape,
    format_number,
    format_percent,
    render_badge,
    render_table,
)

__all__ = ["blessing_section", "verdict", "verdict_box", "verdict_detail"]


def verdict(blessing: Mapping[str, Any] | None) -> tuple[str, Tone]:
    """The run's verdict and its tone: blessed, not blessed, or no blessing."""
    if blessing is None:
        return "no blessing", "neutral"
    if blessing.get("blessed") is True:
        return "blessed", "good"
    return "not blessed", "bad"


def verdict_detail(blessing: Mapping[str, Any] | None) -> str:
    """A sentence explaining the verdict (the first failed checks when not blessed)."""
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


def verdict_box(text: str, tone: Tone, detail: str) -> str:
    """The verdict's badge and detail, in a box of its tone."""
    return (
        f'<div class="verdict {tone}">{render_badge(text, tone)}<span>{escape(detail)}</span></div>'
    )


def blessing_section(blessing: Mapping[str, Any]) -> tuple[Markup, Markup | None]:
    """The blessing rule's settings and every check it made; the verdict badge."""
    text, tone = verdict(blessing)
    params = as_mapping(blessing.get("params"))
    parts = [verdict_box(text, tone, verdict_detail(blessing))]
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
                "Compared with",
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
                    _compared_with(r),
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


def _compared_with(reason: Mapping[str, Any]) -> Any:
    for key in ("threshold", "baseline", "champion"):
        if reason.get(key) is not None:
            return reason.get(key)
    return None


def _check_kind(reason: Mapping[str, Any]) -> str:
    if reason.get("check") == "baseline":
        return "vs dummy baseline"
    if reason.get("threshold") is not None:
        return "threshold"
    if reason.get("champion") is None and "first model" in str(reason.get("message")):
        return "first model"
    return "vs champion"
