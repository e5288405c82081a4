"""Alert rules, transitions, sinks, and background delivery to a real local webhook."""

from __future__ import annotations

import json
import logging
import re
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from loopline.errors import ConfigError
from loopline.monitoring._alert_delivery import AlertDispatcher
from loopline.monitoring._alert_rules import (
    Alert,
    AlertRule,
    active_after,
    evaluate_rules,
    parse_rules,
)
from loopline.monitoring._alert_sinks import (
    AlertSink,
    ConsoleSink,
    FileSink,
    WebhookSink,
    make_sink,
)

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)


def rule(when: str = "drift_share > 0.3", **extra: Any) -> AlertRule:
    [parsed] = parse_rules([{"name": "drift", "when": when, **extra}])
    return parsed


def alert(state: str = "firing", send: tuple[str, ...] = ("console",)) -> Alert:
    return Alert(
        rule="drift",
        state=state,  # type: ignore[arg-type]
        value=0.4,
        message="[warning] drift: drift_share = 0.4 > 0.3",
        severity="warning",
        signal="drift_share",
        time=NOW,
        when="drift_share > 0.3",
        send=send,
    )


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``condition`` (bounded) while a background thread works."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


# --------------------------------------------------------------------------- a real webhook


class Receiver:
    """What the local webhook server saw, and how it should answer."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, Any, int]] = []
        self.statuses: deque[int] = deque()  # answers to give first; then 200
        self.gate: threading.Event | None = None  # when set, requests wait for it
        self.lock = threading.Lock()

    @property
    def delivered(self) -> list[Any]:
        with self.lock:
            return [body for _, body, status in self.posts if status == 200]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        receiver = self.server.receiver
        if receiver.gate is not None:
            receiver.gate.wait(10)
        with receiver.lock:
            status = receiver.statuses.popleft() if receiver.statuses else 200
            receiver.posts.append((self.path, json.loads(body), status))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    receiver: Receiver


@contextmanager
def webhook_server(port: int = 0) -> Iterator[tuple[str, Receiver]]:
    """An HTTP server on 127.0.0.1 in a thread that records the POSTs it gets."""
    server = _Server(("127.0.0.1", port), _Handler)
    server.receiver = Receiver()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", server.receiver
    finally:
        if server.receiver.gate is not None:
            server.receiver.gate.set()
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture
def webhook() -> Iterator[tuple[str, Receiver]]:
    with webhook_server() as served:
        yield served


def free_port() -> int:
    """A loopback port nothing listens on (until someone binds it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def dispatchers() -> Iterator[Callable[..., AlertDispatcher]]:
    """Build dispatchers that are closed after the test even if it fails."""
    made: list[AlertDispatcher] = []

    def make(*sinks: AlertSink, **options: Any) -> AlertDispatcher:
        made.append(AlertDispatcher(*sinks, **options))
        return made[-1]

    yield make
    for dispatcher in made:
        dispatcher.close(timeout=0.5)


# --------------------------------------------------------------------------- parsing


def test_parse_a_full_rule_and_the_defaults() -> None:
    rules = parse_rules(
        [
            {
                "name": "drift",
                "when": "drift_share > 0.3",
                "send": ["console", "file:alerts.jsonl", "webhook:http://127.0.0.1:9000/hook"],
                "severity": "critical",
            },
            {"name": "accuracy", "when": " metric.accuracy<=-1.5e-2 "},
        ]
    )
    assert rules[0] == AlertRule(
        "drift",
        "drift_share",
        ">",
        0.3,
        ("console", "file:alerts.jsonl", "webhook:http://127.0.0.1:9000/hook"),
        "critical",
    )
    assert rules[1] == AlertRule(
        "accuracy", "metric.accuracy", "<=", -0.015, ("console",), "warning"
    )
    assert rules[1].when == "metric.accuracy <= -0.015"
    assert rule("rows >= 100").when == "rows >= 100"


@pytest.mark.parametrize("op", [">", ">=", "<", "<=", "==", "!="])
def test_every_operator_is_read(op: str) -> None:
    assert rule(f"error_rate {op} 0.05").op == op


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"name": "drift", "when": "drift_share >> 0.3"},
            "loopline.toml: alerts[1].when: cannot read 'drift_share >> 0.3'; write SIGNAL OP "
            "NUMBER, e.g. 'drift_share > 0.3'.",
        ),
        (
            {"name": "drift", "when": "drift_share > high"},
            "loopline.toml: alerts[1].when: cannot read 'drift_share > high'; write SIGNAL OP NUMBER",
        ),
        (
            {"name": "drift", "when": "> 0.3"},
            "loopline.toml: alerts[1].when: cannot read '> 0.3'",
        ),
        (
            {"name": "drift", "when": 0.3},
            "loopline.toml: alerts[1].when: must be a string; write SIGNAL OP NUMBER, e.g. "
            "'drift_share > 0.3'. Got 0.3.",
        ),
        (
            {"name": "drift", "when": "x > 1", "sned": ["console"]},
            "loopline.toml: alerts[1]: unknown key 'sned' (did you mean 'send'?); a rule has "
            "name, when, send, severity.",
        ),
        (
            {"name": "drift", "when": "x > 1", "channel": "x"},
            "loopline.toml: alerts[1]: unknown key 'channel'; a rule has name, when, send, severity.",
        ),
        ({"when": "x > 1"}, "loopline.toml: alerts[1].name: is required."),
        ({"name": "drift"}, "loopline.toml: alerts[1].when: is required."),
        (
            {"name": "", "when": "x > 1"},
            "loopline.toml: alerts[1].name: must be a non-empty string. Got ''.",
        ),
        (
            {"name": "ok", "when": "x > 1"},
            "loopline.toml: alerts[1].name: 'ok' is already the name of alerts[0]; rule names "
            "must be unique.",
        ),
        (
            {"name": "drift", "when": "x > 1", "severity": "critcal"},
            "loopline.toml: alerts[1].severity: must be 'warning' or 'critical'. Got 'critcal'; "
            "did you mean 'critical'?",
        ),
        (
            {"name": "drift", "when": "x > 1", "send": "console"},
            'loopline.toml: alerts[1].send: must be a list of sinks, e.g. ["console", '
            "\"file:alerts.jsonl\"]. Got 'console'.",
        ),
        (
            {"name": "drift", "when": "x > 1", "send": []},
            'loopline.toml: alerts[1].send: is empty; list at least one sink, e.g. ["console"].',
        ),
        (
            {"name": "drift", "when": "x > 1", "send": ["console", "slack:#ops"]},
            "loopline.toml: alerts[1].send[1]: unknown sink 'slack:#ops'; use 'console', 'log', "
            "'file:PATH' or 'webhook:URL'.",
        ),
        (
            {"name": "drift", "when": "x > 1", "send": ["webhok:http://h/x"]},
            "loopline.toml: alerts[1].send[0]: unknown sink 'webhok:http://h/x' (did you mean "
            "'webhook'?)",
        ),
        (
            {"name": "drift", "when": "x > 1", "send": ["webhook:ftp://example.com/hook"]},
            "loopline.toml: alerts[1].send[0]: a webhook URL must start with http:// or https:// "
            "and name a host, e.g. 'webhook:https://example.com/hook'. Got 'ftp://example.com/hook'.",
        ),
        (
            {"name": "drift", "when": "x > 1", "send": ["webhook:example.com/hook"]},
            "loopline.toml: alerts[1].send[0]: a webhook URL must start with http:// or https://",
        ),
        (
            {"name": "drift", "when": "x > 1", "send": ["file:"]},
            "loopline.toml: alerts[1].send[0]: the file sink needs a path, e.g. "
            "'file:alerts.jsonl'. Got 'file:'.",
        ),
        (
            {"name": "drift", "when": "x > 1", "send": ["console:stderr"]},
            "loopline.toml: alerts[1].send[0]: the console sink takes no target. Got "
            "'console:stderr'; write 'console'.",
        ),
        ("drift", "loopline.toml: alerts[1]: must be a table ([[alerts]]). Got 'drift'."),
    ],
)
def test_bad_rules_name_the_index_and_key(raw: Any, message: str) -> None:
    good = {"name": "ok", "when": "rows > 0"}
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        parse_rules([good, raw])
    assert info.value.key.startswith("alerts[1]")
    assert info.value.where == "loopline.toml"


