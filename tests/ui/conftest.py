"""The UI on a real uvicorn server on 127.0.0.1, over a SQLite store seeded with real records."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from loopline.artifacts import ArtifactStore
from loopline.registry import Registry
from loopline.store import Store
from loopline.ui import UIOptions, create_ui_app

VIEWER = "viewer-token"
ADMIN = "admin-token"


class UIServer:
    """``create_ui_app`` on uvicorn in a thread; ``store`` is the same SQLite file."""

    def __init__(self, folder: Path, options: UIOptions) -> None:
        self.store = Store(f"sqlite:///{folder / 'loopline.db'}")
        self.registry = Registry(self.store, ArtifactStore(folder / "artifacts"), actor="test")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        config = uvicorn.Config(
            create_ui_app(self.registry, options),
            host="127.0.0.1",
            port=self.port,
            log_level="error",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> UIServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError("the UI server did not become ready")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.store.close()


def seed(store: Store, artifacts: ArtifactStore) -> dict[str, object]:
    """Runs with steps and metrics, a hostile run name, a model with 3 versions and aliases
    (their "packages" are real blobs in ``artifacts``, so the registry can verify them)."""
    runs = []
    for i in range(7):
        run = store.runs.create("training" if i % 2 == 0 else "nightly", params={"C": i})
        step = store.runs.start_step(
            run.id, "train", code_hash="c" * 64, cache_key=f"k{i}", params={}, inputs={}
        )
        blob = artifacts.save({"package": i})
        artifact = store.artifacts.add(
            uri=blob.uri,
            sha256=blob.sha256,
            type="model.package",
            materializer=blob.materializer,
            size=blob.size,
        )
        store.runs.finish_step(step, "succeeded", outputs={"package": artifact.id})
        store.tracking.write(
            run.id,
            step,
            metrics=[("test_accuracy", 0.5 + i / 20, None, 1.0)]
            + [("loss", 1.0 / (e + 1 + i), e, 1.0) for e in range(5)],
        )
        store.runs.finish(run.id, "succeeded" if i != 3 else "failed", error=None)
        runs.append((run.id, artifact.id))
    hostile = store.runs.create("<script>alert(1)</script>")
    store.runs.finish(hostile.id, "succeeded")
    registry = Registry(store, artifacts, actor="seed")
    for run_id, artifact_id in runs[:3]:
        registry.register("loans", artifact_id, run_id=run_id, metrics={"accuracy": 0.8})
    registry.approve("loans", 1, reason="first")
    registry.approve("loans", 2, reason="second")
    store.models.move_alias("loans", "production", 1, actor="seed", reason="start")
    store.models.move_alias("loans", "production", 2, actor="seed", reason="better")
    return {"runs": [r for r, _ in runs], "hostile": hostile.id}


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[Path, dict[str, object]]:
    folder = tmp_path / "ui"
    folder.mkdir()
    with Store(f"sqlite:///{folder / 'loopline.db'}") as store:
        ids = seed(store, ArtifactStore(folder / "artifacts"))
    return folder, ids


@pytest.fixture
def ui(seeded: tuple[Path, dict[str, object]]) -> Iterator[UIServer]:
    """The UI with a viewer token and an operator token."""
    with UIServer(seeded[0], UIOptions(token=VIEWER, admin_token=ADMIN)) as server:
        yield server
