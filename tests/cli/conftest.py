from __future__ import annotations

from pathlib import Path

import pytest

PIPELINES = """
import os
import time
from pathlib import Path

import loopline
from loopline import pipeline, step


@step
def load(n: int = 5) -> list:
    return list(range(n))


@step
def slow_square(values: list, marker: str) -> list:
    Path(marker).touch()
    if os.environ.get("SLOW") == "1":
        time.sleep(600)
    return [v * v for v in values]


@step
def metrics(values: list, count: int = 500) -> float:
    for i in range(count):
        loopline.log_metric("value", float(i), step=i)
    return float(sum(values))


@pipeline
def squares(marker: str = "started", n: int = 5):
    metrics(slow_square(load(n), marker))


@pipeline
def quick(n: int = 5, count: int = 500):
    metrics(load(n), count)


@step
def explode(values: list) -> int:
    raise ZeroDivisionError("no way")


@pipeline
def failing():
    explode(load())
"""


@pytest.fixture
def cli_project(project: Path) -> Path:
    """A project with a pipelines.py and two pipelines declared by name."""
    (project / "pipelines.py").write_text(PIPELINES, encoding="utf-8")
    with open(project / "loopline.toml", "a", encoding="utf-8") as fh:
        fh.write('\n[pipelines]\nsquares = "pipelines:squares"\nquick = "pipelines.py:quick"\n')
    return project
