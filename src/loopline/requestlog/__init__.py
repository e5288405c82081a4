"""The request log: what the prediction service answered, for monitoring to read.

It sits below both ``loopline.serving`` (which writes it) and ``loopline.monitoring`` and
``loopline.automation`` (which read it), so neither reaches into the other for it.
It lives in a local folder or on an object store (``s3://bucket/prefix``): the
``request_log_url`` setting (``[serving] request_log``, ``LOOPLINE_REQUEST_LOG_URL``).
``Records`` are a request's checked rows as plain columns, the form the service hands to
the log (and to its micro-batcher) without building a DataFrame per request.
"""

from ._location import check_request_log as check_request_log
from ._log import BASE_COLUMNS as BASE_COLUMNS
from ._log import LogStats as LogStats
from ._log import ReadStats as ReadStats
from ._log import RequestLog as RequestLog
from ._log import append_error as append_error
from ._log import count_errors as count_errors
from ._log import has_requests as has_requests
from ._log import prediction_outputs as prediction_outputs
from ._log import read_request_log as read_request_log
from ._records import NUMERIC as NUMERIC
from ._records import TEXT as TEXT
from ._records import Records as Records
from ._records import frame_of as frame_of

__all__ = [
    "BASE_COLUMNS",
    "LogStats",
    "NUMERIC",
    "ReadStats",
    "Records",
    "RequestLog",
    "TEXT",
    "append_error",
    "check_request_log",
    "count_errors",
    "frame_of",
    "has_requests",
    "prediction_outputs",
    "read_request_log",
]
