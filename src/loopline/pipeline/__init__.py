"""The pipeline engine: ``@step``, ``@pipeline``, the runner, executors and tracking."""

from ._executor import BaseExecutor as BaseExecutor
from ._executor import get_executor as get_executor
from ._inprocess import InProcessExecutor as InProcessExecutor
from ._loading import load_pipeline as load_pipeline
from ._pipeline import OutputRef as OutputRef
from ._pipeline import Pipeline as Pipeline
from ._pipeline import PipelineGraph as PipelineGraph
from ._pipeline import pipeline as pipeline
from ._process_pool import ProcessPoolExecutor as ProcessPoolExecutor
from ._ray import RayExecutor as RayExecutor
from ._runner import RunListener as RunListener
from ._runner import Runner as Runner
from ._runner import RunResult as RunResult
from ._step import Step as Step
from ._step import step as step
from ._tracking import StepProgress as StepProgress
from ._tracking import current_executor as current_executor
from ._tracking import current_run_id as current_run_id
from ._tracking import current_store_url as current_store_url
from ._tracking import load_artifact as load_artifact
from ._tracking import log_artifact as log_artifact
from ._tracking import log_metric as log_metric
from ._tracking import log_metrics as log_metrics
from ._tracking import log_params as log_params
from ._tracking import report_progress as report_progress
from ._tracking import set_tag as set_tag
from ._tracking import start_run as start_run
from ._tracking import step_progress as step_progress

__all__ = [
    "BaseExecutor",
    "InProcessExecutor",
    "OutputRef",
    "Pipeline",
    "PipelineGraph",
    "ProcessPoolExecutor",
    "RayExecutor",
    "RunListener",
    "RunResult",
    "Runner",
    "Step",
    "StepProgress",
    "current_executor",
    "current_run_id",
    "current_store_url",
    "get_executor",
    "load_artifact",
    "load_pipeline",
    "log_artifact",
    "log_metric",
    "log_metrics",
    "log_params",
    "pipeline",
    "report_progress",
    "set_tag",
    "start_run",
    "step",
    "step_progress",
]
