"""Cron expressions for the schedule trigger: parse them, find the next time, tell if one is due.

Five fields, as in crontab(5)::

    minute  hour  day-of-month  month  day-of-week
    0-59    0-23  1-31          1-12   0-7 (0 and 7 are Sunday)
                                jan-dec  sun-sat

Each field is ``*``, a number, a range ``a-b``, a step ``*/s``, ``a-b/s`` or ``a/s`` (from
``a`` to the field's end), or a comma-separated list of these; names are case-insensitive
and may appear in ranges (``mon-fri``, ``sat-sun``). ``@yearly`` (``@annually``),
``@monthly``, ``@weekly``, ``@daily`` (``@midnight``) and ``@hourly`` stand for their usual
expressions.

Day of month and day of week follow the classic rule (Vixie cron, cronie): when both are
restricted, a day matches if *either* does; a field that starts with ``*`` (``*``,
``*/2``) counts as unrestricted. Times are minutes in UTC; seconds are ignored.
"""

from __future__ import annotations

import calendar
import difflib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import NoReturn

from ..errors import ConfigError, InvalidInputError

__all__ = ["CronSchedule"]

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int]

    @property
    def allowed(self) -> str:
        text = f"{self.low}-{self.high}"
        if self.names:
            first, last = next(iter(self.names)), list(self.names)[-1]
            text += f" or {first}-{last}"
        return text


_FIELDS = (
    _Field("minute", 0, 59, {}),
    _Field("hour", 0, 23, {}),
    _Field("day-of-month", 1, 31, {}),
    _Field("month", 1, 12, {name: i + 1 for i, name in enumerate(_MONTHS)}),
    _Field("day-of-week", 0, 7, {name: i for i, name in enumerate(_DAYS)}),
)
_FORMAT_HINT = (
    "A cron expression has 5 fields: minute hour day-of-month month day-of-week, "
    "e.g. '*/15 * * * *' (every 15 minutes) or '0 3 * * mon-fri' (03:00 UTC on weekdays); "
    "or one of @hourly, @daily, @weekly, @monthly, @yearly."
)
#: How far ``next_after`` looks: a 29 February on a Monday can be 28 years away.
_HORIZON = timedelta(days=366 * 29)


