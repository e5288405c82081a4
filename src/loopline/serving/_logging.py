"""The server's logs: level, access log, and plain text or one JSON object per line.

``log_config(...)`` is a ``logging.config.dictConfig`` for uvicorn's ``log_config``: the
same handlers carry uvicorn's own messages, the access log and Loopline's loggers, so a
log shipper reads one format. JSON lines carry ``time`` (UTC, ISO 8601), ``level``,
``logger`` and ``message``; access lines add ``client``, ``method``, ``path``,
``http_version`` and ``status``.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any

LEVELS = ("critical", "error", "warning", "info", "debug")
FORMATS = ("text", "json")


class JsonFormatter(logging.Formatter):
    """One JSON object per record (and the traceback, if any, under ``exception``)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            client, method, path, version, status = (*record.args, *[None] * 5)[:5]
            entry.update(
                message=f"{method} {path} {status}",
                client=client,
                method=method,
                path=path,
                http_version=version,
                status=status,
            )
        else:
            entry["message"] = record.getMessage()
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def log_config(
    level: str = "info", format: str = "text", access_log: bool = False
) -> dict[str, Any]:
    """A ``dictConfig`` for uvicorn and Loopline's loggers.

    Args:
        level: The lowest level written: one of ``LEVELS``.
        format: ``"text"`` (uvicorn's) or ``"json"`` (one object per line).
        access_log: Whether every request gets a line (logger ``uvicorn.access``).

    Raises:
        ValueError: An unknown level or format.

    Example:
        >>> log_config("warning", "json")["loggers"]["uvicorn.access"]["level"]
        'CRITICAL'
    """
    if level not in LEVELS:
        raise ValueError(f"Unknown log level {level!r}. Use one of: {', '.join(LEVELS)}.")
    if format not in FORMATS:
        raise ValueError(f"Unknown log format {format!r}. Use one of: {', '.join(FORMATS)}.")
    if format == "json":
        formatters: dict[str, Any] = {
            "default": {"()": f"{__name__}.JsonFormatter"},
            "access": {"()": f"{__name__}.JsonFormatter"},
        }
    else:
        formatters = {
            "default": {
                "()": "uvicorn.logging.DefaultFormatter",
                "fmt": "%(asctime)s %(levelprefix)s %(name)s: %(message)s",
                "use_colors": None,
            },
            "access": {
                "()": "uvicorn.logging.AccessFormatter",
                "fmt": '%(asctime)s %(levelprefix)s %(client_addr)s "%(request_line)s" '
                "%(status_code)s",
                "use_colors": None,
            },
        }
    upper = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": formatters,
        "handlers": {
            "default": {
                "formatter": "default",
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
            },
            "access": {
                "formatter": "access",
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": upper, "propagate": False},
            "uvicorn.error": {"level": upper},
            # CRITICAL: off (uvicorn logs access lines at INFO).
            "uvicorn.access": {
                "handlers": ["access"],
                "level": "INFO" if access_log else "CRITICAL",
                "propagate": False,
            },
            "loopline": {"handlers": ["default"], "level": upper, "propagate": False},
        },
    }
