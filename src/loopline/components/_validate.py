"""Checking a span against its schema and the previous span: the ExampleValidator of the loop.

``validate`` reports every anomaly it finds, each with a message a user can act on:

=====================  ========  =====================================================
kind                   severity  found when
=====================  ========  =====================================================
``no_rows``            error     the DataFrame has no rows
``missing_column``     error     a required column is absent
``extra_column``       warning   a column is not in the schema
``wrong_type``         error     values do not fit the column's kind (text in a numeric
                                 column); a warning when they all convert (numbers
                                 stored as text) or for a categorical column of another
                                 dtype, whose values are then compared as text
``unexpected_missing`` error     a column that is not nullable has missing values
``missing_rate``       warning   the missing rate is above the schema's maximum
``missing_rate_jump``  warning   the missing rate grew by more than ``missing_jump``
                                 since the previous span
``unseen_category``    error     a value is outside a closed category set; a warning
                                 under the lenient ``policy`` (``_policy.py``: the same
                                 table serving and ``loopline predict`` read)
``out_of_range``       warning   a numeric value is outside the schema's range
``drift``              warning   the distribution moved since the previous span: PSI on
                                 the previous histogram (numeric) or top values
                                 (categorical, boolean) above ``drift_threshold``
=====================  ========  =====================================================

Datetime columns are checked for type and missing values, but not for range or drift: new
spans are expected to move forward in time.

Passing the span's own ``statistics`` (from ``compute_statistics``) saves work: missing
counts, value ranges and category sets are then read from them, and the data is scanned only
where they cannot answer.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd

from loopline.components._drift_math import psi
from loopline.components._policy import Policy, check_policy, policy_severity
from loopline.components._schema import ColumnSchema, Schema
from loopline.components._statistics import (
    Kind,
    bin_counts,
    check_statistics,
    column_kind,
    column_names,
    to_float_array,
    value_counts,
)
from loopline.errors import InvalidInputError

__all__ = ["ANOMALY_KINDS", "Anomaly", "DataValidationError", "ValidationReport", "validate"]

Severity: TypeAlias = Literal["error", "warning"]

#: Every anomaly kind ``validate`` reports (see the module docstring).
ANOMALY_KINDS: tuple[str, ...] = (
    "no_rows",
    "missing_column",
    "extra_column",
    "wrong_type",
    "unexpected_missing",
    "missing_rate",
    "missing_rate_jump",
    "unseen_category",
    "out_of_range",
    "drift",
)

_EXAMPLES = 5
_FORMAT = 1


@dataclass(frozen=True)
class Anomaly:
    """One problem found in the data.

    Args:
        column: The column it concerns (``None`` for the whole frame).
        kind: One of ``ANOMALY_KINDS``.
        severity: ``"error"`` (the data must not be used as is) or ``"warning"``.
        message: What was found, with examples, and what was expected or what to do.
        details: The numbers behind the message (counts, examples, scores), JSON-ready.
    """

    column: str | None
    kind: str
    severity: Severity
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the anomaly as a JSON-ready dict."""
        return {
            "column": self.column,
            "kind": self.kind,
            "severity": self.severity,
            "message": self.message,
            "details": dict(self.details),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Anomaly:
        """Rebuild an anomaly from ``to_dict`` output.

        Raises:
            InvalidInputError: If a key is missing or the severity is unknown.
        """
        try:
            anomaly = cls(
                column=data["column"],
                kind=data["kind"],
                severity=data["severity"],
                message=data["message"],
                details=dict(data.get("details", {})),
            )
        except (KeyError, TypeError) as exc:
            raise InvalidInputError(
                f"An anomaly dict needs the keys column, kind, severity and message; "
                f"got {sorted(data) if isinstance(data, dict) else type(data).__name__}.",
            ) from exc
        if anomaly.severity not in ("error", "warning"):
            raise InvalidInputError(
                f"An anomaly's severity must be 'error' or 'warning'. "
                f"Got {anomaly.severity!r} instead.",
                value=anomaly.severity,
            )
        return anomaly


@dataclass
class ValidationReport:
    """Every anomaly ``validate`` found in one DataFrame.

    Args:
        anomalies: The anomalies, frame-level first, then by column in schema order.
        num_rows: Rows of the validated DataFrame.
        num_columns: Columns of the validated DataFrame.

    Example:
        >>> report = ValidationReport([], num_rows=3, num_columns=2)
        >>> report.has_errors, report.summary()
        (False, 'Validation of 3 rows x 2 columns: no anomalies.')
    """

    anomalies: list[Anomaly] = field(default_factory=list)
    num_rows: int = 0
    num_columns: int = 0

    @property
    def has_errors(self) -> bool:
        """Whether any anomaly is an error."""
        return any(a.severity == "error" for a in self.anomalies)

    @property
    def errors(self) -> list[Anomaly]:
        """The anomalies of severity ``"error"``."""
        return [a for a in self.anomalies if a.severity == "error"]

    @property
    def warnings(self) -> list[Anomaly]:
        """The anomalies of severity ``"warning"``."""
        return [a for a in self.anomalies if a.severity == "warning"]

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-ready dict."""
        return {
            "format": _FORMAT,
            "num_rows": self.num_rows,
            "num_columns": self.num_columns,
            "has_errors": self.has_errors,
            "anomalies": [a.to_dict() for a in self.anomalies],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValidationReport:
        """Rebuild a report from ``to_dict`` output.

        Raises:
            InvalidInputError: If the dict is not a validation report.
        """
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise InvalidInputError(
                f"Not a validation report of format {_FORMAT}: got "
                f"{data.get('format') if isinstance(data, dict) else type(data).__name__!r}.",
            )
        return cls(
            anomalies=[Anomaly.from_dict(a) for a in data.get("anomalies", [])],
            num_rows=int(data.get("num_rows", 0)),
            num_columns=int(data.get("num_columns", 0)),
        )

    def summary(self) -> str:
        """A readable text listing every anomaly, one per line, errors first."""
        shape = f"{self.num_rows:,} rows x {self.num_columns:,} columns"
        if not self.anomalies:
            return f"Validation of {shape}: no anomalies."
        errors, warnings_ = len(self.errors), len(self.warnings)
        lines = [
            f"Validation of {shape}: {_plural(errors, 'error')}, {_plural(warnings_, 'warning')}."
        ]
        for anomaly in self.errors + self.warnings:
            where = f"[{anomaly.column}] " if anomaly.column is not None else ""
            lines.append(f"- {anomaly.severity.upper()} {where}{anomaly.kind}: {anomaly.message}")
        return "\n".join(lines)

    def raise_for_errors(self) -> None:
        """Raise ``DataValidationError`` if the report has errors; warnings do not raise.

        Raises:
            DataValidationError: With this report as ``report`` and ``summary()`` as message.
        """
        if self.has_errors:
            raise DataValidationError(
                self.summary(),
                hint="Fix the data, or update the schema if the change is expected; "
                "error.report lists every anomaly.",
                report=self,
            )


class DataValidationError(InvalidInputError):
    """The data failed validation; ``report`` holds every anomaly found.

    Args:
        message: The report's summary.
        hint: What to do.
        report: The ``ValidationReport``.
    """

    report: ValidationReport

    def __init__(self, message: str, *, hint: str | None = None, report: ValidationReport) -> None:
        super().__init__(message, hint=hint, report=report)


def validate(
    df: pd.DataFrame,
    schema: Schema,
    *,
    statistics: dict[str, Any] | None = None,
    previous: dict[str, Any] | None = None,
    missing_jump: float = 0.1,
    drift_threshold: float = 0.2,
    policy: Policy = "strict",
) -> ValidationReport:
    """Check ``df`` against ``schema`` and the previous span, reporting every anomaly.

    The anomaly kinds and their severities are in this module's docstring.

    Args:
        df: The span to check.
        schema: What it must look like (``infer_schema`` or ``Schema.from_json``).
        statistics: ``compute_statistics(df)`` if already computed; it lets validation skip
            scans (the data is still read wherever the statistics cannot answer).
        previous: The statistics of the previous span, for missing-rate jumps and drift.
        missing_jump: Largest allowed growth of a column's missing rate since ``previous``
            (0.1 is 10 percentage points).
        drift_threshold: PSI above which a column has drifted (0.2 is the customary
            "significant shift").
        policy: ``"strict"`` makes unseen categories errors, ``"lenient"`` warnings
            (``_policy.py``).

    Returns:
        The report; call ``raise_for_errors()`` on it to stop on errors.

    Raises:
        InvalidInputError: If ``df`` is not a DataFrame or has duplicate column names,
            ``schema`` is not a Schema, ``statistics`` does not describe ``df``, or an
            argument is out of range. Problems *in the data* are reported, not raised.

    Example:
        >>> from loopline.components._schema import ColumnSchema
        >>> schema = Schema([ColumnSchema("age", "numeric", min=0, max=120)])
        >>> report = validate(pd.DataFrame({"age": [30, 150]}), schema)
        >>> [(a.column, a.kind, a.severity) for a in report.anomalies]
        [('age', 'out_of_range', 'warning')]
    """
    names = column_names(df, "validate")
    check_policy(policy)
    _check_arguments(df, schema, statistics, previous, missing_jump, drift_threshold)
    num_rows = len(df)
    anomalies: list[Anomaly] = []
    if num_rows == 0:
        anomalies.append(
            Anomaly(
                None,
                "no_rows",
                "error",
                "The data has no rows, so there is nothing to validate or train on. Check "
                "that the span was read correctly and covers the period you expect.",
            )
        )
    position = {name: i for i, name in enumerate(names)}
    current_columns = (statistics or {}).get("columns", {})
    previous_columns = (previous or {}).get("columns", {})
    for column in schema.columns:
        if column.name not in position:
            if column.required:
                anomalies.append(_missing_column(column))
            continue
        if num_rows == 0:
            continue
        data = _ColumnData(df.iloc[:, position[column.name]], column, current_columns)
        checks = _ColumnChecks(data, previous_columns.get(column.name), missing_jump, policy)
        anomalies.extend(checks.run(drift_threshold))
    known = set(schema.names)
    anomalies.extend(_extra_column(name) for name in names if name not in known)
    return ValidationReport(anomalies, num_rows=num_rows, num_columns=len(names))


def _check_arguments(
    df: pd.DataFrame,
    schema: Schema,
    statistics: dict[str, Any] | None,
    previous: dict[str, Any] | None,
    missing_jump: float,
    drift_threshold: float,
) -> None:
    """Raise ``InvalidInputError`` for arguments ``validate`` cannot work with."""
    if not isinstance(schema, Schema):
        raise InvalidInputError(
            f"validate needs a Schema. Got {type(schema).__name__} instead.",
            hint="Use infer_schema(statistics) or Schema.from_json(path).",
        )
    if statistics is not None:
        check_statistics(statistics, "The 'statistics' argument of validate")
        if statistics.get("num_rows") != len(df):
            raise InvalidInputError(
                f"The 'statistics' argument of validate describes {statistics.get('num_rows')} "
                f"rows, but the DataFrame has {len(df)}; they must come from the same data.",
                hint="Pass compute_statistics(df) of this DataFrame, or leave statistics out.",
            )
    if previous is not None:
        check_statistics(previous, "The 'previous' argument of validate")
    for name, value, upper in (
        ("missing_jump", missing_jump, 1.0),
        ("drift_threshold", drift_threshold, math.inf),
    ):
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= upper:
            limit = "in [0, 1]" if upper == 1.0 else ">= 0"
            raise InvalidInputError(
                f"The '{name}' argument of validate must be a float {limit}. "
                f"Got {value!r} instead.",
                value=value,
            )


class _ColumnData:
    """One column of the frame with what the checks ask of it, each computed at most once.

    The span's statistics entry answers where it can (it is used only if its kind matches
    the column's dtype); otherwise the data is scanned.
    """

    def __init__(self, series: pd.Series, schema: ColumnSchema, statistics: dict[str, Any]) -> None:
        self.series = series
        self.schema = schema
        self.name = schema.name
        self.num_rows = len(series)
        try:
            self.kind: Kind | None = column_kind(series, schema.name)
        except InvalidInputError:
            self.kind = None  # complex or timedelta: reported as a wrong type
        entry = statistics.get(schema.name)
        self.entry: dict[str, Any] | None = (
            entry if isinstance(entry, dict) and entry.get("kind") == self.kind else None
        )

    @cached_property
    def missing(self) -> int:
        """Number of missing values."""
        if self.entry is not None and isinstance(self.entry.get("missing"), int):
            return int(self.entry["missing"])
        return int(self.series.isna().sum())

    @cached_property
    def counts(self) -> pd.Series:
        """Non-missing value counts keyed by the values' text, most frequent first."""
        counts = value_counts(self.series)
        labels = counts.index.astype(str)
        counts.index = labels
        if labels.has_duplicates:  # 1 and "1" in an object column are one category as text
            counts = counts.groupby(level=0, sort=False).sum().sort_values(ascending=False)
        return counts

    def labels(self) -> list[str]:
        """The distinct non-missing values as text, from the statistics when they list all."""
        if self.entry is not None and self.entry.get("categories") is not None:
            return [str(value) for value in self.entry["categories"]]
        return [str(label) for label in self.counts.index]

    def count_of(self, labels: Sequence[str]) -> np.ndarray:
        """How many rows hold each of ``labels`` (compared as text)."""
        from_statistics: dict[str, int] = {}
        for item in (self.entry or {}).get("top") or []:  # 1 and "1" may both be listed
            label = str(item["value"])
            from_statistics[label] = from_statistics.get(label, 0) + int(item["count"])
        if self.entry is not None and (
            self.entry.get("other_count") == 0 or all(label in from_statistics for label in labels)
        ):
            return np.array([from_statistics.get(label, 0) for label in labels], dtype=np.int64)
        counts = self.counts.reindex(list(labels), fill_value=0)
        return np.asarray(counts.to_numpy(dtype=np.int64), dtype=np.int64)

    @property
    def present(self) -> int:
        """Number of non-missing values."""
        return self.num_rows - self.missing


class _ColumnChecks:
    """The checks of one column against its schema entry and the previous span."""

    def __init__(
        self,
        data: _ColumnData,
        previous: dict[str, Any] | None,
        missing_jump: float,
        policy: Policy = "strict",
    ) -> None:
        self.data = data
        self.policy = policy
        self.schema = data.schema
        self.name = data.name
        self.previous = previous
        self.missing_jump = missing_jump
        self.values: np.ndarray | None = None  # numeric view for range and drift checks

    def run(self, drift_threshold: float) -> list[Anomaly]:
        """Every anomaly of this column."""
        found = [*self._types(), *self._missing()]
        if self.schema.kind == "categorical" and self.schema.categories is not None:
            found.extend(self._unseen_categories(self.schema.categories))
        if self.schema.kind == "numeric" and self.values is not None:
            found.extend(self._out_of_range())
        if self.previous is not None and self.previous.get("kind") == self.schema.kind:
            found.extend(self._drift(drift_threshold))
        return found

    # -- types -------------------------------------------------------------------------

    def _types(self) -> list[Anomaly]:
        """Check that the values fit the schema's kind; set ``values`` for numeric kinds."""
        expected, actual = self.schema.kind, self.data.kind
        if expected == actual:
            if expected in ("numeric", "datetime"):
                self.values = to_float_array(self.data.series, expected)
            return []
        if expected == "categorical" and actual is not None:
            return [
                self._anomaly(
                    "wrong_type",
                    "warning",
                    f"Column '{self.name}' should hold categories (text), but it has "
                    f"{actual} dtype {self.data.series.dtype}; its values are compared as text "
                    "(so 1.0 differs from 1). Convert it with astype(str), or change the "
                    "column's kind in the schema.",
                    expected=expected,
                    dtype=str(self.data.series.dtype),
                )
            ]
        if actual == "categorical" and expected in ("numeric", "datetime"):
            return self._parse_text(expected)
        if actual == "categorical" and expected == "boolean":
            bad = [label for label in self.data.labels() if label not in ("True", "False")]
            return [self._bad_values(expected, bad)] if bad else []
        examples = _examples(self.data.series.dropna().unique())
        return [
            self._anomaly(
                "wrong_type",
                "error",
                f"Column '{self.name}' should be {expected}, but it has dtype "
                f"{self.data.series.dtype} (e.g. {_show(examples)}). Convert it, or change the "
                "column's kind in the schema.",
                expected=expected,
                dtype=str(self.data.series.dtype),
                examples=examples,
            )
        ]

    def _parse_text(self, expected: Kind) -> list[Anomaly]:
        """Numbers or dates stored as text: parse them, and report those that do not parse."""
        series = self.data.series
        if isinstance(series.dtype, pd.CategoricalDtype):
            series = series.astype(object)
        if expected == "numeric":
            parsed = pd.to_numeric(series, errors="coerce")
            self.values = to_float_array(parsed, "numeric")
        else:
            with warnings.catch_warnings():
                # A dayfirst or format guess is reported by the count of bad values instead.
                warnings.simplefilter("ignore", UserWarning)
                parsed = pd.to_datetime(series, errors="coerce", format="mixed", utc=True)
            self.values = to_float_array(parsed, "datetime")
        bad_mask = series.notna().to_numpy() & np.isnan(self.values)
        if bad_mask.any():
            bad = series[bad_mask]
            return [self._bad_values(expected, bad.unique(), count=len(bad))]
        what = "numbers" if expected == "numeric" else "dates"
        convert = "pd.to_numeric" if expected == "numeric" else "pd.to_datetime"
        return [
            self._anomaly(
                "wrong_type",
                "warning",
                f"Column '{self.name}' holds {what} stored as text (dtype "
                f"{self.data.series.dtype}); every value converts, so checks ran on the "
                f"converted values. Convert the column with {convert} where the data is read.",
                expected=expected,
                dtype=str(self.data.series.dtype),
            )
        ]

    def _bad_values(self, expected: Kind, bad: Any, *, count: int | None = None) -> Anomaly:
        """A ``wrong_type`` error for values that are not of the ``expected`` kind."""
        examples = _examples(bad)
        if count is None:
            count = int(self.data.count_of([str(v) for v in bad]).sum())
        what = {"numeric": "numbers", "datetime": "dates", "boolean": "True/False"}[expected]
        return self._anomaly(
            "wrong_type",
            "error",
            f"Column '{self.name}' should be {expected}, but {count:,} of "
            f"{self.data.present:,} values are not {what} (e.g. {_show(examples)}). Fix or "
            "remove these values at the source, or change the column's kind in the schema.",
            expected=expected,
            dtype=str(self.data.series.dtype),
            count=count,
            examples=examples,
        )

    # -- missing values ------------------------------------------------------------------

    def _missing(self) -> list[Anomaly]:
        """Missing values where none are allowed, too many, or many more than before."""
        found = []
        missing, rows = self.data.missing, self.data.num_rows
        rate = missing / rows
        if missing and not self.schema.nullable:
            what = "is entirely missing" if missing == rows else f"has {missing:,} missing values"
            found.append(
                self._anomaly(
                    "unexpected_missing",
                    "error",
                    f"Column '{self.name}' {what} ({rate:.1%} of {rows:,} rows), but the schema "
                    "does not allow missing values. Fill or drop those rows, or set nullable "
                    "to true for the column in the schema.",
                    count=missing,
                    rate=rate,
                )
            )
        elif rate > self.schema.max_missing_rate:
            found.append(
                self._anomaly(
                    "missing_rate",
                    "warning",
                    f"Column '{self.name}' is {rate:.1%} missing ({missing:,} of {rows:,} rows), "
                    f"above the schema's maximum of {self.schema.max_missing_rate:.1%}. Check "
                    "the data source, or raise max_missing_rate in the schema.",
                    count=missing,
                    rate=rate,
                    max_missing_rate=self.schema.max_missing_rate,
                )
            )
        before = (self.previous or {}).get("missing_rate")
        if isinstance(before, int | float) and rate - before > self.missing_jump:
            found.append(
                self._anomaly(
                    "missing_rate_jump",
                    "warning",
                    f"Column '{self.name}' is {rate:.1%} missing, up from {before:.1%} in the "
                    f"previous span, a jump of more than {self.missing_jump * 100:.1f} percentage "
                    "points. Check the data source for values that stopped arriving.",
                    rate=rate,
                    previous_rate=float(before),
                    missing_jump=self.missing_jump,
                )
            )
        return found

    # -- categories and ranges --------------------------------------------------------------

    def _unseen_categories(self, allowed: list[str]) -> list[Anomaly]:
        """Values outside a closed category set."""
        allowed_set = set(allowed)
        unseen = [label for label in self.data.labels() if label not in allowed_set]
        if not unseen:
            return []
        counts = self.data.count_of(unseen)
        order = np.argsort(-counts, kind="stable")
        unseen = [unseen[i] for i in order]
        rows = int(counts.sum())
        examples = unseen[:_EXAMPLES]
        severity = policy_severity("unseen_category", self.policy)
        advice = (
            "Fix the values, or add them to the column's categories in the schema (null "
            "allows any value), or use the lenient policy."
            if severity == "error"
            else "Allowed by the lenient policy: the model's encoder treats them as unknown."
        )
        return [
            self._anomaly(
                "unseen_category",
                severity,
                f"Column '{self.name}' has {_plural(len(unseen), 'value')} outside its "
                f"{len(allowed)} allowed categories in {_plural(rows, 'row')} "
                f"(e.g. {_show(examples)}); "
                f"expected one of {_show(sorted(allowed)[:10])}"
                f"{', ...' if len(allowed) > 10 else ''}. {advice}",
                count=rows,
                distinct=len(unseen),
                examples=examples,
            )
        ]

    def _out_of_range(self) -> list[Anomaly]:
        """Numeric values outside ``[min, max]``."""
        low, high = self.schema.min, self.schema.max
        entry = self.data.entry
        if entry is not None and self.data.kind == "numeric" and entry.get("infinite") == 0:
            seen_low, seen_high = entry.get("min"), entry.get("max")
            if (
                seen_low is None
                or seen_high is None
                or ((low is None or seen_low >= low) and (high is None or seen_high <= high))
            ):
                return []  # the statistics show every value is inside
        assert self.values is not None
        values = self.values
        outside = np.zeros(values.shape, dtype=bool)
        if low is not None:
            outside |= values < low
        if high is not None:
            outside |= values > high
        count = int(np.count_nonzero(outside))
        if not count:
            return []
        offending = np.unique(values[outside])
        picked = offending if offending.size <= _EXAMPLES else offending[[0, 1, -3, -2, -1]]
        examples = _examples(picked)
        return [
            self._anomaly(
                "out_of_range",
                "warning",
                f"Column '{self.name}' has {_plural(count, 'value')} outside the expected range "
                f"[{_number(low)}, {_number(high)}] (e.g. {_show(examples)}). Check the data "
                "source, or widen min/max for the column in the schema.",
                count=count,
                min=low,
                max=high,
                examples=examples,
            )
        ]

    # -- drift ----------------------------------------------------------------------------

    def _drift(self, threshold: float) -> list[Anomaly]:
        """A PSI above ``threshold`` against the previous span's statistics."""
        assert self.previous is not None
        if self.schema.kind == "numeric":
            scored = self._numeric_drift(self.previous)
        elif self.schema.kind in ("categorical", "boolean"):
            scored = self._categorical_drift(self.previous)
        else:
            return []  # datetimes move forward by nature
        if scored is None or scored[0] <= threshold:
            return []
        score, what = scored
        return [
            self._anomaly(
                "drift",
                "warning",
                f"Column '{self.name}' drifted from the previous span: PSI {score:.3f} > "
                f"{threshold:g} ({what}). Check the data source; if the change is real, "
                "retrain on recent data.",
                psi=score,
                threshold=threshold,
                method="psi",
            )
        ]

    def _numeric_drift(self, previous: dict[str, Any]) -> tuple[float, str] | None:
        """PSI of the values on the previous histogram's edges, and the mean shift."""
        histogram = previous.get("histogram") or {}
        edges, expected = histogram.get("edges") or [], histogram.get("counts") or []
        if self.values is None or len(edges) < 2 or sum(expected) == 0:
            return None
        actual = bin_counts(self.values, edges)
        if actual.sum() == 0 or len(actual) != len(expected):
            return None
        with np.errstate(invalid="ignore"):
            finite = self.values[np.isfinite(self.values)]
            mean = float(finite.mean()) if finite.size else math.nan
        before = previous.get("mean")
        shift = f"mean {_number(before)} -> {_number(mean)}"
        return psi(expected, actual), shift

    def _categorical_drift(self, previous: dict[str, Any]) -> tuple[float, str] | None:
        """PSI over the previous span's top values plus one bin for all other values."""
        top = previous.get("top") or []
        if not top or self.data.present == 0:
            return None
        labels = [str(item["value"]) for item in top]
        expected = [int(item["count"]) for item in top] + [int(previous.get("other_count", 0))]
        counts = self.data.count_of(labels)
        actual = [*counts.tolist(), self.data.present - int(counts.sum())]
        share_before = expected[0] / sum(expected)
        share_now = actual[0] / self.data.present
        what = f"'{labels[0]}' went from {share_before:.1%} to {share_now:.1%} of values"
        return psi(expected, actual), what

    def _anomaly(self, kind: str, severity: Severity, message: str, **details: Any) -> Anomaly:
        """An anomaly of this column."""
        return Anomaly(self.name, kind, severity, message, details)


def _missing_column(column: ColumnSchema) -> Anomaly:
    """A required column that is absent."""
    return Anomaly(
        column.name,
        "missing_column",
        "error",
        f"Column '{column.name}' ({column.kind}) is missing from the data, but the schema "
        "requires it. Add the column to the data, or set required to false for it in the schema.",
        {"expected": column.kind},
    )


def _extra_column(name: str) -> Anomaly:
    """A column the schema does not know."""
    return Anomaly(
        name,
        "extra_column",
        "warning",
        f"Column '{name}' is in the data but not in the schema, so it is not checked. Add it "
        "to the schema, or drop it from the data.",
    )


def _examples(values: Any) -> list[Any]:
    """Up to a few values as JSON-ready Python values (text for non-finite numbers)."""
    return [_json_value(v) for v in list(values)[:_EXAMPLES]]


def _json_value(value: Any) -> Any:
    """``value`` as str, int, float or bool; NaN, infinities and other objects become text."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return str(value)


def _show(values: Sequence[Any]) -> str:
    """Values for a message: text quoted, numbers as they are."""
    return ", ".join(repr(v) if isinstance(v, str) else _number(v) for v in values)


def _number(value: Any) -> str:
    """A number for a message, compact (``None`` is unbounded)."""
    if value is None:
        return "unbounded"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _plural(count: int, noun: str) -> str:
    """``1 error`` / ``2 errors``."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
