"""The controller on real projects: a real store, real training runs, a real request log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from loopline.automation import Controller
from loopline.cli._demo_data import TARGET, make_loans
from loopline.config import load_settings
from loopline.monitoring import attach_feedback
from loopline.requestlog import RequestLog
from loopline.store import Store

from ..conftest import StoreUrls

PROJECT = """
[data]
source = "data/*.csv"
target = "defaulted"

[training]
folds = 3
trials = 0
candidates = [{{ estimator = "sklearn.linear_model.LogisticRegression", params = {{ max_iter = 2000 }} }}]

[blessing]
# These loans default a quarter of the time and a linear model barely matches "never" on
# accuracy: the tests are about the controller, not about beating the dummy baseline.
beat_baseline = false

[model]
name = "loans"
approval = "auto"

[monitoring]
window = "1h"
min_rows = 50

[triggers]
drift = true

[automation]
canary_rows = 40
data_window = "reference_plus_recent"

{alerts}
"""


def make_project(folder: Path, *, alerts: str = "", store_url: str | None = None) -> Path:
    (folder / "data").mkdir(parents=True)
    make_loans(1500, seed=0).to_csv(folder / "data" / "history.csv", index=False)
    store = f'[store]\nurl = "{store_url}"\n' if store_url else ""
    (folder / "loopline.toml").write_text(PROJECT.format(alerts=alerts) + store)
    return folder


def open_store(folder: Path) -> Store:
    """The project's metadata store (SQLite or PostgreSQL, as its loopline.toml says)."""
    return Store(load_settings(folder).store_url)


def controller(folder: Path, lines: list[str] | None = None) -> Controller:
    return Controller(load_settings(folder), echo=(lines.append if lines is not None else None))


def serve_offline(
    folder: Path, version: int, frame: pd.DataFrame, *, right: bool | None = None
) -> None:
    """Log requests as the service would (one record each) and attach their labels.

    ``right`` forces every prediction to be right (True) or wrong (False); None uses the
    model's own predictions.
    """
    with open_store(folder) as store:
        from loopline.artifacts import ArtifactStore
        from loopline.registry import Registry

        registry = Registry(store, ArtifactStore(folder / ".loopline" / "artifacts"))
        package = registry.load_package(f"loans/{version}")
        features = frame.drop(columns=TARGET).reset_index(drop=True)
        predictions = package.model.predict(features[package.features])
        if right is not None:
            truth = frame[TARGET].to_numpy()
            predictions = truth if right else 1 - truth
        ids = [uuid.uuid4().hex for _ in range(len(features))]
        with RequestLog(folder / ".loopline" / "requests") as log:
            for i, request_id in enumerate(ids):
                log.append(
                    "loans",
                    version,
                    request_id,
                    features.iloc[[i]],
                    {"prediction": [int(predictions[i])]},
                    1.0,
                )
        labels = [
            {"request_id": r, "label": int(y)} for r, y in zip(ids, frame[TARGET], strict=True)
        ]
        result = attach_feedback(store, folder / ".loopline" / "requests", "loans", labels)
        assert result.accepted == len(labels), result.rejected


def events(folder: Path) -> list[Any]:
    with open_store(folder) as store:
        return list(reversed(store.events.list(limit=500)))


def production(folder: Path) -> int:
    with open_store(folder) as store:
        return store.models.aliases("loans")["production"]


def retrain_on_drift(folder: Path) -> list[str]:
    """Drifted traffic to version 1, then a check: it retrains and starts a canary."""
    serve_offline(folder, 1, make_loans(300, drift=1.0, seed=5))
    with controller(folder) as c:
        return c.run_once()


def check_canary(folder: Path, *, new_is_right: bool) -> list[str]:
    """Canary traffic (version 2 always right or always wrong, 1 the other), then a check."""
    serve_offline(folder, 2, make_loans(30, drift=1.0, seed=6), right=new_is_right)
    serve_offline(folder, 1, make_loans(30, drift=1.0, seed=7), right=not new_is_right)
    with controller(folder) as c:
        return c.run_once()


@pytest.fixture
def bootstrapped(tmp_path: Path, store_urls: StoreUrls) -> Path:
    """A project trained once by the controller (v1 in production), on each store backend."""
    folder = make_project(
        tmp_path / "p",
        alerts='[[alerts]]\nname = "drift"\nwhen = "drift_share > 0.3"\nsend = ["file:alerts.jsonl"]\n',
        store_url=store_urls.new(),
    )
    with controller(folder) as c:
        kinds = c.run_once()
    assert "retrain.started" in kinds and "alias.moved" in kinds
    assert production(folder) == 1
    return folder


