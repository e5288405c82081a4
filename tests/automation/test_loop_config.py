"""The loop's sections: amounts of data, durations, cron, alert rules, checked at load."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from loopline.automation import parse_loop_config
from loopline.automation._config import parse_amount
from loopline.automation._window import change_point, training_window
from loopline.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "kind", "count", "duration"),
    [
        ("2000 rows", "rows", 2000, None),
        ("1 row", "rows", 1, None),
        ("500 labelled rows", "labelled_rows", 500, None),
        ("500 labeled rows", "labelled_rows", 500, None),
        ("300 labels", "labelled_rows", 300, None),
        ("3 batches", "requests", 3, None),
        ("20 requests", "requests", 20, None),
        ("1h", "duration", 0, timedelta(hours=1)),
        ("45s", "duration", 0, timedelta(seconds=45)),
    ],
)
def test_amounts_of_data_and_durations_parse(
    text: str, kind: str, count: int, duration: timedelta | None
) -> None:
    amount = parse_amount(text, what="monitoring.window")
    assert (amount.kind, amount.count, amount.duration) == (kind, count, duration)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ('[monitoring]\nwindow = "lots"', "monitoring.window must be an amount of data"),
        ('[monitoring]\nwindow = "0 rows"', "monitoring.window must be at least 1 rows"),
        ("[monitoring]\nwindow = 5", "monitoring.window: Input should be a valid string"),
        ('[triggers]\ncooldown = "soon"', "triggers.cooldown must be an amount of data"),
        ('[triggers]\nschedule = "61 * * * *"', "61"),
        ('[triggers]\ndecay = { accuracy = "lots" }', "triggers.decay.accuracy must be a drop"),
        ('[triggers]\ncooldwn = "1h"', "unknown key triggers.cooldwn"),
        ('[automation]\ndata_window = "recent"', "automation.data_window"),
        (
            "[automation]\nwindow_rows = 100\nmin_window_rows = 500",
            r"automation: window_rows \(100\) must be",
        ),
        ("[monitoring]\nmin_rows = 0", "monitoring.min_rows"),
        ('[[alerts]]\nname = "x"\nwhen = "drift_share >> 0.3"', r"alerts\[0\]\.when"),
    ],
)
def test_a_wrong_loop_key_fails_at_load_naming_it(section: str, message: str) -> None:
    import tomllib

    with pytest.raises(ConfigError, match=message):
        parse_loop_config(tomllib.loads(section))


def test_the_defaults_never_watch_everything_since_the_start() -> None:
    loop = parse_loop_config({})
    assert loop.monitoring.window_amount.kind == "rows"
    assert loop.triggers.cooldown_amount.kind == "labelled_rows"
    assert loop.automation.data_window == "since_change"


def test_check_prints_the_resolved_configuration(tmp_path: Path) -> None:
    from ..conftest import run_cli

    (tmp_path / "loopline.toml").write_text('[triggers]\ncooldown = "2 batches"\n')
    done = run_cli("check", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    resolved = json.loads(done.stdout)
    assert resolved["triggers"]["cooldown"] == "2 batches"
    assert resolved["monitoring"]["window"] == "500 rows"
    assert resolved["automation"]["canary_rows"] == 200
    text = run_cli("check", cwd=tmp_path)
    assert 'cooldown = "2 batches"' in text.stdout and 'data_window = "since_change"' in text.stdout
    (tmp_path / "loopline.toml").write_text('[triggers]\nschedule = "0 25 * * *"\n')
    bad = run_cli("check", cwd=tmp_path)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "triggers.schedule: Cron field 'hour' allows 0-23. Got 25" in bad.stderr


def test_a_change_point_is_found_where_the_mean_shifts_and_not_in_noise() -> None:
    rng = np.random.default_rng(0)
    stationary = (rng.random(2000) < 0.2).astype(float)
    assert change_point(stationary) is None
    shifted = np.concatenate([(rng.random(700) < 0.1), (rng.random(300) < 0.4)]).astype(float)
    found = change_point(shifted, increase_only=True)
    assert found is not None and abs(found.index - 700) < 40 and found.after > found.before
    assert change_point(shifted[::-1], increase_only=True) is None  # errors fell: no change


def test_since_change_trains_after_the_change_topped_up_to_the_minimum() -> None:
    base = pd.DataFrame({"x": np.arange(1000.0), "y": 0})
    recent = pd.DataFrame({"x": 1000.0 + np.arange(800), "y": 1})
    window = training_window(
        base, recent, policy="since_change", window_rows=3000, min_window_rows=500, change_at=600
    )
    assert len(window.frame) == 500 and window.frame["x"].iloc[0] == 1300.0
    assert (
        window.since_change == 200 and "topped up with the 300 rows before it" in window.description
    )
    window = training_window(
        base, recent, policy="since_change", window_rows=3000, min_window_rows=500, change_at=100
    )
    assert len(window.frame) == 700 and window.frame["x"].iloc[0] == 1100.0
    sliding = training_window(base, recent, policy="sliding", window_rows=1200, min_window_rows=500)
    assert len(sliding.frame) == 1200 and sliding.frame["x"].iloc[-1] == 1799.0
    everything = training_window(
        base, recent, policy="reference_plus_recent", window_rows=None, min_window_rows=10
    )
    assert len(everything.frame) == 1800
    assert re.search("1000 source rows and 800 labelled requests", everything.description)


def test_init_writes_the_loop_sections_and_says_manual_promotes_nothing(tmp_path: Path) -> None:
    from ..conftest import run_cli

    pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [0, 1, 0, 1]}).to_csv(
        tmp_path / "d.csv", index=False
    )
    done = run_cli("init", "--data", "d.csv", "--target", "y", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "nothing is promoted to production until you run 'loopline models approve'" in (
        done.stdout
    )
    text = (tmp_path / "loopline.toml").read_text()
    for line in (
        'window = "500 rows"',
        'cooldown = "300 labelled rows"',
        'data_window = "since_change"',
        "#   reference_plus_recent",
        "#   sliding",
        "#   all",
        "NOTHING reaches production until you run 'loopline models approve NAME VERSION'",
    ):
        assert line in text, line
    checked = json.loads(run_cli("check", "--json", cwd=tmp_path).stdout)
    assert checked["automation"]["min_window_rows"] == 500
