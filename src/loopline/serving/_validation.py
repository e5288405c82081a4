"""Checking a request's records against the model's schema, and coercing them to it.

``check_frame`` validates a frame of raw request values against the model's ``Schema`` and
coerces it to the schema's kinds and column order, so the model's pipeline gets what it was
trained on: numeric columns become float64, categorical ones object columns of text (numbers
and booleans made text, as training's encoder does), boolean ones ``bool`` (``boolean`` when
values are missing), datetime ones UTC datetimes (text without an offset is read as UTC);
a missing value is ``NaN``/``NA``/``NaT``.

What it reports (``policy`` changes only the two rows that name it):

==============================================  =============================================
found                                           outcome
==============================================  =============================================
no rows                                         error
a required field absent from the request        error (an optional one is added as missing)
a field the schema does not know                error if ``"strict"``, dropped with a warning
                                                if ``"lenient"``
a value of the wrong type                       error naming the record, field and value
null or NaN                                     a missing value: error if not nullable
Infinity or -Infinity                           error (never a missing value)
a number too large to be a finite double        error
text longer than ``max_string_length``          error
a category outside a closed set                 error if ``"strict"``; a warning if
                                                ``"lenient"`` (the encoder ignores unknowns)
a number outside the schema's ``min``/``max``   warning
==============================================  =============================================

Numbers sent as text (``"3.5"``) are accepted in numeric fields, as MLflow's schema casting
does; booleans are ``true``/``false``, ``0``/``1`` or that text; datetimes are ISO 8601 text.
A schema's ``max_missing_rate`` is a property of many requests, left to monitoring.

Every problem is collected (the first ``max_errors`` are listed, all are counted), not only
the first. Checks are vectorised per column (``pd.to_numeric`` and masks); a per-cell pass
runs only over a column whose values mix JSON types (numbers and text, say).
"""

from __future__ import annotations

import datetime
import difflib
import json
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from loopline.components import ColumnSchema, Schema, check_policy, policy_severity
from loopline.errors import InvalidInputError

__all__ = [
    "DEFAULT_MAX_ERRORS",
    "DEFAULT_MAX_STRING_LENGTH",
    "FieldError",
    "PayloadError",
    "Policy",
    "ValidationResult",
    "check_frame",
    "validate_frame",
]

Policy: TypeAlias = Literal["strict", "lenient"]

#: Most errors (and warnings) listed by default; all are counted.
DEFAULT_MAX_ERRORS = 100
#: Longest text value by default, in characters.
DEFAULT_MAX_STRING_LENGTH = 10_000

_VALUE_REPR_LIMIT = 80
# Above this many unknown fields the request is not a typo: no "Did you mean" (difflib costs
# about 0.3 ms a name).
_MAX_SUGGESTIONS = 10
# infer_dtype results of object columns whose values are all numbers (no bools, no text).
_ALL_NUMBERS = frozenset({"floating", "integer", "mixed-integer-float", "decimal", "empty"})
_BOOL_TEXT = {"true": True, "false": False}
_OTHER_DATE_LENGTH = 40


