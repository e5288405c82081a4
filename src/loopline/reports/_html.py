"""The page skeleton of the HTML reports, and the escaping and formatting they share.

Everything that reaches the page goes through ``escape`` unless it is wrapped in ``Markup``,
the marker for HTML we built ourselves: a column named ``<script>`` is shown, never run.
The page is self-contained (inline CSS, no script, no external reference), so it opens
offline and prints as it looks.
"""

from __future__ import annotations

import html
import math
import numbers
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from loopline._version import __version__

__all__ = [
    "Markup",
    "Section",
    "Tone",
    "escape",
    "format_duration",
    "format_mean_std",
    "format_number",
    "format_percent",
    "format_timestamp",
    "render_badge",
    "render_note",
    "render_page",
    "render_table",
    "slugify",
    "status_tone",
]

Tone = Literal["good", "warn", "bad", "neutral"]

#: Shown where a value is missing or undefined.
MISSING = "—"

_TONES: dict[str, Tone] = {
    "succeeded": "good",
    "success": "good",
    "cached": "good",
    "passed": "good",
    "pass": "good",
    "blessed": "good",
    "complete": "good",
    "completed": "good",
    "ok": "good",
    "yes": "good",
    "running": "warn",
    "pending": "warn",
    "skipped": "warn",
    "pruned": "warn",
    "interrupted": "warn",
    "warning": "warn",
    "failed": "bad",
    "fail": "bad",
    "error": "bad",
    "not blessed": "bad",
    "no": "bad",
}


class Markup(str):
    """Text that already is safe HTML: ``escape`` and the renderers insert it unchanged.

    Example:
        >>> escape(Markup("<b>bold</b>")), escape("<b>bold</b>")
        ('<b>bold</b>', '&lt;b&gt;bold&lt;/b&gt;')
    """

    __slots__ = ()


def escape(value: object) -> Markup:
    """Escape ``value`` for HTML text or a quoted attribute, unless it is ``Markup``.

    Args:
        value: Anything; non-strings go through ``str`` first.

    Returns:
        The escaped text, as ``Markup``.
    """
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


def format_number(value: object, digits: int = 4) -> str:
    """Format a number for people: integers with thousands separators, floats to
    ``digits`` significant digits, very large or small floats in scientific notation.

    Args:
        value: An int, a float (numpy scalars too), or None.
        digits: Significant digits of a float.

    Returns:
        The text; ``"—"`` for None and NaN, ``"∞"``/``"-∞"`` for infinities, ``str(value)``
        for anything that is not a number.

    Example:
        >>> [format_number(v) for v in (1234567, 0.98611, 13.00062, 0.0, None, 2.5e-05)]
        ['1,234,567', '0.9861', '13.00', '0', '—', '2.500e-05']
    """
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if not isinstance(value, numbers.Real):
        return str(value)
    number = float(value)
    if math.isnan(number):
        return MISSING
    if math.isinf(number):
        return "∞" if number > 0 else "-∞"
    if number == 0:
        return "0"
    size = abs(number)
    if size >= 1e9 or size < 1e-3:
        return f"{number:.{max(digits - 1, 0)}e}"
    decimals = max(0, digits - 1 - math.floor(math.log10(size)))
    return f"{number:,.{decimals}f}"


def format_mean_std(mean: object, std: object, digits: int = 4) -> str:
    """Format ``mean ± std`` with the spread rounded to the mean's decimals.

    Args:
        mean: The mean.
        std: The standard deviation (or any spread); left out when None or NaN.
        digits: Significant digits of the mean.

    Returns:
        The text.

    Example:
        >>> format_mean_std(0.97749, 0.008057), format_mean_std(746.9, 314.93)
        ('0.9775 ± 0.0081', '746.9 ± 314.9')
    """
    text = format_number(mean, digits)
    if isinstance(std, bool) or not isinstance(std, numbers.Real) or math.isnan(float(std)):
        return text
    if text == MISSING or "e" in text or "∞" in text or math.isinf(float(std)):
        return f"{text} ± {format_number(std, digits)}"
    decimals = len(text.split(".")[1]) if "." in text else 0
    return f"{text} ± {abs(float(std)):,.{decimals}f}"


