"""Column roles: how each column of the training data feeds the model.

A column's *kind* (``_statistics.column_kind``) is what its dtype holds; its *role* is what
the model does with it. ``infer_roles`` guesses the roles of a raw table (a CSV read by
pandas holds dates and identifiers as plain text), ``loopline init`` prints them and writes
them into ``[data.columns]`` of ``loopline.toml``, where they can be edited; the ``ingest``
step applies them with ``apply_roles`` before statistics, schema and validation see the data.

==============  ======================================================  ====================
role            inferred when                                            what the model gets
==============  ======================================================  ====================
``numeric``     a numeric dtype (not an identifier)                      imputed, scaled
``boolean``     a bool dtype, or text that is only true/false            one-hot
``categorical`` text (or a category dtype) with few distinct values     one-hot; target
                (at most ``max_categories``, or repeated values)         encoding above
                                                                         ``max_onehot``
``datetime``    a datetime dtype, or text that parses as dates with a    calendar parts +
                year, a month and a day (``2012-01-31``, ``31/01/2012``) elapsed days
``text``        high-cardinality text of several words (4 or more on     TF-IDF of words
                average)
``identifier``  text whose values are mostly unique (at least half the   dropped, with a
                rows and more than ``max_categories``), or integers       warning
                that are unique and consecutive or named like an id
``constant``    a single value (missing values aside)                    dropped, with a
                                                                         warning
==============  ======================================================  ====================

Why identifiers are dropped rather than hashed or target-encoded: a value seen once carries
no signal a model can reuse for an unseen row (car names, user ids, row numbers), and an
encoder fitted on them only memorises training rows. A column with *repeated* high-cardinal
values stays categorical and is target-encoded (scikit-learn's cross-fitted
``TargetEncoder``), which handles unseen values at serving by the prior mean. Declare
``role = "categorical"`` in ``[data.columns]`` to keep an identifier-like column anyway.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, TypeAlias, get_args

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from pandas.tseries.api import guess_datetime_format

from ..errors import ConfigError, InvalidInputError

__all__ = ["ROLES", "ColumnRole", "Role", "apply_roles", "infer_roles"]

Role: TypeAlias = Literal[
    "numeric", "categorical", "boolean", "datetime", "text", "identifier", "constant"
]
#: Every role, in the order the docs list them.
ROLES: tuple[str, ...] = get_args(Role)
#: Roles whose columns are dropped before training (with a warning).
DROPPED_ROLES = ("identifier", "constant")

_SAMPLE = 2000  # values looked at to guess whether text holds dates
_DATE_SHARE = 0.95  # share of the sampled values that must parse as dates
_TEXT_WORDS = 4.0  # average words per value from which high-cardinality text is free text
_ID_NAME = re.compile(r"(^|[_\s.-])(id|key|uuid|guid)$|^unnamed: ?\d+$|^index$|^rownames?$", re.I)
_BOOL_WORDS = frozenset({"true", "false"})


@dataclass(frozen=True)
class ColumnRole:
    """One column's role and why it was chosen.

    Args:
        name: The column.
        role: One of ``ROLES``.
        reason: Why (``"declared in [data.columns]"``, ``"text of dates (%Y-%m-%d)"``...).
        declared: Whether the role came from ``[data.columns]`` rather than inference.
    """

    name: str
    role: Role
    reason: str
    declared: bool = False

    @property
    def is_dropped(self) -> bool:
        """Whether the column is left out of the model (identifier, constant)."""
        return self.role in DROPPED_ROLES

    def to_dict(self) -> dict[str, Any]:
        """The role as a JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnRole:
        """Rebuild a role from ``to_dict`` output."""
        return cls(
            name=str(data["name"]),
            role=data["role"],
            reason=str(data.get("reason", "")),
            declared=bool(data.get("declared", False)),
        )


