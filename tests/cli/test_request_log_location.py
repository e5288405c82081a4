"""``loopline serve`` and ``loopline monitor`` check where the request log lives before
anything else: a wrong setting, a missing bucket or an unreachable endpoint is one clear
message (no traceback, no hang), and no credential is ever printed."""

from __future__ import annotations

import socket
import time
import uuid
from pathlib import Path

import pytest

from ..conftest import run_cli

#: A secret no message may show (the test server accepts any credentials).
SECRET = "loopline-SECRET-5f0c2a9e-never-print"

COMMANDS = [
    pytest.param(("serve", "churn@production"), id="serve"),
    pytest.param(("monitor", "churn@production"), id="monitor"),
]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens there once it is closed


def _run(project: Path, command: tuple[str, ...], env: dict[str, str]) -> str:
    started = time.monotonic()
    result = run_cli(*command, cwd=project, env=env, timeout=90)
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output
    assert SECRET not in output
    assert elapsed < 60, f"{command[0]} took {elapsed:.0f} s to fail"
    return " ".join(output.split())


def test_an_unknown_scheme_names_the_setting(project: Path) -> None:
    # monitor makes the same check (tests/requestlog/test_location.py covers each reader).
    output = _run(project, ("serve", "churn@production"), {"LOOPLINE_REQUEST_LOG_URL": "foo://x"})
    assert "The request log location 'foo://x' cannot be used: Protocol not known: foo." in output
    assert "([serving] request_log in loopline.toml, or LOOPLINE_REQUEST_LOG_URL)" in output


@pytest.mark.parametrize("command", COMMANDS)
def test_a_missing_bucket_fails_at_startup(
    project: Path, command: tuple[str, ...], s3_env: dict[str, str]
) -> None:
    bucket = f"loopline-missing-{uuid.uuid4().hex[:12]}"
    env = {**s3_env, "AWS_SECRET_ACCESS_KEY": SECRET}
    env["LOOPLINE_REQUEST_LOG_URL"] = f"s3://{bucket}/requests"
    output = _run(project, command, env)
    assert f"The bucket '{bucket}' of the request log s3://{bucket}/requests does not exist." in (
        output
    )
    assert "Create the bucket, or point the request log ([serving] request_log" in output


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unreachable_endpoint_fails_within_seconds(
    project: Path, command: tuple[str, ...]
) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "loopline-test-key",
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
        "LOOPLINE_REQUEST_LOG_URL": "s3://loopline-requests/prod",
    }
    output = _run(project, command, env)
    assert (
        "Could not reach the request log at s3://loopline-requests/prod: Could not connect to "
        f'the endpoint URL: "{endpoint}/loopline-requests"' in output
    )
    assert "AWS_ENDPOINT_URL" in output  # the hint says what to check
