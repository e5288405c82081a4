"""Canonical JSON of stored values."""

from __future__ import annotations

import json
import math
from pathlib import PurePosixPath

import pytest
from hypothesis import given

from loopline.store._json import dumps, loads
from tests.strategies import json_values


def test_dumps_is_sorted_and_compact() -> None:
    assert dumps({"b": 1, "a": [1, 2], "c": {"z": None, "y": True}}) == (
        '{"a":[1,2],"b":1,"c":{"y":true,"z":null}}'
    )


def test_dumps_falls_back_to_str() -> None:
    assert dumps({"path": PurePosixPath("/data/x.csv")}) == '{"path":"/data/x.csv"}'


@pytest.mark.parametrize("text", [None, ""])
def test_loads_of_nothing_is_an_empty_dict(text: str | None) -> None:
    assert loads(text) == {}


@given(json_values())
def test_round_trip(value) -> None:
    assert loads(dumps(value)) == value


def _reject(constant: str) -> None:
    raise ValueError(f"non-standard JSON constant {constant}")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_dumps_is_nan_free(value: float) -> None:
    json.loads(dumps({"x": value}), parse_constant=_reject)
