"""The cron schedule: parsing, next times, and when a schedule is due."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopline.automation._cron import CronSchedule
from loopline.errors import ConfigError, InvalidInputError

UTC = timezone.utc


def at(text: str) -> datetime:
    """A UTC time from 'YYYY-MM-DD HH:MM[:SS]'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --------------------------------------------------------------------------- parsing


def test_parse_reads_lists_ranges_steps_and_names() -> None:
    s = CronSchedule.parse("*/15 2-6 * * mon-fri")
    assert s.minutes == {0, 15, 30, 45}
    assert s.hours == {2, 3, 4, 5, 6}
    assert s.days == set(range(1, 32))
    assert s.months == set(range(1, 13))
    assert s.weekdays == {1, 2, 3, 4, 5}
    assert (s.days_restricted, s.weekdays_restricted) == (False, True)
    assert str(s) == "*/15 2-6 * * mon-fri"


@pytest.mark.parametrize(
    ("expression", "field", "expected"),
    [
        ("1,5,10-12 * * * *", "minutes", {1, 5, 10, 11, 12}),
        ("10-30/10 * * * *", "minutes", {10, 20, 30}),
        ("50/5 * * * *", "minutes", {50, 55}),
        ("0 */6 * * *", "hours", {0, 6, 12, 18}),
        ("0 0 1,15 * *", "days", {1, 15}),
        ("0 0 * JAN,jul-Sep *", "months", {1, 7, 8, 9}),
        ("0 0 * */4 *", "months", {1, 5, 9}),
        ("0 0 * * 7", "weekdays", {0}),
        ("0 0 * * 0,7", "weekdays", {0}),
        ("0 0 * * sat-sun", "weekdays", {6, 0}),
        ("0 0 * * 5-7", "weekdays", {5, 6, 0}),
        ("0 0 * * SUN", "weekdays", {0}),
    ],
)
def test_parse_fields(expression: str, field: str, expected: set[int]) -> None:
    assert getattr(CronSchedule.parse(expression), field) == expected


@pytest.mark.parametrize(
    ("macro", "equivalent"),
    [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@DAILY", "0 0 * * *"),
    ],
)
def test_macros(macro: str, equivalent: str) -> None:
    a, b = CronSchedule.parse(macro), CronSchedule.parse(equivalent)
    assert (a.minutes, a.hours, a.days, a.months, a.weekdays) == (
        b.minutes,
        b.hours,
        b.days,
        b.months,
        b.weekdays,
    )
    assert a.expression == macro