def test_where_names_the_file_and_alerts_must_be_an_array() -> None:
    with pytest.raises(
        ConfigError, match=re.escape("proj/loopline.toml: alerts[0].when: is required.")
    ):
        parse_rules([{"name": "x"}], where="proj/loopline.toml")
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "loopline.toml: alerts: must be an array of tables ([[alerts]]). Got {'name': 'x'}."
        ),
    ):
        parse_rules({"name": "x"})  # type: ignore[arg-type]


# --------------------------------------------------------------------------- transitions


def run_windows(rules: list[AlertRule], windows: list[dict[str, Any]]) -> list[list[str]]:
    """Evaluate windows in sequence as the controller would; the states each produced."""
    active: set[str] = set()
    seen = []
    for signals in windows:
        alerts = evaluate_rules(rules, signals, active, now=NOW)
        active = active_after(alerts, active)
        seen.append([f"{a.rule}:{a.state}" for a in alerts])
    return seen


def test_a_lasting_condition_fires_once_resolves_once_and_fires_again() -> None:
    windows = [
        {"drift_share": 0.1},
        {"drift_share": 0.4},  # fires
        {"drift_share": 0.5},  # still true: nothing
        {"rows": 10},  # absent: unknown, nothing
        {"drift_share": 0.6},  # still true: nothing
        {"drift_share": 0.2},  # resolves
        {"drift_share": 0.1},  # still false: nothing
        {"drift_share": 0.35},  # fires again
    ]
    assert run_windows([rule()], windows) == [
        [],
        ["drift:firing"],
        [],
        [],
        [],
        ["drift:resolved"],
        [],
        ["drift:firing"],
    ]


