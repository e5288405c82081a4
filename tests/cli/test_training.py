"""The acceptance path of a new user: export a dataset, init, run, rerun, bad data."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from sklearn.datasets import load_wine

from ..conftest import run_cli


def test_new_user_trains_reruns_from_cache_and_is_stopped_by_bad_data(tmp_path: Path) -> None:
    frame = load_wine(as_frame=True).frame
    frame.insert(0, "cellar", np.where(frame["alcohol"] > 13, "north", "south"))
    frame.to_csv(tmp_path / "wine.csv", index=False)

    init = run_cli(
        "init", "--name", "wine", "--data", "wine.csv", "--target", "target", cwd=tmp_path
    )
    assert init.returncode == 0, init.stderr
    toml = tmp_path / "loopline.toml"
    text = toml.read_text()
    assert 'source = "wine.csv"' in text and 'approval = "manual"' in text
    toml.write_text(text.replace("trials = 20", "trials = 3").replace("folds = 5", "folds = 3"))

    first = run_cli("run", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    out = " ".join(first.stdout.split())
    for expected in (
        "Leaderboard (3-fold cross-validation, accuracy)",
        "Tuning",
        "Holdout",
        "Blessing: blessed",
        "Model package: artifact #",
    ):
        assert expected in out, expected
    assert (tmp_path / ".loopline" / "loopline.db").exists()

    second = run_cli("run", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "12 of 12 steps from cache" in second.stdout

    bad = frame.astype({"magnesium": object})
    bad.loc[3, "magnesium"] = "lots"
    bad.loc[5, "cellar"] = "west"
    bad.to_csv(tmp_path / "wine_new.csv", index=False)
    toml.write_text(toml.read_text().replace('source = "wine.csv"', 'source = "wine_new.csv"'))
    third = run_cli("run", cwd=tmp_path)
    assert third.returncode == 1
    err = " ".join(third.stderr.split())
    assert "Step 'validate_data'" in err
    assert "Column 'cellar' has 1 value outside its 2 allowed categories" in err and "'west'" in err
    assert "Column 'magnesium' should be numeric" in err and "'lots'" in err
    assert "Traceback" not in third.stderr
    run_id = re.search(r"run ([0-9a-f]{8}) failed", third.stderr).group(1)
    listing = run_cli("runs", "list", cwd=tmp_path).stdout
    assert re.search(rf"{run_id}\s+training\s+failed", listing)

    report = run_cli("report", run_id, "-o", "bad.html", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    html = (tmp_path / "bad.html").read_text()
    assert (
        "unseen_category" in html
        and "wrong_type" in html
        and "'west'" in html.replace("&#x27;", "'")
    )
    good_id = re.search(r"Run ([0-9a-f]{8})", first.stdout).group(1)
    assert run_cli("report", good_id, "-o", "good.html", cwd=tmp_path).returncode == 0
    good = (tmp_path / "good.html").read_text()
    assert (
        "Leaderboard" in good
        and "<svg" in good
        and "http://" not in good.replace('xmlns="http://www.w3.org/2000/svg"', "")
    )

    models = run_cli("models", "list", cwd=tmp_path)
    assert re.search(r"wine\s+1\s+-\s+1\s+pending", models.stdout), models.stdout
    assert run_cli("models", "promote", "wine", "1", cwd=tmp_path).returncode == 1
    assert (
        run_cli("models", "approve", "wine", "1", "--reason", "reviewed", cwd=tmp_path).returncode
        == 0
    )
    promoted = run_cli("models", "promote", "wine", "1", cwd=tmp_path)
    assert promoted.returncode == 0, promoted.stderr
    assert "wine@production → version 1" in promoted.stdout
    history = run_cli("models", "history", "wine", cwd=tmp_path).stdout
    assert "model.approved" in history and "reviewed" in history and "alias.moved" in history