@dataclass(frozen=True)
class FieldError:
    """One problem with a request: where it is, what is wrong, and the value at fault.

    Args:
        row: The record's position in the request (0-based), or ``None`` when the problem
            is not in one record (a missing field, a malformed body).
        field: The field's name, or ``None`` when the problem is not in one field.
        message: The whole message, location included:
            ``"record 17, field 'age': expected a number, got 'abc'"``.
        value: A short JSON-like representation of the value at fault (at most about 80
            characters), or ``None``.
    """

    row: int | None
    field: str | None
    message: str
    value: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the error as a JSON-ready dict (``row``, ``field``, ``message``, ``value``)."""
        return asdict(self)


class PayloadError(InvalidInputError):
    """A request body that cannot be used: malformed, too large, or with invalid values.

    Args:
        message: A summary naming the first problems.
        errors: Every problem listed (at most ``max_errors``), in record order; defaults to
            one error carrying ``message``.
        status: The HTTP status the service should answer with: 413 for a body or batch
            over a size limit, 422 otherwise.
        total: How many problems were found, listed or not (defaults to ``len(errors)``).
        hint: What the client can do about it.
        **data: Further values the error is about (``line`` and ``column`` for bad JSON).
    """

    errors: list[FieldError]
    status: int
    total: int

    def __init__(
        self,
        message: str,
        *,
        errors: Sequence[FieldError] = (),
        status: int = 422,
        total: int | None = None,
        hint: str | None = None,
        **data: Any,
    ) -> None:
        listed = list(errors) or [FieldError(None, None, message)]
        total = len(listed) if total is None else total
        super().__init__(message, hint=hint, errors=listed, status=status, total=total, **data)

    @classmethod
    def from_errors(cls, errors: Sequence[FieldError], total: int | None = None) -> PayloadError:
        """Build the error (status 422) for a list of problems, summarising the first three.

        Args:
            errors: The problems listed, at least one.
            total: How many were found (defaults to ``len(errors)``).

        Returns:
            The error.
        """
        total = len(errors) if total is None else total
        if total == 1:
            message = f"The request is invalid: {errors[0].message}."
        else:
            shown = "; ".join(error.message for error in errors[:3])
            more = f"; and {total - 3:,} more" if total > 3 else ""
            listed = f" (the first {len(errors)} are listed)" if total > len(errors) else ""
            message = f"The request has {total:,} problems{listed}: {shown}{more}."
        hint = "Fix the listed values and send the request again."
        return cls(message, errors=errors, total=total, hint=hint)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready body for the HTTP answer.

        Returns:
            ``{"error": "invalid_payload", "message", "hint", "total_errors", "errors"}``.
        """
        return {
            "error": "invalid_payload",
            "message": self.message,
            "hint": self.hint,
            "total_errors": self.total,
            "errors": [error.to_dict() for error in self.errors],
        }


@dataclass(frozen=True)
class ValidationResult:
    """What ``check_frame`` found, and the frame coerced to the schema.

    Attributes:
        frame: The frame in the schema's column order and kinds, with a ``RangeIndex``;
            values that had errors are missing in it, so use it only when ``ok``.
        errors: The problems that make the request unusable (at most ``max_errors``).
        warnings: Problems that do not (out-of-range numbers; unknown fields and unseen
            categories under the lenient policy), at most ``max_errors``.
        total_errors: How many errors were found, listed or not.
        total_warnings: How many warnings were found, listed or not.
    """

    frame: pd.DataFrame
    errors: list[FieldError] = field(default_factory=list)
    warnings: list[FieldError] = field(default_factory=list)
    total_errors: int = 0
    total_warnings: int = 0

    @property
    def ok(self) -> bool:
        """Whether no error was found."""
        return not self.errors

    def raise_for_errors(self) -> None:
        """Raise ``PayloadError`` (status 422) listing the errors, if there are any.

        Raises:
            PayloadError: If ``errors`` is not empty.
        """
        if self.errors:
            raise PayloadError.from_errors(self.errors, self.total_errors)


