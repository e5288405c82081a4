"""Issue 9 on real projects: fair blessing, a rejected canary stops, a killed retraining is
retried, the cooldown counts data from a successful retraining, machine-readable output."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest

from loopline.artifacts import ArtifactStore
from loopline.cli._demo_data import TARGET, make_loans
from loopline.components._steps import rows_in
from loopline.registry import Registry
from loopline.store import Store

from ..conftest import run_cli
from .test_controller import controller, events, make_project, production, serve_offline


def store_of(folder: Path) -> Store:
    return Store(f"sqlite:///{folder / '.loopline' / 'loopline.db'}")


def load_output(store: Store, folder: Path, run_id: str, step: str, name: str) -> object:
    artifacts = ArtifactStore(folder / ".loopline" / "artifacts")
    for sr in store.runs.steps(run_id):
        if sr.name == step:
            a = store.runs.step_outputs(sr.id)[name]
            return artifacts.load(a.uri, a.sha256, a.materializer)
    raise AssertionError(f"no step {step} in run {run_id}")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = make_project(tmp_path / "p")
    with controller(folder) as c:
        c.run_once()
    assert production(folder) == 1
    return folder


def test_the_champion_is_compared_only_on_rows_it_was_not_trained_on(project: Path) -> None:
    toml = project / "loopline.toml"
    toml.write_text(toml.read_text().replace("canary_rows = 40", "canary_rows = 0"))
    serve_offline(project, 1, make_loans(400, drift=0.5, seed=11))
    with controller(project) as c:
        kinds = c.run_once(manual=True)
    assert "retrain.started" in kinds, kinds
    blessed = [e for e in events(project) if e.kind.startswith("candidate.")][-1]
    run_id = blessed.payload["run_id"]
    with store_of(project) as store:
        first_run = store.models.get("loans", 1).run_id
        assert first_run is not None
        champion_train = load_output(store, project, first_run, "split", "train")
        test = load_output(store, project, run_id, "split", "test")
    assert isinstance(champion_train, pd.DataFrame) and isinstance(test, pd.DataFrame)
    seen = rows_in(test, champion_train, [*test.columns])
    # The candidate's window holds the source again: some holdout rows trained the champion.
    assert 0 < seen.sum() < len(test)
    fresh = len(test) - int(seen.sum())
    assert f"(on the {fresh} of {len(test)} holdout rows the champion was not trained on)" in (
        blessed.reason or ""
    )


def test_a_failed_canary_clears_staging_and_the_server_stops_sending_it_traffic(
    project: Path,
) -> None:
    from loopline.serving import PredictionService, ServingOptions

    serve_offline(project, 1, make_loans(300, drift=1.0, seed=5))
    with controller(project) as c:
        c.run_once(manual=True)
    with store_of(project) as store:
        assert store.models.aliases("loans")["staging"] == 2
        registry = Registry(store, ArtifactStore(project / ".loopline" / "artifacts"))
        service = PredictionService(
            registry,
            "loans@production",
            canary="loans@staging",
            options=ServingOptions(canary_weight=1.0, poll_interval=3600),
        )
        rows = make_loans(3, seed=1).drop(columns=TARGET)

        async def scenario() -> tuple[str, str, list[dict[str, object]]]:
            await service.start()
            try:
                before = (await service.predict(rows)).role
                # The canary is worse: its labelled rows are all wrong, the champion's right.
                serve_offline(project, 2, make_loans(60, seed=6), right=False)
                serve_offline(project, 1, make_loans(60, seed=7), right=True)
                with controller(project) as c:
                    kinds = c.run_once()
                assert "canary.failed" in kinds, kinds
                swaps = await service.refresh()
                after = (await service.predict(rows)).role
                return before, after, swaps
            finally:
                await service.aclose()

        before, after, swaps = asyncio.run(scenario())
        assert "staging" not in store.models.aliases("loans")
    assert (before, after) == ("canary", "primary")
    assert swaps == [{"role": "canary", "model": "loans", "version": None, "previous": 2}]
    failed = [e for e in events(project) if e.kind == "canary.failed"][-1]
    assert "standard errors of the difference" in (failed.reason or "")
    removed = [e for e in events(project) if e.kind == "alias.removed"]
    assert removed and removed[-1].payload["alias"] == "staging"


def test_noise_does_not_fail_a_canary(project: Path) -> None:
    """Equal models on a few rows: a small difference is within the standard errors."""
    serve_offline(project, 1, make_loans(200, seed=20))
    with controller(project) as c:
        c.run_once(manual=True)  # version 2 on more of the same data: as good as version 1
    serve_offline(project, 2, make_loans(30, seed=21))
    serve_offline(project, 1, make_loans(30, seed=22))
    with controller(project) as c:
        kinds = c.run_once()
    assert "canary.passed" in kinds, kinds
    assert production(project) == 2


def test_a_controller_killed_mid_retraining_loses_nothing(tmp_path: Path) -> None:
    folder = make_project(tmp_path / "k")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPLINE_")}
    child = subprocess.Popen(
        [sys.executable, "-m", "loopline", "retrain"],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if (folder / ".loopline" / "loopline.db").exists():
                with store_of(folder) as store:
                    if store.events.list(kind="run.started", limit=1):
                        break
            time.sleep(0.2)
        else:
            raise AssertionError("the retraining never started")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    with store_of(folder) as store:
        assert store.state.get("controller.retrain_pending") is not None
        assert store.state.get("controller.last_retrain") is None  # no cooldown from it
        assert not store.events.list(kind="alias.moved")
    lines: list[str] = []
    with controller(folder, lines) as c:
        kinds = c.run_once()
    assert kinds[0] == "retrain.interrupted" and "retrain.started" in kinds, kinds
    assert "alias.moved" in kinds and production(folder) == 1
    interrupted = [e for e in events(folder) if e.kind == "retrain.interrupted"][0]
    assert "did not finish (the controller stopped); retrying it for: " in (
        interrupted.reason or ""
    )
    with store_of(folder) as store:
        assert store.state.get("controller.retrain_pending") is None
        assert store.state.get("controller.last_retrain") is None  # the first model: none


def test_the_cooldown_counts_labelled_rows_from_a_successful_retraining(project: Path) -> None:
    toml = project / "loopline.toml"
    toml.write_text(
        toml.read_text().replace("drift = true", 'drift = true\ncooldown = "100 labelled rows"')
    )
    lines: list[str] = []
    with controller(project, lines) as c:
        assert c._cooled_down(datetime.now(timezone.utc))  # the first model starts none
        c.run_once(manual=True)
        now = datetime.now(timezone.utc)
        assert not c._cooled_down(now)  # a retraining succeeded a moment ago
        serve_offline(project, 1, make_loans(60, seed=31))
        assert not c._cooled_down(datetime.now(timezone.utc))
        serve_offline(project, 1, make_loans(60, seed=32))
        assert c._cooled_down(datetime.now(timezone.utc))
    assert any(
        "in the cooldown after the last retraining (100 labelled rows; 60 so far)" in line
        for line in lines
    )


def test_a_window_of_rows_never_reads_everything_since_the_start(project: Path) -> None:
    from loopline.monitoring import monitor

    serve_offline(project, 1, make_loans(300, seed=41))
    with store_of(project) as store:
        registry = Registry(store, ArtifactStore(project / ".loopline" / "artifacts"))
        log = project / ".loopline" / "requests"
        rows = monitor(registry, "loans@production", request_log=log, last=120)
        requests = monitor(registry, "loans@production", request_log=log, last_requests=50)
        labelled = monitor(registry, "loans@production", request_log=log, last_labelled=80)
    assert (rows.rows, requests.rows, requests.requests) == (120, 50, 50)
    assert labelled.rows == 80 and labelled.performance is not None
    assert labelled.performance["labelled_rows"] == 80


def test_machine_readable_output_and_whole_lines_when_piped(project: Path) -> None:
    serve_offline(project, 1, make_loans(120, seed=51))
    watched = run_cli("watch", "--once", "--json", cwd=project, timeout=300)
    assert watched.returncode == 0, watched.stderr
    out = json.loads(watched.stdout)
    assert (
        out["events"][0]["kind"] == "monitoring.window" and out["window"]["window"]["rows"] == 120
    )
    for args, check in (
        (("events",), lambda v: v[-1]["kind"] == "monitoring.window"),
        (
            ("models", "list"),
            lambda v: v[0]["model"] == "loans" and v[0]["aliases"]["production"] == 1,
        ),
        (("models", "show", "loans"), lambda v: v["versions"][0]["version"] == 1),
        (("runs", "list"), lambda v: v[0]["run"]["status"] == "succeeded"),
        (
            ("monitor", "loans@production", "--window", "50 rows"),
            lambda v: v["window"]["rows"] == 50,
        ),
    ):
        done = run_cli(*args, "--json", cwd=project)
        assert done.returncode == 0, done.stderr
        assert check(json.loads(done.stdout)), done.stdout
    run_id = json.loads(run_cli("runs", "list", "--json", cwd=project).stdout)[0]["run"]["id"]
    shown = json.loads(run_cli("runs", "show", run_id[:8], "--json", cwd=project).stdout)
    assert {s["step"]["name"] for s in shown["steps"]} >= {"ingest", "bless"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPLINE_")}
    text = subprocess.run(
        [sys.executable, "-m", "loopline", "events"],
        cwd=project,
        env={**env, "COLUMNS": "80"},
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    long = [line for line in text.splitlines() if "monitoring.window" in line]
    assert long and all(len(line) > 80 for line in long)  # whole, not wrapped at 80
