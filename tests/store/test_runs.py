"""Runs and step runs: create, get, list, finish, reopen, orphans, cache lookups."""

from __future__ import annotations

import os
import re
import signal
import socket
import time
import uuid

import pytest

from loopline.errors import InvalidInputError, NotFoundError
from loopline.store import Store
from loopline.store import _schema as t

ORPHAN_SCRIPT = """
    import sys, time
    from loopline.store import Store

    store = Store(sys.argv[1])
    run = store.runs.create("doomed", params={"epochs": 3})
    done = store.runs.start_step(
        run.id, "prepare", code_hash="c0", cache_key="k0", params={}, inputs={}
    )
    store.runs.finish_step(done, "succeeded")
    store.runs.start_step(run.id, "train", code_hash="c1", cache_key="k1", params={}, inputs={})
    print(run.id, flush=True)
    time.sleep(600)
"""


def insert_run(store: Store, run_id: str, **values: object) -> None:
    """Write a runs row directly, with a chosen id, host or pid."""
    row = dict(
        id=run_id,
        name="raw",
        params="{}",
        status="running",
        started_at=time.time(),
        host=socket.gethostname(),
        pid=os.getpid(),
        executor="inprocess",
    )
    row.update(values)
    with store.engine.begin() as conn:
        conn.execute(t.runs.insert().values(**row))


def start(store: Store, run_id: str, name: str = "step", **kwargs: object) -> int:
    """Start a step run with defaults for what a test does not care about."""
    values: dict[str, object] = dict(code_hash="code", cache_key="key", params={}, inputs={})
    values.update(kwargs)
    return store.runs.start_step(run_id, name, **values)  # type: ignore[arg-type]


# -- create and get ----------------------------------------------------------------------


def test_create_records_the_run_owned_by_this_process(store: Store) -> None:
    before = time.time()
    run = store.runs.create(
        "train",
        pipeline_ref="pipelines.py:train",
        params={"lr": 0.1, "layers": [2, 3]},
        executor="process",
    )
    assert re.fullmatch(r"[0-9a-f]{32}", run.id)
    assert run.name == "train"
    assert run.status == "running"
    assert run.pipeline_ref == "pipelines.py:train"
    assert run.params == {"lr": 0.1, "layers": [2, 3]}
    assert run.executor == "process"
    assert run.host == socket.gethostname()
    assert run.pid == os.getpid()
    assert before <= run.started_at <= time.time()
    assert run.ended_at is None
    assert run.duration is None
    assert run.error is None
    assert store.runs.get(run.id) == run


def test_create_gives_each_run_a_new_id(store: Store) -> None:
    ids = {store.runs.create("same").id for _ in range(5)}
    assert len(ids) == 5


def test_get_by_unique_prefix(store: Store) -> None:
    run = store.runs.create("train")
    other = store.runs.create("other")
    assert store.runs.get(run.id[:8]) == run
    # The shortest prefix that is unique among these runs, at least 4 characters.
    n = next(n for n in range(4, 33) if run.id[:n] != other.id[:n])
    assert store.runs.get(run.id[:n]).id == run.id


def test_get_ambiguous_prefix_is_an_error(store: Store) -> None:
    insert_run(store, "abcd" + "1" * 28)
    insert_run(store, "abcd" + "2" * 28)
    with pytest.raises(
        NotFoundError, match=re.escape("Run id prefix 'abcd' matches several runs.")
    ) as info:
        store.runs.get("abcd")
    assert info.value.run_id == "abcd"
    assert "more characters" in info.value.hint
    assert store.runs.get("abcd1").id == "abcd" + "1" * 28


@pytest.mark.parametrize(
    "run_id",
    [
        pytest.param("0" * 32, id="unknown-full-id"),
        pytest.param("ffff", id="unknown-prefix"),
        pytest.param("abc", id="prefix-under-4-chars"),
        pytest.param("ab_d", id="underscore-is-not-a-wildcard"),
        pytest.param("abc%", id="percent-is-not-a-wildcard"),
        pytest.param("", id="empty"),
    ],
)
def test_get_unknown_run_names_it(store: Store, run_id: str) -> None:
    insert_run(store, "abcd" + "1" * 28)
    with pytest.raises(
        NotFoundError, match=re.escape(f"No run with id {run_id!r} in this store.")
    ) as info:
        store.runs.get(run_id)
    assert info.value.run_id == run_id
    assert "loopline runs list" in info.value.hint
    assert isinstance(info.value, LookupError)


# -- list and finish ---------------------------------------------------------------------


