"""The registry pages: models, one model's versions, aliases and their history, and the
operator's forms (approve, reject, promote, rollback), each also a CLI command."""

from __future__ import annotations

from ..reports import (
    Markup,
    escape,
    format_timestamp,
    render_badge,
    render_table,
)
from ..store import ModelVersion, Store
from ._layout import link, section, when


def models_body(store: Store) -> str:
    """Every registered model with its aliases and latest version."""
    rows = []
    for name in store.models.names():
        versions = store.models.versions(name)
        aliases = store.models.aliases(name)
        latest = versions[-1] if versions else None
        rows.append(
            [
                link(f"/models/{name}", name),
                len(versions),
                Markup(
                    " ".join(
                        f"{_alias_badge(a)}&nbsp;→&nbsp;{v}" for a, v in sorted(aliases.items())
                    )
                ),
                render_badge(latest.status) if latest else "—",
                format_timestamp(latest.created_at) if latest else "—",
                link(f"/models/{name}/monitoring", "monitoring"),
            ]
        )
    return render_table(
        ["model", "versions", "aliases", "latest status", "latest registered", ""],
        rows,
        empty="No model is registered yet: run the training workflow (loopline run).",
    )


def model_body(store: Store, name: str, *, operator: bool, notice: str = "") -> str:
    """One model: versions, aliases, history, actions (for operators), and its events."""
    versions = store.models.versions(name)  # raises NotFoundError for an unknown model
    aliases = store.models.aliases(name)
    by_version: dict[int, list[str]] = {}
    for alias, version in aliases.items():
        by_version.setdefault(version, []).append(alias)
    metric_keys = sorted({k for v in versions for k, x in v.metrics.items() if _is_number(x)})[:5]
    rows = []
    for v in reversed(versions):
        rows.append(
            [
                Markup(f'<span id="v{v.version}">{v.version}</span>'),
                render_badge(v.status),
                Markup(" ".join(_alias_badge(a) for a in sorted(by_version.get(v.version, [])))),
                _verdict(v.blessed, "blessed", "not blessed"),
                _verdict(v.infra_valid, "valid", "failed"),
                *[v.metrics.get(k) if _is_number(v.metrics.get(k)) else None for k in metric_keys],
                link(f"/runs/{v.run_id}", v.run_id[:8]) if v.run_id else "—",
                link(f"/artifacts/{v.artifact_id}/lineage", "lineage"),
                when(v.created_at),
            ]
        )
    parts = [notice]
    parts.append(f"<p>{link(f'/models/{name}/monitoring', 'Monitoring over time →')}</p>")
    parts.append(
        section(
            "Versions",
            render_table(
                [
                    "version",
                    "status",
                    "aliases",
                    "blessing",
                    "infra",
                    *metric_keys,
                    "run",
                    "package",
                    "registered",
                ],
                rows,
                empty="No version yet.",
            ),
            id="versions",
        )
    )
    parts.append(section("Actions", _actions(name, versions, aliases, operator), id="actions"))
    history = store.models.history(name)
    hist_rows = [
        [
            when(m.time),
            _alias_badge(m.alias),
            "—" if m.previous is None else m.previous,
            "removed" if m.version is None else m.version,
            m.actor,
            m.reason or "",
        ]
        for m in reversed(history)
    ]
    parts.append(
        section(
            "Alias history",
            render_table(
                ["time", "alias", "from", "to", "who", "why"],
                hist_rows,
                empty="No alias was ever set.",
            ),
            id="history",
        )
    )
    events = store.browse.model_events(name, limit=100)
    ev_rows = [[when(e.time), e.kind, e.subject_id, e.actor, e.reason or ""] for e in events]
    parts.append(
        section(
            "Events",
            render_table(["time", "event", "subject", "who", "why"], ev_rows, empty="No events."),
            id="events",
        )
    )
    return "".join(parts)


def _actions(
    name: str, versions: list[ModelVersion], aliases: dict[str, int], operator: bool
) -> str:
    if not operator:
        return (
            '<p class="note">Approving, rejecting, promoting and rolling back need the operator '
            'token (LOOPLINE_ADMIN_TOKEN): <a href="/login">sign in</a> with it. The same '
            "actions are CLI commands: loopline models approve | reject | promote | rollback."
            "</p>"
        )
    if not versions:
        return '<p class="note">No version to act on.</p>'
    options = "".join(
        f'<option value="{v.version}">{v.version} ({escape(v.status)})</option>'
        for v in reversed(versions)
    )
    reason = (
        '<label>reason<input name="reason" required placeholder="why (recorded)" '
        'autocomplete="off"></label>'
    )
    alias_names = sorted(set(aliases) | {"production", "staging"})
    alias_options = "".join(
        f'<option value="{escape(a)}">{escape(a)}</option>' for a in alias_names
    )
    q = escape(name)

    def card(title: str, action: str, fields: str, button: str, cli: str, cls: str = "") -> str:
        return (
            f'<div class="card"><h3>{escape(title)}</h3>'
            f'<form class="action" method="post" action="/models/{q}/{action}" '
            f'id="{escape(action)}-form">{fields}{reason}'
            f'<button type="submit" class="{cls}">{escape(button)}</button></form>'
            f'<p class="cli">CLI: <code>{escape(cli)}</code></p></div>'
        )

    version_field = f'<label>version<select name="version">{options}</select></label>'
    alias_field = f'<label>alias<select name="alias">{alias_options}</select></label>'
    return (
        '<div class="actions">'
        + "".join(
            [
                card(
                    "Approve",
                    "approve",
                    version_field,
                    "Approve",
                    f'loopline models approve {name} VERSION --reason "…"',
                ),
                card(
                    "Reject",
                    "reject",
                    version_field,
                    "Reject",
                    f'loopline models reject {name} VERSION --reason "…"',
                    "danger",
                ),
                card(
                    "Promote",
                    "promote",
                    version_field + alias_field,
                    "Promote",
                    f'loopline models promote {name} VERSION --alias ALIAS --reason "…"',
                ),
                card(
                    "Roll back",
                    "rollback",
                    alias_field,
                    "Roll back",
                    f'loopline models rollback {name} --alias ALIAS --reason "…"',
                    "secondary",
                ),
            ]
        )
        + "</div>"
    )


def _alias_badge(alias: str) -> Markup:
    return render_badge(alias, "good" if alias == "production" else "neutral")


def _verdict(value: bool | None, yes: str, no: str) -> Markup | str:
    if value is None:
        return "—"
    return render_badge(yes, "good") if value else render_badge(no, "bad")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