def test_an_absent_signal_neither_fires_nor_resolves() -> None:
    r = rule()
    assert evaluate_rules([r], {}, set()) == []
    assert evaluate_rules([r], {"rows": 5}, {"drift"}) == []
    # Values that are not finite numbers count as absent.
    for value in (float("nan"), float("inf"), "0.9", None):
        assert evaluate_rules([r], {"drift_share": value}, set()) == []
        assert evaluate_rules([r], {"drift_share": value}, {"drift"}) == []


def test_alerts_carry_the_rule_the_value_and_a_readable_message() -> None:
    r = rule(severity="critical", send=["console", "file:a.jsonl"])
    [fired] = evaluate_rules([r], {"drift_share": 0.4, "rows": 1200}, set(), now=NOW)
    assert fired == Alert(
        rule="drift",
        state="firing",
        value=0.4,
        message="[critical] drift: drift_share = 0.4 > 0.3",
        severity="critical",
        signal="drift_share",
        time=NOW,
        when="drift_share > 0.3",
        send=("console", "file:a.jsonl"),
    )
    [resolved] = evaluate_rules([r], {"drift_share": 0.25}, {"drift"}, now=NOW)
    assert resolved.state == "resolved"
    assert resolved.message == "[resolved] drift: drift_share = 0.25, no longer > 0.3"
    assert Alert.from_dict(fired.to_dict(), send=fired.send) == fired


def test_the_default_time_is_now_in_utc() -> None:
    [fired] = evaluate_rules([rule()], {"drift_share": 1}, set())
    assert fired.time.tzinfo == timezone.utc


@pytest.mark.parametrize(
    ("when", "value", "holds"),
    [
        ("x > 1", 1, False),
        ("x > 1", 1.5, True),
        ("x >= 1", 1, True),
        ("x < 1", 1, False),
        ("x <= 1", 1, True),
        ("x == 1", 1.0, True),
        ("x != 1", 1, False),
        ("x != 1", 0, True),
        ("dataset_drift == 1", True, True),
    ],
)
def test_operators(when: str, value: Any, holds: bool) -> None:
    signals = {when.split()[0]: value}
    assert [a.state for a in evaluate_rules([rule(when)], signals, set())] == (
        ["firing"] if holds else []
    )


def test_numpy_numbers_are_signals() -> None:
    np = pytest.importorskip("numpy")
    [fired] = evaluate_rules([rule("rows < 100")], {"rows": np.int64(3)}, set())
    assert (fired.value, fired.signal) == (3.0, "rows")


