"""The prediction service: validation, micro-batching, hot swap, canary, shadow, request log.

``create_app(PredictionService(registry, "wine@production"))`` is the FastAPI application
``loopline serve`` runs on uvicorn; the building blocks work on their own too.
"""

from ._app import create_app as create_app
from ._batcher import MicroBatcher as MicroBatcher
from ._batcher import Predictions as Predictions
from ._logging import log_config as log_config
from ._payload import read_payload as read_payload
from ._service import PredictionService as PredictionService
from ._service import ServingOptions as ServingOptions
from ._validation import FieldError as FieldError
from ._validation import PayloadError as PayloadError
from ._validation import Policy as Policy
from ._validation import check_frame as check_frame

__all__ = [
    "FieldError",
    "MicroBatcher",
    "PayloadError",
    "Policy",
    "PredictionService",
    "Predictions",
    "ServingOptions",
    "check_frame",
    "create_app",
    "log_config",
    "read_payload",
]
