from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopline.errors import PipelineDefinitionError
from loopline.pipeline._dag import topological_order


def test_order_respects_declaration_for_ties() -> None:
    assert topological_order({"a": [], "b": [], "c": ["a"]}) == ["a", "b", "c"]


def test_cycle_is_reported_with_its_path() -> None:
    with pytest.raises(
        PipelineDefinitionError, match=re.escape("The pipeline has a cycle: a -> b -> c -> a.")
    ):
        topological_order({"a": ["c"], "b": ["a"], "c": ["b"]})


def test_self_dependency_is_a_cycle() -> None:
    with pytest.raises(PipelineDefinitionError, match="cycle: a -> a"):
        topological_order({"a": ["a"]})


def test_unknown_dependency_is_named() -> None:
    with pytest.raises(
        PipelineDefinitionError,
        match=re.escape(
            "Step 'train' depends on 'validate', which is not a step of this pipeline."
        ),
    ) as info:
        topological_order({"load": [], "train": ["validate"]})
    assert info.value.value == "validate"


@st.composite
def dags(draw: st.DrawFn) -> dict[str, list[str]]:
    n = draw(st.integers(1, 25))
    names = [f"s{i}" for i in range(n)]
    # Edges only from later to earlier nodes: acyclic by construction; then shuffle keys.
    deps = {
        name: draw(st.lists(st.sampled_from(names[:i]), max_size=4)) if i else []
        for i, name in enumerate(names)
    }
    order = draw(st.permutations(names))
    return {name: deps[name] for name in order}


@given(dags())
def test_topological_order_respects_every_edge(deps: dict[str, list[str]]) -> None:
    order = topological_order(deps)
    assert sorted(order) == sorted(deps)
    position = {name: i for i, name in enumerate(order)}
    for node, before in deps.items():
        for dep in before:
            assert position[dep] < position[node]
