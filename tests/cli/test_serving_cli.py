"""loopline predict, serve, monitor and feedback from the command line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_wine

from loopline.artifacts import ArtifactStore
from loopline.registry import Registry
from loopline.store import Store

from ..conftest import run_cli
from ..registry.conftest import train


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("cli-serving")
    load_wine(as_frame=True).frame.to_csv(project / "wine.csv", index=False)
    run_id = train(project).run.id
    with Store(f"sqlite:///{project / 'loopline.db'}") as store:
        registry = Registry(store, ArtifactStore(project / "artifacts"))
        registry.register_run(run_id, name="wine", policy="auto")
        registry.promote("wine", 1)
    (project / "loopline.toml").write_text(
        '[store]\nurl = "sqlite:///loopline.db"\n[artifacts]\nurl = "artifacts"\n'
    )
    return project


@pytest.fixture
def project(served: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "p"
    shutil.copytree(served, copy)
    return copy


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_predict_scores_a_file_in_chunks(project: Path, suffix: str) -> None:
    frame = load_wine(as_frame=True).frame.drop(columns="target")
    source = project / f"in{suffix}"
    frame.to_csv(source, index=False) if suffix == ".csv" else frame.to_parquet(source)
    out = project / f"out{suffix}"
    done = run_cli(
        "predict", "wine@production", str(source), "-o", str(out), "--chunk-size", "50", cwd=project
    )
    assert done.returncode == 0, done.stderr
    assert "Wrote 178 predictions of wine/1" in " ".join(done.stdout.split())
    scored = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    with Store(f"sqlite:///{project / 'loopline.db'}") as store:
        model = Registry(store, ArtifactStore(project / "artifacts")).load_package("wine/1").model
    assert scored["prediction"].tolist() == model.predict(frame).tolist()
    assert {"proba.0", "proba.1", "proba.2"} <= set(scored.columns)


def test_predict_refuses_bad_input_with_the_record(project: Path) -> None:
    frame = load_wine(as_frame=True).frame.drop(columns="target").astype({"ash": object})
    frame.loc[60, "ash"] = "lots"
    frame.to_csv(project / "bad.csv", index=False)
    done = run_cli(
        "predict", "wine@production", "bad.csv", "-o", "out.csv", "--chunk-size", "50", cwd=project
    )
    assert done.returncode == 1
    assert "record 60, field 'ash'" in " ".join(done.stderr.split())
    assert not (project / "out.csv").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["serve", "wien@production"],
            "No model named 'wien' in the registry. Did you mean 'wine'?",
        ),
        (["serve", "wine@canary"], "Model 'wine' has no alias 'canary'"),
        (
            ["serve", "wine", "--canary", "wine/1", "--shadow", "wine/1"],
            "--canary and --shadow go one at a time.",
        ),
        (["serve", "wine", "--workers", "0"], "--workers must be 1 or more. Got 0 instead."),
        (
            ["serve", "wine", "--poll-interval", "0"],
            "--poll-interval must be a number of seconds > 0. Got 0.0 instead.",
        ),
        (
            ["predict", "wine@production", "missing.csv", "-o", "x.csv"],
            "Input file missing.csv does not exist.",
        ),
        (
            ["monitor", "wine@production", "--window", "an hour"],
            '--window must be an amount of data like "2000 rows", "500 labelled rows", "3 batches" (requests), or a duration like 30m, 1h or 2d. Got \'an hour\' instead.',
        ),
    ],
)
def test_serving_commands_refuse_bad_input(project: Path, args: list[str], message: str) -> None:
    done = run_cli(*args, cwd=project)
    assert done.returncode == 1
    assert message in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr


def test_monitor_with_no_requests_and_feedback_for_unknown_requests(project: Path) -> None:
    done = run_cli("monitor", "wine@production", "--window", "1h", cwd=project)
    assert done.returncode == 0, done.stderr
    out = " ".join(done.stdout.split())
    assert "wine/1: 0 records in 0 requests" in out and "no requests in the window" in out
    (project / "labels.csv").write_text("request_id,label\nnope,1\n")
    feedback = run_cli("feedback", "labels.csv", "--model", "wine", cwd=project)
    assert feedback.returncode == 0, feedback.stderr
    assert "Attached 0 label(s)" in feedback.stdout
    assert "no request 'nope' of model 'wine' in the request log" in " ".join(
        feedback.stdout.split()
    )
