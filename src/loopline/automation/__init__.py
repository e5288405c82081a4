"""Closing the loop: triggers, the controller that retrains, validates and promotes."""

from ._config import LoopConfig as LoopConfig
from ._config import parse_loop_config as parse_loop_config
from ._controller import Controller as Controller
from ._controller import request_retrain as request_retrain
from ._cron import CronSchedule as CronSchedule

__all__ = ["Controller", "CronSchedule", "LoopConfig", "parse_loop_config", "request_retrain"]
