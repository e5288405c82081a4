"""``loopline run --executor ray [--address ...]``: a real run on the test cluster, and the
errors a user gets for a wrong address or executor."""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import pytest

from ..conftest import run_cli

needs_ray = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="the ray extra is not installed"
)


#: The cluster's Ray Client address (.ci/ray.sh starts the head with a client server).
RAY_CLIENT_ADDRESS = os.environ.get("LOOPLINE_TEST_RAY_CLIENT_ADDRESS")


@pytest.mark.parametrize("kind", ["gcs", "client"])
def test_run_on_a_ray_cluster(cli_project: Path, ray_cluster: str, kind: str) -> None:
    address = ray_cluster
    if kind == "client":
        if not RAY_CLIENT_ADDRESS:
            pytest.skip("LOOPLINE_TEST_RAY_CLIENT_ADDRESS names no Ray Client server")
        address = RAY_CLIENT_ADDRESS
    result = run_cli(
        "run", "quick", "--executor", "ray", "--address", address, cwd=cli_project, timeout=300
    )
    assert result.returncode == 0, result.stderr
    run_id = re.search(r"Run ([0-9a-f]{8}) succeeded", result.stdout).group(1)
    shown = run_cli("runs", "show", run_id, cwd=cli_project)
    assert "executor ray" in shown.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--executor", "process", "--address", "auto"],
            "--address names a Ray cluster, but the executor is 'process'. "
            "Fix: Add --executor ray, or leave out --address.",
        ),
        pytest.param(
            ["--executor", "ray", "--address", "127.0.0.1:1"],
            "Cannot reach the Ray cluster at 127.0.0.1:1:",
            marks=needs_ray,
        ),
        pytest.param(
            ["--executor", "ray", "--address", "ray://127.0.0.1:1"],
            "Cannot reach the Ray cluster at ray://127.0.0.1:1:",
            marks=needs_ray,
        ),
        pytest.param(
            ["--executor", "ray", "--address", "headnode"],
            "The Ray address 'headnode' has no host and port.",
            marks=needs_ray,
        ),
    ],
)
def test_wrong_address_reads_well(cli_project: Path, args: list[str], message: str) -> None:
    result = run_cli("run", "quick", *args, cwd=cli_project)
    assert result.returncode == 1
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr


def test_the_standard_workflow_tunes_on_ray(tmp_path: Path, ray_cluster: str) -> None:
    import optuna
    from sklearn.datasets import load_wine

    load_wine(as_frame=True).frame.to_csv(tmp_path / "wine.csv", index=False)
    init = run_cli(
        "init", "--name", "wine", "--data", "wine.csv", "--target", "target", cwd=tmp_path
    )
    assert init.returncode == 0, init.stderr
    toml = tmp_path / "loopline.toml"
    toml.write_text(
        toml.read_text()
        .replace("trials = 20", "trials = 4")
        .replace("folds = 5", "folds = 3")
        .replace('executor = "inprocess"', f'executor = "ray"\naddress = "{ray_cluster}"')
    )

    result = run_cli("run", cwd=tmp_path, timeout=600)

    assert result.returncode == 0, result.stderr
    assert "Blessing: blessed" in " ".join(result.stdout.split())
    storage = f"sqlite:///{tmp_path / '.loopline' / 'loopline.db'}"
    (summary,) = optuna.get_all_study_summaries(storage)
    assert summary.n_trials == 4
