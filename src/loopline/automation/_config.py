"""The ``[monitoring]``, ``[triggers]`` and ``[automation]`` sections of ``loopline.toml``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ConfigError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MonitoringConfig(_Section):
    """``[monitoring]``: the window the controller checks, and the drift thresholds."""

    window: str = "1h"  # how far back each check looks: 30m, 1h, 2d
    min_rows: int = Field(30, ge=1)  # fewer records than this: no verdict, no trigger
    drift_share: float = Field(0.5, gt=0.0, le=1.0)
    psi_threshold: float = Field(0.2, gt=0.0)
    ks_threshold: float = Field(0.1, gt=0.0, lt=1.0)


class TriggersConfig(_Section):
    """``[triggers]``: what makes the controller retrain."""

    schedule: str | None = None  # a cron expression, e.g. "0 3 * * *"
    drift: bool = True  # dataset drift in the latest window
    decay: dict[str, float] = Field(default_factory=dict)  # metric -> largest tolerated drop
    new_data: bool = False  # the training source changed (new files, new rows)
    # After a retraining run, drift, decay and new data do not trigger again for this long
    # (a schedule and 'loopline retrain' still do): a retrained model needs time to show.
    cooldown: str = "6h"


class AutomationConfig(_Section):
    """``[automation]``: what the controller does after a retraining run."""

    promotion: Literal["auto", "manual"] | None = None  # default: [model] approval
    data_window: Literal["all", "sliding", "reference_plus_recent"] = "reference_plus_recent"
    window_rows: int | None = Field(None, ge=10)  # rows kept by the sliding window
    canary_requests: int = Field(100, ge=0)  # 0: promote without a canary
    canary_minutes: float = Field(30.0, gt=0)  # decide after this long even with fewer
    canary_margin: float = Field(0.0, ge=0.0)  # how much worse the canary may be


class LoopConfig(_Section):
    """Everything the controller reads."""

    monitoring: MonitoringConfig = MonitoringConfig()
    triggers: TriggersConfig = TriggersConfig()
    automation: AutomationConfig = AutomationConfig()
    alerts: list[dict[str, Any]] = Field(default_factory=list)

    model_config = ConfigDict(extra="ignore", frozen=True)


def parse_loop_config(raw: dict[str, Any], path: str = "loopline.toml") -> LoopConfig:
    """Validate the loop's sections of a parsed ``loopline.toml``.

    Raises:
        ConfigError: A key is unknown or has a wrong value; the message names it.
    """
    try:
        return LoopConfig.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            key = ".".join(str(p) for p in error["loc"])
            if error["type"] == "extra_forbidden":
                problems.append(f"unknown key {key}")
            else:
                problems.append(f"{key}: {error['msg']} (got {error.get('input')!r})")
        raise ConfigError(
            f"{path}: " + "; ".join(problems) + ".",
            hint="See the [monitoring], [triggers] and [automation] sections in the README.",
            path=path,
        ) from None
