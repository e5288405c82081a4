"""Tests for axes and ticks (reports/_axes.py): round, readable, and covering the data."""

from __future__ import annotations

import pytest

from loopline.reports._axes import linear_axis, nice_step, timeline_axis

T0 = 1714564800  # 2024-05-01 12:00:00 UTC


@pytest.mark.parametrize(
    ("raw", "step"), [(0.013, 0.02), (0.2, 0.2), (3.0, 5.0), (7.0, 10.0), (1.0, 1.0), (120, 200)]
)
def test_nice_step_is_one_two_or_five_times_a_power_of_ten(raw: float, step: float) -> None:
    assert nice_step(raw) == pytest.approx(step)


@pytest.mark.parametrize(
    ("lo", "hi", "labels"),
    [
        (0.9045, 0.9775, ["0.90", "0.92", "0.94", "0.96", "0.98"]),
        (0.0, 1.0, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]),
        (-3.2, 2.9, ["-4", "-2", "0", "2", "4"]),
        (278.0, 1680.0, ["0", "500", "1,000", "1,500", "2,000"]),
        (0.0, 5e6, ["0", "1M", "2M", "3M", "4M", "5M"]),
        (1e-6, 5e-6, ["1.0e-06", "2.0e-06", "3.0e-06", "4.0e-06", "5.0e-06"]),
        (7.0, 7.0, ["6.0", "6.5", "7.0", "7.5", "8.0"]),
    ],
)
def test_linear_axis_covers_the_data_with_round_labels(
    lo: float, hi: float, labels: list[str]
) -> None:
    axis = linear_axis(lo, hi, count=5)

    assert [label for _, label in axis.ticks] == labels
    assert axis.lo <= lo and axis.hi >= hi and axis.hi > axis.lo


def test_linear_axis_from_zero_and_within_bounds() -> None:
    assert linear_axis(0.0, 0.0, include_zero=True)[:2] == (0.0, 2.0)
    inner = linear_axis(11.03, 14.83, count=5, nice_bounds=False)
    assert (inner.lo, inner.hi) == (11.03, 14.83)
    assert [label for _, label in inner.ticks] == ["12", "13", "14"]


@pytest.mark.parametrize(
    ("span", "labels"),
    [
        (3600, ["12:00", "12:10", "12:20", "12:30", "12:40", "12:50", "13:00"]),
        (2 * 86400, ["05-01 12:00", "05-02 00:00", "05-02 12:00", "05-03 00:00", "05-03 12:00"]),
        (28 * 86400, ["2024-05-02", "2024-05-09", "2024-05-16", "2024-05-23", "2024-05-30"]),
        (400 * 86400, ["2024-07", "2024-10", "2025-01", "2025-04"]),
        (4000 * 86400, ["2026", "2028", "2030", "2032", "2034"]),
    ],
)
def test_timeline_axis_ticks_on_round_utc_times(span: int, labels: list[str]) -> None:
    axis = timeline_axis(T0, T0 + span, count=6)

    assert [label for _, label in axis.ticks] == labels
    assert axis.lo < T0 and axis.hi > T0 + span
