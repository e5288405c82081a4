"""``loopline serve --workers N``: connections spread over the workers, a dead worker is
replaced, a port in use is refused, and no worker outlives its supervisor (real processes)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sklearn.datasets import load_wine

from ..conftest import run_cli
from . import test_serving_cli
from .test_serve_logs import _free_port, _serve

served, project = test_serving_cli.served, test_serving_cli.project  # the served project

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc; SO_REUSEPORT spreads on Linux"
)


def _workers(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(c) for c in (task / "children").read_text().split()]
    return [c for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def _connections_held(pid: int, port: int) -> int:
    """How many established TCP connections to ``port`` process ``pid`` holds (/proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    held = 0
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01" and fields[9] in inodes:
                held += 1
    return held


def _stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    process.send_signal(signal.SIGTERM)
    return process.communicate(timeout=60)


def test_a_burst_of_connections_is_spread_over_the_workers(project: Path) -> None:
    process, url = _serve(project, "--workers", "2")
    port = int(url.rsplit(":", 1)[1])
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(32)]  # one burst
    try:
        for client in clients:  # a keep-alive request on each: every connection is accepted
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        for client in clients:
            assert client.recv(4096).startswith(b"HTTP/1.1 200")
        workers = _workers(process.pid)
        held = [_connections_held(worker, port) for worker in workers]
        assert len(workers) == 2 and sum(held) == 32, held
        # Hashed over two sockets: fewer than 6 of 32 on one side has odds below 1e-4.
        assert min(held) >= 6, held
    finally:
        for client in clients:
            client.close()
        out, err = _stop(process)
    assert process.returncode == 0, err
    assert "Traceback" not in err, err


def test_a_killed_worker_is_replaced_and_the_server_keeps_answering(project: Path) -> None:
    process, url = _serve(project, "--workers", "2")
    record = json.loads(
        load_wine(as_frame=True).frame.drop(columns="target").head(1).to_json(orient="records")
    )
    try:
        first = _workers(process.pid)
        os.kill(first[0], signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = _workers(process.pid)
            if len(now) == 2 and first[0] not in now:
                break
            time.sleep(0.2)
        assert len(now) == 2 and first[0] not in now and first[1] in now
        statuses: Counter[int] = Counter()
        for _ in range(20):  # new connections each: both sockets get some
            with httpx.Client(timeout=30) as client:
                statuses[client.post(url + "/predict", json=record).status_code] += 1
        assert statuses == Counter({200: 20})
    finally:
        out, err = _stop(process)
    assert f"Worker 0 (pid {first[0]}) exited with code -9; starting a new one." in err
    assert process.returncode == 0


def test_workers_stop_when_their_supervisor_is_killed(project: Path) -> None:
    process, url = _serve(project, "--workers", "2")
    workers = _workers(process.pid)
    process.kill()  # kill -9: no chance to stop them
    process.communicate(timeout=30)
    deadline = time.monotonic() + 30
    alive = workers
    while alive and time.monotonic() < deadline:
        alive = [w for w in workers if Path(f"/proc/{w}").exists() and _running(w)]
        time.sleep(0.2)
    assert alive == [], "workers outlived their supervisor and hold the port"
    with socket.socket() as probe:  # and the port is free again
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", int(url.rsplit(":", 1)[1])))


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (not a zombie waiting for its exit to be read)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_port_in_use_is_refused_with_a_clear_error(project: Path, workers: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli(
            "serve", "wine@production", "--port", str(port), "--workers", workers, cwd=project
        )
    assert done.returncode == 1
    assert f"Port {port} on 127.0.0.1 is already in use." in done.stderr
    assert "choose another --port" in done.stderr
    assert "Traceback" not in done.stderr
    assert "Serving" not in done.stdout


def test_an_address_not_of_this_machine_is_refused(project: Path) -> None:
    done = run_cli(
        "serve", "wine@production", "--host", "192.0.2.1", "--port", str(_free_port()),
        "--workers", "2", cwd=project,
    )  # fmt: skip
    assert done.returncode == 1
    assert "Cannot listen on 192.0.2.1:" in done.stderr and "--host" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_worker_that_cannot_start_stops_them_all_with_uvicorns_code() -> None:
    from loopline.cli._workers import STARTUP_FAILURE, listening_sockets, run_workers

    sockets = listening_sockets("127.0.0.1", _free_port(), 2)
    started = time.monotonic()
    options = {"app": "tests.cli._worker_apps:failing_startup", "lifespan": "on"}
    assert run_workers(sockets, options) == STARTUP_FAILURE
    assert time.monotonic() - started < 60
    assert all(sock.fileno() == -1 for sock in sockets)  # closed


def test_workers_that_keep_dying_stop_the_server(caplog: pytest.LogCaptureFixture) -> None:
    from loopline.cli._workers import listening_sockets, run_workers

    sockets = listening_sockets("127.0.0.1", _free_port(), 2)
    options = {"app": "tests.cli._worker_apps:dies_after_start", "lifespan": "on"}
    assert run_workers(sockets, options) == 1
    assert "Workers died 6 times in 60 s" in caplog.text


def _scrape(url: str) -> dict[str, float]:
    """Answered predictions, model calls and the served version, from one new connection."""
    from prometheus_client.parser import text_string_to_metric_families

    with httpx.Client(timeout=30) as client:
        text = client.get(url + "/metrics").text
    found: dict[str, float] = Counter()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "loopline_requests_total" and sample.labels["status"] == "200":
                found["answered"] += sample.value
            elif sample.name == "loopline_batch_rows_count":
                found["model_calls"] += sample.value
            elif sample.name == "loopline_serving_version":
                assert "pid" not in sample.labels, sample
                found[f"version_{sample.labels['role']}"] += sample.value
    return found


def test_metrics_count_every_workers_requests_whichever_worker_answers(project: Path) -> None:
    process, url = _serve(project, "--workers", "2")
    record = json.loads(
        load_wine(as_frame=True).frame.drop(columns="target").head(1).to_json(orient="records")
    )
    try:
        for _ in range(30):  # new connections: both workers answer some
            with httpx.Client(timeout=30) as client:
                assert client.post(url + "/predict", json=record).status_code == 200
        scrapes = [_scrape(url) for _ in range(8)]  # new connections: both workers answer some
        assert all(s["answered"] == 30 for s in scrapes), scrapes
        assert all(30 >= s["model_calls"] >= 15 for s in scrapes), scrapes
        assert all(s["version_primary"] == 1 for s in scrapes), scrapes

        first = _workers(process.pid)
        os.kill(first[0], signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (
            len(now := _workers(process.pid)) != 2 or first[0] in now
        ):
            time.sleep(0.2)
        scrapes = [_scrape(url) for _ in range(8)]
        # The dead worker's requests stay counted (counters never go back), and the version
        # is still one value, not one per process or a sum.
        assert all(s["answered"] == 30 for s in scrapes), scrapes
        assert all(s["version_primary"] == 1 for s in scrapes), scrapes
    finally:
        out, err = _stop(process)
    assert process.returncode == 0, err
