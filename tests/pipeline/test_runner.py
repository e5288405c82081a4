from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

import loopline
from loopline import pipeline, step
from loopline.artifacts import ArtifactStore
from loopline.errors import PipelineDefinitionError, StepFailedError
from loopline.pipeline import ProcessPoolExecutor, RunListener, Runner
from loopline.store import Store


def _count(counter: str) -> None:
    with open(counter, "a") as fh:
        fh.write("x")


def _calls(counter: Path) -> int:
    return len(counter.read_text()) if counter.exists() else 0


@step
def numbers(n: int, counter: str) -> list:
    _count(counter + ".numbers")
    return list(range(n))


@step
def scale(values: list, factor: int, counter: str) -> list:
    _count(counter + ".scale")
    loopline.log_metric("factor", factor)
    return [v * factor for v in values]


@step
def fragile(values: list, flag: str) -> int:
    if Path(flag).exists():
        raise ValueError("the flag file says no")
    return sum(values)


@pipeline
def chain(counter: str, flag: str, n: int = 4, factor: int = 2):
    fragile(scale(numbers(n, counter), factor, counter), flag)


@pytest.fixture
def runner(store: Store, artifacts: ArtifactStore) -> Runner:
    return Runner(store, artifacts)


def test_second_run_is_served_from_cache(runner: Runner, tmp_path: Path) -> None:
    counter, flag = str(tmp_path / "c"), str(tmp_path / "flag")
    first = runner.run(chain, {"counter": counter, "flag": flag})
    second = runner.run(chain, {"counter": counter, "flag": flag})
    assert first.status == second.status == "succeeded"
    assert first.cached == []
    assert second.cached == ["numbers", "scale", "fragile"]
    assert second.load("fragile") == first.load("fragile") == 12
    assert _calls(Path(counter + ".numbers")) == _calls(Path(counter + ".scale")) == 1


def test_changed_parameter_reruns_only_what_depends_on_it(runner: Runner, tmp_path: Path) -> None:
    params = {"counter": str(tmp_path / "c"), "flag": str(tmp_path / "flag")}
    runner.run(chain, params)
    result = runner.run(chain, {**params, "factor": 3})
    assert result.cached == ["numbers"]
    assert result.load("fragile") == 18


def test_cache_disabled_step_always_runs(runner: Runner, tmp_path: Path) -> None:
    counter = str(tmp_path / "c")

    @pipeline
    def p():
        numbers.with_options(cache=False)(3, counter)

    runner.run(p)
    runner.run(p)
    assert _calls(Path(counter + ".numbers")) == 2


def test_failing_step_fails_the_run_with_its_traceback(
    runner: Runner, store: Store, tmp_path: Path
) -> None:
    flag = tmp_path / "flag"
    flag.touch()
    with pytest.raises(StepFailedError, match=re.escape("Step 'fragile' of run")) as info:
        runner.run(chain, {"counter": str(tmp_path / "c"), "flag": str(flag)})
    assert "ValueError: the flag file says no" in str(info.value)
    assert "loopline run --resume" in info.value.hint
    run = store.runs.get(info.value.run_id)
    assert run.status == "failed"
    failed = [s for s in store.runs.steps(run.id) if s.status == "failed"]
    assert [s.name for s in failed] == ["fragile"]
    assert 'raise ValueError("the flag file says no")' in failed[0].traceback
    assert store.events.list(subject_id=run.id, kind="run.failed")