def test_empty_window_reports_no_requests_and_raises_no_alarm(bootstrapped: Path) -> None:
    lines: list[str] = []
    with controller(bootstrapped, lines) as c:
        kinds = c.run_once()
    assert kinds == ["monitoring.window"]
    assert any("no requests" in line for line in lines)
    assert not (bootstrapped / "alerts.jsonl").exists()


def test_drift_alerts_retrains_runs_a_canary_and_promotes(bootstrapped: Path) -> None:
    kinds = retrain_on_drift(bootstrapped)
    for kind in (
        "alert.firing",
        "trigger.fired",
        "retrain.started",
        "candidate.blessed",
        "canary.started",
    ):
        assert kind in kinds, kinds
    alert = json.loads((bootstrapped / "alerts.jsonl").read_text().splitlines()[0])
    assert alert["rule"] == "drift" and alert["state"] == "firing"
    assert production(bootstrapped) == 1
    # Canary traffic: the new version answers right, the champion wrong.
    kinds = check_canary(bootstrapped, new_is_right=True)
    assert "canary.passed" in kinds and production(bootstrapped) == 2
    passed = [e for e in events(bootstrapped) if e.kind == "canary.passed"][0]
    assert "on the same 60 labelled rows (30 answered by the canary)" in passed.reason


def test_drift_a_retraining_addressed_does_not_retrain_again(bootstrapped: Path) -> None:
    retrain_on_drift(bootstrapped)
    check_canary(bootstrapped, new_is_right=True)
    assert production(bootstrapped) == 2
    toml = bootstrapped / "loopline.toml"
    toml.write_text(toml.read_text().replace("drift = true", 'drift = true\ncooldown = "1s"'))
    time.sleep(1.1)  # the cooldown after the retraining is over

    # The same drift, now against version 2's baseline: noted, not retrained for.
    serve_offline(bootstrapped, 2, make_loans(300, drift=1.0, seed=8))
    lines: list[str] = []
    with controller(bootstrapped, lines) as c:
        kinds = c.run_once()
        window = c.last_window
    assert window is not None and window.drift.dataset_drift
    assert "trigger.suppressed" in kinds and "retrain.started" not in kinds, kinds
    assert any("was retrained for drift on these features already" in line for line in lines)

    # A feature that had not drifted before drifts now: that is new, so it retrains.
    shifted = make_loans(300, drift=1.0, seed=9)
    addressed = set(window.drift.drifted_features)
    fresh = next(c for c in ("age", "tenure_years") if c not in addressed)
    shifted[fresh] = shifted[fresh] * 3 + shifted[fresh].std() * 4
    serve_offline(bootstrapped, 2, shifted)
    with controller(bootstrapped) as c:
        kinds = c.run_once()
    assert "trigger.fired" in kinds and "retrain.started" in kinds, kinds


def test_a_worse_canary_is_not_promoted_with_the_reason(bootstrapped: Path) -> None:
    retrain_on_drift(bootstrapped)
    kinds = check_canary(bootstrapped, new_is_right=False)
    assert "canary.failed" in kinds and production(bootstrapped) == 1
    failed = [e for e in events(bootstrapped) if e.kind == "canary.failed"][0]
    assert "on the same 60 labelled rows (30 answered by the canary); worse by" in failed.reason
    # The rejected canary gets no more traffic: its alias is gone (a server drops the slot).
    with open_store(bootstrapped) as store:
        assert "staging" not in store.models.aliases("loans")
        assert store.models.history("loans", "staging")[-1].version is None


def test_a_candidate_that_fails_the_blessing_is_not_registered(bootstrapped: Path) -> None:
    toml = bootstrapped / "loopline.toml"
    text = toml.read_text().replace(
        "[blessing]\n", "[blessing]\nthresholds = { accuracy = 0.99 }\n"
    )
    toml.write_text(text)
    with controller(bootstrapped) as c:
        kinds = c.run_once(manual=True)
    assert "candidate.not_blessed" in kinds
    event = [e for e in events(bootstrapped) if e.kind == "candidate.not_blessed"][0]
    assert "at least 0.9900" in event.reason or "0.99" in event.reason
    assert production(bootstrapped) == 1


