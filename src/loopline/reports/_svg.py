"""Small SVG charts for the HTML reports, in plain Python: no plotting library, no script.

Every ``draw_*`` function returns one ``<svg>`` element as a string, ready to be placed in a
page: a title, axes with readable tick labels, axis labels, and a ``<title>`` tooltip on the
marks a reader may want to read exactly. Text is escaped. Colours come from the Okabe-Ito
palette (distinguishable with colour-blindness) and series also differ by dash pattern, so
the charts still read when printed in grey.

Inputs are forgiving: ``None``, NaN and infinities are dropped, one point or a constant gets
a widened axis, and a chart with nothing left to plot says so (``draw_no_data``) instead of
raising. Only inputs that contradict each other (lengths that differ) raise
``InvalidInputError``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any, Literal, NamedTuple

from loopline.errors import InvalidInputError

from ._axes import (
    AXIS,
    BLUE,
    DASHES,
    FONT,
    INK,
    LEGEND_HEIGHT,
    MUTED,
    ORANGE,
    SERIES_COLOURS,
    SUBTITLE_HEIGHT,
    TITLE_HEIGHT,
    VERMILLION,
    Axis,
    Box,
    LegendKey,
    Mark,
    close_svg,
    coord,
    draw_legend,
    draw_x_axis,
    draw_y_axis,
    format_time,
    is_time,
    linear_axis,
    open_svg,
    polyline_path,
    shorten,
    slot_axis,
    svg_text,
    text_width,
    timeline_axis,
    to_number,
    to_numbers,
    to_x,
    y_margin,
)
from ._html import format_mean_std, format_number, format_percent

__all__ = [
    "LineSeries",
    "draw_bar_chart",
    "draw_calibration_curve",
    "draw_heatmap",
    "draw_line_chart",
    "draw_no_data",
    "draw_paired_histogram",
    "draw_scatter",
    "draw_sparkline",
]

#: A white-to-navy sequential ramp (ColorBrewer Blues) for heatmaps.
_BLUES = (
    (247, 251, 255),
    (222, 235, 247),
    (198, 219, 239),
    (158, 202, 225),
    (107, 174, 214),
    (66, 146, 198),
    (33, 113, 181),
    (8, 81, 156),
    (8, 48, 107),
)
#: Marks get a tooltip each only up to this many, to keep the page light.
_MAX_TOOLTIPS = 400


class LineSeries(NamedTuple):
    """One series of ``draw_line_chart``.

    Attributes:
        name: The legend entry.
        x: X values: numbers, or times (epoch seconds with ``time_axis=True``, or
            ``datetime``/``date``/``numpy.datetime64`` values).
        y: Y values, one per ``x``; None or NaN leaves a gap.
        style: ``"line"`` (with markers), ``"step"`` (a staircase, e.g. best-so-far) or
            ``"points"`` (markers only).
    """

    name: str
    x: Sequence[Any]
    y: Sequence[Any]
    style: Literal["line", "step", "points"] = "line"


# -- public charts ------------------------------------------------------------------------


def draw_no_data(
    title: str, message: str = "No data to plot.", *, width: int = 640, height: int = 110
) -> str:
    """A placeholder chart: the title and a note saying why there is nothing to show.

    Args:
        title: The chart's title.
        message: The note.
        width: Width in pixels.
        height: Height in pixels.

    Returns:
        The SVG element.

    Example:
        >>> "No data to plot." in draw_no_data("Accuracy")
        True
    """
    parts = open_svg(width, height, title)
    top = TITLE_HEIGHT + 4
    parts.append(
        f'<rect x="12" y="{top}" width="{width - 24}" height="{height - top - 10}" fill="none" '
        f'stroke="{AXIS}" stroke-dasharray="4 4" rx="6"/>'
    )
    parts.append(
        svg_text(width / 2, (top + height - 10) / 2 + 4, message, anchor="middle", fill=MUTED)
    )
    return close_svg(parts)


def draw_bar_chart(
    labels: Sequence[object],
    values: Iterable[Any],
    errors: Iterable[Any] | None = None,
    *,
    title: str,
    x_label: str = "",
    highlight: object = None,
    subtitle: str = "",
    width: int = 640,
) -> str:
    """Horizontal bars with optional error bars, one row per label (e.g. mean ± std).

    Args:
        labels: One label per bar, top to bottom.
        values: Bar lengths; None or NaN shows "no value" on that row.
        errors: Half-widths of the error bars (e.g. standard deviations), or None.
        title: The chart's title.
        x_label: The value axis label.
        highlight: The label to draw in the strong colour (e.g. the best candidate); all
            bars are strong when None.
        subtitle: A muted line under the title.
        width: Width in pixels; the height follows the number of bars.

    Returns:
        The SVG element.

    Raises:
        InvalidInputError: ``values`` or ``errors`` do not have one entry per label.
    """
    names = [str(label) for label in labels]
    means = to_numbers(values, "values", len(names))
    spreads = [None] * len(names) if errors is None else to_numbers(errors, "errors", len(names))
    spreads = [abs(e) if e is not None else None for e in spreads]
    if not any(m is not None for m in means):
        return draw_no_data(title, "No values to plot.", width=width)
    ends = [m + (e or 0.0) for m, e in zip(means, spreads, strict=True) if m is not None]
    starts = [m - (e or 0.0) for m, e in zip(means, spreads, strict=True) if m is not None]
    axis = linear_axis(min(starts), max(ends), count=5, include_zero=True)
    label_chars = min(max(len(name) for name in names), 28)
    left = 16 + text_width("x" * label_chars)
    row, bar = 28, 16
    top = TITLE_HEIGHT + (SUBTITLE_HEIGHT if subtitle else 0) + 10
    height = top + row * len(names) + 46
    box = Box(left, top, width - 130, top + row * len(names))
    parts = open_svg(width, height, title, subtitle)
    parts += draw_x_axis(box, axis, x_label)
    for i, (name, mean, spread) in enumerate(zip(names, means, spreads, strict=True)):
        centre = top + row * i + row / 2
        strong = highlight is None or name == str(highlight)
        parts.append("<g>")
        tooltip = f"{name}: {_describe(mean, spread)}"
        parts.append(f"<title>{escape(tooltip)}</title>")
        parts.append(
            svg_text(
                left - 8,
                centre + 4,
                shorten(name, label_chars),
                anchor="end",
                weight="600" if strong and highlight is not None else None,
            )
        )
        if mean is None:
            parts.append(svg_text(box.x(axis, 0.0) + 6, centre + 4, "no value", fill=MUTED))
            parts.append("</g>")
            continue
        x0, x1 = sorted((box.x(axis, 0.0), box.x(axis, mean)))
        colour = BLUE if strong else "#8fbcdb"
        parts.append(
            f'<rect x="{coord(x0)}" y="{coord(centre - bar / 2)}" width="{coord(max(x1 - x0, 1))}" '
            f'height="{bar}" fill="{colour}"/>'
        )
        end = x1
        if spread:
            lo, hi = box.x(axis, mean - spread), box.x(axis, mean + spread)
            parts.append(
                f'<path d="M{coord(lo)} {coord(centre)}H{coord(hi)}M{coord(lo)} {coord(centre - 5)}'
                f'V{coord(centre + 5)}M{coord(hi)} {coord(centre - 5)}V{coord(centre + 5)}" '
                f'stroke="{INK}" stroke-width="1.3" fill="none"/>'
            )
            end = max(end, hi)
        parts.append(svg_text(end + 6, centre + 4, _describe(mean, spread), size=11))
        parts.append("</g>")
    return close_svg(parts)


def draw_paired_histogram(
    reference: Iterable[Any],
    current: Iterable[Any] | None = None,
    *,
    edges: Sequence[Any] | None = None,
    categories: Sequence[object] | None = None,
    title: str,
    x_label: str = "",
    reference_label: str = "reference",
    current_label: str = "current",
    subtitle: str = "",
    width: int = 640,
    height: int = 280,
) -> str:
    """Two distributions counted on the same bins, side by side in each bin.

    Counts are turned into shares of their own total, so samples of different sizes
    compare. With numeric ``edges`` the bins sit at their true place on the x axis; when
    their widths differ (quantile edges), bar heights are densities (share per unit of x)
    so that the area, not the height, is the share. With ``categories`` (or edges that are
    not increasing) the bins are equal slots labelled below.

    Args:
        reference: Counts of the reference (baseline) sample, one per bin.
        current: Counts of the current sample on the same bins, or None to draw one
            distribution.
        edges: ``len(reference) + 1`` increasing bin edges (numeric bins).
        categories: One label per bin (categorical bins).
        title: The chart's title.
        x_label: The x axis label.
        reference_label: Legend entry of ``reference``.
        current_label: Legend entry of ``current``.
        subtitle: A muted line under the title (e.g. the PSI).
        width: Width in pixels.
        height: Height in pixels.

    Returns:
        The SVG element.

    Raises:
        InvalidInputError: The bins, edges or categories do not match in number.
    """
    ref = [max(v or 0.0, 0.0) for v in to_numbers(reference, "reference")]
    cur = None if current is None else [max(v or 0.0, 0.0) for v in to_numbers(current, "current")]
    bins = len(ref)
    if cur is not None and len(cur) != bins:
        raise InvalidInputError(
            f"draw_paired_histogram needs as many current counts as reference counts; "
            f"got {len(cur)} and {bins}.",
            value=len(cur),
        )
    if edges is not None and len(edges) != bins + 1:
        raise InvalidInputError(
            f"draw_paired_histogram needs one more edge than bins; got {len(edges)} edges "
            f"for {bins} bins.",
            value=len(edges),
        )
    if categories is not None and len(categories) != bins:
        raise InvalidInputError(
            f"draw_paired_histogram needs one category per bin; got {len(categories)} "
            f"for {bins} bins.",
            value=len(categories),
        )
    totals = [sum(ref), sum(cur) if cur is not None else 0.0]
    if bins == 0 or not any(totals):
        return draw_no_data(title, "No counts to plot.", width=width)
    samples = [(reference_label, ref, totals[0], BLUE)]
    if cur is not None:
        samples.append((current_label, cur, totals[1], ORANGE))
    numeric = _as_edges(edges)
    names = _bin_names(numeric, edges, categories, bins)
    # x extents of each bin, and y = share (equal widths) or density (unequal widths)
    if numeric is not None:
        widths = [b - a for a, b in zip(numeric, numeric[1:], strict=False)]
        dense = max(widths) / min(widths) > 1.0001
        spans = list(zip(numeric, numeric[1:], strict=False))
        x_axis = linear_axis(numeric[0], numeric[-1], count=6, nice_bounds=False)
    else:
        widths, dense = [1.0] * bins, False
        spans = [(float(i), float(i + 1)) for i in range(bins)]
        x_axis = slot_axis(names, width)
    heights: list[list[float]] = []
    for _, counts, total, _ in samples:
        shares = [c / total if total else 0.0 for c in counts]
        heights.append([s / w if dense else s * 100 for s, w in zip(shares, widths, strict=True)])
    y_axis = linear_axis(0.0, max(max(h) for h in heights), count=4, include_zero=True)
    if not dense:
        y_axis = y_axis._replace(ticks=[(v, f"{label}%") for v, label in y_axis.ticks])
    top = TITLE_HEIGHT + (SUBTITLE_HEIGHT if subtitle else 0) + LEGEND_HEIGHT + 6
    bottom = height - (62 if numeric is None and _rotated(names, width) else 44)
    box = Box(y_margin(y_axis), top, width - 16, bottom)
    parts = open_svg(width, height, title, subtitle)
    parts += draw_legend(
        [LegendKey(name, colour, mark="box") for name, _, _, colour in samples],
        width - 16,
        TITLE_HEIGHT + (SUBTITLE_HEIGHT if subtitle else 0) + 4,
    )
    parts += draw_y_axis(box, y_axis, "density" if dense else "share of rows")
    parts += draw_x_axis(box, x_axis, x_label, rotate=numeric is None and _rotated(names, width))
    slots = len(samples)
    for i, (a, b) in enumerate(spans):
        x0, x1 = box.x(x_axis, a), box.x(x_axis, b)
        inner = max(x1 - x0 - 2, 1.0)
        for j, (label, counts, total, colour) in enumerate(samples):
            value = heights[j][i]
            y = box.y(y_axis, value)
            bar_x = x0 + 1 + inner * j / slots
            share = counts[i] / total if total else 0.0
            tooltip = f"{names[i]}: {label} {format_percent(share)} ({_whole(counts[i])})"
            parts.append(
                f'<rect x="{coord(bar_x)}" y="{coord(y)}" width="{coord(max(inner / slots, 0.5))}" '
                f'height="{coord(max(box.bottom - y, 0))}" fill="{colour}" fill-opacity="0.85">'
                f"<title>{escape(tooltip)}</title></rect>"
            )
    return close_svg(parts)


def draw_line_chart(
    series: Sequence[LineSeries],
    *,
    title: str,
    x_label: str = "",
    y_label: str = "",
    time_axis: bool | None = None,
    reference_lines: Mapping[str, float] | None = None,
    y_from_zero: bool = False,
    subtitle: str = "",
    width: int = 640,
    height: int = 280,
) -> str:
    """Several series over a shared x axis (trial number, or time with date ticks).

    Args:
        series: The series; colours and dash patterns follow their order.
        title: The chart's title.
        x_label: The x axis label (" (UTC)" is added on a time axis).
        y_label: The y axis label.
        time_axis: Read x as epoch seconds and label ticks with dates and times (UTC); by
            default, when any x is a ``datetime``, ``date`` or ``numpy.datetime64``.
        reference_lines: Label -> y value of a dashed horizontal line (e.g. a threshold).
        y_from_zero: Start the y axis at zero.
        subtitle: A muted line under the title.
        width: Width in pixels.
        height: Height in pixels.

    Returns:
        The SVG element.

    Raises:
        InvalidInputError: A series has more x than y values or the reverse.

    Example:
        >>> svg = draw_line_chart([LineSeries("loss", [1, 2, 3], [0.9, 0.5, 0.4])], title="Loss")
        >>> svg.startswith("<svg") and "loss" in svg
        True
    """
    if time_axis is None:
        time_axis = any(is_time(v) for s in series for v in s.x)
    points: list[list[tuple[float, float | None]]] = []
    for s in series:
        if len(s.x) != len(s.y):
            raise InvalidInputError(
                f"Series {s.name!r} has {len(s.x)} x values and {len(s.y)} y values; give one "
                "y per x.",
                value=s.name,
            )
        pairs = [(to_x(x), to_number(y)) for x, y in zip(s.x, s.y, strict=True)]
        points.append(sorted(((x, y) for x, y in pairs if x is not None), key=lambda p: p[0]))
    finite = [(x, y) for pts in points for x, y in pts if y is not None]
    if not finite:
        return draw_no_data(title, "No values to plot.", width=width)
    lines = {k: v for k, v in (reference_lines or {}).items() if to_number(v) is not None}
    xs = [x for x, _ in finite]
    ys = [y for _, y in finite] + [float(v) for v in lines.values()]
    if time_axis:
        x_axis = timeline_axis(min(xs), max(xs), count=max(2, (width - 100) // 90))
        x_label = f"{x_label} (UTC)" if x_label else "time (UTC)"
    else:
        x_axis = linear_axis(min(xs), max(xs), count=6, integer=_all_integers(xs))
        pad = (x_axis.hi - x_axis.lo) * 0.03  # keeps end markers off the frame
        x_axis = x_axis._replace(lo=x_axis.lo - pad, hi=x_axis.hi + pad)
    y_axis = linear_axis(min(ys), max(ys), count=5, include_zero=y_from_zero)
    legend_top = TITLE_HEIGHT + (SUBTITLE_HEIGHT if subtitle else 0) + 4
    box = Box(y_margin(y_axis), legend_top + LEGEND_HEIGHT + 8, width - 20, height - 44)
    parts = open_svg(width, height, title, subtitle)
    entries = [
        LegendKey(
            s.name,
            SERIES_COLOURS[i % len(SERIES_COLOURS)],
            DASHES[i % len(DASHES)],
            _MARKS[s.style],
        )
        for i, s in enumerate(series)
    ]
    parts += draw_legend(entries, width - 20, legend_top)
    parts += draw_y_axis(box, y_axis, y_label)
    parts += draw_x_axis(box, x_axis, x_label)
    on_top: list[str] = []  # reference line labels, drawn over the series
    for label, level in lines.items():
        y = box.y(y_axis, float(level))
        parts.append(
            f'<line x1="{coord(box.left)}" y1="{coord(y)}" x2="{coord(box.right)}" y2="{coord(y)}" '
            f'stroke="{VERMILLION}" stroke-dasharray="5 4" stroke-width="1.2">'
            f"<title>{escape(f'{label}: {format_number(level)}')}</title></line>"
        )
        on_top.append(
            svg_text(
                box.right - 4,
                y - 5,
                f"{label} {level:.4g}",
                size=11,
                anchor="end",
                fill=VERMILLION,
                halo=True,
            )
        )
    tooltips = sum(len(p) for p in points) <= _MAX_TOOLTIPS
    for i, (s, pts) in enumerate(zip(series, points, strict=True)):
        colour, dash = entries[i].colour, entries[i].dash
        coords = [(box.x(x_axis, x), None if y is None else box.y(y_axis, y)) for x, y in pts]
        if s.style != "points":
            path = polyline_path(coords, step=s.style == "step")
            if path:
                dashes = f' stroke-dasharray="{dash}"' if dash else ""
                parts.append(
                    f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"'
                    f'{dashes} stroke-linejoin="round"/>'
                )
        if s.style == "step":
            continue
        radius = 3.5 if len(pts) <= 60 else 2.2
        for (x, value), (px, py) in zip(pts, coords, strict=True):
            if value is None or py is None:
                continue
            shown = format_time(x) if time_axis else _whole(x)
            tip = f"<title>{escape(f'{s.name}: {shown} → {format_number(value)}')}</title>"
            parts.append(
                f'<circle cx="{coord(px)}" cy="{coord(py)}" r="{radius}" fill="{colour}" '
                f'stroke="#fff" stroke-width="0.8">{tip if tooltips else ""}</circle>'
            )
    return close_svg(parts + on_top)


def draw_heatmap(
    matrix: Sequence[Sequence[Any]],
    *,
    row_labels: Sequence[object] | None = None,
    column_labels: Sequence[object] | None = None,
    title: str,
    x_label: str = "",
    y_label: str = "",
    colour_by: Literal["value", "row"] = "value",
    subtitle: str = "",
) -> str:
    """A grid of coloured cells with their numbers written in (e.g. a confusion matrix).

    Args:
        matrix: Rows of values; None or NaN cells stay blank.
        row_labels: One label per row (0, 1, ... by default).
        column_labels: One label per column (0, 1, ... by default).
        title: The chart's title.
        x_label: The column axis label (e.g. "predicted").
        y_label: The row axis label (e.g. "true").
        colour_by: Shade by the value against the largest one (``"value"``), or by its
            share of its row (``"row"``: a confusion matrix's recall, which keeps small
            classes visible).
        subtitle: A muted line under the title.

    Returns:
        The SVG element; its size follows the number of rows and columns.

    Raises:
        InvalidInputError: The labels do not match the matrix in number, or the rows differ
            in length.
    """
    rows = [[to_number(v) for v in row] for row in matrix]
    n_rows, n_cols = len(rows), max((len(r) for r in rows), default=0)
    if any(len(r) != n_cols for r in rows):
        raise InvalidInputError("draw_heatmap needs rows of equal length.", value=n_cols)
    rows_named = [str(v) for v in (row_labels if row_labels is not None else range(n_rows))]
    cols_named = [str(v) for v in (column_labels if column_labels is not None else range(n_cols))]
    if len(rows_named) != n_rows or len(cols_named) != n_cols:
        raise InvalidInputError(
            f"draw_heatmap got {len(rows_named)} row labels and {len(cols_named)} column "
            f"labels for a {n_rows} x {n_cols} matrix.",
            value=(len(rows_named), len(cols_named)),
        )
    if n_rows == 0 or n_cols == 0 or all(v is None for r in rows for v in r):
        return draw_no_data(title, "No values to plot.", width=420)
    cell = max(14.0, min(60.0, 480 / max(n_rows, n_cols)))
    label_chars = min(max(len(v) for v in rows_named + cols_named), 16)
    left = 34 + text_width("x" * label_chars)
    top = TITLE_HEIGHT + (SUBTITLE_HEIGHT if subtitle else 0) + 10
    rotate = max(len(v) for v in cols_named) * 7 > cell
    bottom_space = 30 + (min(text_width("x" * label_chars) * 0.75, 100) if rotate else 14)
    width = int(max(left + cell * n_cols + 24, text_width(title, 14) + 24, 300))
    width = int(max(width, text_width(subtitle) + 24))
    height = int(top + cell * n_rows + bottom_space)
    parts = open_svg(width, height, title, subtitle)
    peak = max((v for r in rows for v in r if v is not None), default=0.0)
    font = min(13.0, cell * 0.34)
    for i, (name, row) in enumerate(zip(rows_named, rows, strict=True)):
        y = top + cell * i
        total = sum(v for v in row if v is not None)
        parts.append(svg_text(left - 6, y + cell / 2 + 4, shorten(name, label_chars), anchor="end"))
        for j, value in enumerate(row):
            x = left + cell * j
            if value is None:
                parts.append(_cell_rect(x, y, cell, "#ffffff", f"{name} / {cols_named[j]}: —"))
                continue
            basis = total if colour_by == "row" else peak
            level = value / basis if basis > 0 else 0.0
            share = f" ({format_percent(value / total)} of row)" if total > 0 else ""
            tooltip = f"{y_label or 'row'} {name}, {x_label or 'column'} {cols_named[j]}: "
            tooltip += f"{_whole(value)}{share}"
            parts.append(_cell_rect(x, y, cell, _ramp(level), tooltip))
            if cell >= 18:
                ink = "#ffffff" if level > 0.5 else INK
                parts.append(
                    svg_text(
                        x + cell / 2,
                        y + cell / 2 + font * 0.35,
                        _whole(value),
                        size=font,
                        anchor="middle",
                        fill=ink,
                    )
                )
    base = top + cell * n_rows
    for j, name in enumerate(cols_named):
        x = left + cell * j + cell / 2
        if rotate:
            parts.append(
                svg_text(x + 3, base + 10, shorten(name, label_chars), anchor="end", rotate=-45)
            )
        else:
            parts.append(svg_text(x, base + 15, name, anchor="middle"))
    if x_label:
        parts.append(
            svg_text(left + cell * n_cols / 2, height - 8, x_label, anchor="middle", fill=MUTED)
        )
    if y_label:
        parts.append(
            svg_text(14, top + cell * n_rows / 2, y_label, anchor="middle", fill=MUTED, rotate=-90)
        )
    return close_svg(parts)


def draw_scatter(
    x: Iterable[Any],
    y: Iterable[Any],
    *,
    title: str,
    x_label: str = "",
    y_label: str = "",
    zero_line: bool = False,
    subtitle: str = "",
    width: int = 640,
    height: int = 320,
) -> str:
    """Points of (x, y), e.g. residuals against predictions, with an optional y = 0 line.

    Args:
        x: X values.
        y: Y values, one per x; pairs with a None or NaN are dropped.
        title: The chart's title.
        x_label: The x axis label.
        y_label: The y axis label.
        zero_line: Draw a dashed horizontal line at y = 0.
        subtitle: A muted line under the title.
        width: Width in pixels.
        height: Height in pixels.

    Returns:
        The SVG element.

    Raises:
        InvalidInputError: ``x`` and ``y`` differ in length.
    """
    xs = to_numbers(x, "x")
    ys = to_numbers(y, "y", len(xs))
    pairs = [(a, b) for a, b in zip(xs, ys, strict=True) if a is not None and b is not None]
    if not pairs:
        return draw_no_data(title, "No points to plot.", width=width)
    x_axis = linear_axis(min(a for a, _ in pairs), max(a for a, _ in pairs), count=6)
    y_values = [b for _, b in pairs] + ([0.0] if zero_line else [])
    y_axis = linear_axis(min(y_values), max(y_values), count=5)
    top = TITLE_HEIGHT + (SUBTITLE_HEIGHT if subtitle else 0) + 10
    box = Box(y_margin(y_axis), top, width - 20, height - 44)
    parts = open_svg(width, height, title, subtitle)
    parts += draw_y_axis(box, y_axis, y_label)
    parts += draw_x_axis(box, x_axis, x_label)
    if zero_line:
        y0 = box.y(y_axis, 0.0)
        parts.append(
            f'<line x1="{coord(box.left)}" y1="{coord(y0)}" x2="{coord(box.right)}" '
            f'y2="{coord(y0)}" stroke="{VERMILLION}" stroke-width="1.3" stroke-dasharray="5 4"/>'
        )
    tooltips = len(pairs) <= _MAX_TOOLTIPS
    radius, opacity = (3.2, 0.75) if len(pairs) <= 300 else (2.2, 0.45)
    parts.append(f'<g fill="{BLUE}" fill-opacity="{opacity}">')
    for a, b in pairs:
        tip = f"<title>{escape(f'{format_number(a)}, {format_number(b)}')}</title>"
        parts.append(
            f'<circle cx="{coord(box.x(x_axis, a))}" cy="{coord(box.y(y_axis, b))}" r="{radius}">'
            f"{tip if tooltips else ''}</circle>"
        )
    parts.append("</g>")
    return close_svg(parts)


def draw_calibration_curve(
    predicted: Iterable[Any],
    observed: Iterable[Any],
    counts: Iterable[Any] | None = None,
    *,
    title: str,
    x_label: str = "mean predicted probability",
    y_label: str = "observed frequency",
    subtitle: str = "",
    size: int = 360,
) -> str:
    """A reliability curve: observed frequency against mean predicted probability per bin,
    with the diagonal of perfect calibration.

    Args:
        predicted: Mean predicted probability of each bin, in [0, 1].
        observed: Fraction of positives (or of hits) in each bin.
        counts: Rows per bin; marker areas follow them and tooltips show them.
        title: The chart's title.
        x_label: The x axis label.
        y_label: The y axis label.
        subtitle: A muted line under the title (e.g. the expected calibration error).
        size: Width of the chart in pixels; the plot area is square.

    Returns:
        The SVG element.

    Raises:
        InvalidInputError: The inputs differ in length.
    """
    xs = to_numbers(predicted, "predicted")
    ys = to_numbers(observed, "observed", len(xs))
    ns = [None] * len(xs) if counts is None else to_numbers(counts, "counts", len(xs))
    points = [
        (a, b, n) for a, b, n in zip(xs, ys, ns, strict=True) if a is not None and b is not None
    ]
    if not points:
        return draw_no_data(title, "No calibration bins to plot.", width=size)
    axis = Axis(0.0, 1.0, [(v / 5, format_number(v / 5, 1)) for v in range(6)])
    top = TITLE_HEIGHT + (SUBTITLE_HEIGHT if subtitle else 0) + LEGEND_HEIGHT + 8
    left = 54.0
    side = size - left - 16
    box = Box(left, top, left + side, top + side)
    height = int(box.bottom + 44)
    parts = open_svg(size, height, title, subtitle)
    parts += draw_legend(
        [
            LegendKey("model", BLUE, mark="line+point"),
            LegendKey("perfectly calibrated", AXIS, "4 4"),
        ],
        size - 16,
        TITLE_HEIGHT + (SUBTITLE_HEIGHT if subtitle else 0) + 4,
    )
    parts += draw_y_axis(box, axis, y_label)
    parts += draw_x_axis(box, axis, x_label)
    parts.append(
        f'<line x1="{coord(box.left)}" y1="{coord(box.bottom)}" x2="{coord(box.right)}" '
        f'y2="{coord(box.top)}" stroke="{AXIS}" stroke-dasharray="4 4" stroke-width="1.2"/>'
    )
    points.sort(key=lambda p: p[0])
    coords = [(box.x(axis, _clip01(a)), box.y(axis, _clip01(b))) for a, b, _ in points]
    parts.append(
        f'<path d="{polyline_path(list(coords))}" fill="none" stroke="{BLUE}" stroke-width="2"/>'
    )
    largest = max((n for _, _, n in points if n), default=0.0)
    for (a, b, n), (px, py) in zip(points, coords, strict=True):
        radius = 3.0 + (5.0 * math.sqrt(n / largest) if n and largest else 1.0)
        rows = f", {format_number(int(n))} rows" if n is not None else ""
        tip = f"predicted {format_number(a, 3)}, observed {format_number(b, 3)}{rows}"
        parts.append(
            f'<circle cx="{coord(px)}" cy="{coord(py)}" r="{coord(radius)}" fill="{BLUE}" '
            f'fill-opacity="0.8" stroke="#fff"><title>{escape(tip)}</title></circle>'
        )
    return close_svg(parts)


def draw_sparkline(
    heights: Iterable[Any],
    *,
    edges: Sequence[Any] | None = None,
    labels: Sequence[object] | None = None,
    description: str = "",
    width: int = 120,
    height: int = 30,
) -> str:
    """A tiny bar chart without axes, for a table cell: a histogram or top-value counts.

    With increasing numeric ``edges`` (one more than ``heights``) the bars sit at their
    true x extent and their heights are densities, so quantile bins show the real shape.
    Otherwise the bars are equal slots, labelled in their tooltips by ``labels``.

    Args:
        heights: Counts, one per bar.
        edges: Numeric bin edges.
        labels: One tooltip label per bar.
        description: The tooltip of the whole sparkline (e.g. the column name).
        width: Width in pixels.
        height: Height in pixels.

    Returns:
        The SVG element (a small "no data" note when every count is zero or missing).
    """
    values = [max(v or 0.0, 0.0) for v in to_numbers(heights, "heights")]
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" font-family="{FONT}">'
        f"<title>{escape(description or 'distribution')}</title>"
    )
    if not values or not any(values):
        return (
            f'{head}<text x="2" y="{height / 2 + 4:g}" font-size="11" fill="{MUTED}" '
            f'font-style="italic">no data</text></svg>'
        )
    numeric = _as_edges(edges) if edges is not None and len(edges) == len(values) + 1 else None
    total = sum(values)
    if numeric is not None:
        spans = list(zip(numeric, numeric[1:], strict=False))
        levels = [v / (b - a) for v, (a, b) in zip(values, spans, strict=True)]
        lo, hi = numeric[0], numeric[-1]
        names = [f"{format_number(a)} to {format_number(b)}" for a, b in spans]
    else:
        spans = [(float(i), float(i + 1)) for i in range(len(values))]
        levels = values
        lo, hi = 0.0, float(len(values))
        names = (
            [str(v) for v in labels] if labels is not None else [str(i) for i in range(len(values))]
        )
        names += [""] * (len(values) - len(names))
    peak = max(levels)
    parts = [head]
    for (a, b), level, value, name in zip(spans, levels, values, names, strict=True):
        x0 = 1 + (a - lo) / (hi - lo) * (width - 2)
        x1 = 1 + (b - lo) / (hi - lo) * (width - 2)
        h = max(level / peak * (height - 3), 0.0 if value == 0 else 1.0)
        tip = f"{name}: {_whole(value)} ({format_percent(value / total)})"
        parts.append(
            f'<rect x="{coord(x0 + 0.3)}" y="{coord(height - 1 - h)}" '
            f'width="{coord(max(x1 - x0 - 0.6, 0.6))}" height="{coord(h)}" fill="{BLUE}">'
            f"<title>{escape(tip)}</title></rect>"
        )
    parts.append(
        f'<line x1="0" y1="{height - 0.5}" x2="{width}" y2="{height - 0.5}" stroke="{AXIS}"/>'
    )
    parts.append("</svg>")
    return "".join(parts)


#: The legend mark of each ``LineSeries.style``.
_MARKS: dict[str, Mark] = {"line": "line+point", "step": "line", "points": "point"}


def _cell_rect(x: float, y: float, size: float, fill: str, tooltip: str) -> str:
    return (
        f'<rect x="{coord(x)}" y="{coord(y)}" width="{coord(size)}" height="{coord(size)}" '
        f'fill="{fill}" stroke="#ffffff" stroke-width="1"><title>{escape(tooltip)}</title></rect>'
    )


def _ramp(level: float) -> str:
    """The colour at ``level`` in [0, 1] of the sequential blue ramp."""
    level = min(max(level, 0.0), 1.0) * (len(_BLUES) - 1)
    i = min(int(level), len(_BLUES) - 2)
    t = level - i
    rgb = [round(a + (b - a) * t) for a, b in zip(_BLUES[i], _BLUES[i + 1], strict=True)]
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _rotated(names: Sequence[str], width: int) -> bool:
    """Whether slot labels are too long to sit level under their slots."""
    slot = (width - 100) / max(len(names), 1)
    return max((min(len(name), 16) for name in names), default=0) * 6.6 > slot


def _describe(mean: float | None, spread: float | None) -> str:
    if mean is None:
        return "no value"
    return format_mean_std(mean, spread)


def _whole(value: float) -> str:
    """A value that is usually a count: without decimals when it is a whole number."""
    return format_number(int(value) if value.is_integer() and abs(value) < 1e15 else value)


def _as_edges(edges: Sequence[Any] | None) -> list[float] | None:
    """Edges as floats if they are finite and strictly increasing, else None."""
    if edges is None or len(edges) < 2:
        return None
    values = [to_number(e) for e in edges]
    finite = [v for v in values if v is not None]
    if len(finite) != len(values) or any(b <= a for a, b in zip(finite, finite[1:], strict=False)):
        return None
    return finite


def _bin_names(
    numeric: list[float] | None,
    edges: Sequence[Any] | None,
    categories: Sequence[object] | None,
    bins: int,
) -> list[str]:
    if categories is not None:
        return [str(c) for c in categories]
    if numeric is not None:
        last = len(numeric) - 2
        return [
            f"[{format_number(a)}, {format_number(b)}{']' if i == last else ')'}"
            for i, (a, b) in enumerate(zip(numeric, numeric[1:], strict=False))
        ]
    if edges is not None:
        return [
            f"{format_number(to_number(a))} to {format_number(to_number(b))}"
            for a, b in zip(edges, edges[1:], strict=False)
        ]
    return [f"bin {i + 1}" for i in range(bins)]


def _all_integers(values: Iterable[float]) -> bool:
    return all(float(v).is_integer() for v in values)


def _clip01(value: float) -> float:
    return min(max(value, 0.0), 1.0)