def infer_roles(
    frame: pd.DataFrame,
    *,
    exclude: Sequence[str] = (),
    declared: Mapping[str, str] | None = None,
    max_categories: int = 50,
) -> list[ColumnRole]:
    """Guess the role of every column of ``frame`` (the rules are in the module docstring).

    Args:
        frame: The raw training table, as read from the source.
        exclude: Columns that get no role (the target, the id and timestamp columns, the
            dropped ones).
        declared: Roles from ``[data.columns]``; they win over inference.
        max_categories: Most distinct values of a text column that is always categorical.

    Returns:
        One ``ColumnRole`` per column not excluded, in the frame's order.

    Raises:
        ConfigError: A declared role is unknown or names a column the frame lacks.
    """
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInputError(
            f"infer_roles needs a pandas DataFrame. Got {type(frame).__name__} instead.",
            value=type(frame).__name__,
        )
    declared = dict(declared or {})
    names = [str(c) for c in frame.columns]
    _check_declared(declared, names, exclude)
    roles = []
    for position, name in enumerate(names):
        if name in exclude:
            continue
        if name in declared:
            role = declared[name]
            roles.append(ColumnRole(name, role, "declared in [data.columns]", True))  # type: ignore[arg-type]
            continue
        role, reason = _infer_one(frame.iloc[:, position], name, max_categories)
        roles.append(ColumnRole(name, role, reason))
    return roles


def apply_roles(frame: pd.DataFrame, roles: Sequence[ColumnRole]) -> pd.DataFrame:
    """The table the model trains on: dropped roles removed, dates parsed, kinds coerced.

    Datetime columns held as text are parsed (with the format guessed from their values,
    read as UTC; text that does not parse becomes missing); numeric columns held as text are
    converted when every value is a number (otherwise they stay text, and validation reports
    the values that are not numbers); categorical and text columns are
    made text (integers without a decimal point), so statistics, schema and serving all see
    the kind the role implies.

    Args:
        frame: The raw table.
        roles: ``infer_roles`` output for it.

    Returns:
        A new frame; columns without a role (the target...) are kept as they are.
    """
    by_name = {r.name: r for r in roles}
    out = frame.drop(columns=[r.name for r in roles if r.is_dropped])
    for name in list(out.columns):
        role = by_name.get(str(name))
        if role is None:
            continue
        column = out[name]
        if role.role == "datetime" and not ptypes.is_datetime64_any_dtype(column.dtype):
            out[name] = parse_dates(column)
        elif role.role == "numeric" and not _is_number_dtype(column.dtype):
            numbers = pd.to_numeric(column, errors="coerce")
            if int(numbers.notna().sum()) == int(column.notna().sum()):
                out[name] = numbers.astype("float64")
            # else: text that is not a number stays, so validation reports it (wrong_type)
        elif role.role in ("categorical", "text") and not _is_text_dtype(column.dtype):
            out[name] = _as_text(column)
        elif role.role == "boolean" and not ptypes.is_bool_dtype(column.dtype):
            out[name] = _as_boolean(column)
    return out


def parse_dates(column: pd.Series) -> pd.Series:
    """Parse a column of date text into UTC datetimes (unparseable text becomes missing)."""
    present = column.dropna()
    if present.empty:
        return pd.Series(pd.NaT, index=column.index, dtype="datetime64[us, UTC]")
    fmt = guess_datetime_format(str(present.iloc[0])) or "mixed"
    return pd.to_datetime(column, errors="coerce", format=fmt, utc=True)


# -- inference of one column ------------------------------------------------------------------


def _infer_one(series: pd.Series, name: str, max_categories: int) -> tuple[Role, str]:
    present = series.dropna()
    dtype = series.dtype
    if _is_number_dtype(dtype):
        # Numbers need no hashing (1M rows x 20 columns at every ingest): min == max is a
        # constant, and only integers are sorted to look for identifiers.
        if present.empty or present.min() == present.max():
            return "constant", _single(present)
        if _is_integer_identifier(present, name):
            return "identifier", f"unique integers ({len(present):,} rows)"
        return "numeric", "numbers"
    distinct = int(present.nunique())
    if distinct <= 1:
        return "constant", _single(present)
    if ptypes.is_bool_dtype(dtype):
        return "boolean", "true/false values"
    if ptypes.is_datetime64_any_dtype(dtype):
        return "datetime", "a datetime column"
    text = present.astype(str)
    if set(text.str.lower().unique()) <= _BOOL_WORDS:
        return "boolean", "true/false text"
    date_format = _date_format(text)
    if date_format is not None:
        return "datetime", f"text of dates ({date_format})"
    if distinct <= max_categories or distinct < len(present) / 2:
        return "categorical", f"{distinct:,} distinct values"
    words = float(text.str.split().str.len().mean())
    if words >= _TEXT_WORDS:
        return "text", f"free text ({words:.1f} words a value, {distinct:,} distinct)"
    return "identifier", f"mostly unique text ({distinct:,} distinct in {len(present):,} rows)"


