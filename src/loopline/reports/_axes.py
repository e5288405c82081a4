"""Axes, ticks, legends and the SVG primitives the charts of ``_svg`` are drawn with.

Ticks fall on round numbers (1, 2 or 5 times a power of ten) with as many decimals as their
step needs, or on round UTC times labelled as dates; text is escaped; coordinates keep one
decimal so the pages stay small.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timezone
from html import escape
from typing import Any, Literal, NamedTuple

from loopline.errors import InvalidInputError

__all__ = [
    "AXIS",
    "Axis",
    "BLUE",
    "Box",
    "DASHES",
    "FONT",
    "GREEN",
    "GRID",
    "INK",
    "LEGEND_HEIGHT",
    "LegendKey",
    "MUTED",
    "Mark",
    "ORANGE",
    "PURPLE",
    "SERIES_COLOURS",
    "SKY",
    "SUBTITLE_HEIGHT",
    "TITLE_HEIGHT",
    "VERMILLION",
    "close_svg",
    "coord",
    "draw_legend",
    "draw_x_axis",
    "draw_y_axis",
    "format_time",
    "is_time",
    "linear_axis",
    "nice_step",
    "open_svg",
    "polyline_path",
    "shorten",
    "slot_axis",
    "svg_text",
    "text_width",
    "tick_label",
    "timeline_axis",
    "to_datetime",
    "to_number",
    "to_numbers",
    "to_x",
    "y_margin",
]

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
INK = "#1f2328"
MUTED = "#59636e"
GRID = "#e3e7eb"
AXIS = "#8c959f"
#: Okabe-Ito colours, in the order series use them.
BLUE, VERMILLION, GREEN, ORANGE, PURPLE, SKY = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#E69F00",
    "#CC79A7",
    "#56B4E9",
)
SERIES_COLOURS = (BLUE, VERMILLION, GREEN, ORANGE, PURPLE, SKY)
DASHES = ("", "6 3", "2 3", "8 3 2 3")
TITLE_HEIGHT = 30
SUBTITLE_HEIGHT = 16
LEGEND_HEIGHT = 20


class Axis(NamedTuple):
    """A value range and its ticks ``(value, label)``."""

    lo: float
    hi: float
    ticks: list[tuple[float, str]]


class Box(NamedTuple):
    """The plot area, in pixels."""

    left: float
    top: float
    right: float
    bottom: float

    def x(self, axis: Axis, value: float) -> float:
        """The horizontal pixel of ``value`` on ``axis``."""
        return self.left + (value - axis.lo) / (axis.hi - axis.lo) * (self.right - self.left)

    def y(self, axis: Axis, value: float) -> float:
        """The vertical pixel of ``value`` on ``axis``."""
        return self.bottom - (value - axis.lo) / (axis.hi - axis.lo) * (self.bottom - self.top)


# -- axes ---------------------------------------------------------------------------------


def nice_step(raw: float) -> float:
    """The 1, 2 or 5 times a power of ten nearest above ``raw``."""
    magnitude = math.pow(10.0, math.floor(math.log10(raw)))
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude * (1 + 1e-9):
            return factor * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


def linear_axis(
    lo: float,
    hi: float,
    *,
    count: int = 5,
    include_zero: bool = False,
    nice_bounds: bool = True,
    integer: bool = False,
) -> Axis:
    """A numeric axis covering [lo, hi] with about ``count`` round ticks."""
    if include_zero:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo <= abs(hi) * 1e-12:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = (lo, lo + 2 * pad) if include_zero and lo == 0 else (lo - pad, hi + pad)
    step = nice_step((hi - lo) / max(count, 1))
    if integer:
        step = max(step, 1.0)
    first = math.floor(lo / step + 1e-9)
    last = math.ceil(hi / step - 1e-9)
    if nice_bounds:
        lo, hi = min(first * step, lo), max(last * step, hi)  # no rounding shortfall
    else:
        first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
    values = [round(k * step, 12) for k in range(first, last + 1)]
    largest = max(abs(v) for v in values) if values else 0.0
    return Axis(lo, hi, [(v, tick_label(v, step, largest)) for v in values])


def tick_label(value: float, step: float, largest: float) -> str:
    """A tick label with as many decimals as the step needs, k/M/G above 100,000."""
    if abs(value) < step * 1e-9:
        value = 0.0  # never "-0.0"; and "0.0" beside "0.2", "0" beside "1M"
        if largest >= 1e5 or step < 1e-4:
            return "0"
    for divisor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if largest >= 1e5 and largest >= divisor:
            decimals = max(0, -math.floor(math.log10(step / divisor) + 1e-9))
            return f"{value / divisor:.{decimals}f}{suffix}"
    if step < 1e-4:
        return f"{value:.1e}"
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return f"{value:,.{decimals}f}"


def slot_axis(names: Sequence[str], width: int) -> Axis:
    """An axis of equal slots 0..n with a label under each slot (thinned when crowded)."""
    n = len(names)
    every = max(1, math.ceil(n / max((width - 80) // 18, 1)))
    ticks = [(i + 0.5, shorten(name, 16)) for i, name in enumerate(names) if i % every == 0]
    return Axis(0.0, float(n), ticks)


_TIME_STEPS = (
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800,
    3600, 7200, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400, 14 * 86400,
)  # fmt: skip
_MONTH_STEPS = (1, 2, 3, 6, 12, 24, 60, 120)


def timeline_axis(lo: float, hi: float, *, count: int = 6) -> Axis:
    """An axis of epoch seconds with ticks on round UTC times, labelled as dates/times."""
    if hi - lo <= 0:
        lo, hi = lo - 43200, hi + 43200
    span = hi - lo
    pad = span * 0.03
    lo, hi = lo - pad, hi + pad
    step = next((s for s in _TIME_STEPS if span / s <= count), None)
    if step is None:
        return Axis(lo, hi, _month_ticks(lo, hi, count))
    first = math.ceil(lo / step)
    values = [k * step for k in range(first, math.floor(hi / step) + 1)]
    if step >= 86400:
        pattern = "%Y-%m-%d"
    elif span > 86400:
        pattern = "%m-%d %H:%M"
    else:
        pattern = "%H:%M:%S" if step < 60 else "%H:%M"
    return Axis(lo, hi, [(float(v), to_datetime(v).strftime(pattern)) for v in values])


def _month_ticks(lo: float, hi: float, count: int) -> list[tuple[float, str]]:
    start, end = to_datetime(lo), to_datetime(hi)
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    step = next((m for m in _MONTH_STEPS if months / m <= count), _MONTH_STEPS[-1])
    index = start.year * 12 + start.month - 1
    index = index + (-index % step)
    ticks: list[tuple[float, str]] = []
    while True:
        moment = datetime(index // 12, index % 12 + 1, 1, tzinfo=timezone.utc)
        value = moment.timestamp()
        if value > hi:
            return ticks
        if value >= lo:
            ticks.append((value, moment.strftime("%Y" if step >= 12 else "%Y-%m")))
        index += step


def draw_x_axis(box: Box, axis: Axis, label: str, *, rotate: bool = False) -> list[str]:
    parts = [
        f'<line x1="{coord(box.left)}" y1="{coord(box.bottom)}" x2="{coord(box.right)}" '
        f'y2="{coord(box.bottom)}" stroke="{AXIS}"/>'
    ]
    for value, text in axis.ticks:
        x = box.x(axis, value)
        parts.append(
            f'<line x1="{coord(x)}" y1="{coord(box.bottom)}" x2="{coord(x)}" '
            f'y2="{coord(box.bottom + 4)}" stroke="{AXIS}"/>'
        )
        if rotate:
            parts.append(
                svg_text(
                    x + 3, box.bottom + 12, text, size=11, anchor="end", fill=MUTED, rotate=-35
                )
            )
        else:
            parts.append(svg_text(x, box.bottom + 16, text, size=11, anchor="middle", fill=MUTED))
    if label:
        y = box.bottom + (56 if rotate else 36)
        parts.append(svg_text((box.left + box.right) / 2, y, label, anchor="middle", fill=MUTED))
    return parts


def draw_y_axis(box: Box, axis: Axis, label: str) -> list[str]:
    parts = []
    for value, text in axis.ticks:
        y = box.y(axis, value)
        parts.append(
            f'<line x1="{coord(box.left)}" y1="{coord(y)}" x2="{coord(box.right)}" y2="{coord(y)}" '
            f'stroke="{GRID}"/>'
        )
        parts.append(svg_text(box.left - 6, y + 4, text, size=11, anchor="end", fill=MUTED))
    parts.append(
        f'<line x1="{coord(box.left)}" y1="{coord(box.top)}" x2="{coord(box.left)}" '
        f'y2="{coord(box.bottom)}" stroke="{AXIS}"/>'
    )
    if label:
        parts.append(
            svg_text(14, (box.top + box.bottom) / 2, label, anchor="middle", fill=MUTED, rotate=-90)
        )
    return parts


def y_margin(axis: Axis) -> float:
    """Left margin that fits the y tick labels and the rotated axis label."""
    longest = max((len(text) for _, text in axis.ticks), default=1)
    return 28 + text_width("0" * longest, 11)


Mark = Literal["box", "line", "point", "line+point"]


class LegendKey(NamedTuple):
    """A legend entry: a box, a line (maybe dashed), a point, or a line with a point."""

    name: str
    colour: str
    dash: str = ""
    mark: Mark = "line"


def draw_legend(entries: Sequence[LegendKey], right: float, top: float) -> list[str]:
    """The legend entries in one row ending at ``right``."""
    widths = [30 + text_width(entry.name, 11) for entry in entries]
    x = right - sum(widths)
    parts = []
    for entry, w in zip(entries, widths, strict=True):
        y = top + 8
        if entry.mark == "box":
            parts.append(
                f'<rect x="{coord(x)}" y="{coord(y - 5)}" width="12" height="10" '
                f'fill="{entry.colour}"/>'
            )
        if entry.mark in ("line", "line+point"):
            dashes = f' stroke-dasharray="{entry.dash}"' if entry.dash else ""
            parts.append(
                f'<line x1="{coord(x)}" y1="{coord(y)}" x2="{coord(x + 18)}" y2="{coord(y)}" '
                f'stroke="{entry.colour}" stroke-width="2"{dashes}/>'
            )
        if entry.mark in ("point", "line+point"):
            parts.append(
                f'<circle cx="{coord(x + 9)}" cy="{coord(y)}" r="3.5" fill="{entry.colour}"/>'
            )
        parts.append(svg_text(x + 22, y + 4, entry.name, size=11))
        x += w
    return parts


# -- small helpers ------------------------------------------------------------------------


def open_svg(width: int | float, height: int | float, title: str, subtitle: str = "") -> list[str]:
    w, h = coord(width), coord(height)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" '
        f'height="{h}" role="img" font-family="{FONT}" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{w}" height="{h}" fill="#ffffff"/>',
        svg_text(12, 20, title, size=14, weight="600"),
    ]
    if subtitle:
        parts.append(svg_text(12, 20 + SUBTITLE_HEIGHT, subtitle, size=12, fill=MUTED))
    return parts


def close_svg(parts: list[str]) -> str:
    parts.append("</svg>")
    return "\n".join(parts)


def svg_text(
    x: float,
    y: float,
    content: object,
    *,
    size: float = 12,
    anchor: str = "start",
    fill: str = INK,
    weight: str | None = None,
    rotate: float | None = None,
    halo: bool = False,
) -> str:
    attributes = f'x="{coord(x)}" y="{coord(y)}" fill="{fill}"'
    if size != 12:
        attributes += f' font-size="{coord(size)}"'
    if anchor != "start":
        attributes += f' text-anchor="{anchor}"'
    if weight:
        attributes += f' font-weight="{weight}"'
    if rotate:
        attributes += f' transform="rotate({coord(rotate)} {coord(x)} {coord(y)})"'
    if halo:  # a white outline keeps the text legible over lines and points
        attributes += ' stroke="#ffffff" stroke-width="3" paint-order="stroke"'
    return f"<text {attributes}>{escape(str(content))}</text>"


def polyline_path(coords: Sequence[tuple[float, float | None]], *, step: bool = False) -> str:
    """An SVG path through the points, broken where y is None; a staircase if ``step``."""
    commands: list[str] = []
    previous: tuple[float, float] | None = None
    for x, y in coords:
        if y is None:
            previous = None
            continue
        if previous is None:
            commands.append(f"M{coord(x)} {coord(y)}")
        elif step:
            commands.append(f"H{coord(x)}V{coord(y)}")
        else:
            commands.append(f"L{coord(x)} {coord(y)}")
        previous = (x, y)
    return "".join(commands)


def coord(value: float) -> str:
    """A coordinate with at most one decimal."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def text_width(text: str, size: float = 12) -> float:
    """A rough width of ``text`` in a sans-serif font of ``size`` pixels."""
    return len(text) * size * 0.6


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 1)] + "…"


def to_number(value: Any) -> float | None:
    """``value`` as a finite float, or None (None, NaN, infinities, non-numbers, bools)."""
    if value is None or isinstance(value, bool | str):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def to_numbers(values: Iterable[Any], name: str, expected: int | None = None) -> list[float | None]:
    result = [to_number(v) for v in values]
    if expected is not None and len(result) != expected:
        raise InvalidInputError(
            f"The chart needs one '{name}' value per item: expected {expected}, got {len(result)}.",
            value=len(result),
        )
    return result


def is_time(value: Any) -> bool:
    return isinstance(value, datetime | date) or type(value).__name__ == "datetime64"


def to_x(value: Any) -> float | None:
    """An x value as a float: numbers as they are, times as epoch seconds (naive = UTC)."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return moment.timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc).timestamp()
    if type(value).__name__ == "datetime64":
        if str(value) == "NaT":
            return None
        return float(value.astype("datetime64[us]").astype("int64")) / 1e6
    return to_number(value)


def to_datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=timezone.utc)


def format_time(epoch: float) -> str:
    return to_datetime(epoch).strftime("%Y-%m-%d %H:%M:%S UTC")
