"""Closing the loop: triggers, the controller that retrains, validates and promotes."""

from ._config import LoopConfig as LoopConfig
from ._config import parse_amount as parse_amount
from ._config import parse_loop_config as parse_loop_config
from ._config import resolved_loop_config as resolved_loop_config
from ._controller import Controller as Controller
from ._controller import request_retrain as request_retrain
from ._cron import CronSchedule as CronSchedule

__all__ = [
    "Controller",
    "CronSchedule",
    "LoopConfig",
    "parse_amount",
    "parse_loop_config",
    "request_retrain",
    "resolved_loop_config",
]