def test_list_most_recent_first(store: Store) -> None:
    runs = [store.runs.create(f"run-{i}") for i in range(4)]
    listed = store.runs.list()
    assert [r.id for r in listed] == [r.id for r in reversed(runs)]
    assert [r.id for r in store.runs.list(limit=2)] == [runs[3].id, runs[2].id]


def test_list_filters_by_status(store: Store) -> None:
    first, second, third = (store.runs.create(f"run-{i}") for i in range(3))
    store.runs.finish(first.id, "succeeded")
    store.runs.finish(third.id, "succeeded")
    store.runs.finish(second.id, "failed", error="boom")
    assert [r.id for r in store.runs.list(status="succeeded")] == [third.id, first.id]
    assert [r.id for r in store.runs.list(status="failed")] == [second.id]
    assert store.runs.list(status="interrupted") == []
    assert [r.id for r in store.runs.list(status="succeeded", limit=1)] == [third.id]


def test_list_filters_by_name(store: Store) -> None:
    train = [store.runs.create("train") for _ in range(2)]
    store.runs.create("score")
    store.runs.finish(train[0].id, "succeeded")
    assert [r.id for r in store.runs.list(name="train")] == [train[1].id, train[0].id]
    assert [r.id for r in store.runs.list(name="train", status="running")] == [train[1].id]
    assert store.runs.list(name="nothing") == []


def test_list_of_an_empty_store(store: Store) -> None:
    assert store.runs.list() == []


@pytest.mark.parametrize(
    ("status", "error"), [("succeeded", None), ("failed", "ValueError: bad input")]
)
def test_finish_records_status_end_and_error(store: Store, status: str, error: str | None) -> None:
    run = store.runs.create("train")
    store.runs.finish(run.id, status, error=error)
    done = store.runs.get(run.id)
    assert done.status == status
    assert done.error == error
    assert done.ended_at is not None
    assert done.duration is not None
    assert done.duration >= 0


# -- reopen ------------------------------------------------------------------------------


def test_reopen_a_succeeded_run_is_an_error(store: Store) -> None:
    run = store.runs.create("train")
    store.runs.finish(run.id, "succeeded")
    with pytest.raises(
        InvalidInputError,
        match=re.escape(f"Run {run.id} already succeeded; there is nothing to resume."),
    ) as info:
        store.runs.reopen(run.id)
    assert info.value.run_id == run.id
    assert "Start a new run" in info.value.hint
    assert store.runs.get(run.id).status == "succeeded"


def test_reopen_a_run_still_running_is_an_error(store: Store) -> None:
    run = store.runs.create("train")
    message = f"Run {run.id} is still running (pid {os.getpid()} on {socket.gethostname()})."
    with pytest.raises(InvalidInputError, match=re.escape(message)) as info:
        store.runs.reopen(run.id)
    assert info.value.run_id == run.id
    assert store.runs.get(run.id).status == "running"


def test_reopen_a_failed_run_takes_it_over(store: Store) -> None:
    insert_run(
        store, "f" * 32, status="failed", ended_at=time.time(), error="boom", pid=1, host="old"
    )
    reopened = store.runs.reopen("ffff")
    assert reopened.id == "f" * 32
    assert reopened.status == "running"
    assert reopened.ended_at is None
    assert reopened.error is None
    assert reopened.pid == os.getpid()
    assert reopened.host == socket.gethostname()
    assert store.runs.get("f" * 32) == reopened


def test_reopen_an_unknown_run(store: Store) -> None:
    with pytest.raises(NotFoundError, match=re.escape("No run with id 'feedbeef' in this store.")):
        store.runs.reopen("feedbeef")


# -- orphans -----------------------------------------------------------------------------


def test_a_run_whose_process_was_killed_lists_as_interrupted(
    store: Store, store_url: str, start_script
) -> None:
    proc = start_script(ORPHAN_SCRIPT, store_url)
    line = proc.stdout.readline().strip()
    assert line, proc.communicate(timeout=30)[1]
    run_id = line
    # Alive: listing leaves it alone.
    assert store.runs.list()[0].status == "running"
    assert store.runs.mark_orphans_interrupted() == 0

    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)  # reaped, so its pid is gone

    [run] = store.runs.list()
    assert run.id == run_id
    assert run.status == "interrupted"
    assert run.error == "The run's process died."
    assert run.ended_at is not None
    steps = {s.name: s for s in store.runs.steps(run_id)}
    assert steps["train"].status == "interrupted"
    assert steps["train"].error == "The run's process died."
    assert steps["train"].ended_at is not None
    assert steps["prepare"].status == "succeeded"
    assert store.runs.mark_orphans_interrupted() == 0
    # An interrupted run can be resumed by another process.
    assert store.runs.reopen(run_id).status == "running"