def check_frame(
    frame: pd.DataFrame,
    schema: Schema,
    *,
    policy: Policy = "strict",
    max_errors: int = DEFAULT_MAX_ERRORS,
    max_string_length: int = DEFAULT_MAX_STRING_LENGTH,
    extra_fields: Sequence[str] = (),
) -> ValidationResult:
    """Validate ``frame`` against ``schema`` and coerce it to the schema's kinds and order.

    The checks and their outcome under each policy are in this module's docstring.

    Args:
        frame: Raw values, one row per record. Row positions, not index labels, name
            records in messages.
        schema: The model's input schema.
        policy: ``"strict"`` refuses unknown fields and unseen categories; ``"lenient"``
            drops unknown fields and lets unseen categories through, with warnings.
        max_errors: The most errors and warnings listed (each); all are counted.
        max_string_length: The longest text value accepted, in characters.
        extra_fields: Names of further fields the request had that ``frame`` leaves out
            (``body_to_frame`` builds no column for a field the schema does not know, so
            that a body of thousands of unknown names stays cheap); judged as the frame's
            own names are.

    Returns:
        The coerced frame and the errors and warnings, in record order (problems that are
        not in one record first).

    Raises:
        InvalidInputError: If ``frame`` is not a DataFrame or an argument is invalid (a
            programming error, not a bad request).

    Example:
        >>> from loopline.components import ColumnSchema, Schema, check_policy, policy_severity
        >>> schema = Schema([ColumnSchema("age", "numeric", nullable=False)])
        >>> result = check_frame(pd.DataFrame({"age": [31, "abc"]}), schema)
        >>> [error.message for error in result.errors]
        ["record 1, field 'age': expected a number, got 'abc'"]
    """
    _check_arguments(frame, policy, max_errors, max_string_length)
    issues = _Issues(max_errors)
    rows = len(frame)
    names = [str(name) for name in frame.columns]
    _check_names([*names, *map(str, extra_fields)], schema, policy, rows, issues)
    position = {name: i for i, name in enumerate(names)}
    coerced: dict[str, pd.Series] = {}
    for order, spec in enumerate(schema.columns):
        if spec.name not in position:
            if spec.required:
                problem = "required by the model but missing from the request"
                issues.add_one("error", spec.name, order, f"field '{spec.name}': {problem}")
            coerced[spec.name] = _all_missing(spec, rows)
            continue
        raw = frame.iloc[:, position[spec.name]].reset_index(drop=True)
        column = _Column(raw, spec, order, issues, policy, max_string_length)
        coerced[spec.name] = _CHECKERS[spec.kind](column)
    return ValidationResult(
        frame=pd.DataFrame(coerced, index=pd.RangeIndex(rows)),
        errors=issues.listed("error"),
        warnings=issues.listed("warning"),
        total_errors=issues.total["error"],
        total_warnings=issues.total["warning"],
    )


def validate_frame(
    frame: pd.DataFrame,
    schema: Schema,
    *,
    policy: Policy = "strict",
    max_errors: int = DEFAULT_MAX_ERRORS,
    max_string_length: int = DEFAULT_MAX_STRING_LENGTH,
) -> list[FieldError]:
    """Return the errors ``check_frame`` finds in ``frame`` (an empty list if it is valid).

    Args:
        frame: Raw values, one row per record.
        schema: The model's input schema.
        policy: ``"strict"`` or ``"lenient"`` (see ``check_frame``).
        max_errors: The most errors listed.
        max_string_length: The longest text value accepted, in characters.

    Returns:
        The errors, in record order.

    Raises:
        InvalidInputError: If ``frame`` is not a DataFrame or an argument is invalid.
    """
    return check_frame(
        frame,
        schema,
        policy=policy,
        max_errors=max_errors,
        max_string_length=max_string_length,
    ).errors


