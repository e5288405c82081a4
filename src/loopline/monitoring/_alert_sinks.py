"""Alert sinks: where alerts go (``console``/``log``, ``file:PATH``, ``webhook:URL``).

``AlertSink`` is the protocol every sink follows: ``deliver`` sends one alert or raises,
and an error with a false ``retryable`` attribute says retrying cannot help. ``make_sink``
builds the sink a rule's ``send`` entry names. Sinks deliver in the caller's thread;
``AlertDispatcher`` (``_alert_delivery``) runs them in the background with retries.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

import httpx

from ..errors import BackendUnavailableError, ConfigError
from ._alert_rules import Alert, _sink_problem, _split_spec

__all__ = [
    "AlertSink",
    "ConsoleSink",
    "FileSink",
    "WebhookSink",
    "make_sink",
]

#: Logger the console sink writes to, so that users can route alerts on their own.
ALERT_LOGGER = "loopline.alerts"


@runtime_checkable
class AlertSink(Protocol):
    """Somewhere alerts go. ``deliver`` raises on failure; the dispatcher retries.

    A failure that retrying cannot fix (an HTTP 404) raises an error with a false
    ``retryable`` attribute; the alert is then spooled at once.
    """

    @property
    def name(self) -> str:
        """The sink's spec (``console``, ``file:PATH``, ``webhook:URL``); alerts route by it."""
        ...

    def deliver(self, alert: Alert) -> None:
        """Send one alert, or raise."""
        ...

    def close(self) -> None:
        """Release what the sink holds (connections)."""
        ...


class ConsoleSink:
    """Log each alert as one line: WARNING when it fires, INFO when it resolves.

    Args:
        name: The spec rules use for it (``console`` or ``log``).
        logger: The logger to write to (default ``loopline.alerts``).
    """

    def __init__(self, name: str = "console", logger: logging.Logger | None = None) -> None:
        self._name = name
        self.logger = logger or logging.getLogger(ALERT_LOGGER)

    @property
    def name(self) -> str:
        """The spec rules use for this sink."""
        return self._name

    def deliver(self, alert: Alert) -> None:
        """Log the alert's message.

        Args:
            alert: The alert.
        """
        level = logging.WARNING if alert.state == "firing" else logging.INFO
        self.logger.log(level, "%s", alert.message)

    def close(self) -> None:
        """Nothing to release."""


class FileSink:
    """Append each alert as one JSON line to a file, creating its folders.

    Args:
        path: The file.
        name: The spec rules use for it (default ``file:<path>``).
    """

    def __init__(self, path: str | os.PathLike[str], name: str | None = None) -> None:
        self.path = Path(path)
        self._name = name or f"file:{path}"

    @property
    def name(self) -> str:
        """The spec rules use for this sink."""
        return self._name

    def deliver(self, alert: Alert) -> None:
        """Append the alert.

        Args:
            alert: The alert.

        Raises:
            OSError: The file cannot be written.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(alert.to_dict(), ensure_ascii=False) + "\n"
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line)

    def close(self) -> None:
        """Nothing to release."""


class WebhookSink:
    """POST each alert as JSON to a URL.

    Args:
        url: An http(s) URL.
        timeout: Seconds to wait for a connection and an answer.
        name: The spec rules use for it (default ``webhook:<url>``).
        transport: An httpx transport to use instead of the network (tests).
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 5.0,
        name: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self._name = name or f"webhook:{url}"
        self._transport = transport
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """The spec rules use for this sink."""
        return self._name

    def deliver(self, alert: Alert) -> None:
        """POST the alert.

        Args:
            alert: The alert.

        Raises:
            BackendUnavailableError: The call failed; ``retryable`` is false for an
                answer retrying cannot change (a 4xx other than 408 and 429, a redirect).
        """
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(timeout=self.timeout, transport=self._transport)
            client = self._client
        try:
            response = client.post(self.url, json=alert.to_dict())
        except httpx.HTTPError as exc:
            raise BackendUnavailableError(
                f"Webhook {self.url} could not be reached: {exc!r}.",
                hint="Check that the receiver is running; the alert is retried, then spooled.",
                url=self.url,
                retryable=True,
            ) from exc
        if response.is_success:
            return
        status = response.status_code
        raise BackendUnavailableError(
            f"Webhook {self.url} answered {status} {response.reason_phrase}.",
            hint="Check the webhook's URL and the receiver's logs.",
            url=self.url,
            status_code=status,
            retryable=status >= 500 or status in (408, 429),
        )

    def close(self) -> None:
        """Close the HTTP connection pool."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


def make_sink(spec: str, *, root: str | os.PathLike[str] | None = None) -> AlertSink:
    """Build the sink a rule's ``send`` entry names.

    Args:
        spec: ``console``, ``log``, ``file:PATH`` or ``webhook:URL``.
        root: Folder relative file paths are under (the project's folder); default the
            working directory.

    Returns:
        The sink; its ``name`` is ``spec``.

    Raises:
        ConfigError: The spec is not one of those.
    """
    problem = _sink_problem(spec)
    if problem:
        raise ConfigError(f"Alert sink {spec!r}: {problem}.", value=spec)
    scheme, target = _split_spec(spec)
    if scheme == "file":
        path = Path(target)
        if root is not None and not path.is_absolute():
            path = Path(root) / path
        return FileSink(path, name=spec)
    if scheme == "webhook":
        return WebhookSink(target, name=spec)
    return ConsoleSink(name=spec)
