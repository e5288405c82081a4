"""What careless clients and crashes do to `loopline run`, the store and the registry.

Issue 10, items 6, 7, 9 and 10: two runs at once, altered artifacts, forcing steps to run
again, a moved project, an emptied store file, serving an altered package. Every test
drives the real `loopline` command in subprocesses on a real project.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from sklearn.datasets import load_wine

from loopline.artifacts import ArtifactStore
from loopline.store import Store

from ..conftest import run_cli

PROJECT = """
[project]
name = "wine"

[data]
source = "wine.csv"
target = "target"

[training]
folds = 2
trials = 6

[[training.candidates]]
estimator = "sklearn.linear_model.LogisticRegression"
params = { max_iter = 500 }
search_space = { C = { type = "float", low = 0.01, high = 10.0, log = true } }

[model]
name = "wine"
approval = "manual"
"""


def _new_project(folder: Path) -> Path:
    folder.mkdir(parents=True)
    load_wine(as_frame=True).frame.to_csv(folder / "wine.csv", index=False)
    (folder / "loopline.toml").write_text(PROJECT, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project trained once (version 1 registered and in production)."""
    project = _new_project(tmp_path_factory.mktemp("robust") / "trained")
    first = run_cli("run", cwd=project, timeout=600)
    assert first.returncode == 0, first.stderr
    assert run_cli("models", "approve", "wine", "1", "--reason", "ok", cwd=project).returncode == 0
    promoted = run_cli("models", "promote", "wine", "1", cwd=project, timeout=300)
    assert promoted.returncode == 0, promoted.stderr
    return project


@pytest.fixture
def project(trained: Path, tmp_path: Path) -> Path:
    """A copy of the trained project (tests stay independent)."""
    copy = tmp_path / "work" / "trained"
    shutil.copytree(trained, copy)
    return copy


def _store(project: Path) -> Store:
    return Store(f"sqlite:///{project / '.loopline' / 'loopline.db'}")


def _output_path(project: Path, step: str, output: str) -> Path:
    """Where the last run's output of ``step`` is now."""
    with _store(project) as store:
        run = store.runs.list(status="succeeded")[0]
        [step_run] = [s for s in store.runs.steps(run.id) if s.name == step]
        artifact = store.runs.step_outputs(step_run.id)[output]
    return Path(ArtifactStore(project / ".loopline" / "artifacts").locate(artifact.uri))


def _flip_a_byte(path: Path, offset: int = 100) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 0xFF]))


def test_two_runs_at_once_both_succeed_and_share_the_tuning_study(tmp_path: Path) -> None:
    project = _new_project(tmp_path / "concurrent")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPLINE_")}
    env["COLUMNS"] = "200"
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "loopline", "run"],
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=600) for proc in procs]

    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "Cannot tell" not in err + out and "Traceback" not in err
    with _store(project) as store:
        assert [r.status for r in store.runs.list()] == ["succeeded", "succeeded"]
    storage = f"sqlite:///{project / '.loopline' / 'loopline.db'}"
    [summary] = optuna.get_all_study_summaries(storage)
    trials = optuna.load_study(study_name=summary.study_name, storage=storage).trials
    states = [t.state.name for t in trials]
    assert "FAIL" not in states and "RUNNING" not in states
    assert 6 <= len(trials) <= 8  # one budget, overshot by at most one trial per process


def test_an_altered_cached_artifact_reruns_its_step_with_a_warning(project: Path) -> None:
    path = _output_path(project, "statistics", "statistics")
    _flip_a_byte(path, offset=10)

    result = run_cli("run", cwd=project, timeout=600)

    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert "Warning: Output 'statistics' of step 'statistics'" in out
    assert f"The artifact at {path} was altered on disk: its sha256 is" in out
    assert re.search(r"statistics\s+succeeded", result.stdout)
    assert "wine/1 already registered" in out  # same bytes again: no new version
    again = run_cli("run", cwd=project, timeout=600)
    assert "12 of 12 steps from cache" in again.stdout and "Warning" not in again.stdout


