"""Tests for the SVG charts (reports/_svg.py): well-formed, readable, and never crashing."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from datetime import date, datetime, timezone
from typing import Any

import numpy as np
import pytest

from loopline.errors import InvalidInputError
from loopline.reports import (
    LineSeries,
    draw_bar_chart,
    draw_calibration_curve,
    draw_heatmap,
    draw_line_chart,
    draw_no_data,
    draw_paired_histogram,
    draw_scatter,
    draw_sparkline,
)

SVG = "{http://www.w3.org/2000/svg}"
DAY = 86400
T0 = 1714564800  # 2024-05-01 12:00:00 UTC


def parse(svg: str) -> ET.Element:
    """The chart parsed as XML: it must be a well-formed, namespaced <svg> element."""
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def texts(svg: str) -> list[str]:
    return [el.text or "" for el in parse(svg).iter(f"{SVG}text")]


def tooltips(svg: str) -> list[str]:
    return [el.text or "" for el in parse(svg).iter(f"{SVG}title")]


def assert_readable_numbers(svg: str) -> None:
    """No tick or label shows float noise such as 0.30000000000000004."""
    for text in texts(svg):
        assert not re.search(r"\d\.\d{7,}", text), text


def test_bar_chart_draws_a_bar_and_an_error_bar_per_label() -> None:
    svg = draw_bar_chart(
        ["logreg", "tree"],
        [0.9775, 0.9045],
        [0.0081, 0.0347],
        title="accuracy: mean ± std",
        x_label="accuracy",
        highlight="logreg",
    )

    root = parse(svg)
    assert len(list(root.iter(f"{SVG}rect"))) == 3  # background + 2 bars
    assert "0.9775 ± 0.0081" in texts(svg)
    assert "logreg: 0.9775 ± 0.0081" in tooltips(svg)
    assert {"accuracy: mean ± std", "accuracy", "0.0", "0.4", "1.0"} <= set(texts(svg))
    assert_readable_numbers(svg)


def test_bar_chart_spans_negative_values_and_marks_missing_ones() -> None:
    svg = draw_bar_chart(["a", "b", "c"], [-0.2, 0.5, None], [0.1, None, float("nan")], title="r2")

    assert "no value" in texts(svg)
    assert "-0.2000 ± 0.1000" in texts(svg)
    assert "-0.4" in texts(svg) or "-0.3" in texts(svg)


def test_paired_histogram_on_quantile_edges_draws_densities() -> None:
    edges = [0.0, 1.0, 1.5, 4.0]
    svg = draw_paired_histogram(
        [10, 10, 10], [5, 20, 5], edges=edges, title="x drift", x_label="x", subtitle="PSI 0.4"
    )

    assert {"density", "reference", "current", "x", "PSI 0.4"} <= set(texts(svg))
    tips = tooltips(svg)
    assert "[0, 1.000): reference 33.3% (10)" in tips
    assert "[1.500, 4.000]: current 16.7% (5)" in tips
    assert_readable_numbers(svg)


def test_paired_histogram_on_equal_bins_and_categories_draws_shares() -> None:
    equal = draw_paired_histogram([1, 3], [2, 2], edges=[0, 1, 2], title="equal")
    categorical = draw_paired_histogram(
        [10, 20, 5], None, categories=["red", "green", "<blue>"], title="colour"
    )

    assert "share of rows" in texts(equal)
    assert any(t.endswith("%") for t in texts(equal))
    assert {"red", "green", "<blue>"} <= set(texts(categorical))
    assert "current" not in texts(categorical)
    assert "&lt;blue&gt;" in categorical


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"current": [1, 2]}, "as many current counts as reference counts; got 2 and 3"),
        ({"edges": [0, 1]}, "one more edge than bins; got 2 edges for 3 bins"),
        ({"categories": ["a"]}, "one category per bin; got 1 for 3 bins"),
    ],
)
def test_paired_histogram_rejects_bins_that_do_not_match(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        draw_paired_histogram([1, 2, 3], title="t", **kwargs)


def test_line_chart_draws_points_a_step_line_and_a_reference_line() -> None:
    svg = draw_line_chart(
        [
            LineSeries("trial value", [0, 1, 2, 3], [0.5, 0.7, 0.6, 0.9], "points"),
            LineSeries("best so far", [0, 1, 2, 3], [0.5, 0.7, 0.7, 0.9], "step"),
        ],
        title="accuracy per trial",
        x_label="trial",
        y_label="accuracy",
        reference_lines={"threshold": 0.8},
    )

    root = parse(svg)
    paths = [p.get("d", "") for p in root.iter(f"{SVG}path")]
    assert any("H" in d and "V" in d for d in paths)  # the staircase
    assert len(list(root.iter(f"{SVG}circle"))) == 4 + 1  # 4 markers + the legend dot
    assert {"trial value", "best so far", "threshold 0.8", "trial", "0", "3"} <= set(texts(svg))
    assert "trial value: 3 → 0.9000" in tooltips(svg)
    assert_readable_numbers(svg)


def test_line_chart_leaves_a_gap_for_missing_values() -> None:
    svg = draw_line_chart(
        [LineSeries("f1", [1, 2, 3, 4, 5], [0.8, 0.9, None, 0.7, float("nan")])], title="f1"
    )

    (path,) = [p.get("d", "") for p in parse(svg).iter(f"{SVG}path")]
    assert path.count("M") == 2


def test_line_chart_labels_epoch_seconds_with_dates() -> None:
    xs = [T0 + DAY * i for i in range(30)]
    svg = draw_line_chart(
        [LineSeries("psi", xs, [0.1] * 30)], title="Drift", time_axis=True, y_from_zero=True
    )

    labels = texts(svg)
    assert "time (UTC)" in labels
    assert sum(bool(re.fullmatch(r"2024-05-\d\d", t)) for t in labels) >= 3
    assert "0.00" in labels  # y from zero
    assert "psi: 2024-05-01 12:00:00 UTC → 0.1000" in tooltips(svg)


@pytest.mark.parametrize(
    ("xs", "pattern"),
    [
        ([datetime(2024, 1, 1, h, tzinfo=timezone.utc) for h in range(0, 24, 2)], r"\d\d:00"),
        ([date(2024, 1, 1), date(2024, 1, 3), date(2024, 1, 9)], r"2024-01-\d\d"),
        (list(np.arange("2024-01", "2026-01", dtype="datetime64[M]")), r"20\d\d(-\d\d)?"),
        ([datetime(2024, 1, 1, 0, 0, s) for s in range(0, 50, 5)], r"00:00:\d\d"),
    ],
)
def test_line_chart_reads_datetime_values_as_a_time_axis(xs: list[Any], pattern: str) -> None:
    svg = draw_line_chart([LineSeries("y", xs, list(range(len(xs))))], title="over time")

    labels = texts(svg)
    assert "time (UTC)" in labels
    assert sum(bool(re.fullmatch(pattern, t)) for t in labels) >= 2, labels


def test_line_chart_rejects_a_series_with_more_x_than_y() -> None:
    with pytest.raises(InvalidInputError, match=re.escape("Series 'a' has 3 x values and 2 y")):
        draw_line_chart([LineSeries("a", [1, 2, 3], [1, 2])], title="t")


def test_heatmap_writes_counts_in_cells_and_shades_by_row() -> None:
    svg = draw_heatmap(
        [[22, 0, 0], [0, 30, 1], [0, 0, 19]],
        row_labels=[0, 1, 2],
        column_labels=[0, 1, 2],
        title="Confusion matrix",
        x_label="predicted",
        y_label="true",
        colour_by="row",
    )

    labels = texts(svg)
    assert {"22", "30", "1", "19", "predicted", "true"} <= set(labels)
    assert "22.00" not in labels
    assert "true 1, predicted 2: 1 (3.2% of row)" in tooltips(svg)
    fills = {r.get("fill") for r in parse(svg).iter(f"{SVG}rect")}
    assert len(fills) >= 3


def test_heatmap_escapes_and_rotates_long_labels() -> None:
    names = ["<script>alert(1)</script>", "versicolor"]
    svg = draw_heatmap([[1, 2], [3, 4]], row_labels=names, column_labels=names, title="m")

    assert "<script>" not in svg
    assert any(
        t.get("transform", "").startswith("rotate(-45") for t in parse(svg).iter(f"{SVG}text")
    )


def test_heatmap_rejects_labels_that_do_not_match() -> None:
    with pytest.raises(InvalidInputError, match=re.escape("got 1 row labels and 2 column labels")):
        draw_heatmap([[1, 2], [3, 4]], row_labels=["a"], title="m")
    with pytest.raises(InvalidInputError, match="rows of equal length"):
        draw_heatmap([[1, 2], [3]], title="m")


def test_scatter_draws_every_point_and_the_zero_line() -> None:
    rng = np.random.default_rng(0)
    predicted, residual = rng.normal(150, 40, 200), rng.normal(0, 50, 200)
    svg = draw_scatter(
        predicted, residual, title="Residuals", x_label="predicted", y_label="residual",
        zero_line=True,
    )  # fmt: skip

    root = parse(svg)
    assert len(list(root.iter(f"{SVG}circle"))) == 200
    dashed = [el for el in root.iter(f"{SVG}line") if el.get("stroke-dasharray")]
    assert len(dashed) == 1
    assert {"predicted", "residual", "0"} <= set(texts(svg))
    assert_readable_numbers(svg)


def test_scatter_labels_large_values_compactly() -> None:
    svg = draw_scatter([0, 2.5e6, 5e6], [1, 2, 3], title="big")

    assert {"0", "1M", "2M", "5M"} <= set(texts(svg))


def test_calibration_curve_has_the_diagonal_and_sized_markers() -> None:
    svg = draw_calibration_curve(
        [0.1, 0.5, 0.9], [0.2, 0.45, 0.95], [10, 40, 90], title="Calibration", subtitle="ECE 0.04"
    )

    root = parse(svg)
    radii = [float(c.get("r", 0)) for c in root.iter(f"{SVG}circle")][1:]  # after the legend's
    assert radii == sorted(radii) and radii[0] < radii[-1]
    assert "perfectly calibrated" in texts(svg)
    assert "predicted 0.100, observed 0.200, 10 rows" in tooltips(svg)


def test_sparkline_draws_a_histogram_on_true_bin_widths() -> None:
    svg = draw_sparkline([10, 10], edges=[0, 1, 4], description="x")

    bars = [r for r in parse(svg).iter(f"{SVG}rect")]
    assert len(bars) == 2
    narrow, wide = (float(b.get("width", 0)) for b in bars)
    assert wide > 2.5 * narrow  # three times the width
    assert float(bars[0].get("height", 0)) > float(bars[1].get("height", 0))  # denser
    assert "0 to 1.000: 10 (50.0%)" in tooltips(svg)


def test_sparkline_of_top_values_names_each_bar() -> None:
    svg = draw_sparkline([5, 3], labels=["a", "<b>"], description="top values")

    assert "<b>: 3 (37.5%)" in tooltips(svg)


def test_no_data_chart_says_why() -> None:
    svg = draw_no_data("Drift", "No window yet.")

    assert texts(svg) == ["Drift", "No window yet."]


NAN = float("nan")

DEGENERATE = {
    "bar, empty": lambda: draw_bar_chart([], [], title="t"),
    "bar, all missing": lambda: draw_bar_chart(["a", "b"], [None, NAN], title="t"),
    "bar, one zero": lambda: draw_bar_chart(["a"], [0.0], title="t"),
    "bar, infinite": lambda: draw_bar_chart(["a"], [math.inf], title="t"),
    "histogram, empty": lambda: draw_paired_histogram([], [], title="t"),
    "histogram, zero counts": lambda: draw_paired_histogram([0, 0], [0, 0], title="t"),
    "histogram, one bin": lambda: draw_paired_histogram([5], [3], edges=[1, 2], title="t"),
    "histogram, equal edges": lambda: draw_paired_histogram([5, 1], edges=[1, 1, 1], title="t"),
    "histogram, None edges": lambda: draw_paired_histogram([5, 1], edges=[0, None, 2], title="t"),
    "histogram, None counts": lambda: draw_paired_histogram([None, 2], [NAN, 1], title="t"),
    "line, no series": lambda: draw_line_chart([], title="t"),
    "line, empty": lambda: draw_line_chart([LineSeries("a", [], [])], title="t"),
    "line, all None": lambda: draw_line_chart([LineSeries("a", [1, 2], [None, NAN])], title="t"),
    "line, None x": lambda: draw_line_chart([LineSeries("a", [None], [1])], title="t"),
    "line, one point": lambda: draw_line_chart([LineSeries("a", [3], [0.5])], title="t"),
    "line, constant": lambda: draw_line_chart([LineSeries("a", [1, 2], [7, 7])], title="t"),
    "line, zeros": lambda: draw_line_chart([LineSeries("a", [0, 0], [0, 0])], title="t"),
    "line, one time": lambda: draw_line_chart(
        [LineSeries("a", [T0], [1])], title="t", time_axis=True
    ),
    "line, NaT": lambda: draw_line_chart(
        [LineSeries("a", [np.datetime64("NaT"), np.datetime64("2024-01-01")], [1, 2])], title="t"
    ),
    "line, only a threshold": lambda: draw_line_chart(
        [LineSeries("a", [1], [None])], title="t", reference_lines={"max": 1.0}
    ),
    "heatmap, empty": lambda: draw_heatmap([], title="t"),
    "heatmap, empty row": lambda: draw_heatmap([[]], title="t"),
    "heatmap, zeros": lambda: draw_heatmap([[0, 0], [0, 0]], title="t", colour_by="row"),
    "heatmap, None": lambda: draw_heatmap([[None, 1], [NAN, 2]], title="t"),
    "heatmap, all None": lambda: draw_heatmap([[None]], title="t"),
    "heatmap, 60 classes": lambda: draw_heatmap(np.eye(60, dtype=int).tolist(), title="t"),
    "scatter, empty": lambda: draw_scatter([], [], title="t"),
    "scatter, one point": lambda: draw_scatter([1], [2], title="t", zero_line=True),
    "scatter, constant": lambda: draw_scatter([1, 1, 1], [0, 0, 0], title="t"),
    "scatter, NaN": lambda: draw_scatter([NAN, 1], [1, None], title="t"),
    "scatter, tiny values": lambda: draw_scatter([1e-9, 2e-9], [1e-9, 3e-9], title="t"),
    "calibration, empty": lambda: draw_calibration_curve([], [], title="t"),
    "calibration, one bin": lambda: draw_calibration_curve([0.5], [0.5], [0], title="t"),
    "calibration, out of range": lambda: draw_calibration_curve([1.2], [-0.1], title="t"),
    "sparkline, empty": lambda: draw_sparkline([]),
    "sparkline, zeros": lambda: draw_sparkline([0, 0]),
    "sparkline, bad edges": lambda: draw_sparkline([1, 2], edges=[3, 2, 1]),
    "sparkline, None": lambda: draw_sparkline([None, 2, NAN]),
}
NO_DATA = {k for k in DEGENERATE if any(w in k for w in ("empty", "all None", "missing", "no "))}
NO_DATA |= {"histogram, zero counts", "line, None x", "line, only a threshold", "scatter, NaN"}
NO_DATA |= {"bar, infinite", "sparkline, zeros"}


@pytest.mark.parametrize("case", sorted(DEGENERATE))
def test_degenerate_inputs_render_instead_of_raising(case: str) -> None:
    svg = DEGENERATE[case]()

    parse(svg)
    if case in NO_DATA:
        assert re.search(r"(?i)no (data|values|counts|points|calibration)", svg), svg
    assert "nan" not in " ".join(texts(svg)).lower()
    assert "inf" not in " ".join(texts(svg)).lower()
    assert_readable_numbers(svg)


@pytest.mark.parametrize(
    "draw",
    [
        lambda s: draw_bar_chart([s], [1.0], title=s, x_label=s),
        lambda s: draw_paired_histogram([1], [2], categories=[s], title=s, reference_label=s),
        lambda s: draw_line_chart([LineSeries(s, [1, 2], [1, 2])], title=s, y_label=s),
        lambda s: draw_heatmap([[1]], row_labels=[s], column_labels=[s], title=s),
        lambda s: draw_scatter([1, 2], [1, 2], title=s, x_label=s, subtitle=s),
        lambda s: draw_calibration_curve([0.5], [0.5], title=s),
        lambda s: draw_sparkline([1], labels=[s], description=s),
        lambda s: draw_no_data(s, s),
    ],
)
def test_text_is_escaped(draw: object) -> None:
    hostile = '<script>alert("x")</script> & co'

    svg = draw(hostile)  # type: ignore[operator]

    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    parse(svg)
