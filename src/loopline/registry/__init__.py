"""The model registry: versions with approval status, aliases, infra validation, rollback."""

from ._mlflow import ImportedModel as ImportedModel
from ._mlflow import export_mlflow as export_mlflow
from ._mlflow import import_mlflow as import_mlflow
from ._refs import MAX_VERSION as MAX_VERSION
from ._refs import ModelRef as ModelRef
from ._refs import check_version as check_version
from ._refs import parse_ref as parse_ref
from ._registry import PRODUCTION as PRODUCTION
from ._registry import Registry as Registry
from ._registry import load_model as load_model

__all__ = [
    "ImportedModel",
    "MAX_VERSION",
    "ModelRef",
    "PRODUCTION",
    "Registry",
    "check_version",
    "export_mlflow",
    "import_mlflow",
    "load_model",
    "parse_ref",
]
