"""What a drift check found: one ``FeatureDrift`` per feature and a ``DriftReport`` verdict.

Both are plain frozen dataclasses that round-trip through JSON (``to_dict``/``from_dict``,
with ``None`` wherever a number is undefined: JSON has no NaN), so a report can be stored
as an artifact, shown by the CLI and read back by the controller.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["FORMAT", "DriftReport", "FeatureDrift"]

#: Version of ``DriftReport.to_dict()``; bump when its shape changes incompatibly.
FORMAT = 1

#: ``to_dict`` keys of a feature that are derived from its fields, not stored.
_DERIVED = ("missing_rate_change",)


@dataclass(frozen=True)
class FeatureDrift:
    """The drift of one feature (or of the model's predictions) in a window.

    A test that could not run (no values in the window, a kind it does not apply to) has
    ``None`` for its numbers; ``note`` says why.

    Attributes:
        name: The column's name.
        kind: The kind the training statistics gave it (numeric, categorical, boolean,
            datetime).
        compared: Whether the column was in the window, with rows and a matching type.
        count: Non-missing values in the window.
        missing_rate: Share of missing values in the window (None without rows or column).
        reference_missing_rate: Share of missing values in the training data.
        missing_rate_p_value: Two-sample chi-square test of the missing counts.
        psi: Population stability index on the training histogram's bins (numeric) or on
            the categories' cells (categorical).
        ks_statistic: Numeric: the Kolmogorov-Smirnov distance between the window's
            empirical CDF and the training CDF rebuilt from the statistics.
        ks_p_value: Numeric: its p-value, for the effective sample size ``n*m/(n+m)``.
        chi2_statistic: Categorical: the two-sample chi-square statistic of the cells.
        chi2_p_value: Categorical: its p-value.
        js_distance: Categorical: the Jensen-Shannon distance (base 2, in [0, 1]) of the
            cells' proportions.
        out_of_range: Numeric: values outside the training range ``[min, max]``.
        unseen: Categorical: values of categories the training data never had (None when
            the training statistics did not list every category).
        unseen_values: The most frequent unseen categories (at most 10).
        schema_violations: What breaks the training schema, one sentence each (missing
            column, wrong type, values out of range, unseen categories).
        drifted: Whether the feature drifted.
        reasons: Why it drifted, one sentence per test that fired.
        note: Why some tests did not run, if any.
    """

    name: str
    kind: str
    compared: bool = False
    count: int = 0
    missing_rate: float | None = None
    reference_missing_rate: float | None = None
    missing_rate_p_value: float | None = None
    psi: float | None = None
    ks_statistic: float | None = None
    ks_p_value: float | None = None
    chi2_statistic: float | None = None
    chi2_p_value: float | None = None
    js_distance: float | None = None
    out_of_range: int = 0
    unseen: int | None = 0
    unseen_values: tuple[str, ...] = ()
    schema_violations: tuple[str, ...] = ()
    drifted: bool = False
    reasons: tuple[str, ...] = ()
    note: str | None = None

    @property
    def missing_rate_change(self) -> float | None:
        """``missing_rate - reference_missing_rate`` (None when either is unknown)."""
        if self.missing_rate is None or self.reference_missing_rate is None:
            return None
        return self.missing_rate - self.reference_missing_rate

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready values (no NaN: undefined numbers are None)."""
        out: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, float):
                value = _json_float(value)
            out[item.name] = value
        out["missing_rate_change"] = _json_float(self.missing_rate_change)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureDrift:
        """Rebuild a result from ``to_dict()`` output (derived keys are recomputed).

        Args:
            data: A dict as ``to_dict`` returns it (or its JSON loaded back).

        Returns:
            The result.
        """
        names = {item.name for item in fields(cls)}
        values = {k: v for k, v in data.items() if k in names and k not in _DERIVED}
        for key in ("unseen_values", "schema_violations", "reasons"):
            values[key] = tuple(values.get(key) or ())
        return cls(**values)