def test_resume_reruns_only_what_did_not_finish(
    runner: Runner, store: Store, tmp_path: Path
) -> None:
    counter, flag = tmp_path / "c", tmp_path / "flag"
    flag.touch()
    params = {"counter": str(counter), "flag": str(flag)}
    with pytest.raises(StepFailedError) as info:
        runner.run(chain, params)
    flag.unlink()
    result = runner.run(chain, resume=info.value.run_id[:8])
    assert result.run.id == info.value.run_id
    assert result.status == "succeeded"
    assert result.load("fragile") == 12
    assert _calls(Path(f"{counter}.numbers")) == _calls(Path(f"{counter}.scale")) == 1
    statuses = [(s.name, s.status) for s in store.runs.steps(result.run.id)]
    assert statuses == [
        ("numbers", "succeeded"),
        ("scale", "succeeded"),
        ("fragile", "failed"),
        ("fragile", "succeeded"),
    ]


def test_resume_of_a_succeeded_run_is_refused(runner: Runner, tmp_path: Path) -> None:
    result = runner.run(chain, {"counter": str(tmp_path / "c"), "flag": str(tmp_path / "f")})
    with pytest.raises(ValueError, match="already succeeded; there is nothing to resume"):
        runner.run(chain, resume=result.run.id)


@step(retries=2)
def flaky(counter: str) -> int:
    _count(counter)
    if _calls(Path(counter)) < 3:
        raise RuntimeError("not yet")
    return 7


def test_retries(runner: Runner, tmp_path: Path) -> None:
    counter = str(tmp_path / "flaky")
    result = runner.run(pipeline(lambda: flaky(counter), name="retrying"))
    assert result.load("flaky") == 7
    assert _calls(Path(counter)) == 3


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        ("object", "No materializer can save a value of type object."),
        ("lambda", "No materializer can save a value of type function."),
        ("one", "Step 'pair' declares 2 outputs ['a', 'b'] but returned one int."),
        ("three", "Step 'pair' declares 2 outputs ['a', 'b'] but returned 3 values."),
    ],
)
def test_output_that_cannot_be_materialized(runner: Runner, returned: str, message: str) -> None:
    values = {"object": object(), "lambda": lambda: 1, "one": 1, "three": (1, 2, 3)}

    @step
    def bad() -> object:
        return values[returned]

    @step(outputs=["a", "b"])
    def pair() -> object:
        return values[returned]

    chosen = pair if returned in ("one", "three") else bad
    with pytest.raises(StepFailedError, match=re.escape(message)):
        runner.run(pipeline(lambda: chosen(), name="p"))


class _Warnings(RunListener):
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def on_step_warning(self, name: str, message: str) -> None:
        self.seen.append((name, message))


@pytest.mark.parametrize(
    ("alter", "difference"),
    [
        (lambda path: path.write_text("[0, 0]"), "its size is"),
        (lambda path: path.write_text(path.read_text().replace("1", "7")), "its sha256 is"),
        (lambda path: path.unlink(), "is gone"),
    ],
    ids=["resized", "same-size", "deleted"],
)
def test_altered_cached_output_is_not_used_the_step_reruns_with_a_warning(
    store: Store, artifacts: ArtifactStore, tmp_path: Path, alter: object, difference: str
) -> None:
    listener = _Warnings()
    runner = Runner(store, artifacts, listeners=[listener])
    counter = tmp_path / "c"
    params = {"counter": str(counter), "flag": str(tmp_path / "f")}
    first = runner.run(chain, params)
    blob = first.outputs["numbers"]["output"]
    path = Path(artifacts.locate(blob.uri))
    alter(path)  # type: ignore[operator]

    second = runner.run(chain, {**params, "factor": 5})

    assert second.status == "succeeded" and second.load("scale") == [0, 5, 10, 15]
    assert _calls(Path(str(counter) + ".numbers")) == 2  # it ran again
    assert "numbers" not in second.cached
    [(name, message)] = listener.seen
    assert name == "numbers"
    assert message.startswith(f"Output 'output' of step 'numbers' (artifact #{blob.id})")
    assert difference in message and message.endswith("The step runs again.")
    artifacts.verify(blob.uri, blob.sha256, blob.size)  # the rerun wrote the bytes back
    events = store.events.list(kind="step.cache_refused")
    assert [e.subject_id for e in events] == [second.run.id]
    assert runner.run(chain, {**params, "factor": 5}).cached == ["numbers", "scale", "fragile"]


