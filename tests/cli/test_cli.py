from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from loopline import __version__
from loopline.store import Store

from ..conftest import run_cli


def _store(project: Path) -> Store:
    return Store(f"sqlite:///{project / '.loopline' / 'loopline.db'}")


def test_version_and_help(tmp_path: Path) -> None:
    assert run_cli("--version", cwd=tmp_path).stdout.strip() == f"loopline {__version__}"
    out = run_cli("--help", cwd=tmp_path).stdout
    for command in ("init", "run", "runs", "lineage", "demo"):
        assert command in out


def test_init_writes_a_project_that_refuses_a_second_init(tmp_path: Path) -> None:
    result = run_cli("init", "proj", "--name", "churn", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "proj" / "loopline.toml").read_text()
    assert 'name = "churn"' in text
    assert (tmp_path / "proj" / ".loopline" / "loopline.db").exists()
    again = run_cli("init", "proj", cwd=tmp_path)
    assert again.returncode == 1
    assert "already exists" in again.stderr and "--force" in again.stderr
    assert "Traceback" not in again.stderr


def test_lineage_of_a_run_whose_id_prefix_is_all_digits(cli_project: Path) -> None:
    assert run_cli("run", "quick", "-p", "n=3", cwd=cli_project).returncode == 0
    with _store(cli_project) as store:
        run = store.runs.create("manual")
        while not run.id[:8].isdigit():  # read as an artifact id before
            run = store.runs.create("manual")
    shown = run_cli("lineage", run.id[:8], cwd=cli_project)
    assert shown.returncode == 0, shown.stderr
    assert f"Run {run.id[:8]} (manual)" in shown.stdout


def test_run_then_cached_rerun_then_inspect(cli_project: Path) -> None:
    first = run_cli("run", "quick", "--param", "n=6", cwd=cli_project)
    assert first.returncode == 0, first.stderr
    assert "succeeded" in first.stdout
    second = run_cli("run", "quick", "-p", "n=6", cwd=cli_project)
    assert "2 of 2 steps from cache" in second.stdout
    listing = run_cli("runs", "list", cwd=cli_project).stdout
    assert listing.count("quick") == 2 and "(2 cached)" in listing
    run_id = re.search(r"Run ([0-9a-f]{8})", first.stdout).group(1)
    shown = run_cli("runs", "show", run_id, cwd=cli_project).stdout
    assert "metrics: value=499" in shown and '"n": 6' in shown
    tree = run_cli("lineage", run_id, cwd=cli_project).stdout
    assert "step metrics" in tree and "in  values" in tree


def test_failed_step_prints_a_headline_not_a_traceback(cli_project: Path) -> None:
    (cli_project / "loopline.toml").write_text('[pipelines]\nfailing = "pipelines:failing"\n')
    result = run_cli("run", cwd=cli_project)
    assert result.returncode == 1
    assert "Step 'explode' of run" in result.stderr and "ZeroDivisionError: no way" in result.stderr
    assert "Traceback" not in result.stderr
    run_id = re.search(r"loopline runs show ([0-9a-f]{8})", result.stderr).group(1)
    shown = run_cli("runs", "show", run_id, cwd=cli_project).stdout
    assert 'raise ZeroDivisionError("no way")' in shown


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["run", "sqaures"],
            "No pipeline named 'sqaures' in loopline.toml. Did you mean 'squares'?",
        ),
        (["run"], "Which pipeline? loopline.toml declares quick, squares."),
        (["run", "nomodule:thing"], "Cannot import module 'nomodule'"),
        (["run", "pipelines:load"], "'pipelines:load' is a Step, not a pipeline."),
        (["run", "quick", "--param", "n"], "--param takes KEY=VALUE. Got 'n' instead."),
        (["run", "quick", "--executor", "rey"], "Unknown executor 'rey'."),
        (["runs", "show", "ffffffff"], "No run with id 'ffffffff' in this store."),
        (["run", "--resume", "abcd1234"], "No run with id 'abcd1234' in this store."),
        (["lineage", "999"], "No artifact with id 999 in this store."),
    ],
)
def test_user_errors_read_well(cli_project: Path, args: list[str], message: str) -> None:
    result = run_cli(*args, cwd=cli_project)
    assert result.returncode == 1
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback(cli_project: Path) -> None:
    result = run_cli("--debug", "runs", "show", "ffffffff", cwd=cli_project)
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "NotFoundError" in result.stderr


def test_bad_project_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "loopline.toml").write_text("[run]\nexecuter = 'process'\n")
    result = run_cli("runs", "list", cwd=tmp_path)
    assert result.returncode == 1
    assert (
        "Unknown key run.executer" in result.stderr
        and "Did you mean run.executor?" in result.stderr
    )


def test_kill_9_mid_step_then_resume(cli_project: Path) -> None:
    marker = cli_project / "started"
    env = {**os.environ, "SLOW": "1", "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "loopline", "run", "squares", "--param", f"marker={marker}"],
        cwd=cli_project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() < deadline, (
            "the run never reached the slow step"
        )
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    listing = run_cli("runs", "list", cwd=cli_project)
    assert "interrupted" in listing.stdout
    with _store(cli_project) as store:
        run = store.runs.list()[0]
        assert run.status == "interrupted"
        assert [(s.name, s.status) for s in store.runs.steps(run.id)] == [
            ("load", "succeeded"),
            ("slow_square", "interrupted"),
        ]
    resumed = run_cli("run", "--resume", run.id[:8], cwd=cli_project)
    assert resumed.returncode == 0, resumed.stderr
    with _store(cli_project) as store:
        assert store.runs.get(run.id).status == "succeeded"
        names = [s.name for s in store.runs.steps(run.id)]
        assert names == ["load", "slow_square", "slow_square", "metrics"]  # load was not rerun


def test_two_runs_at_once_on_one_sqlite_store(cli_project: Path) -> None:
    env = {**os.environ, "COLUMNS": "200"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "loopline", "run", "quick", "-p", f"n={n}", "-p", "count=3000"],
            cwd=cli_project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in (7, 8, 9)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "locked" not in err
    with _store(cli_project) as store:
        runs = store.runs.list()
        assert [r.status for r in runs] == ["succeeded"] * 3
        assert sorted(len(store.tracking.metrics(r.id)) for r in runs) == [3000, 3000, 3000]
