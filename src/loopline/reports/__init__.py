"""Self-contained HTML reports: one file with inline CSS and inline SVG charts.

A report needs no network to be read: no script, no external stylesheet, font or image.
The functions take plain dicts (the ``to_dict()`` of the components' results), so they work
from what the store keeps.

Example:
    >>> from loopline.reports import render_run_report
    >>> page = render_run_report({"id": "r1", "pipeline": "train", "status": "succeeded"})
    >>> page.startswith("<!DOCTYPE html>")
    True
"""

from ._html import Markup as Markup
from ._html import Section as Section
from ._html import escape as escape
from ._html import format_duration as format_duration
from ._html import format_mean_std as format_mean_std
from ._html import format_number as format_number
from ._html import format_percent as format_percent
from ._html import format_timestamp as format_timestamp
from ._html import render_badge as render_badge
from ._html import render_note as render_note
from ._html import render_page as render_page
from ._html import render_table as render_table
from ._html import status_tone as status_tone
from ._monitoring_report import render_monitoring_report as render_monitoring_report
from ._run_report import SupportsToDict as SupportsToDict
from ._run_report import render_run_report as render_run_report
from ._run_report import write_report as write_report
from ._svg import LineSeries as LineSeries
from ._svg import draw_bar_chart as draw_bar_chart
from ._svg import draw_calibration_curve as draw_calibration_curve
from ._svg import draw_heatmap as draw_heatmap
from ._svg import draw_line_chart as draw_line_chart
from ._svg import draw_no_data as draw_no_data
from ._svg import draw_paired_histogram as draw_paired_histogram
from ._svg import draw_scatter as draw_scatter
from ._svg import draw_sparkline as draw_sparkline

__all__ = [
    "LineSeries",
    "Markup",
    "Section",
    "SupportsToDict",
    "draw_bar_chart",
    "draw_calibration_curve",
    "draw_heatmap",
    "draw_line_chart",
    "draw_no_data",
    "draw_paired_histogram",
    "draw_scatter",
    "draw_sparkline",
    "escape",
    "format_duration",
    "format_mean_std",
    "format_number",
    "format_percent",
    "format_timestamp",
    "render_badge",
    "render_monitoring_report",
    "render_note",
    "render_page",
    "render_run_report",
    "render_table",
    "status_tone",
    "write_report",
]