def test_rules_are_independent_and_keep_their_order() -> None:
    rules = parse_rules(
        [
            {"name": "drift", "when": "drift_share > 0.3"},
            {"name": "errors", "when": "error_rate > 0.01"},
            {"name": "few", "when": "rows < 100"},
        ]
    )
    assert run_windows(
        rules,
        [
            {"drift_share": 0.4, "error_rate": 0.02, "rows": 1000},
            {"drift_share": 0.4, "error_rate": 0.0, "rows": 50},
        ],
    ) == [["drift:firing", "errors:firing"], ["errors:resolved", "few:firing"]]


def test_a_glob_fires_if_any_feature_matches_and_names_the_worst() -> None:
    r = rule("psi.* > 0.25")
    signals = {"psi.age": 0.31, "psi.income": 0.27, "psi.zip": 0.1, "drift_share": 0.9}
    [fired] = evaluate_rules([r], signals, set(), now=NOW)
    assert (fired.signal, fired.value) == ("psi.age", 0.31)
    assert fired.message == "[warning] drift: psi.age = 0.31 > 0.25 (also psi.income = 0.27)"
    # Another feature drifting while it fires is no new alert.
    assert evaluate_rules([r], {"psi.age": 0.1, "psi.zip": 0.5}, {"drift"}) == []
    [resolved] = evaluate_rules([r], {"psi.age": 0.2, "psi.zip": 0.1}, {"drift"})
    assert (resolved.state, resolved.signal, resolved.value) == ("resolved", "psi.age", 0.2)
    # No feature at all: unknown.
    assert evaluate_rules([r], {"drift_share": 0.9}, {"drift"}) == []


def test_a_glob_below_a_threshold_names_the_lowest() -> None:
    r = rule("metric.* < 0.8")
    [fired] = evaluate_rules([r], {"metric.accuracy": 0.7, "metric.f1": 0.6}, set())
    assert (fired.signal, fired.value) == ("metric.f1", 0.6)


def test_active_after_adds_fired_removes_resolved_and_drops_unknown_rules() -> None:
    firing, resolved = alert("firing"), alert("resolved")
    assert active_after([firing], set()) == {"drift"}
    assert active_after([resolved], {"drift", "other"}) == {"other"}
    before = {"drift", "gone"}
    assert active_after([], before, rules=[rule()]) == {"drift"}
    assert before == {"drift", "gone"}  # not changed in place


# --------------------------------------------------------------------------- sinks


def test_console_sink_logs_one_line_warning_when_firing_info_when_resolved(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="loopline.alerts")
    sink = ConsoleSink()
    sink.deliver(alert("firing"))
    sink.deliver(alert("resolved"))
    records = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    assert records == [
        ("loopline.alerts", logging.WARNING, "[warning] drift: drift_share = 0.4 > 0.3"),
        ("loopline.alerts", logging.INFO, "[warning] drift: drift_share = 0.4 > 0.3"),
    ]