def _check_arguments(frame: object, policy: object, max_errors: object, longest: object) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInputError(
            f"check_frame needs a pandas DataFrame. Got {type(frame).__name__} instead.",
            value=type(frame).__name__,
        )
    check_policy(policy)
    for name, value in (("max_errors", max_errors), ("max_string_length", longest)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidInputError(
                f"The '{name}' argument must be an int >= 1. Got {value!r} instead.",
                value=value,
            )


def _check_names(
    names: list[str], schema: Schema, policy: Policy, rows: int, issues: _Issues
) -> None:
    """No rows, repeated fields and unknown fields: the problems not in one value.

    Linear in the number of names, and only the listed problems get a message (and a
    ``difflib`` suggestion): a request naming 50,000 unknown fields costs no more than
    reading it (issue 10).
    """
    if rows == 0:
        issues.add_one("error", None, -1, "The request has no records; send at least one")
    counts = Counter(names)
    repeated = sorted(name for name, count in counts.items() if count > 1)
    issues.add_each("error", repeated, lambda name: f"field {_name(name)}: given more than once")
    expected = schema.names
    known = set(expected)
    unknown = [name for name in counts if name not in known]
    fields = f"The model's fields are: {shorten_list(expected, 20) or '(none)'}"

    def message(name: str) -> str:
        suggest = len(unknown) <= _MAX_SUGGESTIONS and len(name) <= _VALUE_REPR_LIMIT
        close = difflib.get_close_matches(name, expected, n=1) if suggest else []
        advice = f" Did you mean '{close[0]}'?" if close else ""
        if severity == "error":
            return f"field {_name(name)}: not an input of the model.{advice} {fields}"
        return f"field {_name(name)}: ignored, not an input of the model.{advice}"

    severity = policy_severity("unknown_column", policy)
    issues.add_each(severity, unknown, message)


def _name(name: str) -> str:
    """A field name quoted for a message, shortened if it is long."""
    return f"'{name}'" if len(name) <= _VALUE_REPR_LIMIT else f"'{name[:_VALUE_REPR_LIMIT]}...'"


# -- collecting problems ----------------------------------------------------------------------

_Severity: TypeAlias = Literal["error", "warning"]


class _Issues:
    """Errors and warnings, each list capped at ``cap`` (in record order) but all counted."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.total: dict[_Severity, int] = {"error": 0, "warning": 0}
        # (row, or -1 for problems not in one record; schema position; the error)
        self.found: dict[_Severity, list[tuple[int, int, FieldError]]] = {
            "error": [],
            "warning": [],
        }

    def add_one(self, severity: _Severity, name: str | None, order: int, message: str) -> None:
        self.total[severity] += 1
        self.found[severity].append((-1, order, FieldError(None, name, message)))

    def add_each(
        self, severity: _Severity, names: list[str], describe: Callable[[str], str]
    ) -> None:
        """One problem per name (not in one record); only the first ``cap`` are worded."""
        self.total[severity] += len(names)
        for name in names[: self.cap]:
            field_name = name if len(name) <= _VALUE_REPR_LIMIT else _name(name)[1:-1]
            self.found[severity].append((-1, -1, FieldError(None, field_name, describe(name))))

    def add(
        self,
        severity: _Severity,
        mask: np.ndarray,
        column: _Column,
        describe: Callable[[Any], str],
    ) -> None:
        """One problem per ``True`` in ``mask``; only the first ``cap`` messages are built."""
        count = int(np.count_nonzero(mask))
        if not count:
            return
        self.total[severity] += count
        for row in np.flatnonzero(mask)[: self.cap].tolist():
            value = column.raw.iat[row]
            error = field_error(row, column.spec.name, describe(value), value)
            self.found[severity].append((row, column.order, error))

    def listed(self, severity: _Severity) -> list[FieldError]:
        ordered = sorted(self.found[severity], key=lambda item: (item[0], item[1]))
        return [error for _, _, error in ordered[: self.cap]]


@dataclass
class _Column:
    """One column being checked: its raw values, its schema, and where problems go."""

    raw: pd.Series
    spec: ColumnSchema
    order: int
    issues: _Issues
    policy: Policy
    max_string_length: int

    def error(self, mask: np.ndarray, describe: Callable[[Any], str]) -> None:
        self.issues.add("error", mask, self, describe)

    def warning(self, mask: np.ndarray, describe: Callable[[Any], str]) -> None:
        self.issues.add("warning", mask, self, describe)

    def require_values(self, missing: np.ndarray) -> None:
        """Missing values are errors where the field is not nullable."""
        if not self.spec.nullable:
            self.error(missing, lambda v: "a value is required (the field is not nullable)")

    def check_length(self, text: pd.Series) -> np.ndarray:
        """Report text longer than the limit; return where it is."""
        lengths = text.str.len().to_numpy(dtype=np.float64, na_value=np.nan)
        too_long = np.asarray(lengths > self.max_string_length, dtype=bool)
        limit = self.max_string_length
        self.error(
            too_long, lambda v: f"text of {len(str(v)):,} characters is over the {limit:,} limit"
        )
        return too_long


# -- one checker per kind ---------------------------------------------------------------------


def _check_numeric(column: _Column) -> pd.Series:
    """Numbers (or numbers as text) to float64; NaN and null are missing values."""
    raw, spec = column.raw, column.spec
    rows = len(raw)
    text_cells = np.zeros(rows, dtype=bool)
    if ptypes.is_bool_dtype(raw.dtype):
        missing = raw.isna().to_numpy(dtype=bool)
        numbers = np.full(rows, np.nan)
        wrong = ~missing
    elif ptypes.is_numeric_dtype(raw.dtype) and not ptypes.is_complex_dtype(raw.dtype):
        numbers = raw.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(numbers)
        wrong = np.zeros(rows, dtype=bool)
    else:
        missing = raw.isna().to_numpy(dtype=bool)
        numbers = _to_float(raw)
        wrong = ~missing & np.isnan(numbers)
        inferred = ptypes.infer_dtype(raw, skipna=True)
        if inferred == "string":
            text_cells = ~missing
        elif inferred not in _ALL_NUMBERS:
            cells = raw.to_numpy(dtype=object)
            wrong |= _cell_mask(cells, lambda v: isinstance(v, bool | np.bool_))
            text_cells = _cell_mask(cells, lambda v: isinstance(v, str))
    infinite = np.isinf(numbers) & ~wrong
    # Text that overflows (1e400, or an integer of 400 digits: parse_json_body keeps such
    # literals as text) is too large; the literal Infinity, or text naming it, is infinite.
    too_large = infinite & text_cells
    if too_large.any():
        too_large &= ~_cell_mask(raw.to_numpy(dtype=object), _names_infinity)
    infinite &= ~too_large
    or_null = ", or null for a missing value" if spec.nullable else ""
    column.error(wrong, lambda v: f"expected a number, got {short(v)}")
    column.error(
        infinite, lambda v: f"{short(_as_float(v))} is not allowed; send a finite number{or_null}"
    )
    column.error(
        too_large,
        lambda v: (
            f"the number {_number_text(v)} is too large to be a finite double (the "
            "largest is about 1.8e308)"
        ),
    )
    column.require_values(missing)
    valid = ~(missing | wrong | infinite | too_large)
    if spec.min is not None:
        low = spec.min
        below = valid & (numbers < low)
        column.warning(
            below,
            lambda v: f"{_number_text(v)} is below the smallest value seen in training ({low})",
        )
    if spec.max is not None:
        high = spec.max
        above = valid & (numbers > high)
        column.warning(
            above,
            lambda v: f"{_number_text(v)} is above the largest value seen in training ({high})",
        )
    return pd.Series(np.where(valid, numbers, np.nan), dtype=np.float64)


def _check_categorical(column: _Column) -> pd.Series:
    """Text (numbers and booleans are made text, as training's encoder does) to objects."""
    raw, spec = column.raw, column.spec
    rows = len(raw)
    cells = raw.to_numpy(dtype=object)
    missing = np.asarray(pd.isna(cells), dtype=bool)
    wrong = np.zeros(rows, dtype=bool)
    if ptypes.infer_dtype(raw, skipna=True) in ("string", "empty"):
        text = cells.copy()
    else:
        text = np.empty(rows, dtype=object)
        for i in np.flatnonzero(~missing).tolist():
            value = cells[i]
            if isinstance(value, str):
                text[i] = value
            elif isinstance(value, bool | int | float | np.number | np.bool_):
                text[i] = str(value)
            else:
                wrong[i] = True
    text[missing | wrong] = np.nan
    series = pd.Series(text, dtype=object)
    column.error(wrong, lambda v: f"expected text, got {json_type(v)} {short(v)}")
    too_long = column.check_length(series)
    column.require_values(missing)
    if spec.categories is not None:
        known = series.isin(spec.categories).to_numpy(dtype=bool)
        unseen = ~(missing | wrong | too_long | known)
        if policy_severity("unseen_category", column.policy) == "error":
            allowed = shorten_list(sorted(spec.categories))
            column.error(
                unseen,
                lambda v: f"{short(str(v))} is not one of the model's categories ({allowed})",
            )
        else:
            column.warning(
                unseen,
                lambda v: (
                    f"{short(str(v))} is not one of the model's categories (treated as unknown)"
                ),
            )
    series[too_long] = np.nan
    return series


def _check_boolean(column: _Column) -> pd.Series:
    """true/false, 0/1 or that text to ``bool`` (``boolean`` when values are missing)."""
    raw = column.raw
    rows = len(raw)
    wrong = np.zeros(rows, dtype=bool)
    if ptypes.is_bool_dtype(raw.dtype):
        missing = raw.isna().to_numpy(dtype=bool)
        flags = raw.to_numpy(dtype=bool, na_value=False)
    else:
        cells = raw.to_numpy(dtype=object)
        missing = np.asarray(pd.isna(cells), dtype=bool)
        flags = np.zeros(rows, dtype=bool)
        for i in np.flatnonzero(~missing).tolist():
            flag = _as_bool(cells[i])
            wrong[i] = flag is None
            flags[i] = bool(flag)
    column.error(wrong, lambda v: f"expected true or false, got {short(v)}")
    column.require_values(missing)
    absent = missing | wrong
    if absent.any():
        return pd.Series(pd.arrays.BooleanArray(flags, absent))
    return pd.Series(flags, dtype=bool)


def _check_datetime(column: _Column) -> pd.Series:
    """ISO 8601 text (or datetimes) to UTC datetimes."""
    raw = column.raw
    rows = len(raw)
    if ptypes.is_datetime64_any_dtype(raw.dtype):
        stamps = pd.to_datetime(raw, utc=True)
        missing = stamps.isna().to_numpy(dtype=bool)
        wrong = np.zeros(rows, dtype=bool)
    else:
        cells = raw.to_numpy(dtype=object)
        missing = np.asarray(pd.isna(cells), dtype=bool)
        if ptypes.infer_dtype(raw, skipna=True) in ("string", "empty"):
            is_text, is_stamp = ~missing, np.zeros(rows, dtype=bool)
        else:
            is_text = _cell_mask(cells, lambda v: isinstance(v, str))
            is_stamp = ~missing & _cell_mask(
                cells, lambda v: isinstance(v, datetime.date | np.datetime64)
            )
        too_long = column.check_length(pd.Series(np.where(is_text, cells, None), dtype=object))
        candidates = np.where((is_text & ~too_long) | is_stamp, cells, None)
        stamps = pd.to_datetime(
            pd.Series(candidates, dtype=object), format="ISO8601", utc=True, errors="coerce"
        )
        retry = is_text & ~too_long & stamps.isna().to_numpy(dtype=bool)
        if retry.any():
            stamps = _other_date_text(stamps, cells, retry)
        wrong = ~missing & ~too_long & stamps.isna().to_numpy(dtype=bool)
    column.error(
        wrong,
        lambda v: (
            "expected a date and time as ISO 8601 text (such as "
            f"'2024-05-01T12:30:00Z'), got {short(v)}"
        ),
    )
    column.require_values(missing)
    return stamps


def _other_date_text(stamps: pd.Series, cells: np.ndarray, retry: np.ndarray) -> pd.Series:
    """Short non-ISO date text (``2012/01/31``, ``Jan 31 2012``), as a CSV held it in training.

    Training parses a date column's text with the format its values share (``_roles.py``);
    a request or a batch file may carry the same text, so it is read each value by itself
    (month first when ambiguous). Only text of at most ``_OTHER_DATE_LENGTH`` characters is
    tried: parsing free-form text costs far more than ISO 8601.
    """
    short_text = retry & _cell_mask(
        cells, lambda v: isinstance(v, str) and len(v) <= _OTHER_DATE_LENGTH
    )
    if not short_text.any():
        return stamps
    positions = np.flatnonzero(short_text)
    parsed = pd.to_datetime(
        pd.Series(cells[positions], dtype=object), format="mixed", utc=True, errors="coerce"
    )
    out = stamps.copy()
    out.iloc[positions] = parsed.to_numpy()
    return out


_CHECKERS: dict[str, Callable[[_Column], pd.Series]] = {
    "numeric": _check_numeric,
    "categorical": _check_categorical,
    "boolean": _check_boolean,
    "datetime": _check_datetime,
}


def _all_missing(spec: ColumnSchema, rows: int) -> pd.Series:
    """The column of an optional field the request left out."""
    index = pd.RangeIndex(rows)
    if spec.kind == "numeric":
        return pd.Series(np.nan, index=index, dtype=np.float64)
    if spec.kind == "boolean":
        return pd.Series(pd.NA, index=index, dtype="boolean")
    if spec.kind == "datetime":
        return pd.Series(pd.NaT, index=index, dtype="datetime64[us, UTC]")
    return pd.Series(np.nan, index=index, dtype=object)


# -- cells ------------------------------------------------------------------------------------


def _to_float(raw: pd.Series) -> np.ndarray:
    """``raw`` as float64, NaN where a value is not a number (vectorised when possible)."""
    try:
        converted = pd.to_numeric(raw, errors="coerce")
        return np.asarray(converted.to_numpy(dtype=np.float64, na_value=np.nan))
    except (TypeError, ValueError, OverflowError):
        # Containers, or integers beyond float range, defeat pandas: convert cell by cell.
        values = raw.tolist()
        return np.fromiter((_cell_float(v) for v in values), dtype=np.float64, count=len(values))


def _cell_float(value: Any) -> float:
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | str | np.number):
        return math.nan
    try:
        return float(value)
    except OverflowError:  # an int beyond float range
        return math.inf
    except ValueError:
        return math.nan


def _cell_mask(cells: np.ndarray, test: Callable[[Any], bool]) -> np.ndarray:
    return np.fromiter((bool(test(value)) for value in cells), dtype=bool, count=len(cells))


def _names_infinity(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lstrip("+-").lower() in ("inf", "infinity")


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float | np.number) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        return _BOOL_TEXT.get(value.strip().lower())
    return None


def _as_float(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return value


def _number_text(value: Any) -> str:
    """A number as the client wrote it: text without quotes (shortened), else ``short``."""
    if isinstance(value, str):
        text = value.strip()
        return text if len(text) <= _VALUE_REPR_LIMIT else f"{text[:_VALUE_REPR_LIMIT]}..."
    return short(value)


# -- messages (shared with _payload) ----------------------------------------------------------


def field_error(row: int | None, name: str | None, problem: str, value: Any) -> FieldError:
    """A ``FieldError`` whose message starts with where it is: ``record 3, field 'x': ...``."""
    where = ", ".join(
        part
        for part in (
            f"record {row}" if row is not None else "",
            f"field '{name}'" if name is not None else "",
        )
        if part
    )
    return FieldError(row, name, f"{where}: {problem}" if where else problem, short(value))


def short(value: Any, limit: int = _VALUE_REPR_LIMIT) -> str:
    """A JSON-like representation of ``value`` of at most about ``limit`` characters."""
    if value is None or value is pd.NA or value is pd.NaT:
        return "null"
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isnan(number):
            return "NaN"
        if math.isinf(number):
            return "Infinity" if number > 0 else "-Infinity"
        return repr(number)
    if isinstance(value, str):
        return repr(value) if len(value) <= limit else f"{value[:limit]!r}..."
    if isinstance(value, int | np.integer):
        text = str(int(value))
    else:
        try:
            text = json.dumps(value, default=str)
        except (TypeError, ValueError, RecursionError):
            text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}..."


def json_type(value: Any) -> str:
    """``value``'s JSON type with its article, for messages (``"a number"``)."""
    if value is None:
        return "null"
    if isinstance(value, bool | np.bool_):
        return "a boolean"
    if isinstance(value, int | float | np.number):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def shorten_list(names: Sequence[str], limit: int = 10) -> str:
    """``'a', 'b' and 3 more``."""
    shown = ", ".join(f"'{name}'" for name in list(names)[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
