"""Alerts: rules from ``loopline.toml`` checked against each monitoring window's signals.

Rules are ``[[alerts]]`` tables::

    [[alerts]]
    name = "drift"
    when = "drift_share > 0.3"          # SIGNAL OP NUMBER; OP is > >= < <= == !=
    send = ["console", "file:alerts.jsonl", "webhook:http://127.0.0.1:9000/hook"]
    severity = "critical"               # or "warning" (the default)

The monitor produces a flat dict of *signals* per window (``rows``, ``drift_share``,
``psi.age``, ``metric.accuracy``, ...). A rule's signal may be a glob (``psi.* > 0.25``):
it holds when any matching signal does, and the alert names the worst one. A rule whose
signal is absent from a window (or is not a finite number) is *unknown* for that window: it
neither fires nor resolves.

``evaluate_rules`` reports transitions only: a rule fires once when it becomes true, stays
quiet while it holds, and resolves once when it becomes false. The caller keeps the set of
active rule names between windows (``active_after``).

``AlertDispatcher`` delivers alerts to sinks (``console``/``log``, ``file:PATH``,
``webhook:URL``) on one background thread per sink, so ``send`` never blocks. A failing
delivery is retried with exponential backoff and jitter; when the retries are exhausted,
or ``close`` runs out of time, the alert is appended to a spool file (JSON lines) and
``redeliver_spooled`` re-sends it on the next start. Delivery is *at least once*: an
alert whose webhook call was still in flight when ``close`` gave up is spooled and may
arrive twice. Alerts to one sink are sent in order, but a spooled alert arrives after the
ones sent later; receivers should order by ``time``.
"""

from __future__ import annotations

import atexit
import difflib
import fnmatch
import functools
import json
import logging
import math
import numbers
import os
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, NoReturn, Protocol, cast, get_args, runtime_checkable

import httpx

from ..errors import BackendUnavailableError, ConfigError

__all__ = [
    "Alert",
    "AlertDispatcher",
    "AlertRule",
    "AlertSink",
    "ConsoleSink",
    "DispatchStats",
    "FileSink",
    "WebhookSink",
    "active_after",
    "evaluate_rules",
    "make_sink",
    "parse_rules",
]

logger = logging.getLogger(__name__)

AlertState = Literal["firing", "resolved"]
Severity = Literal["warning", "critical"]
Operator = Literal[">", ">=", "<", "<=", "==", "!="]

SEVERITIES: tuple[str, ...] = get_args(Severity)
RULE_KEYS = ("name", "when", "send", "severity")
SINK_SCHEMES = ("console", "log", "file", "webhook")
DEFAULT_SINKS = ("console",)
#: Seconds ``close`` waits for a lane that is writing its delivery to the spool.
_SPOOL_WRITE_TIMEOUT = 5.0
#: Logger the console sink writes to, so that users can route alerts on their own.
ALERT_LOGGER = "loopline.alerts"

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}
# The signal is anything without blanks or operator characters (feature names in
# ``psi.<feature>`` can hold dots, dashes and brackets); the number is finite and plain.
_WHEN = re.compile(
    r"^\s*(?P<signal>[^\s<>=!]+)\s*(?P<op>>=|<=|==|!=|>|<)\s*"
    r"(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*$"
)
_WHEN_HELP = "write SIGNAL OP NUMBER, e.g. 'drift_share > 0.3'"


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class AlertRule:
    """One ``[[alerts]]`` rule: when a signal crosses a threshold, tell some sinks.

    Args:
        name: Unique name; the key of the rule in the caller's set of active alerts.
        signal: Signal name, or a glob over signal names (``psi.*``).
        op: Comparison: one of ``>``, ``>=``, ``<``, ``<=``, ``==``, ``!=``.
        threshold: The number the signal is compared with.
        send: Sink specs: ``console``, ``log``, ``file:PATH``, ``webhook:URL``.
        severity: ``"warning"`` or ``"critical"``.

    Example:
        >>> rule = AlertRule("drift", "drift_share", ">", 0.3)
        >>> rule.when
        'drift_share > 0.3'
        >>> rule.check({"drift_share": 0.4})
        (True, 'drift_share', 0.4)
        >>> rule.check({"rows": 10}) is None
        True
    """

    name: str
    signal: str
    op: Operator
    threshold: float
    send: tuple[str, ...] = DEFAULT_SINKS
    severity: Severity = "warning"

    @property
    def when(self) -> str:
        """The rule's condition as written in ``loopline.toml`` (normalised)."""
        return f"{self.signal} {self.op} {_number(self.threshold)}"

    @property
    def is_glob(self) -> bool:
        """Whether the signal is a pattern over several signals (``psi.*``)."""
        return any(char in self.signal for char in "*?[")

    def check(self, signals: Mapping[str, object]) -> tuple[bool, str, float] | None:
        """Whether the condition holds in one window.

        Args:
            signals: The window's signals, name to number.

        Returns:
            ``None`` when the rule is unknown for this window (no matching signal with a
            finite number); otherwise ``(holds, signal, value)`` where ``signal`` is the
            worst matching signal: the one that holds and lies furthest beyond the
            threshold, or, when none holds, the one closest to holding.
        """
        values = _matching(self.signal, signals) if self.is_glob else _one(self.signal, signals)
        if not values:
            return None
        compare = _COMPARE[self.op]
        holding = [(name, v) for name, v in values if compare(v, self.threshold)]
        pool = holding or values
        if self.op in (">", ">="):
            name, value = max(pool, key=lambda item: item[1])
        elif self.op in ("<", "<="):
            name, value = min(pool, key=lambda item: item[1])
        else:
            name, value = pool[0]
        return bool(holding), name, value