def test_mark_orphans_leaves_other_hosts_and_finished_runs_alone(
    store: Store, start_script
) -> None:
    proc = start_script("pass")
    proc.wait(timeout=30)
    dead_pid = proc.pid
    insert_run(store, "a" * 32, pid=dead_pid)
    insert_run(store, "b" * 32, pid=dead_pid, host="some-other-host.invalid")
    insert_run(store, "c" * 32, pid=dead_pid, status="failed", ended_at=time.time())
    assert store.runs.mark_orphans_interrupted() == 1
    assert store.runs.get("a" * 32).status == "interrupted"
    assert store.runs.get("b" * 32).status == "running"
    assert store.runs.get("c" * 32).status == "failed"
    assert store.runs.get("c" * 32).error is None


# -- pipeline versions -------------------------------------------------------------------


def test_register_pipeline_version_once_per_definition(store: Store) -> None:
    v1 = store.runs.register_pipeline_version("train", "h1", '{"steps": []}')
    assert store.runs.register_pipeline_version("train", "h1", '{"steps": []}') == v1
    v2 = store.runs.register_pipeline_version("train", "h2", '{"steps": ["a"]}')
    other = store.runs.register_pipeline_version("score", "h1", '{"steps": []}')
    assert len({v1, v2, other}) == 3
    run = store.runs.create("train", pipeline_version_id=v2)
    assert store.runs.get(run.id).pipeline_version_id == v2


# -- step runs ---------------------------------------------------------------------------


def test_start_and_finish_step_with_lineage(store: Store, make_artifact) -> None:
    run = store.runs.create("train")
    data = make_artifact("data")
    step_id = start(
        store,
        run.id,
        "fit",
        code_hash="c" * 64,
        cache_key="k" * 64,
        params={"C": 1.0},
        inputs={"data": data.id},
    )
    running = store.runs.get_step(step_id)
    assert running.run_id == run.id
    assert running.name == "fit"
    assert running.status == "running"
    assert running.attempt == 1
    assert running.code_hash == "c" * 64
    assert running.cache_key == "k" * 64
    assert running.params == {"C": 1.0}
    assert running.cache_hit is False
    assert running.started_at is not None
    assert running.ended_at is None
    assert store.runs.step_outputs(step_id) == {}

    model, report = make_artifact("model"), make_artifact("report")
    store.runs.finish_step(step_id, "succeeded", outputs={"model": model.id, "report": report.id})
    done = store.runs.get_step(step_id)
    assert done.status == "succeeded"
    assert done.ended_at is not None
    assert done.duration == pytest.approx(done.ended_at - done.started_at)
    assert store.runs.step_outputs(step_id) == {"model": model, "report": report}
    graph = store.lineage.of_run(run.id)
    assert graph.inputs_of(step_id) == {"data": data}
    assert graph.outputs_of(step_id) == {"model": model, "report": report}


def test_finish_step_failed_keeps_error_and_traceback(store: Store) -> None:
    run = store.runs.create("train")
    step_id = start(store, run.id, attempt=2)
    store.runs.finish_step(step_id, "failed", error="boom", traceback="Traceback ...")
    failed = store.runs.get_step(step_id)
    assert (failed.status, failed.error, failed.traceback, failed.attempt) == (
        "failed",
        "boom",
        "Traceback ...",
        2,
    )
    assert store.runs.step_outputs(step_id) == {}


def test_steps_in_start_order(store: Store) -> None:
    run, other = store.runs.create("a"), store.runs.create("b")
    ids = [start(store, run.id, name) for name in ("load", "fit", "fit")]
    start(store, other.id, "elsewhere")
    steps = store.runs.steps(run.id)
    assert [s.id for s in steps] == ids
    assert [s.name for s in steps] == ["load", "fit", "fit"]
    assert store.runs.steps("0" * 32) == []


def test_get_step_unknown(store: Store) -> None:
    with pytest.raises(NotFoundError, match=re.escape("No step run with id 424242.")) as info:
        store.runs.get_step(424242)
    assert info.value.step_run_id == 424242


def test_link_outputs_adds_logged_artifacts(store: Store, make_artifact) -> None:
    run = store.runs.create("train")
    step_id = start(store, run.id)
    plot = make_artifact("plot")
    store.runs.link_outputs(step_id, {"plot": plot.id})
    store.runs.link_outputs(step_id, {})
    model = make_artifact("model")
    store.runs.finish_step(step_id, "succeeded", outputs={"model": model.id})
    assert store.runs.step_outputs(step_id) == {"plot": plot, "model": model}