@dataclass(frozen=True)
class CronSchedule:
    """A parsed cron expression; build it with ``CronSchedule.parse``.

    Args:
        expression: The expression as written.
        minutes: Matching minutes (0-59).
        hours: Matching hours (0-23).
        days: Matching days of the month (1-31).
        months: Matching months (1-12).
        weekdays: Matching days of the week (0-6, Sunday is 0).
        days_restricted: Whether the day-of-month field is restricted (does not start
            with ``*``).
        weekdays_restricted: Whether the day-of-week field is restricted.

    Example:
        >>> from datetime import datetime, timezone
        >>> schedule = CronSchedule.parse("*/15 2-6 * * mon-fri")
        >>> schedule.next_after(datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc))  # a Saturday
        datetime.datetime(2024, 6, 3, 2, 0, tzinfo=datetime.timezone.utc)
        >>> schedule.is_due(
        ...     datetime(2024, 6, 3, 2, 0, tzinfo=timezone.utc),
        ...     datetime(2024, 6, 3, 2, 20, tzinfo=timezone.utc),
        ... )
        True
    """

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_restricted: bool
    weekdays_restricted: bool

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        """Read a cron expression.

        Args:
            expression: Five fields, or a macro such as ``@daily``.

        Returns:
            The schedule.

        Raises:
            ConfigError: The expression has the wrong number of fields, a value outside
                its field's range, an unknown name, a zero step, a backwards range, or
                can never match (``0 0 30 2 *``). The message names the field and what it
                allows; the error carries ``expression``, ``field`` and ``value``.
        """
        if not isinstance(expression, str):
            raise ConfigError(
                f"A cron expression must be a string. Got {expression!r}.",
                hint=_FORMAT_HINT,
                expression=expression,
                field=None,
                value=expression,
            )
        text = expression.strip()
        if text.startswith("@"):
            if text.lower() not in _MACROS:
                close = difflib.get_close_matches(text.lower(), _MACROS, n=1)
                advice = f" Did you mean {close[0]!r}?" if close else ""
                raise ConfigError(
                    f"Unknown cron macro {text!r}.{advice} Allowed: {', '.join(_MACROS)}.",
                    hint=_FORMAT_HINT,
                    expression=expression,
                    field=None,
                    value=text,
                )
            text = _MACROS[text.lower()]
        parts = text.split()
        if len(parts) != len(_FIELDS):
            raise ConfigError(
                f"Cron expression {expression!r} has {len(parts)} field"
                f"{'' if len(parts) == 1 else 's'}; write 5: minute hour day-of-month month "
                "day-of-week.",
                hint=_FORMAT_HINT,
                expression=expression,
                field=None,
                value=expression,
            )
        sets = [
            _parse_field(part, spec, expression) for part, spec in zip(parts, _FIELDS, strict=True)
        ]
        minutes, hours, days, months, weekdays = sets
        weekdays = frozenset(day % 7 for day in weekdays)  # 7 is Sunday too
        schedule = cls(
            expression=expression,
            minutes=minutes,
            hours=hours,
            days=days,
            months=months,
            weekdays=weekdays,
            days_restricted=not parts[2].startswith("*"),
            weekdays_restricted=not parts[4].startswith("*"),
        )
        schedule._check_possible()
        return schedule

    def matches(self, dt: datetime) -> bool:
        """Whether the minute ``dt`` falls in is a scheduled time.

        Args:
            dt: A timezone-aware time (compared in UTC; seconds are ignored).

        Returns:
            Whether it matches every field.

        Raises:
            InvalidInputError: ``dt`` is naive.
        """
        dt = _utc(dt, "dt")
        return (
            dt.minute in self.minutes
            and dt.hour in self.hours
            and dt.month in self.months
            and self._day_matches(dt)
        )

    def next_after(self, dt: datetime) -> datetime:
        """The first scheduled time strictly after ``dt``.

        Args:
            dt: A timezone-aware time.

        Returns:
            A timezone-aware UTC time on a whole minute, later than ``dt``.

        Raises:
            InvalidInputError: ``dt`` is naive, or no scheduled time comes before the
                year 10000.
        """
        start = _utc(dt, "dt").replace(second=0, microsecond=0)
        try:
            candidate = start + timedelta(minutes=1)
            limit = candidate + _HORIZON
            while candidate < limit:
                if candidate.month not in self.months:
                    candidate = _first_of_next_month(candidate)
                elif not self._day_matches(candidate):
                    candidate = candidate.replace(hour=0, minute=0) + timedelta(days=1)
                elif candidate.hour not in self.hours:
                    candidate = candidate.replace(minute=0) + timedelta(hours=1)
                elif candidate.minute not in self.minutes:
                    candidate += timedelta(minutes=1)
                else:
                    return candidate
        except (OverflowError, ValueError):  # past datetime.max
            pass
        # Unreachable for a schedule that passed ``_check_possible`` unless near year 9999.
        raise InvalidInputError(
            f"No time after {dt.isoformat()} matches the cron expression {self.expression!r} "
            "before the year 10000.",
            expression=self.expression,
            value=dt,
        )

    def is_due(self, last_fired: datetime | None, now: datetime) -> bool:
        """Whether the schedule should fire now.

        With ``last_fired``, it is due when a scheduled time lies in ``(last_fired, now]``;
        times missed while the controller was down collapse into one firing. A schedule
        that never fired is due during a scheduled minute (``matches(now)``): it does not
        catch up on times before the controller first saw it. Record the time of firing
        (or the scheduled time) as the next ``last_fired``.

        Args:
            last_fired: When it last fired (timezone-aware), or ``None`` if never.
            now: The current time (timezone-aware).

        Returns:
            Whether to fire.

        Raises:
            InvalidInputError: ``last_fired`` or ``now`` is naive.
        """
        now = _utc(now, "now")
        if last_fired is None:
            return self.matches(now)
        last_fired = _utc(last_fired, "last_fired")
        if last_fired >= now:
            return False
        return self.next_after(last_fired) <= now

    def __str__(self) -> str:
        return self.expression

    def _day_matches(self, dt: datetime) -> bool:
        in_month = dt.day in self.days
        # Python's weekday() has Monday 0; cron has Sunday 0.
        in_week = (dt.weekday() + 1) % 7 in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return in_month or in_week
        return in_month and in_week

    def _check_possible(self) -> None:
        """Refuse day-of-month and month combinations that never happen (30 February)."""
        if self.weekdays_restricted and self.days_restricted:
            return  # any matching weekday will do
        if any(day <= _longest(month) for month in self.months for day in self.days):
            return
        months = ", ".join(_MONTHS[m - 1] for m in sorted(self.months))
        days = ", ".join(str(d) for d in sorted(self.days))
        raise ConfigError(
            f"Cron expression {self.expression!r} never fires: no day {days} exists in {months}.",
            hint=_FORMAT_HINT,
            expression=self.expression,
            field="day-of-month",
            value=sorted(self.days),
        )


