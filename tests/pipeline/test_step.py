from __future__ import annotations

import re
from typing import Annotated

import pytest

from loopline import step
from loopline.errors import PipelineDefinitionError


def test_outputs_from_annotated_tuple() -> None:
    @step
    def split(x: int) -> tuple[Annotated[int, "left"], Annotated[int, "right"]]:
        return x, x

    assert split.options.outputs == ("left", "right")


def test_unnamed_tuple_outputs_are_numbered() -> None:
    @step
    def pair(x: int) -> tuple[int, int]:
        return x, x

    assert pair.options.outputs == ("output_0", "output_1")


def test_single_output_default_name_and_plain_call() -> None:
    @step
    def inc(x: int) -> int:
        return x + 1

    assert inc.options.outputs == ("output",)
    assert inc(1) == 2  # outside a pipeline it runs the function


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"outputs": ["a", "a"]}, "must be distinct non-empty names. Got ['a', 'a'] instead."),
        ({"outputs": ["a", ""]}, "must be distinct non-empty names. Got ['a', ''] instead."),
        ({"retries": -1}, "The 'retries' option of step 'f' must be an int >= 0. Got -1 instead."),
        (
            {"retries": 1.5},
            "The 'retries' option of step 'f' must be an int >= 0. Got 1.5 instead.",
        ),
    ],
)
def test_bad_options(kwargs: dict, message: str) -> None:
    with pytest.raises(PipelineDefinitionError, match=re.escape(message)):

        @step(**kwargs)
        def f() -> None: ...


def test_with_options_keeps_code() -> None:
    @step
    def f() -> int:
        return 1

    g = f.with_options(name="g", cache=False, retries=2, after=["x"])
    assert (g.name, g.options.cache, g.options.retries, g.after) == ("g", False, 2, ("x",))
    assert g.code_hash == f.code_hash
    assert f.options.cache is True


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        ([("cpu", 2)], "The 'resources' option of step 'f' must be a mapping such as {'cpu': 2}."),
        ({"cpu": -1}, "The 'resources' option of step 'f' asks for cpu=-1; an amount must be"),
        ({"gpu": "one"}, "asks for gpu='one'; an amount must be a finite number >= 0."),
        ({"cpu": float("inf")}, "asks for cpu=inf; an amount must be a finite number >= 0."),
        ({"cpu": True}, "asks for cpu=True; an amount must be a finite number >= 0."),
        ({"": 1}, "has a key ''; keys must be non-empty strings. Use names such as cpu, gpu"),
    ],
)
def test_bad_resources(resources: object, message: str) -> None:
    with pytest.raises(PipelineDefinitionError, match=re.escape(message)):

        @step(resources=resources)
        def f() -> None: ...


def test_resources_are_kept_sorted_and_do_not_change_the_code_hash() -> None:
    @step(resources={"memory": 1e9, "cpu": 2})
    def f() -> int:
        return 1

    g = f.with_options(resources={"gpu": 1})
    assert f.options.resources == (("cpu", 2.0), ("memory", 1e9))
    assert g.options.resources == (("gpu", 1.0),)
    assert g.code_hash == f.code_hash
