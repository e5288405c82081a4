"""Shared fixtures: every test runs in a clean environment and its own folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from loopline.artifacts import ArtifactStore
from loopline.store import Store


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No LOOPLINE_* variable leaks in, and the working directory is the test's folder."""
    for key in list(os.environ):
        if key.startswith("LOOPLINE_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project folder (a loopline.toml with a name)."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "loopline.toml").write_text('[project]\nname = "test"\n', encoding="utf-8")
    return folder


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """A metadata store in a SQLite file under the test's folder."""
    with Store(f"sqlite:///{tmp_path / 'store.db'}") as s:
        yield s


@pytest.fixture
def artifacts(tmp_path: Path) -> ArtifactStore:
    """An artifact store in a folder under the test's folder."""
    return ArtifactStore(tmp_path / "artifacts")


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the real ``loopline`` command in a subprocess."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPLINE_")}
    full_env.update(env or {})
    full_env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "loopline", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


#: A running Ray cluster to test the Ray executor and parallel tuning on (.ci/ray.sh starts
#: one with 'ray start --head --num-cpus 2'); read at import, as clean_environ removes it.
RAY_ADDRESS = os.environ.get("LOOPLINE_TEST_RAY_ADDRESS")


@pytest.fixture(scope="session")
def ray_cluster() -> str:
    """The address of the test Ray cluster, connected once per session; else the test skips."""
    if not RAY_ADDRESS:
        pytest.skip("LOOPLINE_TEST_RAY_ADDRESS names no Ray cluster (.ci/ray.sh starts one)")
    from loopline.pipeline import RayExecutor

    executor = RayExecutor(RAY_ADDRESS)  # connects this process; later executors reuse it
    yield RAY_ADDRESS
    executor.shutdown()
