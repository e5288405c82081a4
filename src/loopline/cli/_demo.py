"""``loopline demo``: the whole loop, narrated, in a fresh project.

train (selection + tuning) → register → production → serve → traffic with labels →
the drift begins → monitoring detects it → alert → the controller retrains → blessing →
canary → promotion → the server swaps versions → accuracy recovers.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._demo_data import TARGET, make_loans
from ._output import console

if TYPE_CHECKING:
    from ..monitoring import MonitoringResult

NAME = "loans"

PROJECT = """# The Loopline demo project: loan defaults, with drift.
[project]
name = "{name}"

[data]
source = "data/*.csv"
target = "{target}"

[split]
test_size = 0.25

[training]
folds = 3
trials = 4
seed = 0

[[training.candidates]]
estimator = "sklearn.linear_model.LogisticRegression"
params = {{ max_iter = 1000 }}
search_space = {{ C = {{ type = "float", low = 0.01, high = 10.0, log = true }} }}

[[training.candidates]]
estimator = "sklearn.ensemble.HistGradientBoostingClassifier"
params = {{ max_iter = 80 }}
[training.candidates.search_space]
learning_rate = {{ type = "float", low = 0.03, high = 0.3, log = true }}
max_leaf_nodes = {{ type = "int", low = 8, high = 48 }}

[blessing]
absolute_margin = 0.0
relative_margin = 0.02

[model]
name = "{name}"
approval = "auto"

[monitoring]
window = "1h"
min_rows = 100

[triggers]
drift = true
decay = {{ accuracy = 0.05 }}
cooldown = "1h"

[automation]
data_window = "reference_plus_recent"
canary_rows = 40
canary_minutes = 10

