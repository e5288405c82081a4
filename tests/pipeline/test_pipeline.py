from __future__ import annotations

import re

import pytest

from loopline import pipeline, step
from loopline.errors import PipelineDefinitionError


@step
def source(n: int = 3) -> list:
    return list(range(n))


@step
def total(values: list) -> int:
    return sum(values)


@step(outputs=["a", "b"])
def fork(values: list) -> tuple[list, list]:
    return values, values


def test_trace_builds_edges_and_params() -> None:
    @pipeline
    def p(n: int = 4):
        a, b = fork(source(n))
        total(a)
        total(b)

    graph = p.trace()
    assert graph.order == ["source", "fork", "total", "total_2"]
    assert graph.invocations["source"].params == {"n": 4}
    assert graph.invocations["total_2"].inputs["values"].output == "b"
    assert graph.params == {"n": 4}
    assert p.trace({"n": 5}).definition_hash != graph.definition_hash
    assert p.trace({"n": 4}).definition_hash == graph.definition_hash


def test_cycle_through_after_is_refused_before_anything_runs() -> None:
    @pipeline
    def p():
        total.with_options(name="first", after=["second"])(source())
        total.with_options(name="second", after=["first"])(source())

    with pytest.raises(
        PipelineDefinitionError,
        match=re.escape("The pipeline has a cycle: first -> second -> first."),
    ):
        p.trace()


def test_unknown_after_dependency() -> None:
    @pipeline
    def p():
        total.with_options(after=["validate"])(source())

    with pytest.raises(
        PipelineDefinitionError, match="depends on 'validate', which is not a step of this pipeline"
    ):
        p.trace()


def test_output_of_another_pipeline_is_an_unknown_input() -> None:
    leaked = {}

    @pipeline
    def first():
        leaked["ref"] = source()

    @pipeline
    def second():
        total(leaked["ref"])

    first.trace()
    with pytest.raises(
        PipelineDefinitionError,
        match=re.escape(
            "Input 'values' of step 'total' is an output of step 'source', "
            "which is not part of this pipeline."
        ),
    ):
        second.trace()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (lambda: total(), "Step 'total' was called with arguments that do not fit its signature"),
        (
            lambda: total(source(), 5),
            "Step 'total' was called with arguments that do not fit its signature",
        ),
        (
            lambda: total(object()),
            "Argument 'values' of step 'total' is a object, which is neither a step output "
            "nor a JSON-able parameter.",
        ),
        (
            lambda: total([source()]),
            "Argument 'values' of step 'total' holds step outputs inside a container.",
        ),
        (lambda: None, "Pipeline 'p' calls no step."),
    ],
)
def test_bad_pipeline_definitions(body, message: str) -> None:
    p = pipeline(lambda: body(), name="p")
    with pytest.raises(PipelineDefinitionError, match=re.escape(message)):
        p.trace()


def test_unknown_pipeline_parameter() -> None:
    @pipeline
    def p(n: int = 1):
        source(n)

    with pytest.raises(PipelineDefinitionError, match="Pipeline 'p' takes parameters"):
        p.trace({"m": 2})
