"""The monitoring report's alerts: the section listing the alerts fired in the window,
worst first, and the badge summing them up.
"""

from __future__ import annotations

from typing import Any

from ._html import Markup, Section, Tone, escape, plural, render_badge, render_table
from ._monitoring_format import compact, time_text
from ._monitoring_inputs import MonitoringInputs

__all__ = ["alerts_badge", "alerts_section"]

_SEVERITY_TONES: dict[str, Tone] = {
    "critical": "bad",
    "error": "bad",
    "high": "bad",
    "page": "bad",
    "warning": "warn",
    "warn": "warn",
    "medium": "warn",
    "info": "neutral",
    "low": "neutral",
}

_STATE_TONES: dict[str, Tone] = {
    "resolved": "good",
    "ok": "good",
    "inactive": "neutral",
    "pending": "warn",
}


def alerts_badge(data: MonitoringInputs) -> Markup:
    """The header's badge: how many alerts fired, in the tone of the worst."""
    if not data.alerts:
        return render_badge("no alerts", "neutral" if data.empty else "good")
    tones = [_severity_tone(a.get("severity")) for a in data.alerts]
    worst: Tone = "bad" if "bad" in tones else "warn" if "warn" in tones else "neutral"
    return render_badge(plural(len(data.alerts), "alert"), worst)


def _severity_tone(severity: Any) -> Tone:
    return _SEVERITY_TONES.get(str(severity).strip().lower(), "neutral")


def alerts_section(data: MonitoringInputs) -> Section:
    """The alerts fired in the window, worst severity first."""
    order = {"bad": 0, "warn": 1, "neutral": 2, "good": 3}
    alerts = sorted(data.alerts, key=lambda a: order[_severity_tone(a.get("severity"))])
    rows = []
    for alert in alerts:
        severity = alert.get("severity") or "—"
        state = str(alert.get("state") or "—")
        state_tone = _STATE_TONES.get(state.lower(), _severity_tone(severity))
        rows.append(
            [
                render_badge(severity, _severity_tone(severity)),
                Markup(f"<code>{escape(alert.get('rule') or '—')}</code>"),
                render_badge(state, state_tone),
                compact(alert.get("value")),
                alert.get("message") or "",
                Markup(escape(time_text(alert.get("time")))),
            ]
        )
    body = render_table(
        ["Severity", "Rule", "State", "Value", "Message", "Time"],
        rows,
        numeric=[False, False, False, True, False, False],
        empty="No alert fired in this window.",
    )
    return Section("alerts", "Alerts", body, alerts_badge(data))