def test_file_sink_appends_json_lines_and_creates_folders(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "alerts.jsonl"
    sink = FileSink(path)
    sink.deliver(alert("firing"))
    sink.deliver(alert("resolved"))
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [line["state"] for line in lines] == ["firing", "resolved"]
    assert lines[0] == {
        "rule": "drift",
        "state": "firing",
        "severity": "warning",
        "signal": "drift_share",
        "value": 0.4,
        "when": "drift_share > 0.3",
        "message": "[warning] drift: drift_share = 0.4 > 0.3",
        "time": "2024-06-01T12:00:00+00:00",
    }
    assert sink.name == f"file:{path}"


def test_make_sink_builds_each_kind(tmp_path: Path) -> None:
    console, log = make_sink("console"), make_sink("log")
    assert isinstance(console, ConsoleSink) and isinstance(log, ConsoleSink)
    file = make_sink("file:out/alerts.jsonl", root=tmp_path)
    assert isinstance(file, FileSink)
    assert file.path == tmp_path / "out" / "alerts.jsonl"
    assert file.name == "file:out/alerts.jsonl"
    hook = make_sink("webhook:https://example.com/hook")
    assert isinstance(hook, WebhookSink)
    assert hook.url == "https://example.com/hook"
    assert hook.timeout == 5.0
    with pytest.raises(ConfigError, match=re.escape("Alert sink 'pager': unknown sink 'pager'")):
        make_sink("pager")


def test_webhook_sink_posts_the_alert_as_json(webhook: tuple[str, Receiver]) -> None:
    url, receiver = webhook
    sink = WebhookSink(url)
    try:
        sink.deliver(alert())
    finally:
        sink.close()
    assert receiver.posts == [("/hook", alert().to_dict(), 200)]


# --------------------------------------------------------------------------- dispatcher


def test_dispatcher_routes_each_alert_to_the_sinks_its_rule_names(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="loopline.alerts")
    rules = parse_rules(
        [
            {"name": "drift", "when": "drift_share > 0.3", "send": ["file:a.jsonl"]},
            {"name": "few", "when": "rows < 100", "send": ["console", "file:a.jsonl"]},
        ]
    )
    with AlertDispatcher.for_rules(rules, root=tmp_path) as dispatcher:
        assert [s.name for s in dispatcher.sinks] == ["file:a.jsonl", "console"]
        for a in evaluate_rules(rules, {"drift_share": 0.5, "rows": 10}, set()):
            dispatcher.send(a)
        assert dispatcher.flush(timeout=10)
    lines = (tmp_path / "a.jsonl").read_text(encoding="utf-8").splitlines()
    assert sorted(json.loads(line)["rule"] for line in lines) == ["drift", "few"]
    assert [r.getMessage() for r in caplog.records if r.name == "loopline.alerts"] == [
        "[warning] few: rows = 10 < 100"
    ]
    assert dispatcher.stats.delivered == 3


def test_an_alert_naming_no_sink_goes_to_all(
    tmp_path: Path, dispatchers: Callable[..., AlertDispatcher]
) -> None:
    a, b = FileSink(tmp_path / "a.jsonl"), FileSink(tmp_path / "b.jsonl")
    dispatcher = dispatchers(a, b)
    dispatcher.send(alert(send=()))
    assert dispatcher.flush(timeout=10)
    assert a.path.exists() and b.path.exists()


def test_a_sink_the_dispatcher_lacks_is_reported(
    dispatchers: Callable[..., AlertDispatcher], caplog: pytest.LogCaptureFixture
) -> None:
    dispatcher = dispatchers(ConsoleSink())
    dispatcher.send(alert(send=("file:x.jsonl",)))
    assert "names sink 'file:x.jsonl', which this dispatcher does not have" in caplog.text
    assert dispatcher.stats.pending == 0


def test_sink_names_must_differ() -> None:
    with pytest.raises(ValueError, match=re.escape("Two alert sinks are named 'console'")):
        AlertDispatcher(ConsoleSink(), ConsoleSink())


def test_webhook_delivered_in_the_background(
    webhook: tuple[str, Receiver], dispatchers: Callable[..., AlertDispatcher]
) -> None:
    url, receiver = webhook
    dispatcher = dispatchers(WebhookSink(url, name="hook"))
    dispatcher.send(alert(send=("hook",)))
    dispatcher.send(alert("resolved", send=("hook",)))
    assert dispatcher.flush(timeout=10)
    assert receiver.delivered == [alert().to_dict(), alert("resolved").to_dict()]
    assert dispatcher.stats.delivered == 2
    assert dispatcher.stats.retried == 0
    assert dispatcher.close()


def test_send_returns_while_a_slow_webhook_holds_the_delivery(
    webhook: tuple[str, Receiver], dispatchers: Callable[..., AlertDispatcher], tmp_path: Path
) -> None:
    url, receiver = webhook
    receiver.gate = threading.Event()
    file = FileSink(tmp_path / "a.jsonl")
    dispatcher = dispatchers(WebhookSink(url, name="hook"), file)
    dispatcher.send(alert(send=("hook", file.name)))
    # The webhook has not answered, yet send returned; the file sink is not held up.
    assert dispatcher.stats.pending >= 1
    assert receiver.delivered == []
    assert wait_until(lambda: file.path.exists() and dispatcher.stats.delivered == 1)
    assert dispatcher.stats.pending == 1
    receiver.gate.set()
    assert dispatcher.flush(timeout=10)
    assert receiver.delivered == [alert().to_dict()]
    assert dispatcher.stats.delivered == 2


def test_server_errors_are_retried_until_delivered(
    webhook: tuple[str, Receiver], dispatchers: Callable[..., AlertDispatcher]
) -> None:
    url, receiver = webhook
    receiver.statuses.extend([503, 500, 429])
    dispatcher = dispatchers(WebhookSink(url, name="hook"), retries=5, backoff=0.01)
    dispatcher.send(alert(send=("hook",)))
    assert dispatcher.flush(timeout=10)
    assert [status for _, _, status in receiver.posts] == [503, 500, 429, 200]
    assert dispatcher.stats.retried == 3
    assert dispatcher.stats.delivered == 1
    assert dispatcher.stats.spooled == 0


def test_a_client_error_is_spooled_without_retrying(
    webhook: tuple[str, Receiver], dispatchers: Callable[..., AlertDispatcher], tmp_path: Path
) -> None:
    url, receiver = webhook
    receiver.statuses.append(404)
    spool = tmp_path / "spool.jsonl"
    dispatcher = dispatchers(WebhookSink(url, name="hook"), backoff=0.01, spool_path=spool)
    dispatcher.send(alert(send=("hook",)))
    assert dispatcher.flush(timeout=10)
    assert len(receiver.posts) == 1
    assert (dispatcher.stats.retried, dispatcher.stats.spooled) == (0, 1)
    [record] = [json.loads(line) for line in spool.read_text(encoding="utf-8").splitlines()]
    assert record["attempts"] == 1
    assert "answered 404 Not Found" in record["error"]


def test_a_down_webhook_is_retried_spooled_and_redelivered_once_it_is_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    spool = tmp_path / "state" / "alert-spool.jsonl"
    first = AlertDispatcher(
        WebhookSink(url), retries=3, backoff=0.01, max_backoff=0.02, spool_path=spool
    )
    try:
        first.send(alert(send=(f"webhook:{url}",)))
        assert first.flush(timeout=10)
        assert first.stats.retried == 3
        assert first.stats.spooled == 1
        assert first.stats.delivered == 0
    finally:
        first.close(timeout=1)
    [record] = [json.loads(line) for line in spool.read_text(encoding="utf-8").splitlines()]
    assert record["sink"] == f"webhook:{url}"
    assert record["attempts"] == 4
    assert record["alert"] == alert().to_dict()
    assert f"Alert 'drift' to webhook:{url} spooled to {spool}" in caplog.text

    # The next start, with the receiver up: the spooled alert arrives, once.
    with (
        webhook_server(port) as (_, receiver),
        AlertDispatcher(WebhookSink(url), backoff=0.01, spool_path=spool) as second,
    ):
        assert second.redeliver_spooled() == 1
        assert second.flush(timeout=10)
        assert receiver.delivered == [alert().to_dict()]
        assert second.stats.redelivered == 1
        assert second.stats.delivered == 1
        assert not spool.exists()
        assert second.redeliver_spooled() == 0


def test_alerts_in_memory_when_the_process_is_killed_arrive_after_the_next_start(
    tmp_path: Path,
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    spool = tmp_path / "state" / "alert-spool.jsonl"
    # A webhook that is down and a long backoff: the alert waits in memory, not spooled.
    script = textwrap.dedent(
        f"""
        import time
        from datetime import datetime, timezone
        from loopline.monitoring._alert_delivery import AlertDispatcher
        from loopline.monitoring._alert_rules import Alert
        from loopline.monitoring._alert_sinks import WebhookSink

        dispatcher = AlertDispatcher(WebhookSink({url!r}), backoff=60, spool_path={str(spool)!r})
        dispatcher.send(Alert(
            rule="drift", state="firing", value=0.4, message="drift", severity="warning",
            signal="drift_share", time=datetime(2024, 6, 1, tzinfo=timezone.utc),
            when="drift_share > 0.3", send=("webhook:{url}",),
        ))
        print("sent", flush=True)
        time.sleep(120)
        """
    )
    command = [sys.executable, "-c", script]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "sent"
        finally:
            process.kill()  # SIGKILL: no atexit, no close
            process.wait(10)
    assert not spool.exists()  # the alert was only in memory (and in the journal)

    with (
        webhook_server(port) as (_, receiver),
        AlertDispatcher(WebhookSink(url), backoff=0.01, spool_path=spool) as second,
    ):
        assert second.redeliver_spooled() == 1
        assert second.flush(timeout=10)
        assert [body["rule"] for body in receiver.delivered] == ["drift"]
    assert not spool.exists()
    assert not second.journal_path.exists()  # type: ignore[union-attr]


def test_the_journal_is_empty_once_every_delivery_settled(
    tmp_path: Path, webhook: tuple[str, Receiver]
) -> None:
    url, receiver = webhook
    spool = tmp_path / "spool.jsonl"
    with AlertDispatcher(WebhookSink(url), spool_path=spool) as dispatcher:
        assert dispatcher.journal_path == tmp_path / "spool.inflight.jsonl"
        for _ in range(3):
            dispatcher.send(alert(send=(f"webhook:{url}",)))
        assert dispatcher.flush(timeout=10)
        assert not dispatcher.journal_path.exists()
        assert dispatcher.redeliver_spooled() == 0
    assert len(receiver.delivered) == 3


def test_close_spools_what_is_still_pending(
    tmp_path: Path, dispatchers: Callable[..., AlertDispatcher]
) -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"
    spool = tmp_path / "spool.jsonl"
    # A long backoff keeps the delivery pending: send has returned, nothing is settled.
    dispatcher = dispatchers(WebhookSink(url, name="hook"), backoff=30, spool_path=spool)
    dispatcher.send(alert(send=("hook",)))
    dispatcher.send(alert("resolved", send=("hook",)))
    assert dispatcher.stats.pending == 2
    assert dispatcher.stats.spooled == 0
    assert dispatcher.close(timeout=0.2) is False
    assert dispatcher.stats.spooled == 2
    assert dispatcher.stats.pending == 0
    states = [json.loads(line)["alert"]["state"] for line in spool.read_text().splitlines()]
    assert sorted(states) == ["firing", "resolved"]
    # Sent after close: spooled too, never dropped.
    dispatcher.send(alert(send=("hook",)))
    assert dispatcher.stats.spooled == 3


def test_without_a_spool_an_undeliverable_alert_is_logged(
    dispatchers: Callable[..., AlertDispatcher], caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"
    dispatcher = dispatchers(WebhookSink(url, name="hook"), retries=0)
    dispatcher.send(alert(send=("hook",)))
    assert dispatcher.flush(timeout=10)
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "Alert to hook not delivered" in record.getMessage()
    assert '"rule": "drift"' in record.getMessage()


def test_the_spool_keeps_what_this_dispatcher_cannot_send(
    tmp_path: Path, dispatchers: Callable[..., AlertDispatcher]
) -> None:
    spool = tmp_path / "spool.jsonl"
    mine = {"sink": "file:a.jsonl", "alert": alert().to_dict(), "send": ["file:a.jsonl"]}
    other = {"sink": "webhook:http://127.0.0.1:1/x", "alert": alert().to_dict()}
    spool.write_text(
        "\n".join([json.dumps(mine), "{not json", json.dumps(other), ""]), encoding="utf-8"
    )
    dispatcher = dispatchers(FileSink(tmp_path / "a.jsonl", name="file:a.jsonl"), spool_path=spool)
    assert dispatcher.redeliver_spooled() == 1
    assert dispatcher.flush(timeout=10)
    assert (tmp_path / "a.jsonl").exists()
    assert spool.read_text(encoding="utf-8").splitlines() == ["{not json", json.dumps(other)]


def test_a_failing_file_sink_is_retried_then_spooled(
    tmp_path: Path, dispatchers: Callable[..., AlertDispatcher]
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    sink = FileSink(blocker / "alerts.jsonl")
    spool = tmp_path / "spool.jsonl"
    dispatcher = dispatchers(sink, retries=2, backoff=0.01, spool_path=spool)
    dispatcher.send(alert(send=(sink.name,)))
    assert dispatcher.flush(timeout=10)
    assert (dispatcher.stats.retried, dispatcher.stats.spooled) == (2, 1)
    assert json.loads(spool.read_text(encoding="utf-8"))["sink"] == sink.name
