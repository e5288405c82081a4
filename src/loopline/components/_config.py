"""The workflow sections of ``loopline.toml``, validated with pydantic.

``[data]`` says where the data is and what to predict, ``[split]`` how to hold out test
rows, ``[schema]`` and ``[validation]`` how the data is checked, ``[training]`` which
algorithms to compare and tune, ``[blessing]`` when a candidate is good enough, and
``[model]`` how it is registered. Every key is optional except ``data.target`` and a
source; an unknown key or a wrong type is a :class:`ConfigError` naming the key.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import ConfigError
from ._roles import Role


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Section):
    """``[data]``: the source of training data and the column to predict."""

    source: str | None = None  # a CSV or Parquet path or glob, relative to the project
    sql: str | None = None  # or a SQL query ...
    url: str | None = None  # ... on this SQLAlchemy URL
    format: Literal["csv", "parquet"] | None = None  # inferred from the file extension
    encoding: str = "utf-8"
    target: str
    task: Literal["classification", "regression"] | None = None  # inferred when absent
    id_column: str | None = None
    timestamp_column: str | None = None
    drop_columns: list[str] = Field(default_factory=list)
    # Column roles (numeric, categorical, boolean, datetime, text, identifier, constant);
    # columns not listed are inferred (components/_roles.py). 'loopline init' writes them.
    columns: dict[str, Role] = Field(default_factory=dict)
    missing_target: Literal["drop", "fail"] = "drop"  # rows whose target is missing

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        if (self.source is None) == (self.sql is None):
            raise ValueError("give exactly one of 'source' (a file or glob) or 'sql' (a query)")
        if self.sql is not None and self.url is None:
            raise ValueError("'sql' needs 'url', the SQLAlchemy URL of the database")
        return self


class SplitConfig(_Section):
    """``[split]``: how test rows are held out."""

    method: Literal["random", "stratified", "time"] | None = None  # stratified / time by default
    test_size: float = Field(0.2, gt=0.0, lt=1.0)
    seed: int = 0


class SchemaConfig(_Section):
    """``[schema]``: a pinned schema file, or how one is inferred."""

    path: str | None = None  # a JSON schema file to pin, relative to the project
    max_categories: int = Field(50, ge=1)
    # What serving, 'loopline predict' and validate_data do with an unseen category or an
    # unknown column: "strict" refuses it, "lenient" warns and goes on (the encoder ignores it).
    policy: Literal["strict", "lenient"] = "strict"


class ValidationConfig(_Section):
    """``[validation]``: thresholds of the data checks."""

    missing_jump: float = Field(0.1, ge=0.0, le=1.0)
    drift_threshold: float = Field(0.2, gt=0.0)


class CandidateConfig(_Section):
    """One ``[[training.candidates]]`` entry."""

    estimator: str  # import path, e.g. "sklearn.ensemble.RandomForestClassifier"
    name: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    search_space: dict[str, Any] = Field(default_factory=dict)


class TrainingConfig(_Section):
    """``[training]``: which algorithms are compared, how, and how long to tune."""

    # A built-in name (accuracy, balanced_accuracy, f1, average_precision, roc_auc, rmse, ...)
    # or the import path "module:function" of f(y_true, y_pred) -> float. By default accuracy
    # (balanced_accuracy for an imbalanced target) or rmse.
    metric: str | None = None
    folds: int = Field(5, ge=2)
    trials: int = Field(20, ge=0)  # 0 skips tuning
    timeout: float | None = Field(None, gt=0)  # seconds of tuning at most
    # Seconds that selection, tuning and the final fit together aim to stay within.
    time_budget: float | None = Field(300.0, gt=0)
    # Cross-validation and tuning use a stratified sample of at most this many training
    # rows; the final model is fitted on all of them.
    cv_rows: int = Field(20_000, ge=100)
    candidates: list[CandidateConfig] = Field(default_factory=list)  # built-ins when empty
    feature_functions: list[str] = Field(default_factory=list)  # "module:function", run first
    seed: int = 0


class BlessingConfig(_Section):
    """``[blessing]``: when a candidate may replace the champion."""

    thresholds: dict[str, float] = Field(default_factory=dict)
    absolute_margin: float = Field(0.0, ge=0.0)
    relative_margin: float = Field(0.0, ge=0.0)
    slices: list[str] = Field(default_factory=list)
    slice_min_rows: int = Field(30, ge=1)
    # A candidate must beat the dummy baseline (majority class / mean) on the metric; off
    # only where a model that predicts no better than the baseline is still wanted.
    beat_baseline: bool = True


class ModelConfig(_Section):
    """``[model]``: how the model is registered."""

    name: str | None = None  # the project's name by default
    approval: Literal["auto", "manual"] = "manual"


class WorkflowConfig(_Section):
    """The workflow sections of ``loopline.toml``."""

    data: DataConfig
    split: SplitConfig = SplitConfig()
    schema_: SchemaConfig = Field(SchemaConfig(), alias="schema")
    validation: ValidationConfig = ValidationConfig()
    training: TrainingConfig = TrainingConfig()
    blessing: BlessingConfig = BlessingConfig()
    model: ModelConfig = ModelConfig()

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


#: The sections this module owns; the core owns the others of loopline.toml.
WORKFLOW_SECTIONS = ("data", "split", "schema", "validation", "training", "blessing", "model")


def parse_workflow_config(
    raw: dict[str, Any], path: Path | str = "loopline.toml"
) -> WorkflowConfig:
    """Validate the workflow sections of a parsed ``loopline.toml``.

    Raises:
        ConfigError: ``[data]`` is missing, or a key is unknown or has a wrong value; the
            message names the key (``training.candidates[0].estimator``).
    """
    sections = {key: raw[key] for key in WORKFLOW_SECTIONS if key in raw}
    if "data" not in sections:
        raise ConfigError(
            f"{path} has no [data] section, so there is no training data to run on.",
            hint='Add [data] with source = "data.csv" and target = "COLUMN", or run '
            "'loopline init --data data.csv --target COLUMN'.",
            path=str(path),
        )
    try:
        return WorkflowConfig.model_validate(sections)
    except ValidationError as exc:
        raise _config_error(exc, path) from None


def _config_error(exc: ValidationError, path: Path | str) -> ConfigError:
    problems = []
    first_key = ""
    for error in exc.errors():
        key = _key(error["loc"])
        first_key = first_key or key
        if error["type"] == "extra_forbidden":
            problems.append(f"unknown key {key}{_suggestion(error['loc'])}")
        elif error["type"] == "missing":
            problems.append(f"{key} is required")
        else:
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{key}: {message} (got {error.get('input')!r})")
    return ConfigError(
        f"{path}: " + "; ".join(problems) + ".",
        hint="Fix these keys; 'loopline init --help' shows a file that works.",
        path=str(path),
        key=first_key,
    )


def _key(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _suggestion(loc: tuple[Any, ...]) -> str:
    """' (did you mean ...?)' for a misspelt key, from the fields of its section."""
    model: Any = WorkflowConfig
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) or model.model_fields.get(f"{part}_")
        if field is None:
            return ""
        annotation = field.annotation
        inner = getattr(annotation, "__args__", (annotation,))
        model = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if model is None:
            return ""
    names = [n.rstrip("_") for n in model.model_fields]
    close = difflib.get_close_matches(str(loc[-1]), names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
