"""The expected shape of the data: the SchemaGen of the loop.

``infer_schema`` turns the statistics of a reference span into a ``Schema``; users can pin
one by editing its JSON and loading it back with ``Schema.from_json``, which names the file
and the key of every mistake.

The domain policy of inference:

- every observed column is ``required`` (it must be present);
- a column is ``nullable`` only if the reference span had missing values, and then its
  ``max_missing_rate`` is the observed rate plus ``missing_tolerance``;
- a categorical column with at most ``max_categories`` distinct values gets a closed
  category set (any other value is an error); above that it stays open (``None``);
- a numeric column's range is the observed one widened on each side by
  ``range_tolerance`` times its width (times ``|value|`` for a constant column), but never
  across zero: a column never seen negative keeps 0 as its lower bound (and one never seen
  positive keeps 0 as its upper bound). Values outside the range are warnings. Datetimes
  get no range: new spans are expected to move forward.
"""

from __future__ import annotations

import difflib
import json
import math
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

from loopline.components._statistics import (
    KINDS,
    Kind,
    check_int_argument,
    check_statistics,
)
from loopline.errors import ConfigError, InvalidInputError

__all__ = ["ColumnSchema", "Schema", "infer_schema"]


@dataclass
class ColumnSchema:
    """What one column must look like.

    Args:
        name: The column's name.
        kind: ``"numeric"``, ``"categorical"``, ``"boolean"`` or ``"datetime"``.
        required: Whether the column must be present.
        nullable: Whether missing values are allowed at all.
        max_missing_rate: Largest allowed fraction of missing values (0 to 1), checked when
            ``nullable``.
        categories: The allowed values of a categorical column, as strings; ``None`` allows
            any value.
        min: Smallest expected value of a numeric column (``None``: unbounded).
        max: Largest expected value of a numeric column (``None``: unbounded).

    Raises:
        ConfigError: If a value is of the wrong type or out of range.
    """

    name: str
    kind: Kind
    required: bool = True
    nullable: bool = True
    max_missing_rate: float = 1.0
    categories: list[str] | None = None
    min: float | None = None
    max: float | None = None

    def __post_init__(self) -> None:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        _check_column(values, f"ColumnSchema({self.name!r})", "")

    def to_dict(self) -> dict[str, Any]:
        """Return the column as a JSON-ready dict (every field, ``None`` included)."""
        return {f.name: _copy(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: object, *, source: str | None = None, key: str = "") -> ColumnSchema:
        """Build a column from ``to_dict`` output, checking every key and type.

        Args:
            data: The dict; ``name`` and ``kind`` are required, other keys default.
            source: The file the data came from, named in errors (``None``: a dict).
            key: Where in the source the dict sits (``"columns[2]"``), named in errors.

        Returns:
            The column.

        Raises:
            ConfigError: On a missing or unknown key, a wrong type or a bad value.
        """
        where = _where(source)
        values = _check_keys(data, where, key, allowed=[f.name for f in fields(cls)])
        for required in ("name", "kind"):
            if required not in values:
                raise _config_error(where, _join(key, required), "is required but missing")
        _check_column(values, where, key)
        return cls(**values)


@dataclass
class Schema:
    """The expected columns of a dataset, in order.

    Args:
        columns: One ``ColumnSchema`` per expected column, with unique names.

    Raises:
        ConfigError: If two columns share a name.

    Example:
        >>> schema = Schema([ColumnSchema("age", "numeric", min=0, max=120)])
        >>> Schema.from_dict(schema.to_dict()) == schema
        True
    """

    FORMAT: ClassVar[int] = 1

    columns: list[ColumnSchema] = field(default_factory=list)

    def __post_init__(self) -> None:
        _check_unique([c.name for c in self.columns], "Schema", "columns")

    @property
    def names(self) -> list[str]:
        """The column names, in order."""
        return [column.name for column in self.columns]

    def column(self, name: str) -> ColumnSchema:
        """Return the column named ``name``.

        Raises:
            KeyError: If the schema has no such column.
        """
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """Return the schema as a JSON-ready dict."""
        return {"format": self.FORMAT, "columns": [column.to_dict() for column in self.columns]}

    @classmethod
    def from_dict(cls, data: object, *, source: str | None = None) -> Schema:
        """Build a schema from ``to_dict`` output, checking every key and type.

        Args:
            data: ``{"format": 1, "columns": [...]}``.
            source: The file the data came from, named in errors (``None``: a dict).

        Returns:
            The schema.

        Raises:
            ConfigError: On an unknown or missing key, a wrong type, a bad value or a
                duplicate column name; the message names ``source`` and the key.
        """
        where = _where(source)
        values = _check_keys(data, where, "", allowed=["format", "columns"])
        if values.get("format", cls.FORMAT) != cls.FORMAT:
            raise _config_error(where, "format", f"must be {cls.FORMAT}; got {values['format']!r}")
        columns = values.get("columns", [])
        if not isinstance(columns, list):
            raise _config_error(where, "columns", f"must be a list; got {_describe(columns)}")
        parsed = [
            ColumnSchema.from_dict(item, source=source, key=f"columns[{i}]")
            for i, item in enumerate(columns)
        ]
        _check_unique([c.name for c in parsed], where, "columns")
        return cls(parsed)

    def to_json(self, path: str | os.PathLike[str]) -> None:
        """Write the schema as indented JSON to ``path`` (for review or pinning)."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> Schema:
        """Load a schema written by ``to_json`` or by hand.

        Args:
            path: The JSON file.

        Returns:
            The schema.

        Raises:
            ConfigError: If the file is missing, is not JSON, or holds an unknown key, a
                wrong type or a bad value; the message names the file and the key.
        """
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise ConfigError(
                f"Schema file '{source}' does not exist.",
                hint="Check the path, or write one with Schema.to_json(path).",
                path=source,
            ) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"Schema file '{source}' cannot be read: {exc}.", path=source
            ) from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"Schema file '{source}' is not valid JSON: {exc.msg} at line {exc.lineno}, "
                f"column {exc.colno}.",
                path=source,
            ) from exc
        try:
            return cls.from_dict(data, source=source)
        except ConfigError as exc:
            exc.data["path"] = source  # the errors' convention: data also as attributes
            setattr(exc, "path", source)  # noqa: B010
            raise


def infer_schema(
    statistics: dict[str, Any],
    *,
    max_categories: int = 50,
    range_tolerance: float = 0.1,
    missing_tolerance: float = 0.1,
) -> Schema:
    """Infer a schema from the statistics of a reference span.

    The domain policy is in this module's docstring.

    Args:
        statistics: A ``compute_statistics`` result.
        max_categories: Largest number of distinct values a categorical column may have to
            get a closed category set. Closing needs every value, so the statistics must
            list them (``"categories"``, or a ``"top"`` list that covers all of them).
        range_tolerance: How far to widen a numeric range, as a fraction of its width.
        missing_tolerance: How much the missing rate of a nullable column may grow.

    Returns:
        The schema, with columns in the statistics' order.

    Raises:
        InvalidInputError: If ``statistics`` is not a statistics dict, or an argument is
            out of range.

    Example:
        >>> import pandas as pd
        >>> from loopline.components._statistics import compute_statistics
        >>> stats = compute_statistics(pd.DataFrame({"x": [0.0, 10.0], "c": ["a", "b"]}))
        >>> schema = infer_schema(stats)
        >>> schema.column("x").min, schema.column("x").max, schema.column("c").categories
        (0.0, 11.0, ['a', 'b'])
    """
    check_statistics(statistics, "The 'statistics' argument of infer_schema")
    check_int_argument("infer_schema", "max_categories", max_categories, minimum=0)
    for name, value in (
        ("range_tolerance", range_tolerance),
        ("missing_tolerance", missing_tolerance),
    ):
        if not _is_number(value) or not 0 <= value < math.inf:
            raise InvalidInputError(
                f"The '{name}' argument of infer_schema must be a finite float >= 0. "
                f"Got {value!r} instead.",
                value=value,
            )
    return Schema(
        [
            _infer_column(str(name), entry, max_categories, range_tolerance, missing_tolerance)
            for name, entry in statistics["columns"].items()
        ]
    )


def _infer_column(
    name: str,
    entry: dict[str, Any],
    max_categories: int,
    range_tolerance: float,
    missing_tolerance: float,
) -> ColumnSchema:
    """The inferred schema of one column from its statistics entry."""
    missing = int(entry.get("missing", 0))
    nullable = missing > 0 or int(entry.get("count", 0)) == 0
    rate = float(entry.get("missing_rate", 1.0 if nullable else 0.0))
    low, high = None, None
    if entry["kind"] == "numeric":
        low, high = _widened_range(entry.get("min"), entry.get("max"), range_tolerance)
    return ColumnSchema(
        name=name,
        kind=entry["kind"],
        required=True,
        nullable=nullable,
        max_missing_rate=min(1.0, rate + missing_tolerance) if nullable else 0.0,
        categories=_closed_categories(entry, max_categories),
        min=low,
        max=high,
    )


def _widened_range(
    low: float | None, high: float | None, tolerance: float
) -> tuple[float | None, float | None]:
    """The observed range widened by ``tolerance`` on each side (``None`` when unknown)."""
    if low is None or high is None:
        return None, None
    pad = tolerance * (high - low) if high > low else tolerance * abs(low)
    # Widening keeps the sign: a column never seen below zero (prices, counts) is not
    # expected to go negative, nor one never seen above zero to go positive.
    widened_low = max(low - pad, 0.0) if low >= 0 else low - pad
    widened_high = min(high + pad, 0.0) if high <= 0 else high + pad
    return (
        widened_low if math.isfinite(widened_low) else None,
        widened_high if math.isfinite(widened_high) else None,
    )


def _closed_categories(entry: dict[str, Any], max_categories: int) -> list[str] | None:
    """Every value of a categorical column, if they are few enough and all known."""
    if entry["kind"] != "categorical" or entry.get("count", 0) == 0:
        return None
    if entry.get("distinct", math.inf) > max_categories:
        return None
    if entry.get("categories") is not None:
        return sorted(str(value) for value in entry["categories"])
    top = entry.get("top", [])
    if entry.get("other_count", 1) == 0 and len(top) == entry.get("distinct"):
        return sorted(str(item["value"]) for item in top)
    return None


# -- checking user-written schemas --------------------------------------------------------

_TYPES: dict[str, tuple[str, Any]] = {
    # key: (description for messages, predicate)
    "name": ("a string", lambda v: isinstance(v, str) and v != ""),
    "kind": ("a string", lambda v: isinstance(v, str)),
    "required": ("true or false", lambda v: isinstance(v, bool)),
    "nullable": ("true or false", lambda v: isinstance(v, bool)),
    "max_missing_rate": ("a number", lambda v: _is_number(v)),
    "categories": (
        "null or a list of strings",
        lambda v: v is None or (isinstance(v, list) and all(isinstance(x, str) for x in v)),
    ),
    "min": ("null or a number", lambda v: v is None or _is_number(v)),
    "max": ("null or a number", lambda v: v is None or _is_number(v)),
}


def _check_column(values: dict[str, Any], where: str, key: str) -> None:
    """Raise ``ConfigError`` on the first wrong type or bad value in a column's fields."""
    for name, value in values.items():
        description, is_valid = _TYPES[name]
        if not is_valid(value):
            raise _config_error(
                where, _join(key, name), f"must be {description}; got {_describe(value)}"
            )
    if values["kind"] not in KINDS:
        allowed = ", ".join(repr(k) for k in KINDS)
        raise _config_error(
            where, _join(key, "kind"), f"must be one of {allowed}; got {values['kind']!r}"
        )
    rate = values.get("max_missing_rate", 1.0)
    if not 0.0 <= rate <= 1.0:
        raise _config_error(
            where, _join(key, "max_missing_rate"), f"must be between 0 and 1; got {rate!r}"
        )
    low, high = values.get("min"), values.get("max")
    for bound, value in (("min", low), ("max", high)):
        if value is not None and not math.isfinite(value):
            raise _config_error(
                where, _join(key, bound), f"must be a finite number or null; got {value!r}"
            )
    if low is not None and high is not None and low > high:
        raise _config_error(
            where, _join(key, "min"), f"must not be greater than max ({high!r}); got {low!r}"
        )
    if values.get("categories") is not None:
        _check_unique(values["categories"], where, _join(key, "categories"))


def _check_keys(data: object, where: str, key: str, *, allowed: list[str]) -> dict[str, Any]:
    """Return ``data`` if it is a dict with only ``allowed`` keys, else raise ``ConfigError``."""
    if not isinstance(data, dict):
        problem = f"must be an object; got {_describe(data)}"
        raise _config_error(where, key or "(top level)", problem)
    for name in data:
        if name not in allowed:
            close = difflib.get_close_matches(str(name), allowed, n=1)
            advice = f" Did you mean '{close[0]}'?" if close else ""
            raise ConfigError(
                f"{where}: unknown key '{_join(key, str(name))}'. Allowed keys are: "
                f"{', '.join(sorted(allowed))}.{advice}",
                hint="Remove or rename the key.",
                key=_join(key, str(name)),
            )
    return dict(data)


def _check_unique(names: list[str], where: str, key: str) -> None:
    """Raise ``ConfigError`` if ``names`` repeats a value."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise _config_error(where, key, f"must not repeat a value; '{name}' appears twice")
        seen.add(name)


def _config_error(where: str, key: str, problem: str) -> ConfigError:
    """A ``ConfigError`` saying that ``key`` (in the place ``where`` names) ``problem``."""
    return ConfigError(
        f"{where}: key '{key}' {problem}.",
        hint="Fix the value, or regenerate the schema with infer_schema.",
        key=key,
    )


def _where(source: str | None) -> str:
    """Name the place a schema came from, for messages: a file, or a dict."""
    return f"Schema file '{source}'" if source is not None else "Schema dict"


def _join(prefix: str, name: str) -> str:
    """``columns[2]`` + ``kind`` -> ``columns[2].kind``."""
    return f"{prefix}.{name}" if prefix else name


def _describe(value: object) -> str:
    """``value``'s JSON-ish type and value, for messages."""
    return f"{type(value).__name__} {value!r}"


def _is_number(value: object) -> bool:
    """Whether ``value`` is an int or float (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _copy(value: Any) -> Any:
    """A shallow copy of lists, so a dict does not share state with the schema."""
    return list(value) if isinstance(value, list) else value