def format_percent(value: object, digits: int = 1) -> str:
    """Format a fraction as a percentage (``0.123`` -> ``"12.3%"``); ``"—"`` if not a number.

    Args:
        value: A fraction, usually in [0, 1].
        digits: Decimals of the percentage.

    Returns:
        The text.

    Example:
        >>> format_percent(0.1234), format_percent(None)
        ('12.3%', '—')
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return MISSING
    number = float(value)
    if not math.isfinite(number):
        return MISSING
    return f"{number * 100:.{digits}f}%"


def format_duration(seconds: object) -> str:
    """Format a duration in seconds: ``"0.35 s"``, ``"2 min 05 s"``, ``"1 h 02 min"``.

    Args:
        seconds: The duration, or None.

    Returns:
        The text; ``"—"`` for None, negative or non-finite values.

    Example:
        >>> [format_duration(s) for s in (0.348, 12.0, 125, 3725, None)]
        ['0.35 s', '12.0 s', '2 min 05 s', '1 h 02 min', '—']
    """
    if isinstance(seconds, bool) or not isinstance(seconds, numbers.Real):
        return MISSING
    value = float(seconds)
    if not math.isfinite(value) or value < 0:
        return MISSING
    if value < 1:
        return f"{value:.2f} s"
    if value < 60:
        return f"{value:.1f} s"
    if value < 3600:
        minutes, rest = divmod(round(value), 60)
        return f"{minutes} min {rest:02d} s"
    hours, rest = divmod(round(value) // 60, 60)
    return f"{hours:,} h {rest:02d} min"


def format_timestamp(epoch: object) -> str:
    """Format epoch seconds as ``"2024-05-01 12:00:03 UTC"``; ``"—"`` if not a time.

    Example:
        >>> format_timestamp(1714564803)
        '2024-05-01 12:00:03 UTC'
    """
    if isinstance(epoch, bool) or not isinstance(epoch, numbers.Real):
        return MISSING
    value = float(epoch)
    if not math.isfinite(value):
        return MISSING
    try:
        moment = datetime.fromtimestamp(value, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return MISSING
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def status_tone(status: object) -> Tone:
    """The badge colour of a status word: good (green), warn (amber), bad (red) or neutral.

    Example:
        >>> status_tone("succeeded"), status_tone("Failed"), status_tone("queued")
        ('good', 'bad', 'neutral')
    """
    return _TONES.get(str(status).strip().lower(), "neutral")


def render_badge(text: object, tone: Tone | None = None) -> Markup:
    """A coloured status badge; the tone comes from ``status_tone(text)`` when not given.

    Args:
        text: The badge text (escaped).
        tone: ``"good"``, ``"warn"``, ``"bad"`` or ``"neutral"``.

    Returns:
        The badge's HTML.
    """
    tone = status_tone(text) if tone is None else tone
    return Markup(f'<span class="badge {tone}">{escape(text)}</span>')


def slugify(text: str) -> str:
    """An HTML id made of ``text``'s letters, digits and dashes (``"section"`` if none).

    Example:
        >>> slugify("Data validation!")
        'data-validation'
    """
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "section"


def render_table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    numeric: Sequence[bool] | None = None,
    caption: str | None = None,
    empty: str = "Nothing to show.",
) -> Markup:
    """An HTML table; numbers are formatted and right-aligned, everything else is escaped.

    Args:
        headers: Column headings.
        rows: One sequence of cells per row. A cell that is a number is formatted with
            ``format_number``; ``Markup`` is inserted as is; anything else is escaped text.
        numeric: Per column, whether to right-align it; by default a column is numeric when
            every cell that is not None is a number.
        caption: A caption shown above the table.
        empty: The note shown instead of a table without rows.

    Returns:
        The table's HTML (a note when there are no rows).
    """
    body = [list(row) for row in rows]
    if not body:
        return render_note(empty)
    if numeric is None:
        numeric = [
            all(_is_number(row[i]) for row in body if i < len(row) and row[i] is not None)
            and any(i < len(row) and row[i] is not None for row in body)
            for i in range(len(headers))
        ]
    align = [' class="num"' if flag else "" for flag in numeric]
    parts = ['<div class="table-wrap"><table>']
    if caption:
        parts.append(f"<caption>{escape(caption)}</caption>")
    parts.append("<thead><tr>")
    parts += [f'<th scope="col"{align[i]}>{escape(h)}</th>' for i, h in enumerate(headers)]
    parts.append("</tr></thead><tbody>")
    for row in body:
        cells = [
            _render_cell(cell, align[i] if i < len(align) else "") for i, cell in enumerate(row)
        ]
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table></div>")
    return Markup("".join(parts))


def render_note(text: object) -> Markup:
    """A short muted paragraph, e.g. "Not part of this run."."""
    return Markup(f'<p class="note">{escape(text)}</p>')


@dataclass(frozen=True)
class Section:
    """One collapsible section of a report page.

    Attributes:
        id: The HTML id the table of contents links to (see ``slugify``).
        title: The heading.
        body: The section's HTML.
        badge: An optional badge shown next to the heading (``render_badge``).
        open: Whether the section starts expanded.
    """

    id: str
    title: str
    body: Markup
    badge: Markup | None = None
    open: bool = True


def render_page(
    title: str,
    *,
    sections: Sequence[Section],
    facts: Sequence[tuple[str, object]] = (),
    subtitle: str | None = None,
    badges: Sequence[Markup] = (),
) -> str:
    """A whole self-contained HTML page: header with key facts, contents, sections.

    Args:
        title: The page title and main heading.
        sections: The sections, in order; each gets an entry in the table of contents.
        facts: ``(label, value)`` pairs shown in the header; values are formatted like table
            cells.
        subtitle: A line under the heading.
        badges: Badges shown beside the heading (the run status, the verdict).

    Returns:
        The page, starting with ``<!DOCTYPE html>``.
    """
    generated = format_timestamp(datetime.now(tz=timezone.utc).timestamp())
    head = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="Loopline {escape(__version__)}">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
    )
    header = ['<header class="report-header">']
    header.append(f'<div class="title-row"><h1>{escape(title)}</h1>{"".join(badges)}</div>')
    if subtitle:
        header.append(f'<p class="subtitle">{escape(subtitle)}</p>')
    if facts:
        header.append('<dl class="facts">')
        for label, value in facts:
            header.append(f"<div><dt>{escape(label)}</dt><dd>{_render_value(value)}</dd></div>")
        header.append("</dl>")
    header.append("</header>")
    toc = ['<nav class="toc" aria-label="Contents"><h2>Contents</h2><ol>']
    for section in sections:
        badge = f" {section.badge}" if section.badge else ""
        toc.append(f'<li><a href="#{escape(section.id)}">{escape(section.title)}</a>{badge}</li>')
    toc.append("</ol></nav>")
    body = [_render_section(section) for section in sections]
    footer = f"<footer>Generated by Loopline {escape(__version__)} on {escape(generated)}.</footer>"
    return (
        head
        + "\n".join(header)
        + "\n"
        + "".join(toc)
        + "\n"
        + "\n".join(body)
        + "\n"
        + footer
        + "\n</main>\n</body>\n</html>\n"
    )


def _render_section(section: Section) -> str:
    state = " open" if section.open else ""
    badge = f" {section.badge}" if section.badge else ""
    return (
        f'<details class="section" id="{escape(section.id)}"{state}>'
        f"<summary><h2>{escape(section.title)}</h2>{badge}</summary>"
        f'<div class="section-body">{section.body}</div></details>'
    )


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _render_value(value: object) -> Markup:
    if isinstance(value, Markup):
        return value
    if _is_number(value) or value is None:
        return escape(format_number(value))
    return escape(value)


def _render_cell(value: object, align: str) -> str:
    return f"<td{align}>{_render_value(value)}</td>"


_CSS = """
:root { --fg: #1f2328; --muted: #59636e; --border: #d1d9e0; --subtle: #f6f8fa;
  --accent: #0b5cad; --good: #1a7f37; --good-bg: #dafbe1; --warn: #8a5a00; --warn-bg: #fff3c4;
  --bad: #c41d28; --bad-bg: #ffebe9; --neutral: #59636e; --neutral-bg: #eef1f4; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--fg); background: #fff;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 28px 32px 48px; }
h1 { font-size: 26px; line-height: 1.25; margin: 0; }
h2 { font-size: 18px; margin: 0; }
h3 { font-size: 15px; margin: 20px 0 6px; }
p { margin: 6px 0 10px; }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  background: var(--subtle); padding: 1px 4px; border-radius: 4px; }
.report-header { border-bottom: 2px solid var(--border); padding-bottom: 16px; }
.title-row { display: flex; flex-wrap: wrap; align-items: center; gap: 10px; }
.subtitle { color: var(--muted); margin: 4px 0 0; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr));
  gap: 10px 24px; margin: 16px 0 0; }