def test_resume_after_an_output_was_altered_runs_that_step_again(
    store: Store, artifacts: ArtifactStore, tmp_path: Path
) -> None:
    listener = _Warnings()
    runner = Runner(store, artifacts, listeners=[listener])
    counter, flag = tmp_path / "c", tmp_path / "flag"
    flag.touch()
    params = {"counter": str(counter), "flag": str(flag)}
    with pytest.raises(StepFailedError) as info:
        runner.run(chain, params)
    [scale_run] = [s for s in store.runs.steps(info.value.run_id) if s.name == "scale"]
    blob = store.runs.step_outputs(scale_run.id)["output"]
    Path(artifacts.locate(blob.uri)).write_text("[9]")
    flag.unlink()

    result = runner.run(chain, resume=info.value.run_id[:8])

    assert result.status == "succeeded" and result.load("fragile") == 12
    assert _calls(Path(f"{counter}.numbers")) == 1 and _calls(Path(f"{counter}.scale")) == 2
    assert [name for name, _ in listener.seen] == ["scale"]


def test_rerun_and_no_cache_force_steps_to_run(runner: Runner, tmp_path: Path) -> None:
    counter = tmp_path / "c"
    params = {"counter": str(counter), "flag": str(tmp_path / "f")}
    runner.run(chain, params)

    forced = runner.run(chain, params, rerun=["scale"])
    everything = runner.run(chain, params, cache=False)

    assert forced.cached == ["numbers", "fragile"]  # scale wrote the same bytes again
    assert everything.cached == []
    assert _calls(Path(str(counter) + ".numbers")) == 2
    assert _calls(Path(str(counter) + ".scale")) == 3


@pytest.mark.parametrize(
    ("rerun", "message"),
    [
        (
            ["scael"],
            "Cannot rerun step 'scael': pipeline 'chain' has no such step. Did you mean 'scale'?",
        ),
        (["nope"], "Cannot rerun step 'nope': pipeline 'chain' has no such step."),
    ],
)
def test_rerun_of_an_unknown_step_is_refused_before_anything_runs(
    runner: Runner, store: Store, tmp_path: Path, rerun: list[str], message: str
) -> None:
    params = {"counter": str(tmp_path / "c"), "flag": str(tmp_path / "f")}
    with pytest.raises(PipelineDefinitionError, match=re.escape(message)) as info:
        runner.run(chain, params, rerun=rerun)
    assert info.value.hint == "Its steps: numbers, scale, fragile."
    assert store.runs.list() == []


def test_deleted_output_artifact_is_recomputed(runner: Runner, tmp_path: Path) -> None:
    params = {"counter": str(tmp_path / "c"), "flag": str(tmp_path / "f")}
    first = runner.run(chain, params)
    Path(first.outputs["fragile"]["output"].uri).unlink()
    second = runner.run(chain, params)
    assert second.cached == ["numbers", "scale"]
    assert second.load("fragile") == 12


def test_metrics_and_artifacts_logged_inside_a_step(runner: Runner, store: Store) -> None:
    @step
    def train() -> int:
        for i in range(3000):
            loopline.log_metric("loss", 1 / (i + 1), step=i)
        loopline.log_params({"lr": 0.1})
        loopline.set_tag("stage", "test")
        loopline.log_artifact({"notes": "extra"}, "notes")
        return 1

    result = runner.run(pipeline(lambda: train(), name="tracked"))
    losses = store.tracking.metrics(result.run.id, "loss")
    assert len(losses) == 3000 and losses[-1].step == 2999
    assert store.tracking.params(result.run.id) == {"lr": 0.1}
    assert store.tracking.tags(result.run.id) == {"stage": "test"}
    outputs = store.runs.step_outputs(result.steps["train"].id)
    assert set(outputs) == {"output", "notes"}
    assert result.artifacts.load(outputs["notes"].uri, outputs["notes"].sha256, "json") == {
        "notes": "extra"
    }


