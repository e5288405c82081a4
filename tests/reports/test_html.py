"""Tests for the page skeleton and the formatting helpers (reports/_html.py)."""

from __future__ import annotations

import math
import types

import numpy as np
import pytest

import loopline.reports as reports
from loopline.reports import (
    Markup,
    Section,
    escape,
    format_duration,
    format_mean_std,
    format_number,
    format_percent,
    format_timestamp,
    render_badge,
    render_page,
    render_table,
)

from ._checks import assert_balanced, assert_self_contained


def test_all_is_sorted_and_equals_the_public_names() -> None:
    public = {
        name
        for name, value in vars(reports).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert list(reports.__all__) == sorted(reports.__all__)
    assert public - {"annotations"} == set(reports.__all__)
    for name in reports.__all__:
        assert getattr(reports, name).__doc__, name


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (math.nan, "—"),
        (math.inf, "∞"),
        (-math.inf, "-∞"),
        (True, "yes"),
        (0, "0"),
        (0.0, "0"),
        (1234567, "1,234,567"),
        (np.int64(42), "42"),
        (np.float64(0.98611), "0.9861"),
        (0.9861111111111112, "0.9861"),
        (13.00061797752809, "13.00"),
        (746.9, "746.9"),
        (1680.0, "1,680"),
        (-0.0706, "-0.07060"),
        (2.5e-05, "2.500e-05"),
        (3.2e12, "3.200e+12"),
        ("text", "text"),
    ],
)
def test_format_number(value: object, text: str) -> None:
    assert format_number(value) == text


@pytest.mark.parametrize(
    ("mean", "std", "text"),
    [
        (0.97749, 0.008057, "0.9775 ± 0.0081"),
        (0.9997, 0.0001884, "0.9997 ± 0.0002"),
        (746.9, 314.93, "746.9 ± 314.9"),
        (0.5, None, "0.5000"),
        (0.5, math.nan, "0.5000"),
        (None, 0.1, "— ± 0.1000"),
        (2.5e-5, 1e-6, "2.500e-05 ± 1.000e-06"),
    ],
)
def test_format_mean_std_rounds_the_spread_like_the_mean(
    mean: object, std: object, text: str
) -> None:
    assert format_mean_std(mean, std) == text


def test_format_percent_duration_and_timestamp() -> None:
    assert [format_percent(v) for v in (0.1234, 1, None, math.nan, "x")] == [
        "12.3%",
        "100.0%",
        "—",
        "—",
        "—",
    ]
    assert [format_duration(v) for v in (0.348, 12, 61, 3725, 90000, -1, None, math.inf)] == [
        "0.35 s",
        "12.0 s",
        "1 min 01 s",
        "1 h 02 min",
        "25 h 00 min",
        "—",
        "—",
        "—",
    ]
    assert format_timestamp(1714564803) == "2024-05-01 12:00:03 UTC"
    assert [format_timestamp(v) for v in (None, math.nan, 1e20, "2024")] == ["—"] * 4


def test_escape_leaves_markup_alone() -> None:
    assert escape('<a href="x">') == "&lt;a href=&quot;x&quot;&gt;"
    assert escape(Markup("<b>ok</b>")) == "<b>ok</b>"
    assert isinstance(escape(1), Markup)


def test_badges_take_their_colour_from_the_status() -> None:
    assert render_badge("succeeded") == '<span class="badge good">succeeded</span>'
    assert 'class="badge bad"' in render_badge("failed")
    assert 'class="badge warn"' in render_badge("interrupted")
    assert 'class="badge neutral"' in render_badge("<odd>")
    assert "&lt;odd&gt;" in render_badge("<odd>")


def test_table_right_aligns_numbers_and_escapes_text() -> None:
    table = render_table(
        ["name", "value", "note"],
        [["<x>", 0.5, Markup("<em>ok</em>")], ["y", None, "plain"]],
        caption="Scores",
    )

    assert_balanced(table)
    assert '<th scope="col" class="num">value</th>' in table
    assert '<td class="num">0.5000</td>' in table
    assert '<td class="num">—</td>' in table
    assert "<td>&lt;x&gt;</td>" in table
    assert "<td><em>ok</em></td>" in table
    assert "<caption>Scores</caption>" in table


def test_empty_table_is_a_note() -> None:
    assert render_table(["a"], [], empty="Nothing here.") == '<p class="note">Nothing here.</p>'


def test_page_has_header_contents_and_collapsible_sections() -> None:
    page = render_page(
        "Report <1>",
        subtitle="sub",
        facts=[("Rows", 1200), ("Status", render_badge("failed"))],
        badges=[render_badge("failed")],
        sections=[
            Section("one", "First", Markup("<p>a</p>")),
            Section("two", "Second", Markup("<p>b</p>"), render_badge("ok"), open=False),
        ],
    )

    assert page.startswith("<!DOCTYPE html>")
    assert_balanced(page)
    assert_self_contained(page)
    assert "<title>Report &lt;1&gt;</title>" in page
    assert "<dd>1,200</dd>" in page
    assert '<a href="#one">First</a>' in page
    assert '<details class="section" id="one" open>' in page
    assert '<details class="section" id="two"><summary>' in page
    assert '<meta charset="utf-8">' in page