@pytest.mark.parametrize(
    ("expression", "message", "field"),
    [
        ("0 25 * * *", "Cron field 'hour' allows 0-23. Got 25 in '0 25 * * *'.", "hour"),
        ("60 * * * *", "Cron field 'minute' allows 0-59. Got 60 in '60 * * * *'.", "minute"),
        (
            "0 0 0 * *",
            "Cron field 'day-of-month' allows 1-31. Got 0 in '0 0 0 * *'.",
            "day-of-month",
        ),
        (
            "0 0 * 13 *",
            "Cron field 'month' allows 1-12 or jan-dec. Got 13 in '0 0 * 13 *'.",
            "month",
        ),
        (
            "0 0 * * 8",
            "Cron field 'day-of-week' allows 0-7 or sun-sat. Got 8 in '0 0 * * 8'.",
            "day-of-week",
        ),
        (
            "0 0 * * mnn",
            "Cron field 'day-of-week' allows 0-7 or sun-sat. Got 'mnn' in '0 0 * * mnn'. "
            "Did you mean 'mon'?",
            "day-of-week",
        ),
        (
            "0 jan * * *",
            "Cron field 'hour' allows 0-23. Got 'jan' in '0 jan * * *'.",
            "hour",
        ),
        (
            "*/0 * * * *",
            "Cron field 'minute' has a step of '0' in '*/0 * * * *'; a step must be 1 or more.",
            "minute",
        ),
        (
            "*/x * * * *",
            "Cron field 'minute' allows 0-59. Got 'x' in '*/x * * * *'.",
            "minute",
        ),
        (
            "5-1 * * * *",
            "Cron field 'minute' has the range '5-1' in '5-1 * * * *', which runs backwards; "
            "write it from low to high, or as a list.",
            "minute",
        ),
        (
            "0 0 * jan-feb-mar *",
            "Cron field 'month' has 'jan-feb-mar' in '0 0 * jan-feb-mar *'; a range is a-b, "
            "and a list is a,b,c.",
            "month",
        ),
        (
            "1,,2 * * * *",
            "Cron field 'minute' allows 0-59. Got nothing in '1,,2 * * * *'.",
            "minute",
        ),
        ("-1 * * * *", "Cron field 'minute' allows 0-59. Got nothing in '-1 * * * *'.", "minute"),
        (
            "0 0 30 2 *",
            "Cron expression '0 0 30 2 *' never fires: no day 30 exists in feb.",
            "day-of-month",
        ),
        (
            "0 0 31 apr,jun *",
            "Cron expression '0 0 31 apr,jun *' never fires: no day 31 exists in apr, jun.",
            "day-of-month",
        ),
    ],
)
def test_bad_fields_are_named_with_what_they_allow(
    expression: str, message: str, field: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        CronSchedule.parse(expression)
    assert info.value.field == field
    assert info.value.expression == expression
    assert "5 fields" in (info.value.hint or "")


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (
            "* * *",
            "Cron expression '* * *' has 3 fields; write 5: minute hour day-of-month month "
            "day-of-week.",
        ),
        (
            "0 0 * * * *",
            "Cron expression '0 0 * * * *' has 6 fields; write 5: minute hour day-of-month "
            "month day-of-week.",
        ),
        ("", "Cron expression '' has 0 fields; write 5"),
        ("@dialy", "Unknown cron macro '@dialy'. Did you mean '@daily'?"),
        ("@reboot", "Unknown cron macro '@reboot'. Allowed: @yearly, @annually,"),
    ],
)
def test_bad_shapes(expression: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        CronSchedule.parse(expression)


def test_a_possible_february_29_is_accepted_and_found() -> None:
    s = CronSchedule.parse("0 0 29 2 *")
    # 2100 is not a leap year, so the next 29 February after 2097 is in 2104.
    assert s.next_after(at("2097-03-01 00:00")) == at("2104-02-29 00:00")


# --------------------------------------------------------------------------- next_after


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("* * * * *", "2024-01-01 10:00", "2024-01-01 10:01"),
        ("* * * * *", "2024-01-01 10:00:59", "2024-01-01 10:01"),
        ("*/15 * * * *", "2024-01-01 10:07", "2024-01-01 10:15"),
        ("*/15 * * * *", "2024-01-01 10:45", "2024-01-01 11:00"),
        ("0 3 * * *", "2024-01-01 03:00", "2024-01-02 03:00"),
        ("0 3 * * *", "2024-12-31 04:00", "2025-01-01 03:00"),
        # 1 June 2024 is a Saturday: the next weekday is Monday 3 June.
        ("*/15 2-6 * * mon-fri", "2024-06-01 12:00", "2024-06-03 02:00"),
        ("*/15 2-6 * * mon-fri", "2024-06-03 06:45", "2024-06-04 02:00"),
        ("0 0 31 * *", "2024-04-01 00:00", "2024-05-31 00:00"),
        ("@monthly", "2024-01-31 23:59", "2024-02-01 00:00"),
        ("@yearly", "2024-06-01 00:00", "2025-01-01 00:00"),
        ("@weekly", "2024-06-01 00:00", "2024-06-02 00:00"),
        # Both days restricted: the 13th OR any Friday (14 June 2024 is a Friday).
        ("0 0 13 * fri", "2024-06-01 00:00", "2024-06-07 00:00"),
        ("0 0 13 * fri", "2024-06-08 00:00", "2024-06-13 00:00"),
        # A day-of-week field starting with '*' leaves the day-of-month rule alone.
        ("0 0 13 * */1", "2024-06-01 00:00", "2024-06-13 00:00"),
    ],
)
def test_next_after_known_examples(expression: str, after: str, expected: str) -> None:
    assert CronSchedule.parse(expression).next_after(at(after)) == at(expected)


def test_next_after_converts_other_timezones_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    s = CronSchedule.parse("0 3 * * *")
    result = s.next_after(datetime(2024, 1, 1, 4, 30, tzinfo=plus_two))  # 02:30 UTC
    assert result == at("2024-01-01 03:00")
    assert result.tzinfo == UTC


@pytest.mark.parametrize("name", ["next_after", "matches"])
def test_naive_times_are_refused(name: str) -> None:
    s = CronSchedule.parse("* * * * *")
    message = (
        "dt must be a timezone-aware datetime (cron schedules run in UTC). "
        "Got datetime.datetime(2024, 1, 1, 0, 0)."
    )
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        getattr(s, name)(datetime(2024, 1, 1))


def test_is_due_refuses_naive_times() -> None:
    s = CronSchedule.parse("* * * * *")
    with pytest.raises(InvalidInputError, match="^now must be a timezone-aware"):
        s.is_due(None, datetime(2024, 1, 1))
    with pytest.raises(InvalidInputError, match="^last_fired must be a timezone-aware"):
        s.is_due(datetime(2024, 1, 1), at("2024-01-01 00:00"))


