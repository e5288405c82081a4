"""Lineage walks over a three-step chain built through the store API.

::

    raw --load--> data --fit--> model --evaluate--> report
                   \\___________________________/ (evaluate also reads data)
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from loopline.store import Artifact, LineageEdge, LineageGraph, Store


@dataclass
class Chain:
    run_id: str
    raw: Artifact
    data: Artifact
    model: Artifact
    report: Artifact
    load: int
    fit: int
    evaluate: int


def run_step(
    store: Store, run_id: str, name: str, inputs: dict[str, Artifact], outputs: dict[str, Artifact]
) -> int:
    step_id = store.runs.start_step(
        run_id,
        name,
        code_hash=f"code-{name}",
        cache_key=f"key-{name}",
        params={},
        inputs={k: a.id for k, a in inputs.items()},
    )
    store.runs.finish_step(step_id, "succeeded", outputs={k: a.id for k, a in outputs.items()})
    return step_id


@pytest.fixture
def chain(store: Store, make_artifact) -> Chain:
    run = store.runs.create("train")
    raw, data, model, report = (make_artifact(n) for n in ("raw", "data", "model", "report"))
    load = run_step(store, run.id, "load", {"source": raw}, {"data": data})
    fit = run_step(store, run.id, "fit", {"data": data}, {"model": model})
    evaluate = run_step(
        store, run.id, "evaluate", {"model": model, "data": data}, {"report": report}
    )
    store.runs.finish(run.id, "succeeded")
    return Chain(run.id, raw, data, model, report, load, fit, evaluate)


def replay_from_cache(store: Store, chain: Chain) -> dict[str, int]:
    """A second run whose every step is a cache hit of the first run's."""
    run = store.runs.create("train")
    steps = {}
    for name, inputs, outputs in [
        ("load", {"source": chain.raw}, {"data": chain.data}),
        ("fit", {"data": chain.data}, {"model": chain.model}),
        ("evaluate", {"model": chain.model, "data": chain.data}, {"report": chain.report}),
    ]:
        steps[name] = store.runs.record_cached_step(
            run.id,
            name,
            code_hash=f"code-{name}",
            cache_key=f"key-{name}",
            params={},
            inputs={k: a.id for k, a in inputs.items()},
            outputs={k: a.id for k, a in outputs.items()},
        )
    store.runs.finish(run.id, "succeeded")
    return steps


def names(graph: LineageGraph) -> set[str]:
    return {s.name for s in graph.step_runs.values()}


def test_upstream_of_the_final_artifact_reaches_the_first_input(store: Store, chain: Chain) -> None:
    graph = store.lineage.upstream(chain.report.id)
    assert set(graph.step_runs) == {chain.load, chain.fit, chain.evaluate}
    assert set(graph.artifacts) == {
        a.id for a in (chain.raw, chain.data, chain.model, chain.report)
    }
    assert graph.artifacts[chain.raw.id] == chain.raw
    assert [s.id for s in graph.producers(chain.report.id)] == [chain.evaluate]
    assert [s.id for s in graph.producers(chain.data.id)] == [chain.load]
    assert graph.producers(chain.raw.id) == []
    assert graph.inputs_of(chain.load) == {"source": chain.raw}
    assert graph.inputs_of(chain.evaluate) == {"model": chain.model, "data": chain.data}
    assert graph.outputs_of(chain.fit) == {"model": chain.model}
    # Each edge appears once.
    assert len(graph.edges) == len(set(graph.edges)) == 7
    assert LineageEdge(chain.load, chain.raw.id, "input", "source") in graph.edges


def test_upstream_of_a_middle_artifact_stops_there(store: Store, chain: Chain) -> None:
    graph = store.lineage.upstream(chain.model.id)
    assert set(graph.step_runs) == {chain.load, chain.fit}
    assert chain.report.id not in graph.artifacts


def test_upstream_of_a_source_artifact_is_just_itself(store: Store, chain: Chain) -> None:
    graph = store.lineage.upstream(chain.raw.id)
    assert graph.step_runs == {}
    assert graph.edges == []
    assert graph.artifacts == {chain.raw.id: chain.raw}


def test_upstream_max_depth(store: Store, chain: Chain) -> None:
    assert set(store.lineage.upstream(chain.report.id, max_depth=1).step_runs) == {chain.evaluate}
    assert set(store.lineage.upstream(chain.report.id, max_depth=2).step_runs) == {
        chain.evaluate,
        chain.fit,
        chain.load,
    }
    assert store.lineage.upstream(chain.report.id, max_depth=0).step_runs == {}


def test_upstream_does_not_follow_cache_hits(store: Store, chain: Chain) -> None:
    cached = replay_from_cache(store, chain)
    graph = store.lineage.upstream(chain.report.id)
    assert set(graph.step_runs) == {chain.load, chain.fit, chain.evaluate}
    assert not set(cached.values()) & set(graph.step_runs)
    assert all(not s.cache_hit for s in graph.step_runs.values())


def test_downstream_of_the_first_input_reaches_the_report(store: Store, chain: Chain) -> None:
    graph = store.lineage.downstream(chain.raw.id)
    assert set(graph.step_runs) == {chain.load, chain.fit, chain.evaluate}
    assert chain.report.id in graph.artifacts
    assert store.lineage.downstream(chain.report.id).step_runs == {}


def test_downstream_of_the_model(store: Store, chain: Chain) -> None:
    graph = store.lineage.downstream(chain.model.id)
    assert set(graph.step_runs) == {chain.evaluate}
    assert graph.outputs_of(chain.evaluate) == {"report": chain.report}


def test_downstream_includes_cache_hits(store: Store, chain: Chain) -> None:
    cached = replay_from_cache(store, chain)
    graph = store.lineage.downstream(chain.raw.id)
    assert set(graph.step_runs) == {chain.load, chain.fit, chain.evaluate, *cached.values()}


def test_of_run(store: Store, chain: Chain) -> None:
    cached = replay_from_cache(store, chain)
    graph = store.lineage.of_run(chain.run_id)
    assert set(graph.step_runs) == {chain.load, chain.fit, chain.evaluate}
    assert names(graph) == {"load", "fit", "evaluate"}
    assert len(graph.edges) == 7
    assert set(graph.artifacts) == {
        a.id for a in (chain.raw, chain.data, chain.model, chain.report)
    }

    replay = store.lineage.of_run(store.runs.get_step(cached["fit"]).run_id)
    assert set(replay.step_runs) == set(cached.values())
    assert all(s.cache_hit and s.status == "cached" for s in replay.step_runs.values())
    assert replay.outputs_of(cached["fit"]) == {"model": chain.model}


def test_of_an_unknown_run_is_empty(store: Store) -> None:
    assert store.lineage.of_run("0" * 32) == LineageGraph()


def test_a_graph_of_unknown_artifact_is_empty(store: Store) -> None:
    assert store.lineage.upstream(424242) == LineageGraph()
    assert store.lineage.downstream(424242) == LineageGraph()