def _one(name: str, signals: Mapping[str, object]) -> list[tuple[str, float]]:
    value = _as_number(signals.get(name))
    return [] if value is None else [(name, value)]


def _matching(pattern: str, signals: Mapping[str, object]) -> list[tuple[str, float]]:
    found = []
    for name in sorted(signals):
        if fnmatch.fnmatchcase(name, pattern):
            value = _as_number(signals[name])
            if value is not None:
                found.append((name, value))
    return found


def _as_number(value: object) -> float | None:
    """A signal's value as a finite float; anything else counts as absent."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.4g}"


def parse_rules(
    raw: Sequence[Mapping[str, Any]], *, where: str = "loopline.toml"
) -> list[AlertRule]:
    """Read the ``[[alerts]]`` tables of ``loopline.toml`` into rules.

    Args:
        raw: The ``alerts`` array as TOML parsed it (a list of tables).
        where: The file the rules come from, named in error messages.

    Returns:
        One rule per table, in order.

    Raises:
        ConfigError: A table is not a table, has an unknown or missing key, a duplicate
            name, a condition that cannot be read, an unknown severity or sink, or a
            webhook URL that is not http(s). The message names the rule's index and key
            (``alerts[1].when``); the error carries ``key`` and ``value``.

    Example:
        >>> [rule] = parse_rules([{"name": "drift", "when": "drift_share > 0.3"}])
        >>> rule.signal, rule.op, rule.threshold, rule.send
        ('drift_share', '>', 0.3, ('console',))
    """
    if not isinstance(raw, list | tuple):
        _fail(where, "alerts", f"must be an array of tables ([[alerts]]). Got {raw!r}", raw)
    rules: list[AlertRule] = []
    first_index: dict[str, int] = {}
    for index, table in enumerate(raw):
        rule = _parse_rule(table, f"alerts[{index}]", where)
        if rule.name in first_index:
            _fail(
                where,
                f"alerts[{index}].name",
                f"{rule.name!r} is already the name of alerts[{first_index[rule.name]}]; "
                "rule names must be unique",
                rule.name,
            )
        first_index[rule.name] = index
        rules.append(rule)
    return rules


def _parse_rule(table: object, key: str, where: str) -> AlertRule:
    if not isinstance(table, Mapping):
        _fail(where, key, f"must be a table ([[alerts]]). Got {table!r}", table)
    for name in table:
        if name not in RULE_KEYS:
            close = difflib.get_close_matches(str(name), RULE_KEYS, n=1)
            advice = f" (did you mean {close[0]!r}?)" if close else ""
            allowed = ", ".join(RULE_KEYS)
            _fail(where, key, f"unknown key {name!r}{advice}; a rule has {allowed}", name)
    for required in ("name", "when"):
        if required not in table:
            _fail(where, f"{key}.{required}", "is required", None)
    name = table["name"]
    if not isinstance(name, str) or not name.strip():
        _fail(where, f"{key}.name", f"must be a non-empty string. Got {name!r}", name)
    signal, op, threshold = _parse_when(table["when"], f"{key}.when", where)
    send = _parse_send(table.get("send", list(DEFAULT_SINKS)), f"{key}.send", where)
    severity = table.get("severity", "warning")
    if severity not in SEVERITIES:
        close = difflib.get_close_matches(str(severity), SEVERITIES, n=1)
        advice = f"; did you mean {close[0]!r}?" if close else ""
        _fail(
            where,
            f"{key}.severity",
            f"must be 'warning' or 'critical'. Got {severity!r}{advice}",
            severity,
        )
    return AlertRule(name, signal, op, threshold, send, cast(Severity, severity))


def _parse_when(when: object, key: str, where: str) -> tuple[str, Operator, float]:
    if not isinstance(when, str):
        _fail(where, key, f"must be a string; {_WHEN_HELP}. Got {when!r}", when)
    match = _WHEN.match(when)
    if match is None:
        _fail(where, key, f"cannot read {when!r}; {_WHEN_HELP}", when)
    return match["signal"], cast(Operator, match["op"]), float(match["number"])


def _parse_send(send: object, key: str, where: str) -> tuple[str, ...]:
    if not isinstance(send, list | tuple) or not all(isinstance(s, str) for s in send):
        _fail(
            where,
            key,
            f'must be a list of sinks, e.g. ["console", "file:alerts.jsonl"]. Got {send!r}',
            send,
        )
    if not send:
        _fail(where, key, 'is empty; list at least one sink, e.g. ["console"]', send)
    for index, spec in enumerate(send):
        problem = _sink_problem(spec)
        if problem:
            _fail(where, f"{key}[{index}]", problem, spec)
    return tuple(send)


def _split_spec(spec: str) -> tuple[str, str]:
    scheme, _, target = spec.partition(":")
    return scheme.strip().lower(), target.strip()


def _sink_problem(spec: str) -> str | None:
    """What is wrong with a sink spec, or ``None`` when it is fine."""
    scheme, target = _split_spec(spec)
    if scheme not in SINK_SCHEMES:
        close = difflib.get_close_matches(scheme, SINK_SCHEMES, n=1)
        advice = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown sink {spec!r}{advice}; use 'console', 'log', 'file:PATH' or 'webhook:URL'"
    if scheme in ("console", "log") and target:
        return f"the {scheme} sink takes no target. Got {spec!r}; write {scheme!r}"
    if scheme == "file" and not target:
        return f"the file sink needs a path, e.g. 'file:alerts.jsonl'. Got {spec!r}"
    if scheme == "webhook":
        url = httpx.URL(target) if _is_url(target) else None
        if url is None or url.scheme not in ("http", "https") or not url.host:
            return (
                f"a webhook URL must start with http:// or https:// and name a host, "
                f"e.g. 'webhook:https://example.com/hook'. Got {target!r}"
            )
    return None


def _is_url(text: str) -> bool:
    try:
        httpx.URL(text)
    except httpx.InvalidURL:
        return False
    return True


def _fail(where: str, key: str, problem: str, value: object) -> NoReturn:
    raise ConfigError(
        f"{where}: {key}: {problem}.",
        hint="Fix the [[alerts]] table; each has name, when, and optionally send and severity.",
        where=where,
        key=key,
        value=value,
    )


# --------------------------------------------------------------------------- alerts


@dataclass(frozen=True)
class Alert:
    """A rule that started or stopped holding, ready to be sent.

    Args:
        rule: The rule's name.
        state: ``"firing"`` when the condition became true, ``"resolved"`` when it
            became false again.
        value: The signal's value in the window that caused the transition.
        message: One readable line for people.
        severity: The rule's severity.
        signal: The signal that was compared (for a glob rule, the worst match).
        time: When the transition was seen (timezone-aware, UTC).
        when: The rule's condition (``drift_share > 0.3``).
        send: The sink specs the rule sends to; the dispatcher routes by them.
    """

    rule: str
    state: AlertState
    value: float
    message: str
    severity: Severity
    signal: str
    time: datetime
    when: str = ""
    send: tuple[str, ...] = DEFAULT_SINKS

    def to_dict(self) -> dict[str, Any]:
        """The alert as JSON-ready values (the body of a webhook call, a line of a file).

        Returns:
            ``rule``, ``state``, ``severity``, ``signal``, ``value``, ``when``,
            ``message`` and ``time`` (ISO 8601). Routing (``send``) is left out.
        """
        return {
            "rule": self.rule,
            "state": self.state,
            "severity": self.severity,
            "signal": self.signal,
            "value": self.value,
            "when": self.when,
            "message": self.message,
            "time": self.time.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, send: Iterable[str] = ()) -> Alert:
        """Rebuild an alert from ``to_dict``'s output (as read back from a spool).

        Args:
            data: What ``to_dict`` returned.
            send: The sink specs to route it to.

        Returns:
            The alert.
        """
        return cls(
            rule=str(data["rule"]),
            state=cast(AlertState, data["state"]),
            value=float(data["value"]),
            message=str(data["message"]),
            severity=cast(Severity, data["severity"]),
            signal=str(data["signal"]),
            time=datetime.fromisoformat(str(data["time"])),
            when=str(data.get("when", "")),
            send=tuple(send),
        )


def evaluate_rules(
    rules: Iterable[AlertRule],
    signals: Mapping[str, object],
    active: Iterable[str],
    *,
    now: datetime | None = None,
) -> list[Alert]:
    """The alerts one window causes: transitions only, so a lasting condition alerts once.

    A rule not in ``active`` that holds now fires; a rule in ``active`` that no longer
    holds resolves; anything else (still true, still false, or unknown because the
    signal is absent) emits nothing.

    Args:
        rules: The configured rules.
        signals: The window's signals, name to number.
        active: Names of the rules firing after the previous window.
        now: The time stamped on the alerts (default: the current time, UTC).

    Returns:
        The alerts, in the order of ``rules``.

    Example:
        >>> [rule] = parse_rules([{"name": "drift", "when": "drift_share > 0.3"}])
        >>> [alert] = evaluate_rules([rule], {"drift_share": 0.4}, set())
        >>> alert.state, alert.message
        ('firing', '[warning] drift: drift_share = 0.4 > 0.3')
        >>> evaluate_rules([rule], {"drift_share": 0.5}, {"drift"})
        []
        >>> [evaluate_rules([rule], {"drift_share": 0.1}, {"drift"})[0].state]
        ['resolved']
    """
    stamp = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    was_active = set(active)
    alerts = []
    for rule in rules:
        outcome = rule.check(signals)
        if outcome is None:
            continue
        holds, signal, value = outcome
        if holds and rule.name not in was_active:
            state: AlertState = "firing"
        elif not holds and rule.name in was_active:
            state = "resolved"
        else:
            continue
        message = _message(rule, state, signal, value, signals)
        alerts.append(
            Alert(
                rule.name, state, value, message, rule.severity, signal, stamp, rule.when, rule.send
            )
        )
    return alerts


def _message(
    rule: AlertRule, state: AlertState, signal: str, value: float, signals: Mapping[str, object]
) -> str:
    reading = f"{signal} = {_number(value)}"
    if state == "resolved":
        return f"[resolved] {rule.name}: {reading}, no longer {rule.op} {_number(rule.threshold)}"
    line = f"[{rule.severity}] {rule.name}: {reading} {rule.op} {_number(rule.threshold)}"
    if rule.is_glob:
        compare = _COMPARE[rule.op]
        others = [
            f"{name} = {_number(v)}"
            for name, v in _matching(rule.signal, signals)
            if name != signal and compare(v, rule.threshold)
        ]
        if others:
            line += f" (also {', '.join(others)})"
    return line


def active_after(
    alerts: Iterable[Alert], active: Iterable[str], *, rules: Iterable[AlertRule] | None = None
) -> set[str]:
    """The set of active rule names once ``alerts`` are applied; persist it between windows.

    Args:
        alerts: What ``evaluate_rules`` returned for the window.
        active: The names active before the window.
        rules: When given, names of rules no longer configured are dropped.

    Returns:
        A new set: ``active`` plus the rules that fired, minus those that resolved.
    """
    after = set(active)
    for alert in alerts:
        if alert.state == "firing":
            after.add(alert.rule)
        else:
            after.discard(alert.rule)
    if rules is not None:
        after &= {rule.name for rule in rules}
    return after


# --------------------------------------------------------------------------- sinks


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


# --------------------------------------------------------------------------- dispatcher


@dataclass(frozen=True)
class DispatchStats:
    """Counts of what an ``AlertDispatcher`` did with its deliveries (one per alert and sink).

    Args:
        delivered: Deliveries that succeeded.
        retried: Attempts that failed and were tried again.
        spooled: Deliveries given up on and written to the spool (or logged without one).
        pending: Deliveries queued or in progress.
        redelivered: Spooled deliveries taken back by ``redeliver_spooled``.
    """

    delivered: int = 0
    retried: int = 0
    spooled: int = 0
    pending: int = 0
    redelivered: int = 0


@dataclass(eq=False)
class _Delivery:
    alert: Alert
    sink: str
    attempts: int = 0
    claimed: bool = False  # someone (its lane, or ``close``) is delivering or spooling it
    done: bool = False  # delivered, or written to the spool
    error: str = ""


@dataclass
class _Lane:
    """One sink's queue and the thread that empties it."""

    sink: AlertSink
    queue: deque[_Delivery] = field(default_factory=deque)
    current: _Delivery | None = None
    thread: threading.Thread | None = None


