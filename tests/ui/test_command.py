"""``loopline ui``: the real command in a subprocess, with tokens from the environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from loopline.artifacts import ArtifactStore
from loopline.store import Store

from ..conftest import run_cli
from .conftest import seed


def test_the_command_serves_the_project_with_its_tokens(project: Path) -> None:
    (project / ".loopline").mkdir()
    with Store(f"sqlite:///{project / '.loopline' / 'loopline.db'}") as store:
        seed(store, ArtifactStore(project / ".loopline" / "artifacts"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPLINE_")}
    env.update(LOOPLINE_TOKEN="v", LOOPLINE_ADMIN_TOKEN="a")
    server = subprocess.Popen(
        [sys.executable, "-m", "loopline", "ui", "--host", "127.0.0.1", "--port", str(port)],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and server.poll() is None:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        assert httpx.get(f"{url}/runs").status_code == 401
        assert httpx.get(f"{url}/runs", headers={"Authorization": "Bearer v"}).status_code == 200
        answer = httpx.post(
            f"{url}/models/loans/approve",
            data={"version": "3", "reason": "from the command test"},
            headers={"Authorization": "Bearer a"},
        )
        assert answer.status_code == 303
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert f"Loopline UI on http://127.0.0.1:{port}" in output
    with Store(f"sqlite:///{project / '.loopline' / 'loopline.db'}") as store:
        event = store.events.list(kind="model.approved", limit=1)[0]
        assert (event.actor, event.reason) == ("ui", "from the command test")


def test_a_busy_port_gets_a_clear_error(project: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli("ui", "--port", str(port), cwd=project)
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert f"Cannot listen on 127.0.0.1:{port}" in out
    assert "Pick another --port" in out and "Traceback" not in out