def _single(present: pd.Series) -> str:
    value = "" if present.empty else f" ({_plain(present.iloc[0])!r})"
    return f"a single value{value}"


def _is_integer_identifier(present: pd.Series, name: str) -> bool:
    """Unique integers that count rows (1, 2, 3 ...) or are named like an id."""
    if not ptypes.is_integer_dtype(present.dtype) or len(present) < 3:
        return False
    steps = np.diff(np.sort(present.to_numpy(dtype=np.int64)))
    if not bool(np.all(steps > 0)):
        return False  # a repeated value: not an identifier
    return bool(_ID_NAME.search(name.strip())) or bool(np.all(steps == 1))


def _date_format(text: pd.Series) -> str | None:
    """The date format most of the values share, if it has a year, a month and a day."""
    sample = text.iloc[:_SAMPLE]
    if pd.to_numeric(sample, errors="coerce").notna().mean() > 0.5:
        return None  # numbers (years, codes) are not dates
    fmt = guess_datetime_format(sample.iloc[0])
    if fmt is None or not _has_full_date(fmt):
        return None
    parsed = pd.to_datetime(sample, errors="coerce", format=fmt, utc=True)
    return fmt if float(parsed.notna().mean()) >= _DATE_SHARE else None


def _has_full_date(fmt: str) -> bool:
    has_year = "%Y" in fmt or "%y" in fmt
    has_month = any(code in fmt for code in ("%m", "%b", "%B"))
    return has_year and has_month and "%d" in fmt


def _check_declared(declared: Mapping[str, str], names: list[str], exclude: Sequence[str]) -> None:
    for name, role in declared.items():
        if role not in ROLES:
            raise ConfigError(
                f"data.columns.{name} = {role!r} is not a role. Roles are: {', '.join(ROLES)}.",
                hint="Fix the role in [data.columns] of loopline.toml.",
                key=f"data.columns.{name}",
                value=role,
            )
        if name not in names and role not in DROPPED_ROLES:
            # A dropped column may be absent (a retraining window of logged requests
            # never has it); any other declared column must be there.
            raise ConfigError(
                f"data.columns names {name!r}, which is not a column of the data.",
                hint="Remove it from [data.columns] or fix its name.",
                key=f"data.columns.{name}",
                value=name,
            )
        if name in exclude:
            raise ConfigError(
                f"data.columns gives a role to {name!r}, which is the target, the id or "
                "timestamp column, or dropped, so it is not a feature.",
                hint="Remove it from [data.columns].",
                key=f"data.columns.{name}",
                value=name,
            )


def _is_number_dtype(dtype: Any) -> bool:
    return bool(ptypes.is_numeric_dtype(dtype) and not ptypes.is_bool_dtype(dtype))


def _is_text_dtype(dtype: Any) -> bool:
    return bool(ptypes.is_string_dtype(dtype) or ptypes.is_object_dtype(dtype))


def _as_text(column: pd.Series) -> pd.Series:
    values = column
    if ptypes.is_float_dtype(column.dtype):
        present = column.dropna()
        if len(present) and bool((present == np.floor(present)).all()):
            values = column.astype("Int64")  # 98101.0 (a NaN made it float) is "98101"
    return values.map(lambda v: None if pd.isna(v) else str(v)).astype(object)


def _as_boolean(column: pd.Series) -> pd.Series:
    words = column.astype(object).map(
        lambda v: None if pd.isna(v) else {"true": True, "false": False}.get(str(v).lower())
    )
    if words.isna().any():
        return words.astype("boolean")
    return words.astype(bool)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
