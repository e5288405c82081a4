"""Monitoring: drift and performance of served models against what they were trained on.

``monitor(registry, "wine@production", request_log=...)`` scores a window of logged
requests against the training statistics the model package carries, adds performance
from labels attached with ``attach_feedback``, and stores the result.
"""

from ._alert_delivery import AlertDispatcher as AlertDispatcher
from ._alert_rules import Alert as Alert
from ._alert_rules import AlertRule as AlertRule
from ._alert_rules import active_after as active_after
from ._alert_rules import evaluate_rules as evaluate_rules
from ._alert_rules import parse_rules as parse_rules
from ._baseline import FeatureBaseline as FeatureBaseline
from ._drift import DriftDetector as DriftDetector
from ._feedback import FeedbackResult as FeedbackResult
from ._feedback import LabelTarget as LabelTarget
from ._feedback import attach_feedback as attach_feedback
from ._feedback import read_feedback_file as read_feedback_file
from ._monitor import MonitoringResult as MonitoringResult
from ._monitor import monitor as monitor
from ._monitor import signals_of as signals_of
from ._monitor import window_performance as window_performance
from ._report import DriftReport as DriftReport
from ._report import FeatureDrift as FeatureDrift

__all__ = [
    "Alert",
    "AlertDispatcher",
    "AlertRule",
    "DriftDetector",
    "DriftReport",
    "FeatureBaseline",
    "FeatureDrift",
    "FeedbackResult",
    "LabelTarget",
    "MonitoringResult",
    "active_after",
    "attach_feedback",
    "evaluate_rules",
    "monitor",
    "parse_rules",
    "read_feedback_file",
    "signals_of",
    "window_performance",
]