def _longest(month: int) -> int:
    """The most days ``month`` can have (29 for February)."""
    return 29 if month == 2 else calendar.monthrange(2001, month)[1]


def _first_of_next_month(dt: datetime) -> datetime:
    year, month = (dt.year + 1, 1) if dt.month == 12 else (dt.year, dt.month + 1)
    return dt.replace(year=year, month=month, day=1, hour=0, minute=0)


def _utc(dt: datetime, name: str) -> datetime:
    if not isinstance(dt, datetime) or dt.tzinfo is None or dt.utcoffset() is None:
        raise InvalidInputError(
            f"{name} must be a timezone-aware datetime (cron schedules run in UTC). Got {dt!r}.",
            hint="Use datetime.now(timezone.utc), or attach a tzinfo.",
            value=dt,
        )
    return dt.astimezone(timezone.utc)


def _parse_field(text: str, spec: _Field, expression: str) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        values.update(_parse_item(item, spec, expression))
    return frozenset(values)


def _parse_item(item: str, spec: _Field, expression: str) -> range:
    """One list item: ``*``, ``a``, ``a-b``, each with an optional ``/step``."""
    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        step = _number(step_text, spec, expression, "step")
        if step < 1:
            _fail(
                spec,
                expression,
                step_text,
                f"Cron field {spec.name!r} has a step of {step_text!r} in {expression!r}; "
                "a step must be 1 or more.",
            )
    if base == "*":
        return range(spec.low, spec.high + 1, step)
    start_text, dash, end_text = base.partition("-")
    start = _value(start_text, spec, expression)
    if dash:
        if "-" in end_text:
            _fail(
                spec,
                expression,
                base,
                f"Cron field {spec.name!r} has {base!r} in {expression!r}; a range is a-b, "
                "and a list is a,b,c.",
            )
        end = _value(end_text, spec, expression)
        if spec.name == "day-of-week" and end == 0 and start > 0:
            end = 7  # 'sat-sun', '5-0': Sunday closes the week
        if end < start:
            _fail(
                spec,
                expression,
                base,
                f"Cron field {spec.name!r} has the range {base!r} in {expression!r}, which "
                "runs backwards; write it from low to high, or as a list.",
            )
    else:
        end = spec.high if slash else start
    return range(start, end + 1, step)


def _value(text: str, spec: _Field, expression: str) -> int:
    lowered = text.strip().lower()
    if lowered in spec.names:
        return spec.names[lowered]
    if spec.names and lowered.isalpha():
        close = difflib.get_close_matches(lowered, spec.names, n=1)
        advice = f" Did you mean {close[0]!r}?" if close else ""
        _fail(
            spec,
            expression,
            text,
            f"Cron field {spec.name!r} allows {spec.allowed}. Got {text!r} in "
            f"{expression!r}.{advice}",
        )
    return _number(text, spec, expression, "value")


def _number(text: str, spec: _Field, expression: str, what: str) -> int:
    if not (text.isascii() and text.isdigit()):
        shown = repr(text) if text else "nothing"
        _fail(
            spec,
            expression,
            text,
            f"Cron field {spec.name!r} allows {spec.allowed}. Got {shown} in {expression!r}.",
        )
    number = int(text)
    if what == "value" and not spec.low <= number <= spec.high:
        _fail(
            spec,
            expression,
            number,
            f"Cron field {spec.name!r} allows {spec.allowed}. Got {number} in {expression!r}.",
        )
    return number


def _fail(spec: _Field, expression: str, value: object, message: str) -> NoReturn:
    raise ConfigError(
        message, hint=_FORMAT_HINT, expression=expression, field=spec.name, value=value
    )
