"""The loop on shared stores, from the command line: artifacts and the request log on an
S3-protocol server, the metadata store on each backend (PostgreSQL too, when available),
several server processes and several replicas following one alias.

Needs ``LOOPLINE_TEST_S3_ENDPOINT`` (CI starts moto's server, see ``.ci/s3.sh``).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from loopline.cli._demo_data import TARGET, make_loans

from ..conftest import StoreUrls, run_cli

PROJECT = """
[project]
name = "loans"

[store]
url = "{store_url}"

[data]
source = "data/*.csv"
target = "defaulted"

[training]
# accuracy does not beat the majority class on this imbalanced sample; roc_auc does.
metric = "roc_auc"
folds = 3
trials = 0
candidates = [{{ estimator = "sklearn.linear_model.LogisticRegression", params = {{ max_iter = {max_iter}, C = 1.0 }} }}]

[model]
name = "loans"
approval = "auto"

[monitoring]
window = "1h"
min_rows = 10
"""

# Each test trains (twice for the replicas) and starts servers: minutes on a busy machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture
def shared(
    tmp_path: Path, store_urls: StoreUrls, s3_bucket: str, s3_env: dict[str, str]
) -> tuple[Path, dict[str, str]]:
    """A project whose store is ``store_urls``' backend and whose artifacts and request log
    are on S3, trained once (version 1 in production); and the environment its commands
    run with."""
    folder = tmp_path / "project"
    (folder / "data").mkdir(parents=True)
    make_loans(1500, seed=0).to_csv(folder / "data" / "history.csv", index=False)
    url = store_urls.new()
    (folder / "loopline.toml").write_text(PROJECT.format(store_url=url, max_iter=2000))
    env = {
        **s3_env,
        "LOOPLINE_ARTIFACTS_URL": f"{s3_bucket}/artifacts",
        "LOOPLINE_REQUEST_LOG_URL": f"{s3_bucket}/requests",
    }
    done = run_cli("run", cwd=folder, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "production" in " ".join(done.stdout.split())
    return folder, env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """``loopline serve`` in a subprocess; stopped with SIGTERM (a graceful shutdown)."""

    def __init__(self, folder: Path, env: dict[str, str], *args: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPLINE_")}
        full_env.update(env)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "loopline", "serve", "loans@production"]
            + ["--port", str(self.port), "--poll-interval", "0.5", *args],
            cwd=folder,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited: {self.proc.communicate()[1]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError("the server did not become ready")

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err


@pytest.fixture
def serve() -> Iterator[object]:
    started: list[Served] = []

    def start(folder: Path, env: dict[str, str], *args: str) -> Served:
        served = Served(folder, env, *args)
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()


def _workers(pid: int) -> list[int]:
    """The worker processes uvicorn started for the server ``pid`` (from /proc)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(c) for c in (task / "children").read_text().split()]
    return [c for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def _records(n: int, seed: int) -> list[dict[str, object]]:
    frame = make_loans(n, seed=seed).drop(columns=TARGET)
    return json.loads(frame.to_json(orient="records"))


def test_run_serve_with_workers_and_monitor_on_shared_stores(
    shared: tuple[Path, dict[str, str]], serve
) -> None:
    folder, env = shared
    import s3fs

    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    blobs = fs.find(f"{env['LOOPLINE_ARTIFACTS_URL']}/objects")
    assert len(blobs) >= 5  # data, statistics, schema, ..., the model package: all on S3
    assert not (folder / ".loopline" / "artifacts").exists()

    server = serve(folder, env, "--workers", "2")
    server.wait_ready()
    assert len(_workers(server.proc.pid)) == 2  # two processes accept on one port
    records = _records(40, seed=3)
    answers: list[tuple[int, str]] = []

    def send(start: int) -> None:  # one connection each: the kernel spreads them
        with httpx.Client(timeout=30) as client:
            for i in range(start, 40, 8):
                answer = client.post(f"{server.url}/predict", json=records[i : i + 2])
                answers.append((answer.status_code, answer.headers.get("x-loopline-model", "")))

    senders = [threading.Thread(target=send, args=(s,)) for s in range(0, 8, 2)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(timeout=60)
    assert answers == [(200, "loans/1")] * 20
    refused = httpx.post(f"{server.url}/predict", json=[{"nonsense": 1}], timeout=30)
    assert refused.status_code == 422  # counted in error_rate
    err = server.stop()  # each worker flushes its request-log files on the way out
    assert "Traceback" not in err, err

    # The request log is on S3 too: Parquet parts and the errors' batch objects.
    requests = f"{env['LOOPLINE_REQUEST_LOG_URL']}/model=loans"
    written = fs.find(requests)
    assert not (folder / ".loopline" / "requests").exists()
    assert any(path.endswith(".parquet") for path in written)
    assert [path for path in written if "/errors/date=" in path and path.endswith(".jsonl")]
    done = run_cli("monitor", "loans@production", "--window", "1h", cwd=folder, env=env)
    assert done.returncode == 0, done.stderr
    assert "loans/1: 40 records in 20 requests" in " ".join(done.stdout.split())
    done = run_cli("monitor", "loans@production", "--window", "1h", "--json", cwd=folder, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["signals"]["error_rate"] == pytest.approx(1 / 21)


def test_two_replicas_follow_a_promotion_with_no_failed_request(
    shared: tuple[Path, dict[str, str]], serve
) -> None:
    """Two servers on one store and one bucket (as on two hosts), under load; a promotion
    moves the alias; both swap within the poll interval and no request fails."""
    folder, env = shared
    toml = folder / "loopline.toml"
    toml.write_text(toml.read_text().replace("max_iter = 2000", "max_iter = 3000"))
    done = run_cli("run", cwd=folder, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    replicas = [serve(folder, env), serve(folder, env)]
    for replica in replicas:
        replica.wait_ready()

    stop = threading.Event()
    seen: list[Counter[str]] = [Counter(), Counter()]
    failures: list[str] = []
    first_v2: list[float | None] = [None, None]
    records = _records(50, seed=4)

    def load(index: int) -> None:
        with httpx.Client(timeout=30) as client:
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    answer = client.post(
                        f"{replicas[index].url}/predict", json=[records[i % len(records)]]
                    )
                except httpx.HTTPError as exc:
                    failures.append(f"replica {index}: {exc!r}")
                    continue
                if answer.status_code != 200:
                    failures.append(f"replica {index}: {answer.status_code} {answer.text}")
                    continue
                version = answer.headers["x-loopline-model"]
                seen[index][version] += 1
                if version == "loans/2" and first_v2[index] is None:
                    first_v2[index] = time.monotonic()

    threads = [threading.Thread(target=load, args=(i,)) for i in (0, 0, 1, 1)]
    for thread in threads:
        thread.start()
    time.sleep(2)
    promote = run_cli("models", "promote", "loans", "2", "--reason", "test", cwd=folder, env=env)
    moved = time.monotonic()
    assert promote.returncode == 0, promote.stderr
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and None in first_v2:
        time.sleep(0.1)
    time.sleep(1)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    for index in (0, 1):
        assert seen[index]["loans/1"] > 0 and seen[index]["loans/2"] > 0, seen
        # The poll interval is 0.5 s; loading and warming the new version takes a moment.
        assert first_v2[index] is not None and first_v2[index] - moved < 15