def test_rerun_and_no_cache_from_the_command_line(project: Path) -> None:
    forced = run_cli("run", "--rerun", "evaluate_model", "--rerun", "bless", cwd=project)
    assert forced.returncode == 0, forced.stderr
    assert re.search(r"evaluate_model\s+succeeded", forced.stdout)
    assert re.search(r"bless\s+succeeded", forced.stdout)
    for name in ("statistics", "select", "tune_best", "train_model", "package"):
        assert re.search(rf"{name}\s+cached", forced.stdout), name

    unknown = run_cli("run", "--rerun", "evaluate", cwd=project)
    assert unknown.returncode == 1
    err = " ".join(unknown.stderr.split())
    assert "Cannot rerun step 'evaluate': pipeline 'training' has no such step." in err
    assert "Did you mean 'evaluate_model'?" in err and "Traceback" not in err

    everything = run_cli("run", "--no-cache", cwd=project, timeout=600)
    assert everything.returncode == 0, everything.stderr
    assert "from cache" not in everything.stdout


def test_a_moved_project_keeps_its_cache_and_registers_no_duplicate(project: Path) -> None:
    moved = project.parent.parent / "elsewhere" / "renamed"
    moved.parent.mkdir()
    shutil.move(str(project), str(moved))

    result = run_cli("run", cwd=moved, timeout=600)

    assert result.returncode == 0, result.stderr
    assert re.search(r"ingest\s+succeeded", result.stdout)  # it reads the files again
    # (bless runs too: it now compares with the champion promoted after the first run)
    for name in ("statistics", "schema", "validate_data", "split", "select", "package"):
        assert re.search(rf"{name}\s+cached", result.stdout), name
    assert "wine/1 already registered" in " ".join(result.stdout.split())
    with _store(moved) as store:
        assert [v.version for v in store.models.versions("wine")] == [1]
        run = store.runs.list()[0]
        [ingest] = [s for s in store.runs.steps(run.id) if s.name == "ingest"]
        assert ingest.params["source"]["files"][0]["path"] == "wine.csv"
    # An error names the project's new place, not the old one.
    package = _output_path(moved, "package", "package")
    _flip_a_byte(package)
    refused = run_cli("models", "promote", "wine", "1", "--alias", "staging", cwd=moved)
    assert refused.returncode == 1
    err = " ".join(refused.stderr.split())
    assert f"Version 1 of 'wine' cannot take alias 'staging': The artifact at {package}" in err
    assert str(project) not in err


def test_an_emptied_store_file_is_refused_not_taken_for_a_new_store(project: Path) -> None:
    database = project / ".loopline" / "loopline.db"
    count = sum(1 for p in (project / ".loopline" / "artifacts" / "objects").glob("*/*"))
    for suffix in ("-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    database.write_bytes(b"")

    result = run_cli("runs", "list", cwd=project)

    assert result.returncode == 1
    err = " ".join(result.stderr.split())
    assert f"The metadata store {database} is empty (0 bytes), but the artifact store" in err
    assert "Restore the store file from a backup" in err and "Traceback" not in err
    assert database.stat().st_size == 0  # nothing was written over it
    assert f"holds {count} artifacts" in err


def test_serving_an_altered_package_is_a_clear_error(project: Path) -> None:
    _flip_a_byte(_output_path(project, "package", "package"))

    result = run_cli("serve", "wine@production", "--port", "0", cwd=project)

    assert result.returncode == 1
    err = " ".join(result.stderr.split())
    assert "Version 1 of 'wine' cannot be used: The artifact at" in err
    assert "was altered on disk" in err
    assert "Traceback" not in err and "Application startup failed" not in err


def test_init_of_a_subfolder_reads_its_data_from_there(tmp_path: Path) -> None:
    folder = tmp_path / "sub"
    folder.mkdir()
    load_wine(as_frame=True).frame.to_csv(folder / "wine.csv", index=False)

    result = run_cli("init", "sub", "--data", "wine.csv", "--target", "target", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    text = (folder / "loopline.toml").read_text()
    assert "could not read the data" not in text + result.stdout
    assert 'source = "wine.csv"' in text
