"""The ``[monitoring]``, ``[triggers]`` and ``[automation]`` sections of ``loopline.toml``.

Every key is checked when the project is loaded (durations, amounts of data, cron
expressions, alert rules), so a typo fails ``loopline check`` and the controller's start,
not its first retraining hours later. The defaults are the ones that close the loop on a
drift stream (see docs/decisions/0004-controller-cooldown-and-canary.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import ConfigError

#: The units an amount of data may be given in, and the kind each stands for.
_DATA_UNITS = {
    "row": "rows",
    "rows": "rows",
    "record": "rows",
    "records": "rows",
    "labelled row": "labelled_rows",
    "labelled rows": "labelled_rows",
    "labeled row": "labelled_rows",
    "labeled rows": "labelled_rows",
    "label": "labelled_rows",
    "labels": "labelled_rows",
    "request": "requests",
    "requests": "requests",
    "batch": "requests",
    "batches": "requests",
}
_AMOUNT = re.compile(r"\s*(\d+)\s*([a-z]+(?: [a-z]+)?)\s*")


@dataclass(frozen=True)
class Amount:
    """How much: a duration, or a number of rows, labelled rows or requests (batches).

    Attributes:
        kind: ``"duration"``, ``"rows"``, ``"labelled_rows"`` or ``"requests"``.
        count: The number of rows/labelled rows/requests (0 for a duration).
        duration: The duration (None for an amount of data).
        text: What the configuration said.
    """

    kind: Literal["duration", "rows", "labelled_rows", "requests"]
    count: int
    duration: timedelta | None
    text: str

    @property
    def is_data(self) -> bool:
        """Whether this is an amount of data rather than a duration."""
        return self.duration is None

    def __str__(self) -> str:
        return self.text


def parse_amount(text: Any, *, what: str) -> Amount:
    """``"2000 rows"``, ``"500 labelled rows"``, ``"3 batches"`` or a duration ``"1h"``.

    Raises:
        ConfigError: Neither a positive whole number of a data unit nor a duration; the
            message names ``what``.
    """
    from ..config import parse_duration

    if not isinstance(text, str):
        raise ConfigError(
            f'{what} must be a string like "2000 rows", "500 labelled rows", '
            f'"3 batches" or a duration like "1h". Got {text!r} instead.',
            key=what,
            value=text,
        )
    match = _AMOUNT.fullmatch(text.lower())
    if match is not None and match[2] in _DATA_UNITS:
        count = int(match[1])
        if count < 1:
            raise ConfigError(
                f"{what} must be at least 1 {match[2]}. Got {text!r} instead.",
                key=what,
                value=text,
            )
        kind = _DATA_UNITS[match[2]]
        return Amount(kind, count, None, text)  # type: ignore[arg-type]
    try:
        duration = parse_duration(text, what=what)
    except ConfigError:
        raise ConfigError(
            f'{what} must be an amount of data like "2000 rows", "500 labelled rows", '
            f'"3 batches" (requests), or a duration like 30m, 1h or 2d. Got {text!r} instead.',
            key=what,
            value=text,
        ) from None
    return Amount("duration", 0, duration, text)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MonitoringConfig(_Section):
    """``[monitoring]``: the window the controller checks, and the drift thresholds."""

    # The latest records of the production version each check looks at: "500 rows",
    # "300 labelled rows", "20 batches" (requests) or a duration ("1h"). Never "everything
    # since the start" (decision 0004).
    window: str = "500 rows"
    min_rows: int = Field(100, ge=1)  # fewer records (labelled, for decay) than this: no verdict
    drift_share: float = Field(0.5, gt=0.0, le=1.0)
    psi_threshold: float = Field(0.2, gt=0.0)
    ks_threshold: float = Field(0.1, gt=0.0, lt=1.0)

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        parse_amount(value, what="monitoring.window")
        return value

    @property
    def window_amount(self) -> Amount:
        """The window, parsed."""
        return parse_amount(self.window, what="monitoring.window")


class TriggersConfig(_Section):
    """``[triggers]``: what makes the controller retrain."""

    schedule: str | None = None  # a cron expression, e.g. "0 3 * * *"
    drift: bool = True  # dataset drift in the latest window
    # metric -> largest tolerated drop below the model's holdout value: a number (0.05) or a
    # share of the holdout value ("5%"). None: the training metric, "5%". {}: no decay trigger.
    decay: dict[str, float | str] | None = None
    # The drop must also be beyond this many standard errors of the window's estimate (a
    # 0.03 drop on 100 rows is noise).
    decay_z: float = Field(3.0, ge=0.0)
    new_data: bool = False  # the training source changed (new files, new rows)
    # A version trained after a change point (data_window = "since_change") is refitted when
    # the labelled rows since that change reach this many times the rows it learnt from
    # (until window_rows); 0 turns it off.
    window_growth: float = Field(3.0, ge=0.0)
    # After a successful retraining, drift, decay and new data do not trigger again until
    # this much new data (or time) has come: "300 labelled rows", "2 batches", "6h".
    cooldown: str = "300 labelled rows"

    @field_validator("cooldown")
    @classmethod
    def _cooldown(cls, value: str) -> str:
        parse_amount(value, what="triggers.cooldown")
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        if value is not None:
            from ._cron import CronSchedule

            CronSchedule.parse(value)
        return value

    @field_validator("decay")
    @classmethod
    def _decay(cls, value: dict[str, float | str] | None) -> dict[str, float | str] | None:
        for metric, limit in (value or {}).items():
            decay_limit(limit, 1.0, where=f"triggers.decay.{metric}")
        return value

    @property
    def cooldown_amount(self) -> Amount:
        """The cooldown, parsed."""
        return parse_amount(self.cooldown, what="triggers.cooldown")


def decay_limit(limit: float | str, holdout: float, *, where: str = "triggers.decay") -> float:
    """The largest tolerated drop: ``limit`` itself, or its share of ``holdout`` ("5%").

    Raises:
        ConfigError: Not a number >= 0 nor a percentage like "5%".
    """
    if isinstance(limit, bool):
        pass
    elif isinstance(limit, int | float) and limit >= 0:
        return float(limit)
    elif isinstance(limit, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%\s*", limit)
        if match is not None:
            return float(match[1]) / 100 * abs(holdout)
    raise ConfigError(
        f"{where} must be a drop >= 0 in the metric's units (0.05) or a share of the "
        f'holdout value ("5%"). Got {limit!r} instead.',
        key=where,
        value=limit,
    )


class AutomationConfig(_Section):
    """``[automation]``: what the controller does after a retraining run."""

    promotion: Literal["auto", "manual"] | None = None  # default: [model] approval
    # The rows a retraining learns from:
    #   since_change: labelled requests since the detected change point, topped up with the
    #     latest rows before it to min_window_rows (at most window_rows);
    #   sliding: the latest window_rows rows of the source followed by labelled requests;
    #   reference_plus_recent: the whole source plus every labelled request;
    #   all: the source as configured in [data] (requests are not used).
    data_window: Literal["all", "sliding", "reference_plus_recent", "since_change"] = "since_change"
    window_rows: int | None = Field(3000, ge=10)  # the most rows kept (sliding, since_change)
    min_window_rows: int = Field(500, ge=10)  # since_change: topped up to this many rows
    # The canary is judged once this many labelled rows arrived since it started (candidate
    # and champion scored on the same rows), or after canary_minutes.
    canary_rows: int = Field(200, ge=0)  # 0: promote without a canary
    canary_requests: int | None = Field(None, ge=0)  # deprecated: read as canary_rows
    canary_minutes: float = Field(60.0, gt=0)  # decide after this long even with fewer rows
    canary_margin: float = Field(0.0, ge=0.0)  # how much worse the canary may be, at least
    # The canary fails only if it is worse by more than canary_z standard errors of the
    # difference (and more than canary_margin).
    canary_z: float = Field(2.0, ge=0.0)

    @model_validator(mode="after")
    def _rows(self) -> AutomationConfig:
        if self.window_rows is not None and self.window_rows < self.min_window_rows:
            raise ValueError(
                f"window_rows ({self.window_rows}) must be at least min_window_rows "
                f"({self.min_window_rows})"
            )
        return self

    @property
    def canary_min_rows(self) -> int:
        """Labelled rows the canary needs (``canary_requests`` when only it is given)."""
        if self.canary_requests is not None and "canary_rows" not in self.model_fields_set:
            return self.canary_requests
        return self.canary_rows


class LoopConfig(_Section):
    """Everything the controller reads."""

    monitoring: MonitoringConfig = MonitoringConfig()
    triggers: TriggersConfig = TriggersConfig()
    automation: AutomationConfig = AutomationConfig()
    alerts: list[dict[str, Any]] = Field(default_factory=list)

    model_config = ConfigDict(extra="ignore", frozen=True)


def parse_loop_config(raw: dict[str, Any], path: str = "loopline.toml") -> LoopConfig:
    """Validate the loop's sections of a parsed ``loopline.toml``, alert rules included.

    Raises:
        ConfigError: A key is unknown or has a wrong value; the message names it.
    """
    try:
        config = LoopConfig.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            key = ".".join(str(p) for p in error["loc"])
            if error["type"] == "extra_forbidden":
                problems.append(f"unknown key {key}")
            else:
                message = str(error["msg"]).removeprefix("Value error, ")
                cause = (error.get("ctx") or {}).get("error")
                if isinstance(cause, ConfigError):
                    message = str(cause).rstrip(".")
                    problems.append(message if key in message else f"{key}: {message}")
                    continue
                problems.append(f"{key}: {message} (got {error.get('input')!r})")
        raise ConfigError(
            f"{path}: " + "; ".join(problems) + ".",
            hint="See the [monitoring], [triggers] and [automation] sections in the README.",
            path=path,
        ) from None
    if config.alerts:
        from ..monitoring import parse_rules

        parse_rules(config.alerts, where=path)
    return config


def resolved_loop_config(config: LoopConfig) -> dict[str, Any]:
    """The loop's sections with every default filled in (``loopline check``)."""
    data = config.model_dump(mode="json")
    if data["automation"].get("canary_requests") is None:
        data["automation"].pop("canary_requests", None)
    data["automation"]["canary_rows"] = config.automation.canary_min_rows
    if data["triggers"]["decay"] is None:
        data["triggers"]["decay"] = {"<training metric>": "5%"}
    return data
