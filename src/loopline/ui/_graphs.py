"""Dependency-free SVG for the UI: a layered graph (pipeline DAG, lineage) and step timings.

The reports' charts (``loopline.reports``) draw lines, bars and heatmaps; these two shapes
are the UI's own. Layers follow the longest path from a source, so every edge points right.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..reports import escape, format_duration

_TONE_FILL = {
    "good": ("#dafbe1", "#1a7f37"),
    "warn": ("#fff3c4", "#9a6700"),
    "bad": ("#ffebe9", "#c41d28"),
    "neutral": ("#eef1f4", "#59636e"),
    "artifact": ("#ddf4ff", "#0969da"),
}
_W, _H, _GAP_X, _GAP_Y = 176, 40, 56, 14


@dataclass(frozen=True)
class Node:
    """One box of a graph.

    Attributes:
        id: Unique within the graph.
        label: The first line (shortened to fit).
        detail: A second, muted line.
        tone: ``good``, ``warn``, ``bad``, ``neutral`` or ``artifact`` (rounded, blue).
        href: Where a click goes (optional).
    """

    id: str
    label: str
    detail: str = ""
    tone: str = "neutral"
    href: str | None = None


def draw_graph(nodes: Sequence[Node], edges: Sequence[tuple[str, str]], *, title: str) -> str:
    """A left-to-right layered drawing of ``nodes`` joined by ``edges`` (source, target).

    Edges naming an unknown node are left out; a cycle (which a DAG cannot have) is cut.
    """
    known = {n.id: n for n in nodes}
    edges = [(a, b) for a, b in edges if a in known and b in known and a != b]
    layer = _layers([n.id for n in nodes], edges)
    columns: dict[int, list[str]] = {}
    for node in nodes:
        columns.setdefault(layer[node.id], []).append(node.id)
    pos: dict[str, tuple[float, float]] = {}
    for col, ids in columns.items():
        for row, node_id in enumerate(ids):
            pos[node_id] = (8 + col * (_W + _GAP_X), 8 + row * (_H + _GAP_Y))
    width = 16 + (max(columns, default=0) + 1) * (_W + _GAP_X) - _GAP_X
    height = 16 + max((len(ids) for ids in columns.values()), default=1) * (_H + _GAP_Y) - _GAP_Y
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" '
        'fill="#8c959f"/></marker></defs>',
    ]
    for a, b in edges:
        (x1, y1), (x2, y2) = pos[a], pos[b]
        sx, sy, tx, ty = x1 + _W, y1 + _H / 2, x2, y2 + _H / 2
        mid = (sx + tx) / 2
        parts.append(
            f'<path d="M{sx:.1f} {sy:.1f}C{mid:.1f} {sy:.1f} {mid:.1f} {ty:.1f} {tx - 2:.1f} '
            f'{ty:.1f}" fill="none" stroke="#8c959f" stroke-width="1.3" '
            'marker-end="url(#arrow)"/>'
        )
    for node in nodes:
        parts.append(_node(node, *pos[node.id]))
    parts.append("</svg>")
    return "".join(parts)


def _node(node: Node, x: float, y: float) -> str:
    fill, stroke = _TONE_FILL.get(node.tone, _TONE_FILL["neutral"])
    radius = 18 if node.tone == "artifact" else 6
    label = node.label if len(node.label) <= 24 else node.label[:23] + "…"
    detail = node.detail if len(node.detail) <= 28 else node.detail[:27] + "…"
    shape = (
        f'<g class="node" data-id="{escape(node.id)}"><title>{escape(node.label)}'
        f"{escape(' — ' + node.detail) if node.detail else ''}</title>"
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{_W}" height="{_H}" rx="{radius}" '
        f'fill="{fill}" stroke="{stroke}"/>'
        f'<text x="{x + _W / 2:.1f}" y="{y + 16:.1f}" text-anchor="middle" font-size="12" '
        f'font-weight="600" fill="#1f2328">{escape(label)}</text>'
        f'<text x="{x + _W / 2:.1f}" y="{y + 31:.1f}" text-anchor="middle" font-size="10.5" '
        f'fill="#59636e">{escape(detail)}</text></g>'
    )
    if node.href:
        return f'<a href="{escape(node.href)}">{shape}</a>'
    return shape


def _layers(ids: Sequence[str], edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Longest-path layer of each node (Kahn's order; nodes left in a cycle keep theirs)."""
    incoming: dict[str, int] = dict.fromkeys(ids, 0)
    outgoing: dict[str, list[str]] = {i: [] for i in ids}
    for a, b in edges:
        incoming[b] += 1
        outgoing[a].append(b)
    layer = dict.fromkeys(ids, 0)
    ready = [i for i in ids if incoming[i] == 0]
    while ready:
        current = ready.pop(0)
        for nxt in outgoing[current]:
            layer[nxt] = max(layer[nxt], layer[current] + 1)
            incoming[nxt] -= 1
            if incoming[nxt] == 0:
                ready.append(nxt)
    return layer


@dataclass(frozen=True)
class Bar:
    """One step of a timing chart: seconds from the run's start, and its status tone."""

    label: str
    start: float
    end: float
    tone: str
    note: str = ""


def draw_timings(bars: Sequence[Bar], *, title: str) -> str:
    """A Gantt chart of step runs: when each started and how long it took."""
    if not bars:
        return '<p class="note">No step ran.</p>'
    span = max(max(b.end for b in bars), 1e-9)
    label_w, plot_w, row_h = 150, 520, 22
    width, height = label_w + plot_w + 90, 28 + row_h * len(bars)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text x="{label_w}" y="14" font-size="11" fill="#59636e">0 s</text>',
        f'<text x="{label_w + plot_w}" y="14" font-size="11" fill="#59636e" '
        f'text-anchor="end">{escape(format_duration(span))}</text>',
    ]
    for i, bar in enumerate(bars):
        y = 22 + i * row_h
        x = label_w + plot_w * bar.start / span
        w = max(plot_w * (bar.end - bar.start) / span, 2.0)
        fill, stroke = _TONE_FILL.get(bar.tone, _TONE_FILL["neutral"])
        name = bar.label if len(bar.label) <= 20 else bar.label[:19] + "…"
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 14}" font-size="12" text-anchor="end" '
            f'fill="#1f2328">{escape(name)}</text>'
            f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 7}" rx="3" '
            f'fill="{fill}" stroke="{stroke}"><title>{escape(bar.label)}: '
            f"{escape(format_duration(bar.end - bar.start))} {escape(bar.note)}</title></rect>"
            f'<text x="{x + w + 6:.1f}" y="{y + 14}" font-size="11" fill="#59636e">'
            f"{escape(format_duration(bar.end - bar.start))} {escape(bar.note)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