@dataclass(frozen=True)
class DriftReport:
    """The drift of a window of requests against the training statistics.

    The dataset drifted when at least ``drift_share`` of the compared features drifted.
    A feature is *compared* when its column is in the window with a type that matches the
    training data; missing and wrongly typed columns are schema violations instead, and an
    empty window compares nothing (and so never raises a false alarm).

    Attributes:
        n_rows: Rows in the window.
        features: One result per feature of the training statistics, in their order.
        drift_share: The share of drifted features at which the dataset drifted.
        prediction: The drift of the model's predictions, if they were compared.
        missing_columns: Features of the training data absent from the window.
        extra_columns: Columns of the window the training data did not have (ignored).
        notes: Remarks on the whole window (e.g. ``"no requests in the window"``).
        params: The detector's parameters, for the record.

    Example:
        >>> report = DriftReport(n_rows=0, features=(), drift_share=0.5)
        >>> report.dataset_drift, report.drifted_features
        (False, [])
    """

    n_rows: int
    features: tuple[FeatureDrift, ...]
    drift_share: float
    prediction: FeatureDrift | None = None
    missing_columns: tuple[str, ...] = ()
    extra_columns: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def drifted_features(self) -> list[str]:
        """Names of the features that drifted, in the training statistics' order."""
        return [feature.name for feature in self.features if feature.drifted]

    @property
    def n_compared(self) -> int:
        """Features that were in the window with the right type (the share's denominator)."""
        return sum(1 for feature in self.features if feature.compared)

    @property
    def share_drifted(self) -> float | None:
        """Share of compared features that drifted (None when nothing was compared)."""
        compared = self.n_compared
        return len(self.drifted_features) / compared if compared else None

    @property
    def dataset_drift(self) -> bool:
        """Whether at least ``drift_share`` of the compared features drifted."""
        share = self.share_drifted
        return share is not None and share >= self.drift_share

    @property
    def prediction_drift(self) -> bool:
        """Whether the model's predictions drifted (False when they were not compared)."""
        return self.prediction is not None and self.prediction.drifted

    @property
    def schema_violations(self) -> dict[str, list[str]]:
        """Feature (or prediction) name -> its schema violations, for those that have any."""
        found = [*self.features, *([self.prediction] if self.prediction else [])]
        return {f.name: list(f.schema_violations) for f in found if f.schema_violations}

    def feature(self, name: str) -> FeatureDrift:
        """The result of the feature called ``name``.

        Raises:
            KeyError: If the training statistics had no such feature.
        """
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready values (no NaN: undefined numbers are None).

        The shape (``format`` 1)::

            {"format": 1, "n_rows": int, "dataset_drift": bool, "drift_share": float,
             "share_drifted": float | None, "n_features": int, "n_compared": int,
             "drifted_features": [str], "prediction_drift": bool,
             "features": {name: FeatureDrift.to_dict() minus "name"},
             "prediction": FeatureDrift.to_dict() | None,
             "missing_columns": [str], "extra_columns": [str], "notes": [str],
             "schema_violations": {name: [str]}, "params": {name: value}}
        """
        features = {}
        for feature in self.features:
            entry = feature.to_dict()
            del entry["name"]
            features[feature.name] = entry
        return {
            "format": FORMAT,
            "n_rows": self.n_rows,
            "dataset_drift": self.dataset_drift,
            "drift_share": self.drift_share,
            "share_drifted": _json_float(self.share_drifted),
            "n_features": len(self.features),
            "n_compared": self.n_compared,
            "drifted_features": self.drifted_features,
            "prediction_drift": self.prediction_drift,
            "features": features,
            "prediction": None if self.prediction is None else self.prediction.to_dict(),
            "missing_columns": list(self.missing_columns),
            "extra_columns": list(self.extra_columns),
            "notes": list(self.notes),
            "schema_violations": self.schema_violations,
            "params": dict(self.params),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DriftReport:
        """Rebuild a report from ``to_dict()`` output (derived keys are recomputed).

        Args:
            data: A dict as ``to_dict`` returns it (or its JSON loaded back).

        Returns:
            The report.

        Raises:
            ValueError: If ``data`` has another ``format``.
        """
        if data.get("format") != FORMAT:
            raise ValueError(
                f"This drift report has format {data.get('format')!r}; this version of "
                f"Loopline reads format {FORMAT}."
            )
        prediction = data.get("prediction")
        return cls(
            n_rows=int(data["n_rows"]),
            features=tuple(
                FeatureDrift.from_dict({"name": name, **entry})
                for name, entry in data["features"].items()
            ),
            drift_share=float(data["drift_share"]),
            prediction=None if prediction is None else FeatureDrift.from_dict(prediction),
            missing_columns=tuple(data.get("missing_columns") or ()),
            extra_columns=tuple(data.get("extra_columns") or ()),
            notes=tuple(data.get("notes") or ()),
            params=dict(data.get("params") or {}),
        )

    def summary(self) -> str:
        """A few readable lines: the verdict, a table of the features, schema problems."""
        lines = [self._headline()]
        lines += [f"  note: {note}" for note in self.notes]
        if self.features and self.n_rows:
            lines.append(_table([*self.features, *([self.prediction] if self.prediction else [])]))
        for name, problems in self.schema_violations.items():
            lines.append(f"  schema: '{name}': {'; '.join(problems)}")
        if self.extra_columns:
            lines.append(f"  ignored columns not in training: {', '.join(self.extra_columns)}")
        return "\n".join(lines)

    def _headline(self) -> str:
        rows = f"{self.n_rows:,} row{'s' if self.n_rows != 1 else ''}"
        if self.share_drifted is None:
            return f"No dataset drift: nothing to compare ({rows})."
        verdict = "Dataset drift" if self.dataset_drift else "No dataset drift"
        text = (
            f"{verdict}: {len(self.drifted_features)} of {self.n_compared} features drifted "
            f"({self.share_drifted:.0%}; the dataset drifts at {self.drift_share:.0%}), {rows}."
        )
        if self.prediction is not None:
            text += " Predictions drifted." if self.prediction.drifted else " Predictions stable."
        return text


def _table(features: list[FeatureDrift]) -> str:
    """Aligned rows: name, kind, scores, verdict."""
    header = ("feature", "kind", "psi", "ks", "js", "missing", "verdict")
    rows = [header]
    for f in features:
        verdict = "drifted: " + "; ".join(f.reasons) if f.drifted else (f.note or "ok")
        rows.append(
            (
                f.name,
                f.kind,
                _number(f.psi),
                _number(f.ks_statistic),
                _number(f.js_distance),
                "-" if f.missing_rate is None else f"{f.missing_rate:.1%}",
                verdict,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    return "\n".join(
        "  "
        + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        + "  "
        + row[-1]
        for row in rows
    )


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _json_float(value: float | None) -> float | None:
    """``value`` as a float, or None if it is None, NaN or infinite."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)