def test_next_after_near_the_end_of_time_says_so() -> None:
    s = CronSchedule.parse("@yearly")
    with pytest.raises(InvalidInputError, match="before the year 10000"):
        s.next_after(at("9999-06-01 00:00"))


# --------------------------------------------------------------------------- is_due


def test_is_due_over_a_day() -> None:
    s = CronSchedule.parse("0 3 * * *")
    fired = at("2024-01-01 03:00:05")
    assert not s.is_due(fired, at("2024-01-01 03:00:40"))  # the same minute: once only
    assert not s.is_due(fired, at("2024-01-02 02:59:59"))
    assert s.is_due(fired, at("2024-01-02 03:00"))
    assert s.is_due(fired, at("2024-01-05 12:00"))  # missed days collapse into one firing
    assert not s.is_due(fired, fired)


def test_never_fired_is_due_only_during_a_scheduled_minute() -> None:
    s = CronSchedule.parse("0 3 * * *")
    assert s.is_due(None, at("2024-01-01 03:00:30"))
    assert not s.is_due(None, at("2024-01-01 03:01"))
    assert not s.is_due(None, at("2024-01-01 02:59:59"))


# --------------------------------------------------------------------------- invariants

_FIELD_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


@st.composite
def fields(draw: st.DrawFn, index: int) -> str:
    """One cron field, as text, from items the grammar allows."""
    low, high = _FIELD_RANGES[index]
    values = st.integers(low, high)

    @st.composite
    def item(draw: st.DrawFn) -> str:
        kind = draw(st.sampled_from(["star", "value", "range", "step"]))
        if kind == "star":
            return "*"
        if kind == "value":
            return str(draw(values))
        a, b = sorted((draw(values), draw(values)))
        text = f"{a}-{b}" if kind == "range" else draw(st.sampled_from(["*", f"{a}-{b}", f"{a}"]))
        if kind == "step":
            text += f"/{draw(st.integers(1, high - low + 1))}"
        return text

    return ",".join(draw(st.lists(item(), min_size=1, max_size=3)))


@st.composite
def schedules(draw: st.DrawFn) -> CronSchedule:
    """A cron schedule that can fire (impossible day/month pairs are filtered out)."""
    parts = [draw(fields(i)) for i in range(5)]
    try:
        return CronSchedule.parse(" ".join(parts))
    except ConfigError:
        # Only the "never fires" check may refuse a generated expression.
        parts[2] = "*"
        return CronSchedule.parse(" ".join(parts))


times = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2400, 1, 1), timezones=st.just(UTC)
)


def brute_next(s: CronSchedule, after: datetime, horizon: timedelta) -> datetime | None:
    """The next matching minute found by checking every minute, within ``horizon``."""
    candidate = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while candidate <= after + horizon:
        if s.matches(candidate):
            return candidate
        candidate += timedelta(minutes=1)
    return None


@given(schedules(), times)
def test_next_after_is_later_on_a_whole_minute_and_matches(s: CronSchedule, dt: datetime) -> None:
    n = s.next_after(dt)
    assert n > dt
    assert n.tzinfo == UTC
    assert (n.second, n.microsecond) == (0, 0)
    assert s.matches(n)


@given(schedules(), times, st.floats(0, 1))
def test_next_after_skips_no_scheduled_time(s: CronSchedule, dt: datetime, share: float) -> None:
    n = s.next_after(dt)
    between = dt + (n - dt) * share
    if between < n:
        assert s.next_after(between) == n
    if n - dt <= timedelta(hours=6):
        assert brute_next(s, dt, timedelta(hours=6)) == n


@given(schedules(), times)
def test_matches_agrees_with_the_fields(s: CronSchedule, dt: datetime) -> None:
    weekday = (dt.weekday() + 1) % 7
    day_ok = (
        dt.day in s.days or weekday in s.weekdays
        if s.days_restricted and s.weekdays_restricted
        else dt.day in s.days and weekday in s.weekdays
    )
    expected = dt.minute in s.minutes and dt.hour in s.hours and dt.month in s.months and day_ok
    assert s.matches(dt) == expected


@given(schedules(), times, st.integers(0, 10 * 24 * 60 * 60))
def test_is_due_is_a_scheduled_time_in_the_interval(
    s: CronSchedule, last: datetime, seconds: int
) -> None:
    now = last + timedelta(seconds=seconds)
    n = s.next_after(last)
    assert s.is_due(last, now) == (n <= now)
    assert s.is_due(last, n)
    assert not s.is_due(last, n - timedelta(microseconds=1))
    assert s.is_due(None, now) == s.matches(now)
    # Once fired at a due time, it is not due again in the same minute.
    if s.is_due(last, now):
        assert not s.is_due(now, now.replace(second=59, microsecond=999999))
