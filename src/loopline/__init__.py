"""Loopline: the whole MLOps loop on one machine, from one ``pip install``.

The public API is what this module exports; everything else is internal.
"""

from ._version import __version__ as __version__
from .pipeline import Pipeline as Pipeline
from .pipeline import Runner as Runner
from .pipeline import RunResult as RunResult
from .pipeline import Step as Step
from .pipeline import load_artifact as load_artifact
from .pipeline import log_artifact as log_artifact
from .pipeline import log_metric as log_metric
from .pipeline import log_metrics as log_metrics
from .pipeline import log_params as log_params
from .pipeline import pipeline as pipeline
from .pipeline import set_tag as set_tag
from .pipeline import start_run as start_run
from .pipeline import step as step
from .registry import load_model as load_model

__all__ = [
    "Pipeline",
    "RunResult",
    "Runner",
    "Step",
    "__version__",
    "load_artifact",
    "load_model",
    "log_artifact",
    "log_metric",
    "log_metrics",
    "log_params",
    "pipeline",
    "set_tag",
    "start_run",
    "step",
]