def test_metrics_are_flushed_when_a_step_fails(runner: Runner, store: Store) -> None:
    @step
    def dies() -> int:
        loopline.log_metric("progress", 0.5)
        raise RuntimeError("boom")

    with pytest.raises(StepFailedError) as info:
        runner.run(pipeline(lambda: dies(), name="dying"))
    assert [m.value for m in store.tracking.metrics(info.value.run_id)] == [0.5]


def test_log_metric_outside_a_step() -> None:
    with pytest.raises(
        ValueError,
        match=re.escape("loopline.log_metric() was called outside a step and outside a run."),
    ):
        loopline.log_metric("x", 1.0)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "high", None])
def test_log_metric_rejects_non_finite_values(value: object, project: Path) -> None:
    with (
        loopline.start_run(project_dir=str(project)),
        pytest.raises(ValueError, match="a finite number"),
    ):
        loopline.log_metric("x", value)  # type: ignore[arg-type]


def test_start_run_records_an_adhoc_run(project: Path) -> None:
    with loopline.start_run("notebook", project_dir=str(project)) as run:
        for i in range(10):
            loopline.log_metric("acc", i / 10, step=i)
    with Store(f"sqlite:///{project / '.loopline' / 'loopline.db'}") as store:
        assert store.runs.get(run.id).status == "succeeded"
        assert len(store.tracking.metrics(run.id)) == 10


def test_listener_sees_every_step(runner: Runner, tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []

    class Recorder(RunListener):
        def on_step_end(
            self, name: str, status: str, duration: float | None, error: str | None
        ) -> None:
            seen.append((name, status))

    runner.listeners.append(Recorder())
    params = {"counter": str(tmp_path / "c"), "flag": str(tmp_path / "f")}
    runner.run(chain, params)
    runner.run(chain, params)
    assert seen == [(n, "succeeded") for n in ("numbers", "scale", "fragile")] + [
        (n, "cached") for n in ("numbers", "scale", "fragile")
    ]


# -- the process-pool executor ------------------------------------------------------------


@step
def meet(me: str, other: str, folder: str) -> int:
    """Wait for the other step to start: deadlocks (and times out) unless both run at once."""
    Path(folder, me).touch()
    deadline = time.monotonic() + 60
    while not Path(folder, other).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{other} never started while {me} ran")
        time.sleep(0.01)
    return os.getpid()


@step
def pids(a: int, b: int) -> list:
    return [a, b]


@pipeline
def rendezvous(folder: str):
    pids(meet("a", "b", folder), meet.with_options(name="meet_b")("b", "a", folder))


def test_process_pool_runs_independent_steps_in_parallel(
    store: Store, artifacts: ArtifactStore, tmp_path: Path
) -> None:
    with Runner(store, artifacts, ProcessPoolExecutor(max_workers=2)) as runner:
        result = runner.run(rendezvous, {"folder": str(tmp_path)})
    a, b = result.load("pids")
    assert a != b and os.getpid() not in (a, b)


def test_process_pool_refuses_steps_defined_in_functions(
    store: Store, artifacts: ArtifactStore
) -> None:
    @step
    def local() -> int:
        return 1

    with (
        Runner(store, artifacts, ProcessPoolExecutor(max_workers=1)) as runner,
        pytest.raises(StepFailedError, match="is defined inside a function"),
    ):
        runner.run(pipeline(lambda: local(), name="p"))


def test_definition_errors_happen_before_any_run_is_recorded(runner: Runner, store: Store) -> None:
    @pipeline
    def broken():
        scale(numbers(3, "c"))  # missing arguments

    with pytest.raises(PipelineDefinitionError):
        runner.run(broken)
    assert store.runs.list() == []
