"""Issue 11: imbalance, the dummy baseline, custom metrics and the time budget, through real
``loopline run`` subprocesses on generated data."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from loopline.components import default_candidates

from ..conftest import run_cli

TOML = """
[project]
name = "messy"

[data]
source = "data.csv"
target = "y"

[training]
folds = 3
trials = {trials}
{training}

[model]
approval = "auto"
"""


def _project(tmp_path: Path, frame: pd.DataFrame, *, trials: int = 2, training: str = "") -> Path:
    frame.to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "loopline.toml").write_text(TOML.format(trials=trials, training=training))
    return tmp_path


def _imbalanced(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    """About 5% positives that depend on x0 and x1."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + 0.8 * X[:, 1] + 0.3 * rng.normal(size=n) > 2.0).astype(int)
    return pd.DataFrame(X, columns=["x0", "x1", "x2", "x3"]).assign(y=y)


def _noise(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """A target unrelated to the features, 70% one class: nothing beats the majority."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = np.where(rng.random(n) < 0.7, "stay", "leave")
    return pd.DataFrame(X, columns=["a", "b", "c"]).assign(y=y)


def test_imbalanced_target_is_reported_and_ranked_by_the_chosen_metric(tmp_path: Path) -> None:
    project = _project(tmp_path, _imbalanced(), training='metric = "average_precision"')

    result = run_cli("run", cwd=project, timeout=600)

    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert "Leaderboard (3-fold cross-validation, average_precision)" in out
    assert re.search(r"imbalanced target: class 1 is [45]\.\d% of rows", out), out
    scores = [float(s) for s in re.findall(r"\d\. \w+\s+(\d\.\d{4}) ±", out)]
    # The built-in candidates, LightGBM among them when installed (the test extras do).
    assert len(scores) == len(default_candidates("classification"))
    assert scores == sorted(scores, reverse=True)
    assert "Tuning" in out and "best average_precision" in out
    assert re.search(
        r"average_precision \d\.\d{4} vs the dummy baseline .*: beats the baseline", out
    )


def test_imbalanced_target_defaults_to_balanced_accuracy_with_class_weights(
    tmp_path: Path,
) -> None:
    project = _project(tmp_path, _imbalanced(), trials=0)

    result = run_cli("run", cwd=project, timeout=600)

    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert "Leaderboard (3-fold cross-validation, balanced_accuracy)" in out
    # The majority class scores 0.5 balanced accuracy; weighted candidates do far better.
    assert re.search(r"baseline \(dummy\)\s+0\.5000", out)
    best = float(re.search(r"1\. \w+\s+(\d\.\d{4})", out).group(1))
    assert best > 0.8


def test_a_model_that_does_not_beat_the_dummy_is_not_blessed(tmp_path: Path) -> None:
    project = _project(tmp_path, _noise(), trials=0)

    result = run_cli("run", cwd=project, timeout=600)

    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert "Blessing: not blessed" in out
    assert re.search(
        r"✗ accuracy \d\.\d{4} vs the dummy baseline \(the majority class\) 0\.7\d{3}: does not "
        r"beat the baseline",
        out,
    ), out
    assert "Not registered: the candidate was not blessed" in out

    run_id = re.search(r"Run ([0-9a-f]{8}) succeeded", out).group(1)
    report = run_cli("report", run_id, "--output", "r.html", cwd=project)
    assert report.returncode == 0, report.stderr
    html = (project / "r.html").read_text()
    assert "not blessed" in html and "does not beat the baseline" in html
    assert "dummy baseline" in html


def test_custom_metric_by_import_path(tmp_path: Path) -> None:
    (tmp_path / "scoring.py").write_text(
        "import numpy as np\n\n"
        "def recall_of_leavers(y_true, y_pred):\n"
        "    leavers = np.asarray(y_true) == 1\n"
        "    return float((np.asarray(y_pred)[leavers] == 1).mean())\n"
    )
    project = _project(tmp_path, _imbalanced(), training='metric = "scoring:recall_of_leavers"')

    result = run_cli("run", cwd=project, timeout=600)

    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert "Leaderboard (3-fold cross-validation, scoring:recall_of_leavers)" in out
    assert re.search(r"Holdout .*scoring:recall_of_leavers \d\.\d{4}", out)


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        (
            "no_such_module:score",
            "Cannot import the metric 'no_such_module:score': module 'no_such_module' was "
            "not found",
        ),
        (
            "scoring:missing",
            "Cannot use the metric 'scoring:missing': module 'scoring' has no 'missing'.",
        ),
        ("scoring:LIMIT", "'LIMIT' in module 'scoring' is of type int, not a function"),
        ("balanced_acuracy", "Unknown metric 'balanced_acuracy'"),
    ],
)
def test_bad_metric_gives_a_clear_error_before_anything_runs(
    tmp_path: Path, metric: str, message: str
) -> None:
    (tmp_path / "scoring.py").write_text("LIMIT = 3\n")
    project = _project(tmp_path, _noise(), training=f'metric = "{metric}"')

    result = run_cli("run", cwd=project, timeout=120)

    assert result.returncode != 0
    err = " ".join(result.stderr.split())
    assert message in err, err
    assert "Traceback" not in result.stderr
    assert not list((project / ".loopline").glob("artifacts/**/*.parquet"))


def test_tuning_respects_the_time_budget(tmp_path: Path) -> None:
    budget = 25
    project = _project(
        tmp_path, _imbalanced(4000), trials=10_000, training=f"time_budget = {budget}"
    )

    result = run_cli("run", cwd=project, timeout=600)

    assert result.returncode == 0, result.stderr
    db = sqlite3.connect(project / ".loopline" / "loopline.db")
    durations = dict(db.execute("SELECT name, duration FROM step_runs"))
    db.close()
    search = durations["select"] + durations["tune_best"] + durations["train_model"]
    # At most one fold of one trial runs past the budget.
    assert search < budget * 1.5, durations
    out = " ".join(result.stdout.split())
    trials = int(re.search(r"Tuning \w+: (\d+) trials", out).group(1))
    assert 0 < trials < 10_000


def test_report_shows_baseline_curves_and_permutation_importance(tmp_path: Path) -> None:
    project = _project(tmp_path, _imbalanced(), trials=0, training='metric = "average_precision"')
    result = run_cli("run", cwd=project, timeout=600)
    assert result.returncode == 0, result.stderr
    run_id = re.search(r"Run ([0-9a-f]{8}) succeeded", result.stdout).group(1)

    report = run_cli("report", run_id, "--output", "r.html", cwd=project)

    assert report.returncode == 0, report.stderr
    html = (project / "r.html").read_text()
    for expected in (
        "ROC curve",
        "Precision-recall curve",
        "Permutation feature importance",
        "Dummy baseline",
        "Imbalanced target: class 1 is",
        "vs dummy baseline",
    ):
        assert expected in html, expected
    # x0 and x1 make the target; shuffling them hurts most.
    chart = html[html.index("Permutation feature importance") :]
    labels = re.findall(r">(x\d)<", chart)
    assert sorted(labels[:2]) == ["x0", "x1"], labels
