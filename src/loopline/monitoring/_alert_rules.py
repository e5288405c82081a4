"""Alert rules: ``[[alerts]]`` from ``loopline.toml`` checked against each window's signals.

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

The ``send`` specs are checked here, with the rest of the table; ``_alert_sinks`` builds
the sinks they name and ``_alert_delivery`` sends the alerts.
"""

from __future__ import annotations

import difflib
import fnmatch
import math
import numbers
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal, NoReturn, cast, get_args

import httpx

from ..errors import ConfigError

__all__ = [
    "Alert",
    "AlertRule",
    "active_after",
    "evaluate_rules",
    "parse_rules",
]

AlertState = Literal["firing", "resolved"]
Severity = Literal["warning", "critical"]
Operator = Literal[">", ">=", "<", "<=", "==", "!="]

SEVERITIES: tuple[str, ...] = get_args(Severity)
RULE_KEYS = ("name", "when", "send", "severity")
SINK_SCHEMES = ("console", "log", "file", "webhook")
DEFAULT_SINKS = ("console",)

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
