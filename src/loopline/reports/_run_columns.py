"""The run report's "Columns and task" section: each column's inferred (or declared) role,
why, and how the model is fed with it; the task, the target's classes and balance, and the
rows dropped for a missing target. It reads the ``ingest`` step's span (where the roles are
kept), the statistics (distinct values) and the leaderboard (task, class balance).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..components import describe_encoding
from ._html import (
    Markup,
    as_mapping,
    as_records,
    escape,
    format_number,
    format_percent,
    plural,
    render_badge,
    render_note,
    render_table,
)

__all__ = ["columns_section"]

#: The roles whose columns are left out of the model.
_DROPPED = ("identifier", "constant")


def columns_section(
    span: Mapping[str, Any],
    statistics: Mapping[str, Any] | None = None,
    leaderboard: Mapping[str, Any] | None = None,
) -> tuple[Markup, Markup | None]:
    """The task sentence, the missing-target note, and the table of column roles."""
    roles = as_records(span.get("roles"))
    columns = as_mapping(as_mapping(statistics).get("columns"))
    parts = [f"<p>{escape(_task_sentence(span, leaderboard))}</p>"]
    missing = as_mapping(span.get("missing_target"))
    if missing.get("count"):
        where = ", ".join(str(line) for line in missing.get("examples") or [])
        parts.append(
            render_note(
                f"{plural(int(missing['count']), 'row')} without a target dropped at ingest"
                + (f" (first: {where})" if where else "")
                + "."
            )
        )
    if not roles:
        parts.append(render_note("The run recorded no column roles."))
        return Markup("".join(parts)), None
    rows = []
    for role in roles:
        name = str(role.get("name"))
        kind = str(role.get("role"))
        distinct = as_mapping(columns.get(name)).get("distinct")
        rows.append(
            [
                name,
                render_badge(kind, "warn" if kind in _DROPPED else "neutral"),
                role.get("reason") or ("declared" if role.get("declared") else "—"),
                describe_encoding(kind, None if distinct is None else int(distinct)),
            ]
        )
    parts.append(render_table(["Column", "Role", "Why", "Fed to the model as"], rows))
    dropped = [r for r in roles if r.get("role") in _DROPPED]
    if dropped:
        names = ", ".join(str(r.get("name")) for r in dropped)
        parts.append(
            render_note(
                f"Left out of the model: {names}. Declare a role in [data.columns] of "
                "loopline.toml to keep a column."
            )
        )
    badge = render_badge(
        f"{plural(len(dropped), 'column')} dropped" if dropped else plural(len(roles), "column"),
        "warn" if dropped else "neutral",
    )
    return Markup("".join(parts)), badge


def _task_sentence(span: Mapping[str, Any], leaderboard: Mapping[str, Any] | None) -> str:
    board = as_mapping(leaderboard)
    task = board.get("task")
    target = span.get("target")
    subject = f" of {target!r}" if target else ""
    rows = f" on {format_number(span.get('rows'))} rows" if span.get("rows") is not None else ""
    if not task:
        return f"Target{subject}{rows}; the task was not decided in this run."
    if task != "classification":
        return f"Task: {task}{subject}{rows}."
    balance = as_mapping(board.get("balance"))
    counts = as_mapping(balance.get("counts"))
    total = sum(int(v) for v in counts.values()) or 1
    classes = ", ".join(
        f"{k} ({format_percent(int(v) / total)})"
        for k, v in sorted(counts.items(), key=lambda kv: -int(kv[1]))
    )
    sentence = f"Task: classification{subject}{rows}"
    if counts:
        sentence += f", {len(counts)} {'class' if len(counts) == 1 else 'classes'}: {classes}"
    if balance.get("imbalanced"):
        sentence += "; imbalanced (see the leaderboard for the metric it is ranked by)"
    return sentence + "."