[[alerts]]
name = "drift"
when = "drift_share > 0.3"
send = ["console", "file:alerts.jsonl"]
"""


class _Narrator:
    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.step = 0

    def header(self, text: str) -> None:
        self.step += 1
        console().print(
            f"\n[bold cyan]{self.step}. {text}[/]  "
            f"[dim]{time.perf_counter() - self.start:5.1f} s[/]"
        )

    def line(self, text: str) -> None:
        from rich.markup import escape

        console().print(f"   {escape(text)}")


def run_demo(directory: Path | None) -> Path:
    """Build the demo project in ``directory`` (a temporary folder by default); run the loop."""
    from ..automation import Controller
    from ..config import load_settings

    folder = (directory or Path(tempfile.mkdtemp(prefix="loopline-demo-"))).resolve()
    (folder / "data").mkdir(parents=True, exist_ok=True)
    say = _Narrator()
    console().print(f"[bold]Loopline demo[/] in {folder}")
    make_loans(4000, seed=0).to_csv(folder / "data" / "history.csv", index=False)
    (folder / "loopline.toml").write_text(
        PROJECT.format(name=NAME, target=TARGET), encoding="utf-8"
    )

    say.header("Train: select an algorithm by cross-validation, tune it, evaluate, bless, register")
    settings = load_settings(folder)
    with Controller(settings, echo=say.line) as controller:
        controller.run_once()
    _cached_rerun(folder, say)

    port = _free_port()
    say.header(f"Serve {NAME}@production on http://127.0.0.1:{port} (canary slot: {NAME}@staging)")
    server = _start_server(folder, port)
    try:
        client = _Client(f"http://127.0.0.1:{port}")
        say.line(f"ready: {client.ready()}")

        say.header("Traffic before the drift: 250 loan applications, labels arrive later")
        client.traffic(make_loans(250, seed=10), say)

        say.header("The controller checks: monitor the last hour, alert, trigger")
        _check(folder, say)

        say.header("The drift begins: poorer applicants, more from the west, a changed risk")
        client.traffic(make_loans(400, drift=1.0, seed=11), say)

        say.header("The controller checks again: drift → alert → retrain → bless → canary")
        _check(folder, say)

        say.header("Canary traffic: a share of the requests goes to the new version")
        # The server loads the staging version in the background when the alias moves.
        client.wait_for_version(2, timeout=30, role="canary")
        client.traffic(make_loans(200, drift=1.0, seed=12), say)

        say.header("The controller checks the canary and promotes it if it is not worse")
        _check(folder, say)
        version = client.wait_for_version(2, timeout=20)
        say.line(f"the server now answers with version {version} (hot swap, no failed request)")

        say.header("After the promotion: accuracy on the drifted traffic recovers")
        client.traffic(make_loans(250, drift=1.0, seed=13), say)
        last = _check(folder, say)  # in the cooldown after retraining: it monitors and waits
    finally:
        _stop(server)

    say.header("Timeline (loopline events)")
    _timeline(folder, say)
    _reports(folder, last, say)
    console().print(
        f"\nDone in {time.perf_counter() - say.start:.1f} s. The project stays in {folder}:"
    )
    for command in (
        "loopline events",
        "loopline models show loans",
        "loopline runs list",
        f"loopline serve {NAME}@production",
    ):
        console().print(f"  cd {folder} && {command}")
    return folder


def _cached_rerun(folder: Path, say: _Narrator) -> None:
    from ..components import parse_workflow_config, standard_pipeline
    from ..config import load_settings
    from ..pipeline import Runner

    settings = load_settings(folder)
    config = parse_workflow_config(settings.raw)
    start = time.perf_counter()
    with Runner.from_settings(settings) as runner:
        pipeline = standard_pipeline(config, folder, name=NAME, store=runner.store)
        result = runner.run(pipeline, pipeline_ref="standard")
    say.line(
        f"the same run again: {len(result.cached)} of {len(result.steps)} steps from cache in "
        f"{time.perf_counter() - start:.2f} s"
    )


def _check(folder: Path, say: _Narrator) -> MonitoringResult | None:
    from ..automation import Controller
    from ..config import load_settings

    with Controller(load_settings(folder), echo=say.line) as controller:
        controller.run_once()
        return controller.last_window


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(folder: Path, port: int) -> subprocess.Popen[bytes]:
    # No tokens or other project's settings reach the demo's server, but the stores do: with
    # LOOPLINE_STORE_URL / LOOPLINE_ARTIFACTS_URL set, the demo runs on them end to end.
    kept = ("LOOPLINE_STORE_URL", "LOOPLINE_ARTIFACTS_URL")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPLINE_") or k in kept}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "loopline",
            "serve",
            f"{NAME}@production",
            "--port",
            str(port),
            "--canary",
            f"{NAME}@staging",
            "--canary-weight",
            "0.4",
            "--poll-interval",
            "0.3",
            "--project",
            str(folder),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(folder / "server.log", "wb"),  # noqa: SIM115 - the child owns it
    )


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


class _Client:
    def __init__(self, url: str) -> None:
        import httpx

        self.url = url
        self.http = httpx.Client(timeout=30)

    def ready(self) -> str:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                answer = self.http.get(f"{self.url}/readyz")
                if answer.status_code == 200:
                    serving = answer.json()["serving"]["primary"]
                    return f"{serving['model']}/{serving['version']}"
            except Exception:  # noqa: BLE001 - not listening yet
                pass
            time.sleep(0.2)
        raise RuntimeError("the demo server did not start; see server.log in the project")

    def traffic(self, frame: Any, say: _Narrator) -> None:
        """Send each row as one request, then post the labels; report accuracy by version."""
        rows = json.loads(frame.drop(columns=TARGET).to_json(orient="records"))
        labels = frame[TARGET].tolist()

        def send(row: dict[str, Any]) -> dict[str, Any]:
            answer = self.http.post(f"{self.url}/predict", json=[row])
            answer.raise_for_status()
            return answer.json()  # type: ignore[no-any-return]

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(send, rows))
        feedback = [
            {"request_id": a["request_id"], "label": y}
            for a, y in zip(answers, labels, strict=True)
        ]
        self.http.post(f"{self.url}/feedback", json=feedback).raise_for_status()
        by_version: dict[int, list[bool]] = {}
        for answer, label in zip(answers, labels, strict=True):
            by_version.setdefault(answer["version"], []).append(answer["predictions"][0] == label)
        shown = ", ".join(
            f"version {v}: {len(hits)} requests, accuracy {sum(hits) / len(hits):.3f}"
            for v, hits in sorted(by_version.items())
        )
        say.line(f"{len(rows)} requests answered, labels sent ({shown})")

    def wait_for_version(
        self, version: int, *, timeout: float, role: str = "primary"
    ) -> int | None:
        """Wait until ``role`` serves ``version``; return what it serves (None: nothing)."""
        deadline = time.monotonic() + timeout
        while True:
            serving = self.http.get(f"{self.url}/readyz").json()["serving"].get(role)
            current = None if serving is None else int(serving["version"])
            if current == version or time.monotonic() > deadline:
                return current
            time.sleep(0.1)


def _timeline(folder: Path, say: _Narrator) -> None:
    from ..config import load_settings
    from ..store import Store

    skip = {
        "run.started",
        "run.succeeded",
        "monitoring.window",
        "feedback.received",
        "model.infra_validated",
    }
    with Store(load_settings(folder).store_url) as store:
        for event in reversed(store.events.list(limit=300)):
            if event.kind in skip:
                continue
            stamp = time.strftime("%H:%M:%S", time.localtime(event.time))
            reason = f" — {event.reason}" if event.reason else ""
            say.line(f"{stamp} {event.kind:<22} {event.subject_id:<10} {reason[:110]}")


def _reports(folder: Path, last: MonitoringResult | None, say: _Narrator) -> None:
    """The HTML reports: the last monitoring window, and the retraining run."""
    from ..artifacts import ArtifactStore
    from ..config import load_settings
    from ..registry import Registry
    from ..store import Store
    from ._monitoring_html import write_monitoring_report
    from ._report import write_run_report

    settings = load_settings(folder)
    with Store(settings.store_url) as store:
        if last is not None:
            registry = Registry(store, ArtifactStore(settings.artifacts_url), actor="demo")
            path = write_monitoring_report(registry, last, folder / "monitoring.html")
            say.line(f"monitoring report: {path}")
        runs = store.runs.list(status="succeeded", name="training", limit=1)
    if runs:
        write_run_report(folder, runs[0].id, folder / "training-report.html")
