"""The page shell of the web UI: navigation, CSS, and small shared fragments.

Pages are plain f-strings; every value from the store goes through ``escape`` (or is built
by the reports' renderers, which escape), so a run named ``<script>`` is shown, never run.
No script and no external reference: the UI works offline and behind any proxy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import urlencode

from ..reports import Markup, escape, format_timestamp

#: Navigation entries: (path, label).
NAV = (("/runs", "Runs"), ("/models", "Models"), ("/events", "Events"))


def page(
    title: str,
    body: str,
    *,
    role: str | None,
    active: str = "",
    crumbs: Sequence[tuple[str, str]] = (),
) -> str:
    """A whole HTML page: header with navigation and the viewer's role, then ``body``.

    Args:
        title: The page title and main heading (escaped).
        body: The page's HTML (already escaped where needed).
        role: ``"viewer"``, ``"operator"`` or None (not signed in).
        active: The navigation path to highlight.
        crumbs: ``(href, label)`` links shown above the heading.
    """
    nav = "".join(
        f'<a href="{href}"{" class=active" if href == active else ""}>{label}</a>'
        for href, label in NAV
    )
    who = (
        f'<span class="role">{escape(role)}</span>'
        if role
        else '<a class="role" href="/login">sign in</a>'
    )
    trail = ""
    if crumbs:
        trail = (
            '<p class="crumbs">'
            + " / ".join(f'<a href="{escape(h)}">{escape(label)}</a>' for h, label in crumbs)
            + "</p>"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)} · Loopline</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f'<header class="top"><a class="brand" href="/runs">Loopline</a><nav>{nav}</nav>'
        f"{who}</header>\n<main>\n{trail}<h1>{escape(title)}</h1>\n{body}\n</main>\n"
        "</body>\n</html>\n"
    )


def link(href: str, text: object, **query: object) -> Markup:
    """An ``<a>`` to ``href`` with an optional query string; text and URL escaped."""
    url = href + (
        "?" + urlencode({k: v for k, v in query.items() if v is not None}) if query else ""
    )
    return Markup(f'<a href="{escape(url)}">{escape(text)}</a>')


def when(epoch: float | None) -> Markup:
    """A timestamp that does not wrap inside a table cell."""
    return Markup(f'<span class="t">{escape(format_timestamp(epoch))}</span>')


def section(title: str, body: str, *, id: str = "") -> str:
    """A titled block of the page."""
    anchor = f' id="{escape(id)}"' if id else ""
    return f"<section{anchor}><h2>{escape(title)}</h2>\n{body}\n</section>"


def facts(pairs: Sequence[tuple[str, object]]) -> str:
    """A grid of label/value pairs (values escaped unless ``Markup``)."""
    cells = "".join(f"<div><dt>{escape(k)}</dt><dd>{escape(v)}</dd></div>" for k, v in pairs)
    return f'<dl class="facts">{cells}</dl>'


def message(text: str, *, tone: str = "note") -> str:
    """A highlighted line: ``note``, ``good``, ``warn`` or ``bad``."""
    return f'<p class="msg {escape(tone)}">{escape(text)}</p>'


def hidden_fields(values: Mapping[str, object]) -> str:
    """Hidden inputs carrying ``values`` (e.g. the current filters) through a form."""
    return "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
        for k, v in values.items()
        if v not in (None, "")
    )


CSS = """
:root { --fg: #1f2328; --muted: #59636e; --border: #d1d9e0; --subtle: #f6f8fa;
  --accent: #0969da; --good: #1a7f37; --good-bg: #dafbe1; --warn: #9a6700;
  --warn-bg: #fff3c4; --bad: #c41d28; --bad-bg: #ffebe9; --neutral: #59636e;
  --neutral-bg: #eef1f4; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--fg); background: #fff;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; }
header.top { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 20px;
  padding: 10px 24px; background: #1f2328; color: #fff; }
header.top a { color: #d1d9e0; text-decoration: none; }
header.top a.active, header.top a:hover { color: #fff; text-decoration: underline; }
header.top .brand { font-weight: 700; color: #fff; font-size: 17px; }
header.top nav { display: flex; gap: 16px; flex: 1; }
header.top .role { font-size: 13px; border: 1px solid #59636e; border-radius: 999px;
  padding: 0 10px; }
main { max-width: 1240px; margin: 0 auto; padding: 18px 24px 48px; }
h1 { font-size: 24px; line-height: 1.25; margin: 4px 0 12px; overflow-wrap: anywhere; }
h2 { font-size: 17px; margin: 24px 0 8px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
p { margin: 6px 0 10px; }
a { color: var(--accent); }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  background: var(--subtle); padding: 1px 4px; border-radius: 4px; overflow-wrap: anywhere; }
pre { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  background: var(--subtle); border: 1px solid var(--border); border-radius: 6px;
  padding: 8px 10px; overflow-x: auto; max-height: 360px; }
.crumbs { color: var(--muted); font-size: 13px; margin: 0; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr));
  gap: 8px 20px; margin: 8px 0 16px; }
.facts dt { font-size: 12px; color: var(--muted); text-transform: uppercase;
  letter-spacing: .04em; }
.facts dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
.table-wrap { overflow-x: auto; margin: 6px 0 14px; }
table { border-collapse: collapse; font-size: 14px; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { padding: 4px 12px 4px 0; border-bottom: 1px solid var(--border); text-align: left;
  vertical-align: top; }
th { font-weight: 600; border-bottom: 2px solid var(--border); white-space: nowrap; }
th + th, td + td { padding-left: 12px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:hover { background: #f3f6fa; }
td.best { font-weight: 700; color: var(--good); }
tbody th { border-bottom: 1px solid var(--border); }
td.diff { background: var(--warn-bg); }
.badge { display: inline-block; padding: 0 9px; border-radius: 999px; font-size: 12px;
  font-weight: 600; line-height: 20px; border: 1px solid; white-space: nowrap;
  vertical-align: middle; }
.badge.good { color: var(--good); background: var(--good-bg); }
.badge.warn { color: var(--warn); background: var(--warn-bg); }
.badge.bad { color: var(--bad); background: var(--bad-bg); }
.badge.neutral { color: var(--neutral); background: var(--neutral-bg); }
.note { color: var(--muted); font-style: italic; }
.muted { color: var(--muted); }
.t { white-space: nowrap; }
th a { color: inherit; }
.msg { padding: 8px 12px; border-radius: 6px; border: 1px solid var(--border); }
.msg.good { background: var(--good-bg); } .msg.bad { background: var(--bad-bg); }
.msg.warn { background: var(--warn-bg); } .msg.note { background: var(--subtle); }
form.filters { display: flex; flex-wrap: wrap; gap: 8px 12px; align-items: end;
  padding: 10px 12px; background: var(--subtle); border: 1px solid var(--border);
  border-radius: 8px; margin: 8px 0 12px; }
form.filters label, form.action label { display: flex; flex-direction: column; font-size: 12px;
  color: var(--muted); gap: 2px; }
input, select, button { font: inherit; font-size: 14px; padding: 4px 8px;
  border: 1px solid var(--border); border-radius: 6px; background: #fff; max-width: 100%; }
button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; }
button.secondary { background: #fff; color: var(--accent); }
button.danger { background: var(--bad); border-color: var(--bad); }
form.action { display: flex; flex-wrap: wrap; gap: 6px 8px; align-items: end; margin: 4px 0; }
form.action input[name=reason] { min-width: 220px; }
.actions { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr));
  gap: 12px; }
.card { border: 1px solid var(--border); border-radius: 8px; padding: 10px 14px; }
.card h3 { margin-top: 0; }
.cli { font-size: 12px; color: var(--muted); }
.pager { display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }
.charts { display: flex; flex-wrap: wrap; gap: 12px 24px; align-items: flex-start; }
.chart { max-width: 100%; overflow-x: auto; }
.chart svg { max-width: 100%; height: auto; display: block; }
.chart.wide svg { max-width: none; }  /* labels stay readable: it scrolls instead */
.graph { overflow-x: auto; border: 1px solid var(--border); border-radius: 8px;
  background: #fbfcfd; padding: 6px; }
.graph svg { display: block; }
.graph a text { fill: var(--accent); }
iframe.report { width: 100%; height: 720px; border: 1px solid var(--border);
  border-radius: 8px; }
@media (max-width: 640px) {
  main { padding: 12px 12px 32px; }
  header.top { padding: 8px 12px; }
  h1 { font-size: 20px; }
  .hide-narrow { display: none; }
  iframe.report { height: 520px; }
  form.action input[name=reason] { min-width: 0; width: 100%; }
  /* Tables of five or more columns keep readable columns and scroll in their box. */
  table:has(thead th:nth-child(5)) { min-width: 720px; }
}
"""