.facts dt { font-size: 12px; color: var(--muted); text-transform: uppercase;
  letter-spacing: .04em; }
.facts dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
.toc { margin: 16px 0; padding: 10px 16px; background: var(--subtle);
  border: 1px solid var(--border); border-radius: 8px; }
.toc h2 { font-size: 13px; color: var(--muted); text-transform: uppercase;
  letter-spacing: .04em; }
.toc ol { margin: 6px 0 0; padding-left: 22px; columns: 2; column-gap: 32px; }
.toc li { margin: 2px 0; break-inside: avoid; }
a { color: var(--accent); }
details.section { border: 1px solid var(--border); border-radius: 8px; margin: 16px 0; }
details.section > summary { display: flex; align-items: center; gap: 10px; cursor: pointer;
  list-style: none; padding: 10px 16px; background: var(--subtle); border-radius: 8px; }
details.section > summary::-webkit-details-marker { display: none; }
details.section > summary::before { content: "\\25B8"; color: var(--muted); width: 1em; }
details.section[open] > summary::before { content: "\\25BE"; }
details.section[open] > summary { border-bottom: 1px solid var(--border);
  border-radius: 8px 8px 0 0; }
.section-body { padding: 6px 16px 14px; }
details.sub > summary { cursor: pointer; color: var(--accent); margin: 8px 0; }
.table-wrap { overflow-x: auto; margin: 6px 0 14px; }
table { border-collapse: collapse; font-size: 14px; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { padding: 4px 12px 4px 0; border-bottom: 1px solid var(--border); text-align: left;
  vertical-align: top; overflow-wrap: break-word; }
td code { white-space: nowrap; }
th { font-weight: 600; border-bottom: 2px solid var(--border); white-space: nowrap; }
th + th, td + td { padding-left: 12px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td svg { vertical-align: middle; }
tbody tr:hover { background: #f3f6fa; }
.badge { display: inline-block; padding: 0 9px; border-radius: 999px; font-size: 12px;
  font-weight: 600; line-height: 20px; border: 1px solid; white-space: nowrap;
  vertical-align: middle; }
.badge.good { color: var(--good); background: var(--good-bg); }
.badge.warn { color: var(--warn); background: var(--warn-bg); }
.badge.bad { color: var(--bad); background: var(--bad-bg); }
.badge.neutral { color: var(--neutral); background: var(--neutral-bg); }
.verdict { display: flex; align-items: center; gap: 12px; padding: 10px 14px; margin: 8px 0 12px;
  border-radius: 8px; border: 1px solid var(--border); font-size: 16px; }
.verdict.good { background: var(--good-bg); border-color: #a6dcb3; }
.verdict.bad { background: var(--bad-bg); border-color: #f3b4b0; }
.verdict.warn { background: var(--warn-bg); border-color: #e8d48a; }
.verdict.neutral { background: var(--neutral-bg); }
.note { color: var(--muted); font-style: italic; }
.muted { color: var(--muted); }
.charts { display: flex; flex-wrap: wrap; gap: 12px 24px; align-items: flex-start; }
.chart { margin: 8px 0; max-width: 100%; }
.chart svg { max-width: 100%; height: auto; display: block; }
ul.plain { margin: 6px 0 10px; padding-left: 20px; }
footer { margin-top: 32px; color: var(--muted); font-size: 13px; }
@media print {
  main { max-width: none; padding: 0; }
  .toc { display: none; }
  details.section { break-inside: auto; border: none; }
  details.section > summary { background: none; border-bottom: 2px solid var(--border); }
  details.section > summary::before { content: none; }
  .badge, .verdict, svg { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  tr, .chart { break-inside: avoid; }
}
"""


def as_mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else an empty one: report inputs are read defensively."""
    return value if isinstance(value, Mapping) else {}


def as_records(value: Any) -> list[Mapping[str, Any]]:
    """The mappings in ``value`` if it is a list or tuple, else none."""
    return [v for v in as_list(value) if isinstance(v, Mapping)]


def as_list(value: Any) -> list[Any]:
    """``value`` as a list if it is a list or tuple, else an empty list."""
    return list(value) if isinstance(value, list | tuple) else []


def finite_or_none(value: Any) -> float | None:
    """A finite number as a float; anything else (bools, NaN, text) as None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def plural(count: int, word: str) -> str:
    """``count`` and ``word``, with an "s" unless the count is one: ``plural(2, "error")``."""
    return f"{count} {word}{'' if count == 1 else 's'}"
