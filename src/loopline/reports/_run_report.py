"""The HTML report of one run: what it checked, compared, tuned, scored and decided.

``render_run_report`` takes plain dicts, the ``to_dict()`` of the components' results (or
the results themselves), so a report can be rebuilt from what the store keeps without
importing the pipeline. ``write_report`` saves it atomically.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from loopline.errors import InvalidInputError

from ._html import (
    Markup,
    Section,
    as_mapping,
    as_records,
    escape,
    format_duration,
    format_number,
    format_timestamp,
    render_badge,
    render_note,
    render_page,
    render_table,
    slugify,
)
from ._run_blessing import blessing_section, verdict, verdict_box, verdict_detail
from ._run_columns import columns_section
from ._run_data import statistics_section, validation_headline, validation_section
from ._run_evaluation import evaluation_section
from ._run_selection import best_row, leaderboard_section, mean_std, tuning_section
from ._values import by_name, cell_value, plain, to_json

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
    span: Mapping[str, Any] | None = None,
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
        span: The ``ingest`` step's span: its column roles and target, shown with the task
            (from the leaderboard) in the "Columns and task" section.
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
        "validation": ("Data validation", validation_section),
        "statistics": ("Statistics", statistics_section),
        "leaderboard": ("Leaderboard", leaderboard_section),
        "tuning": ("Tuning history", tuning_section),
        "evaluation": ("Evaluation", evaluation_section),
        "blessing": ("Blessing", blessing_section),
    }
    sections = [_summary_section(run, inputs)]
    if span is None:
        sections.append(
            Section(
                "columns",
                "Columns and task",
                render_note(NOT_IN_RUN),
                render_badge("not run", "neutral"),
            )
        )
    else:
        if not isinstance(span, Mapping):
            raise InvalidInputError(
                f"The span of render_run_report must be a dict. Got {type(span).__name__}.",
                value=type(span).__name__,
            )
        body, badge = columns_section(span, inputs["statistics"], inputs["leaderboard"])
        sections.append(Section("columns", "Columns and task", body, badge))
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
    verdict_text, verdict_tone = verdict(inputs["blessing"])
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
    text, tone = verdict(inputs["blessing"])
    parts = [verdict_box(text, tone, verdict_detail(inputs["blessing"]))]
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
            [[name, plain(value)] for name, value in sorted(params.items(), key=by_name)],
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
        lines.append(f"Data validation: {escape(validation_headline(validation))}")
    leaderboard = inputs["leaderboard"]
    if leaderboard is not None:
        best = best_row(leaderboard)
        metric = leaderboard.get("metric", "")
        if best is not None:
            score = mean_std(best, metric)
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


def _yes_no(value: Any) -> str:
    if value is None:
        return "—"
    return "yes" if value else "no"


# -- extra sections and inputs -----------------------------------------------------------


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
            ["Name", "Value"], [[k, cell_value(v)] for k, v in content.items()], empty="Empty."
        )
    if isinstance(content, Sequence) and content and all(isinstance(c, Mapping) for c in content):
        keys: list[str] = []
        for item in content:
            keys += [str(k) for k in item if str(k) not in keys]
        return render_table(keys, [[cell_value(item.get(k)) for k in keys] for item in content])
    return Markup(f"<pre>{escape(to_json(content))}</pre>")


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
