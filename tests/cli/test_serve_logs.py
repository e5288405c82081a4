"""``loopline serve``'s logs: level, access log, JSON lines (a real server subprocess)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sklearn.datasets import load_wine

from ..conftest import run_cli
from . import test_serving_cli

served, project = test_serving_cli.served, test_serving_cli.project  # the served project


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(project: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPLINE_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "loopline", "serve", "wine@production", "--port", str(port), *args],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError(f"the server did not start: {process.communicate()[1]}")


def _stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    process.send_signal(signal.SIGINT)
    return process.communicate(timeout=30)


def test_json_access_log_has_a_line_per_request(project: Path) -> None:
    process, url = _serve(project, "--log-format", "json", "--access-log")
    try:
        record = load_wine(as_frame=True).frame.drop(columns="target").head(1)
        body = json.loads(record.to_json(orient="records"))
        assert httpx.post(url + "/predict", json=body, timeout=30).status_code == 200
        assert httpx.post(url + "/predict", json=[{"x": 1}], timeout=30).status_code == 422
    finally:
        out, err = _stop(process)
    access = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    predict = [(a["method"], a["path"], a["status"]) for a in access if a["path"] == "/predict"]
    assert predict == [("POST", "/predict", 200), ("POST", "/predict", 422)]
    assert all(a["logger"] == "uvicorn.access" and a["time"].endswith("+00:00") for a in access)
    errors = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any("Application startup complete" in e["message"] for e in errors), err


def test_no_access_log_by_default_and_warning_level_is_quiet(project: Path) -> None:
    process, url = _serve(project, "--log-level", "warning")
    try:
        assert httpx.get(url + "/healthz").status_code == 200
    finally:
        out, err = _stop(process)
    assert "/healthz" not in out + err
    assert "Application startup complete" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--log-level", "loud"], "Unknown log level 'loud'. Use one of: critical, error"),
        (["--log-format", "xml"], "Unknown log format 'xml'. Use one of: text, json"),
    ],
)
def test_bad_log_options_are_refused(project: Path, args: list[str], message: str) -> None:
    done = run_cli("serve", "wine@production", *args, cwd=project)
    assert done.returncode != 0
    assert message in done.stdout + done.stderr
