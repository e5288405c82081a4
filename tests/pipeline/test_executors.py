"""The executor conformance suite: every built-in executor runs the same pipelines the same way.

The Ray executor joins when LOOPLINE_TEST_RAY_ADDRESS names a running cluster (.ci/ray.sh).
A plugin executor can run these tests by adding its name to EXECUTORS.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import loopline
from loopline import pipeline, step
from loopline.artifacts import ArtifactStore
from loopline.errors import StepFailedError
from loopline.pipeline import BaseExecutor, Runner, current_executor, get_executor
from loopline.store import Store

EXECUTORS = ["inprocess", "process", "ray"]


@pytest.fixture(params=EXECUTORS)
def executor(request: pytest.FixtureRequest) -> Iterator[BaseExecutor]:
    name = request.param
    if name == "ray":
        address = request.getfixturevalue("ray_cluster")
        made = get_executor("ray", address=address)
    elif name == "process":
        made = get_executor("process", max_workers=2)
    else:
        made = get_executor(name)
    yield made
    made.shutdown()


@pytest.fixture
def runner(store: Store, artifacts: ArtifactStore, executor: BaseExecutor) -> Runner:
    return Runner(store, artifacts, executor)


def _tick(path: str) -> int:
    """Count a call in a file (workers of every executor share the file system here)."""
    with open(path, "a") as fh:
        fh.write("x")
    return len(Path(path).read_text())


@step(outputs=["values", "where"])
def produce(n: int, counter: str) -> tuple[list[int], str]:
    _tick(counter)
    loopline.log_metric("n", n)
    return list(range(n)), current_executor()


@step
def total(values: list[int], flag: str) -> int:
    if Path(flag).exists():
        raise ValueError("the flag file says no")
    return sum(values)


@step(retries=2)
def flaky(values: list[int], counter: str) -> int:
    if _tick(counter) < 3:
        raise RuntimeError("not yet")
    return len(values)


@pipeline
def summed(counter: str, flag: str, n: int = 5):
    values, _ = produce(n, counter)
    total(values, flag)


@pipeline
def retried(counter: str, n: int = 3):
    values, _ = produce(n, counter + ".produce")
    flaky(values, counter)


def test_outputs_go_through_the_artifact_store_and_are_cached(
    runner: Runner, store: Store, artifacts: ArtifactStore, executor: BaseExecutor, tmp_path: Path
) -> None:
    counter, flag = str(tmp_path / "c"), str(tmp_path / "flag")
    first = runner.run(summed, {"counter": counter, "flag": flag})
    assert first.status == "succeeded"
    assert first.load("total") == 10
    assert first.load("produce", "where") == executor.name
    assert store.runs.get(first.run.id).executor == executor.name
    # Every output is a verified blob of the artifact store, readable without the executor.
    for outputs in first.outputs.values():
        for artifact in outputs.values():
            assert artifacts.exists(artifact.uri)
    reopened = ArtifactStore(artifacts.url)
    record = first.outputs["produce"]["values"]
    assert reopened.load(record.uri, record.sha256, record.materializer) == [0, 1, 2, 3, 4]
    # The metric logged inside the worker reached the store.
    produce_run = first.steps["produce"]
    assert [m.value for m in store.tracking.metrics(first.run.id) if m.key == "n"] == [5.0]
    assert produce_run.status == "succeeded"
    second = runner.run(summed, {"counter": counter, "flag": flag})
    assert second.cached == ["produce", "total"]
    assert Path(counter).read_text() == "x"


def test_failure_records_the_traceback_and_resume_reruns_only_the_rest(
    runner: Runner, store: Store, tmp_path: Path
) -> None:
    counter, flag = str(tmp_path / "c"), tmp_path / "flag"
    flag.touch()
    with pytest.raises(StepFailedError, match="ValueError: the flag file says no") as info:
        runner.run(summed, {"counter": counter, "flag": str(flag)})
    run_id = info.value.run_id
    failed = {sr.name: sr for sr in store.runs.steps(run_id)}["total"]
    assert failed.status == "failed"
    assert "the flag file says no" in (failed.traceback or "")
    flag.unlink()
    resumed = runner.run(summed, resume=run_id)
    assert resumed.run.id == run_id
    assert resumed.status == "succeeded"
    assert resumed.load("total") == 10
    assert Path(counter).read_text() == "x"  # produce was reused, not rerun


def test_retries_rerun_the_function_in_the_worker(runner: Runner, tmp_path: Path) -> None:
    counter = str(tmp_path / "c")
    result = runner.run(retried, {"counter": counter})
    assert result.load("flaky") == 3
    assert Path(counter).read_text() == "xxx"


@step
def meet(me: str, other: str, folder: str) -> int:
    """Wait for the other step to start: times out unless both run at once."""
    Path(folder, me).touch()
    deadline = time.monotonic() + 60
    while not Path(folder, other).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{other} never started while {me} ran")
        time.sleep(0.01)
    return os.getpid()


@step
def pids(a: int, b: int) -> list[int]:
    return [a, b]


@pipeline
def rendezvous(folder: str):
    pids(meet("a", "b", folder), meet.with_options(name="meet_b")("b", "a", folder))


def test_independent_steps_run_at_once(
    runner: Runner, executor: BaseExecutor, tmp_path: Path
) -> None:
    if executor.max_parallel < 2:
        pytest.skip(f"the {executor.name} executor runs one step at a time")
    a, b = runner.run(rendezvous, {"folder": str(tmp_path)}).load("pids")
    assert a != b and os.getpid() not in (a, b)
