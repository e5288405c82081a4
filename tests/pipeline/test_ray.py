"""What only the Ray executor does: resources per step, refusing what the cluster lacks,
dead workers, steps defined in functions, and clear errors without Ray or a cluster.

Tests marked with the ``ray_cluster`` fixture run when LOOPLINE_TEST_RAY_ADDRESS names a
running cluster (.ci/ray.sh starts one with 2 CPUs).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from loopline import pipeline, step
from loopline.artifacts import ArtifactStore
from loopline.errors import StepFailedError
from loopline.pipeline import RayExecutor, Runner
from loopline.pipeline._ray import describe_ray_failure, ray_options
from loopline.store import Store


@step(resources={"cpu": 2})
def assigned() -> dict[str, float]:
    import ray

    return dict(ray.get_runtime_context().get_assigned_resources())


@step
def first(n: int) -> list[int]:
    return list(range(n))


@step
def die(values: list[int], flag: str) -> int:
    if Path(flag).exists():
        os.kill(os.getpid(), signal.SIGKILL)
    return sum(values)


@pytest.fixture
def ray_runner(ray_cluster: str, store: Store, artifacts: ArtifactStore) -> Runner:
    return Runner(store, artifacts, RayExecutor(ray_cluster))


def test_a_step_gets_the_resources_it_asks_for(ray_runner: Runner) -> None:
    result = ray_runner.run(pipeline(lambda: assigned(), name="p"))
    assert result.load("assigned") == {"CPU": 2.0}


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        (
            {"cpu": 3},
            "Step 'greedy' asks for cpu=3, but the Ray cluster at {address} has 2 in all.",
        ),
        (
            {"tpu": 1},
            "Step 'greedy' asks for tpu=1, but the Ray cluster at {address} has 0 in all.",
        ),
    ],
)
def test_resources_the_cluster_lacks_fail_the_step_at_once(
    ray_runner: Runner, ray_cluster: str, resources: dict[str, float], message: str
) -> None:
    greedy = assigned.with_options(name="greedy", resources=resources)
    with pytest.raises(StepFailedError, match=re.escape(message.format(address=ray_cluster))):
        ray_runner.run(pipeline(lambda: greedy(), name="p"))


def test_a_killed_worker_fails_the_step_and_the_run_resumes(
    ray_runner: Runner, store: Store, tmp_path: Path
) -> None:
    flag = tmp_path / "flag"
    flag.touch()

    @pipeline
    def doomed(flag: str):
        die(first(4), flag)

    with pytest.raises(StepFailedError, match=re.escape("The Ray worker running step 'die' died")):
        ray_runner.run(doomed, {"flag": str(flag)})
    run = store.runs.list()[0]
    assert run.status == "failed"
    flag.unlink()
    resumed = ray_runner.run(doomed, resume=run.id)
    assert resumed.status == "succeeded" and resumed.load("die") == 6
    assert {name: sr.status for name, sr in resumed.steps.items()} == {
        "first": "succeeded",
        "die": "succeeded",
    }
    assert resumed.steps["first"].id == store.runs.steps(run.id)[0].id  # reused, not rerun


def test_steps_defined_in_functions_run_on_ray(ray_runner: Runner) -> None:
    offset = 10

    @step
    def shifted(values: list[int]) -> list[int]:
        return [v + offset for v in values]

    result = ray_runner.run(pipeline(lambda: shifted(first(3)), name="p"))
    assert result.load("shifted") == [10, 11, 12]


# -- without a cluster ------------------------------------------------------------------


def test_ray_options_map_our_resource_names() -> None:
    heavy = first.with_options(resources={"cpu": 2, "gpu": 0.5, "memory": 2e9, "tpu": 1})
    assert ray_options(heavy) == {
        "name": "loopline:first",
        "num_cpus": 2.0,
        "num_gpus": 0.5,
        "memory": 2_000_000_000,
        "resources": {"tpu": 1.0},
    }
    assert ray_options(first) == {"name": "loopline:first"}


class WorkerCrashedError(Exception):
    """Named like Ray's: describe_ray_failure goes by the exception's name."""


def test_ray_failures_read_well() -> None:
    assert describe_ray_failure(WorkerCrashedError("gone"), "fit") == (
        "The Ray worker running step 'fit' died (killed, out of memory or its node left): "
        "WorkerCrashedError."
    )
    assert describe_ray_failure(ModuleNotFoundError("No module named 'mine'"), "fit") == (
        "Ray could not run step 'fit': ModuleNotFoundError: No module named 'mine' (Ray workers "
        "must be able to import the step's module: install the project on every node, or give "
        "the executor runtime_env={'working_dir': ...}.)"
    )


def test_without_ray_installed_the_error_says_how_to_install_it() -> None:
    code = (
        "import sys; sys.modules['ray'] = None\n"
        "from loopline.pipeline import get_executor\n"
        "from loopline.errors import ConfigError\n"
        "try:\n"
        "    get_executor('ray')\n"
        "except ConfigError as exc:\n"
        "    print(exc, exc.hint)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert "The 'ray' executor needs Ray, which is not installed here" in out
    assert "Install it with: pip install 'loopline[ray]'" in out