def test_a_failed_retraining_keeps_the_champion_and_is_an_event_and_an_alert(
    bootstrapped: Path,
) -> None:
    pd.DataFrame({"other": [1, 2]}).to_csv(bootstrapped / "data" / "broken.csv", index=False)
    with controller(bootstrapped) as c:
        kinds = c.run_once(manual=True)
    assert "retrain.failed" in kinds and production(bootstrapped) == 1
    failed = [e for e in events(bootstrapped) if e.kind == "retrain.failed"][0]
    assert (
        "broken.csv has columns ['other']" in failed.reason
        or "broken.csv has ['other']" in failed.reason
    )
    alerts = [json.loads(line) for line in (bootstrapped / "alerts.jsonl").read_text().splitlines()]
    assert (
        alerts[-1]["rule"] == "retrain_failed" and "champion keeps serving" in alerts[-1]["message"]
    )


def test_a_second_controller_is_refused_naming_the_holder(bootstrapped: Path) -> None:
    with controller(bootstrapped):
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPLINE_")}
        done = subprocess.run(
            [sys.executable, "-m", "loopline", "watch", "--once"],
            cwd=bootstrapped,
            env={**env, "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1
    assert f":{os.getpid()} has held the lock" in done.stderr and "Traceback" not in done.stderr


def test_a_down_webhook_does_not_block_the_controller_and_keeps_the_alert(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    folder = make_project(
        tmp_path / "w",
        alerts=f'[[alerts]]\nname = "drift"\nwhen = "drift_share > 0.3"\nsend = ["webhook:http://127.0.0.1:{dead}/hook"]\n',
    )
    with controller(folder) as c:
        c.run_once()
    serve_offline(folder, 1, make_loans(300, drift=1.0, seed=5))
    c = controller(folder).__enter__()
    try:
        kinds = c.run_once()
        assert "alert.firing" in kinds and "retrain.started" in kinds  # it went on working
        assert c._dispatcher is not None and c._dispatcher.stats.delivered == 0
    finally:
        c._dispatcher.close(0.5)  # give up quickly: what is pending goes to the spool
        c.close()
    spooled = (folder / ".loopline" / "alerts-undelivered.jsonl").read_text()
    assert '"drift"' in spooled


def test_a_cut_off_request_log_file_is_skipped_and_counted(bootstrapped: Path) -> None:
    serve_offline(bootstrapped, 1, make_loans(120, seed=9))
    files = sorted((bootstrapped / ".loopline" / "requests").rglob("part-*.parquet"))
    whole = files[0].read_bytes()
    (files[0].parent / "part-99999999T999999999999Z-cut.parquet").write_bytes(
        whole[: len(whole) // 2]
    )
    lines: list[str] = []
    from loopline.artifacts import ArtifactStore
    from loopline.monitoring import monitor
    from loopline.registry import Registry

    with open_store(bootstrapped) as store:
        registry = Registry(store, ArtifactStore(bootstrapped / ".loopline" / "artifacts"))
        result = monitor(
            registry, "loans@production", request_log=bootstrapped / ".loopline" / "requests"
        )
    assert result.rows == 120 and result.skipped_files == 1
    assert any("1 request-log file(s) could not be read" in note for note in result.notes)
    del lines


def test_labels_for_unknown_requests_are_rejected_with_the_reason(bootstrapped: Path) -> None:
    serve_offline(bootstrapped, 1, make_loans(5, seed=3))
    with open_store(bootstrapped) as store:
        result = attach_feedback(
            store,
            bootstrapped / ".loopline" / "requests",
            "loans",
            [
                {"request_id": "nope", "label": 1},
                {"request_id": "x", "row": -1, "label": 0},
                {"request_id": "y"},
            ],
        )
    assert result.accepted == 0
    assert [r["reason"] for r in result.rejected] == [
        "no request 'nope' of model 'loans' in the request log",
        "row must be an integer >= 0, got -1",
        "no label",
    ]


def test_bad_loop_configuration_is_a_clear_error(tmp_path: Path) -> None:
    from loopline.errors import ConfigError

    folder = make_project(
        tmp_path / "b", alerts='[[alerts]]\nname = "x"\nwhen = "drift_share >> 0.3"\n'
    )
    with pytest.raises(ConfigError, match=r"alerts\[0\]\.when: cannot read 'drift_share >> 0.3'"):
        controller(folder)
    toml = folder / "loopline.toml"
    toml.write_text(
        toml.read_text()
        .replace('[[alerts]]\nname = "x"\nwhen = "drift_share >> 0.3"\n', "")
        .replace("drift = true", "drift = true\ncooldwn = '1h'")
    )
    with pytest.raises(ConfigError, match="unknown key triggers.cooldwn"):
        controller(folder)