class AlertDispatcher:
    """Deliver alerts in the background, retrying failures and spooling what cannot be sent.

    Each sink gets its own thread, started on first use, so a down webhook delays nothing
    but its own later alerts. An alert goes to the sinks its ``send`` names (to all sinks
    when it names none). Close the dispatcher (or use it as a context manager) so that
    pending alerts are delivered or spooled; an unclosed dispatcher spools what is pending
    when the interpreter exits.

    Args:
        *sinks: The sinks, with distinct names.
        retries: Attempts after the first before a delivery is spooled.
        backoff: Seconds before the first retry; doubled at each retry.
        max_backoff: Upper bound of the wait between retries, in seconds.
        spool_path: JSON-lines file for deliveries given up on. Without one they are
            logged at ERROR (with the alert) and lost.

    Raises:
        ValueError: Two sinks share a name.

    Example:
        >>> import logging
        >>> sink = ConsoleSink(logger=logging.getLogger("doctest.alerts"))
        >>> with AlertDispatcher(sink) as dispatcher:
        ...     [alert] = evaluate_rules(
        ...         parse_rules([{"name": "rows", "when": "rows < 100"}]), {"rows": 3}, set()
        ...     )
        ...     dispatcher.send(alert)
        >>> dispatcher.stats.delivered
        1
    """

    def __init__(
        self,
        *sinks: AlertSink,
        retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        spool_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self._lanes: dict[str, _Lane] = {}
        for sink in sinks:
            if sink.name in self._lanes:
                raise ValueError(f"Two alert sinks are named {sink.name!r}; names must differ.")
            self._lanes[sink.name] = _Lane(sink)
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.spool_path = None if spool_path is None else Path(spool_path)
        self._cond = threading.Condition()
        self._spool_lock = threading.Lock()
        self._abandon = threading.Event()
        self._closed = False
        self._counts = {"delivered": 0, "retried": 0, "spooled": 0, "redelivered": 0}
        self._random = random.Random()
        self._warned: set[str] = set()
        self._at_exit = functools.partial(self.close, 0.0)
        atexit.register(self._at_exit)

    @classmethod
    def for_rules(
        cls,
        rules: Iterable[AlertRule],
        *,
        root: str | os.PathLike[str] | None = None,
        retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        spool_path: str | os.PathLike[str] | None = None,
    ) -> AlertDispatcher:
        """A dispatcher with one sink for each distinct spec the rules send to.

        Args:
            rules: The configured rules.
            root: Folder relative ``file:`` paths are under (the project's folder).
            retries: See the class.
            backoff: See the class.
            max_backoff: See the class.
            spool_path: See the class.

        Returns:
            The dispatcher.
        """
        specs = dict.fromkeys(spec for rule in rules for spec in rule.send)
        sinks = [make_sink(spec, root=root) for spec in specs]
        return cls(
            *sinks,
            retries=retries,
            backoff=backoff,
            max_backoff=max_backoff,
            spool_path=spool_path,
        )

    @property
    def sinks(self) -> tuple[AlertSink, ...]:
        """The dispatcher's sinks."""
        return tuple(lane.sink for lane in self._lanes.values())

    @property
    def stats(self) -> DispatchStats:
        """What has been delivered, retried, spooled, and what is pending now."""
        with self._cond:
            return DispatchStats(pending=self._pending(), **self._counts)

    def send(self, alert: Alert) -> None:
        """Queue an alert for its sinks and return at once.

        Args:
            alert: The alert; it goes to the sinks ``alert.send`` names (all if none).
        """
        names = alert.send or tuple(self._lanes)
        for name in dict.fromkeys(names):
            if name not in self._lanes:
                self._warn_once(name, alert)
                continue
            self._enqueue(_Delivery(alert, name))

    def redeliver_spooled(self) -> int:
        """Queue again every spooled delivery whose sink this dispatcher has.

        Call it once at start. Records for sinks this dispatcher does not have, and lines
        that cannot be read, stay in the spool.

        Returns:
            How many deliveries were queued.
        """
        if self.spool_path is None:
            return 0
        with self._spool_lock:
            try:
                lines = self.spool_path.read_text(encoding="utf-8").splitlines()
            except FileNotFoundError:
                return 0
            kept: list[str] = []
            taken: list[_Delivery] = []
            for line in lines:
                delivery = self._from_spool_line(line)
                if delivery is None or delivery.sink not in self._lanes:
                    if line.strip():
                        kept.append(line)
                    continue
                taken.append(delivery)
            self._rewrite_spool(kept)
        with self._cond:
            self._counts["redelivered"] += len(taken)
        for delivery in taken:
            self._enqueue(delivery)
        return len(taken)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until nothing is pending.

        Args:
            timeout: Seconds to wait at most (``None``: no limit).

        Returns:
            Whether everything was delivered or spooled in time.
        """
        with self._cond:
            return self._cond.wait_for(lambda: self._pending() == 0, timeout)

    def close(self, timeout: float = 10.0) -> bool:
        """Stop taking alerts; wait for pending deliveries, then spool what is left.

        Args:
            timeout: Seconds to wait for pending deliveries (retries included).

        Returns:
            Whether every pending delivery finished (delivered, or spooled after its
            retries) within ``timeout``; ``False`` means some were spooled unfinished.
        """
        atexit.unregister(self._at_exit)
        deadline = time.monotonic() + timeout
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for lane in self._lanes.values():
            if lane.thread is not None:
                lane.thread.join(max(0.0, deadline - time.monotonic()))
        finished = not any(lane.thread and lane.thread.is_alive() for lane in self._lanes.values())
        if not finished:
            self._abandon.set()
            with self._cond:
                left = [d for lane in self._lanes.values() for d in lane.queue]
                left += [lane.current for lane in self._lanes.values() if lane.current]
                for lane in self._lanes.values():
                    lane.queue.clear()
            for delivery in left:
                self._spool(delivery, "the dispatcher closed before it was delivered")
            # A lane that claimed its delivery first is writing it to the spool: a moment.
            with self._cond:
                self._cond.wait_for(lambda: all(d.done for d in left), _SPOOL_WRITE_TIMEOUT)
        for lane in self._lanes.values():
            if lane.thread is None or not lane.thread.is_alive():
                lane.sink.close()
        return finished

    def __enter__(self) -> AlertDispatcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ----------------------------------------------------------------- internals

    def _pending(self) -> int:
        # A delivery ``close`` spooled may still be the lane's current one for a moment.
        return sum(
            len(lane.queue) + (lane.current is not None and not lane.current.done)
            for lane in self._lanes.values()
        )

    def _enqueue(self, delivery: _Delivery) -> None:
        with self._cond:
            if not self._closed:
                lane = self._lanes[delivery.sink]
                lane.queue.append(delivery)
                if lane.thread is None:
                    lane.thread = threading.Thread(
                        target=self._work,
                        args=(lane,),
                        name=f"loopline-alerts:{delivery.sink}",
                        daemon=True,
                    )
                    lane.thread.start()
                self._cond.notify_all()
                return
        self._spool(delivery, "the dispatcher was closed when it was sent")

    def _work(self, lane: _Lane) -> None:
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: bool(lane.queue) or self._closed)
                    if not lane.queue or self._abandon.is_set():
                        return
                    delivery = lane.current = lane.queue.popleft()
                try:
                    self._attempt(lane.sink, delivery)
                except Exception:  # a bug must not kill the lane and lose its alerts
                    logger.exception("Alert delivery to %s failed unexpectedly", lane.sink.name)
                    self._spool(delivery, "an unexpected error in the dispatcher")
                with self._cond:
                    lane.current = None
                    self._cond.notify_all()
        finally:
            if self._closed:
                lane.sink.close()

    def _attempt(self, sink: AlertSink, delivery: _Delivery) -> None:
        """Try one delivery until it is delivered, or spooled."""
        while not self._abandon.is_set():
            try:
                sink.deliver(delivery.alert)
            except Exception as exc:
                delivery.attempts += 1
                delivery.error = str(exc) or repr(exc)
                if not getattr(exc, "retryable", True):
                    self._spool(delivery, f"retrying cannot help: {delivery.error}")
                    return
                if delivery.attempts > self.retries:
                    self._spool(delivery, f"{delivery.attempts} attempts failed: {delivery.error}")
                    return
                with self._cond:
                    self._counts["retried"] += 1
                logger.info(
                    "Alert %r to %s failed (%s); retry %d of %d",
                    delivery.alert.rule,
                    sink.name,
                    delivery.error,
                    delivery.attempts,
                    self.retries,
                )
                self._abandon.wait(self._delay(delivery.attempts))
            else:
                if self._claim(delivery):
                    self._finish(delivery, "delivered")
                return
        self._spool(delivery, "the dispatcher closed before it was delivered")

    def _delay(self, attempt: int) -> float:
        """Exponential backoff with jitter: half the step, plus up to half again at random."""
        step = min(self.max_backoff, self.backoff * 2.0 ** (attempt - 1))
        return step * (0.5 + self._random.random() / 2)

    def _claim(self, delivery: _Delivery) -> bool:
        """Take a delivery to settle it; ``False`` if another thread has (``close``)."""
        with self._cond:
            if delivery.claimed:
                return False
            delivery.claimed = True
            return True

    def _finish(self, delivery: _Delivery, outcome: str) -> None:
        with self._cond:
            delivery.done = True
            self._counts[outcome] += 1
            self._cond.notify_all()

    def _spool(self, delivery: _Delivery, reason: str) -> None:
        if not self._claim(delivery):
            return
        try:
            self._write_spool(delivery, reason)
        finally:
            self._finish(delivery, "spooled")

    def _write_spool(self, delivery: _Delivery, reason: str) -> None:
        record = {
            "sink": delivery.sink,
            "alert": delivery.alert.to_dict(),
            "send": list(delivery.alert.send),
            "attempts": delivery.attempts,
            "error": delivery.error,
            "spooled_at": datetime.now(timezone.utc).isoformat(),
        }
        line = json.dumps(record, ensure_ascii=False)
        if self.spool_path is None:
            logger.error(
                "Alert to %s not delivered (%s) and no spool: %s", delivery.sink, reason, line
            )
            return
        logger.warning(
            "Alert %r to %s spooled to %s (%s)",
            delivery.alert.rule,
            delivery.sink,
            self.spool_path,
            reason,
        )
        try:
            with self._spool_lock:
                self.spool_path.parent.mkdir(parents=True, exist_ok=True)
                with self.spool_path.open("a", encoding="utf-8") as f:
                    f.write(line + "\n")
                    f.flush()
                    os.fsync(f.fileno())
        except OSError:
            logger.exception(
                "Cannot write the alert spool %s; the alert was: %s", self.spool_path, line
            )

    def _from_spool_line(self, line: str) -> _Delivery | None:
        try:
            record = json.loads(line)
            alert = Alert.from_dict(record["alert"], send=record.get("send", ()))
            return _Delivery(alert, str(record["sink"]))
        except (ValueError, KeyError, TypeError):
            if line.strip():
                logger.warning(
                    "Unreadable line in the alert spool %s kept: %r", self.spool_path, line
                )
            return None

    def _rewrite_spool(self, lines: list[str]) -> None:
        assert self.spool_path is not None
        if not lines:
            self.spool_path.unlink(missing_ok=True)
            return
        temporary = self.spool_path.with_name(self.spool_path.name + ".tmp")
        temporary.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        os.replace(temporary, self.spool_path)

    def _warn_once(self, name: str, alert: Alert) -> None:
        if name not in self._warned:
            self._warned.add(name)
            logger.warning(
                "Alert %r names sink %r, which this dispatcher does not have; build it with "
                "AlertDispatcher.for_rules(rules)",
                alert.rule,
                name,
            )
