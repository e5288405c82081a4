"""The README's main command: the whole loop, narrated, on a fresh project."""

from __future__ import annotations

import re
from pathlib import Path

from ..conftest import run_cli


def test_demo_runs_the_whole_loop(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    done = run_cli("demo", "--dir", str(folder), cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = " ".join(done.stdout.split())
    for expected in (
        "the same run again: 12 of 12 steps from cache",
        "alert firing: [warning] drift",
        "trigger: drift",
        "bless: loans/2 is blessed and registered (approved)",
        "canary: loans/2 takes the canary share of traffic",
        "promote: loans@production → 2",
        "the server now answers with version 2",
    ):
        assert expected in out, expected
    drifted = float(
        re.search(
            r"400 requests answered, labels sent \(version 1: 400 requests, accuracy ([0-9.]+)\)",
            out,
        ).group(1)
    )
    recovered = float(
        re.search(
            r"250 requests answered, labels sent \(version 2: 250 requests, accuracy ([0-9.]+)\)",
            out,
        ).group(1)
    )
    assert recovered > drifted + 0.1
    assert (folder / "monitoring.html").exists() and (folder / "training-report.html").exists()
    events = run_cli("events", cwd=folder).stdout
    assert "canary.passed" in events and "retrain.started" in events