def test_link_inputs_adds_loaded_artifacts(store: Store, make_artifact) -> None:
    run = store.runs.create("train")
    data, extra = make_artifact("data"), make_artifact("extra")
    step_id = start(store, run.id, inputs={"data": data.id})
    store.runs.link_inputs(step_id, {"reference": extra.id})
    store.runs.link_inputs(step_id, {})
    model = make_artifact("model")
    store.runs.finish_step(step_id, "succeeded", outputs={"model": model.id})
    assert store.lineage.of_run(run.id).inputs_of(step_id) == {"data": data, "reference": extra}
    # Lineage follows loaded artifacts like declared inputs.
    assert extra.id in store.lineage.upstream(model.id).artifacts
    assert step_id in store.lineage.downstream(extra.id).step_runs


@pytest.mark.parametrize(("status", "cache_hit"), [("cached", True), ("succeeded", False)])
def test_record_cached_step(store: Store, make_artifact, status: str, cache_hit: bool) -> None:
    run = store.runs.create("train")
    data, model = make_artifact("data"), make_artifact("model")
    step_id = store.runs.record_cached_step(
        run.id,
        "fit",
        code_hash="c",
        cache_key="k",
        params={"C": 2},
        inputs={"data": data.id},
        outputs={"model": model.id},
        status=status,
    )
    step = store.runs.get_step(step_id)
    assert step.status == status
    assert step.cache_hit is cache_hit
    assert step.duration == 0.0
    assert step.started_at == step.ended_at
    assert step.params == {"C": 2}
    assert store.runs.step_outputs(step_id) == {"model": model}
    assert store.lineage.of_run(run.id).inputs_of(step_id) == {"data": data}


def test_start_step_of_an_unknown_run_is_a_loopline_error(store: Store) -> None:
    with pytest.raises(NotFoundError, match=re.escape("'" + "0" * 32 + "'")):
        start(store, "0" * 32)


# -- find_cached -------------------------------------------------------------------------


def test_find_cached_misses_without_a_finished_step(store: Store, make_artifact) -> None:
    run = store.runs.create("train")
    assert store.runs.find_cached("key", ["model"]) is None
    running = start(store, run.id, cache_key="key")
    store.runs.link_outputs(running, {"model": make_artifact("m").id})
    assert store.runs.find_cached("key", ["model"]) is None
    for status in ("failed", "interrupted", "skipped"):
        step_id = start(store, run.id, cache_key="key")
        store.runs.finish_step(step_id, status, outputs={"model": make_artifact(status).id})
        assert store.runs.find_cached("key", ["model"]) is None, status


def test_find_cached_hits_a_succeeded_step_with_every_output(store: Store, make_artifact) -> None:
    run = store.runs.create("train")
    model, metrics = make_artifact("model"), make_artifact("metrics")
    step_id = start(store, run.id, cache_key="key")
    store.runs.finish_step(step_id, "succeeded", outputs={"model": model.id, "metrics": metrics.id})
    assert store.runs.find_cached("key", ["model", "metrics"]) == {
        "model": model,
        "metrics": metrics,
    }
    assert store.runs.find_cached("key", []) == {"model": model, "metrics": metrics}
    assert store.runs.find_cached("key", ["model", "missing"]) is None
    assert store.runs.find_cached("other-key", ["model"]) is None


def test_find_cached_brings_extra_logged_outputs(store: Store, make_artifact) -> None:
    run = store.runs.create("train")
    step_id = start(store, run.id, cache_key="key")
    plot, model = make_artifact("plot"), make_artifact("model")
    store.runs.link_outputs(step_id, {"plot": plot.id})
    store.runs.finish_step(step_id, "succeeded", outputs={"model": model.id})
    assert store.runs.find_cached("key", ["model"]) == {"model": model, "plot": plot}


def test_find_cached_uses_the_latest_finished_step(store: Store, make_artifact) -> None:
    run = store.runs.create("train")
    old, new = make_artifact("old"), make_artifact("new")
    first = start(store, run.id, cache_key="key")
    store.runs.finish_step(first, "succeeded", outputs={"model": old.id})
    store.runs.record_cached_step(
        run.id,
        "fit",
        code_hash="c",
        cache_key="key",
        params={},
        inputs={},
        outputs={"model": new.id},
    )
    assert store.runs.find_cached("key", ["model"]) == {"model": new}
    # A later failure does not hide the finished ones.
    failed = start(store, run.id, cache_key="key")
    store.runs.finish_step(failed, "failed", error="boom")
    assert store.runs.find_cached("key", ["model"]) == {"model": new}


def test_run_ids_are_hex_uuids(store: Store) -> None:
    run = store.runs.create("train")
    assert uuid.UUID(hex=run.id).version == 4
