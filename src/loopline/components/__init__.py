"""The standard steps of the model-development workflow, and the functions behind them.

``standard_pipeline(config, project_dir)`` wires the steps from ``loopline.toml``; each step
(``ingest``, ``statistics``, ``schema``, ``validate_data``, ``split``, ``transform``,
``select``, ``tune_best``, ``train_model``, ``evaluate_model``, ``package``, ``bless``) can
also be called in a pipeline of your own, and each function behind them works on plain
pandas and scikit-learn objects.
"""

from ._bless import BlessingRule as BlessingRule
from ._candidates import Candidate as Candidate
from ._candidates import default_candidates as default_candidates
from ._candidates import infer_task as infer_task
from ._candidates import make_candidate as make_candidate
from ._candidates import parse_search_space as parse_search_space
from ._config import DataConfig as DataConfig
from ._config import WorkflowConfig as WorkflowConfig
from ._config import parse_workflow_config as parse_workflow_config
from ._drift_math import psi as psi
from ._evaluate import METRICS as METRICS
from ._evaluate import Evaluation as Evaluation
from ._evaluate import evaluate as evaluate
from ._evaluate import metric_direction as metric_direction
from ._evaluate import score_predictions as score_predictions
from ._ingest import read_source as read_source
from ._ingest import resolve_source as resolve_source
from ._ingest import same_source as same_source
from ._package import ModelPackage as ModelPackage
from ._package import load_package as load_package
from ._package import package_folder as package_folder
from ._package import write_package as write_package
from ._policy import POLICIES as POLICIES
from ._policy import check_policy as check_policy
from ._policy import policy_severity as policy_severity
from ._roles import ROLES as ROLES
from ._roles import ColumnRole as ColumnRole
from ._roles import apply_roles as apply_roles
from ._roles import infer_roles as infer_roles
from ._schema import ColumnSchema as ColumnSchema
from ._schema import Schema as Schema
from ._schema import infer_schema as infer_schema
from ._select import Leaderboard as Leaderboard
from ._select import cross_validate_candidates as cross_validate_candidates
from ._standard import PIPELINE_NAME as PIPELINE_NAME
from ._standard import find_reference as find_reference
from ._standard import standard_pipeline as standard_pipeline
from ._statistics import KINDS as KINDS
from ._statistics import Kind as Kind
from ._statistics import bin_counts as bin_counts
from ._statistics import check_statistics as check_statistics
from ._statistics import column_kind as column_kind
from ._statistics import column_names as column_names
from ._statistics import compute_statistics as compute_statistics
from ._statistics import to_float_array as to_float_array
from ._statistics import value_counts as value_counts
from ._steps import bless as bless
from ._steps import evaluate_model as evaluate_model
from ._steps import ingest as ingest
from ._steps import package as package
from ._steps import schema as schema
from ._steps import select as select
from ._steps import split as split
from ._steps import statistics as statistics
from ._steps import train_model as train_model
from ._steps import transform as transform
from ._steps import tune_best as tune_best
from ._steps import validate_data as validate_data
from ._transform import build_preprocessor as build_preprocessor
from ._transform import describe_encoding as describe_encoding
from ._trials import BaseTrialRunner as BaseTrialRunner
from ._trials import InProcessTrials as InProcessTrials
from ._trials import RayTrials as RayTrials
from ._tune import TuningResult as TuningResult
from ._tune import tune as tune
from ._validate import DataValidationError as DataValidationError
from ._validate import ValidationReport as ValidationReport
from ._validate import validate as validate

__all__ = [
    "BaseTrialRunner",
    "BlessingRule",
    "Candidate",
    "ColumnRole",
    "ColumnSchema",
    "DataConfig",
    "DataValidationError",
    "Evaluation",
    "InProcessTrials",
    "KINDS",
    "Kind",
    "Leaderboard",
    "METRICS",
    "ModelPackage",
    "PIPELINE_NAME",
    "POLICIES",
    "ROLES",
    "RayTrials",
    "Schema",
    "TuningResult",
    "ValidationReport",
    "WorkflowConfig",
    "apply_roles",
    "bin_counts",
    "bless",
    "build_preprocessor",
    "check_policy",
    "check_statistics",
    "column_kind",
    "column_names",
    "compute_statistics",
    "cross_validate_candidates",
    "default_candidates",
    "describe_encoding",
    "evaluate",
    "evaluate_model",
    "find_reference",
    "infer_roles",
    "infer_schema",
    "infer_task",
    "ingest",
    "load_package",
    "make_candidate",
    "metric_direction",
    "package",
    "package_folder",
    "parse_search_space",
    "parse_workflow_config",
    "policy_severity",
    "psi",
    "read_source",
    "resolve_source",
    "same_source",
    "schema",
    "score_predictions",
    "select",
    "split",
    "standard_pipeline",
    "statistics",
    "to_float_array",
    "train_model",
    "transform",
    "tune",
    "tune_best",
    "validate",
    "validate_data",
    "value_counts",
    "write_package",
]
