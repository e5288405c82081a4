"""Tests for resolving and reading the training data (components/_ingest.py)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from loopline.components import resolve_source
from loopline.components._config import DataConfig
from loopline.components._ingest import read_source, same_source, source_path
from loopline.errors import InvalidInputError


def _data(source: str) -> DataConfig:
    return DataConfig(source=source, target="y")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    pd.DataFrame({"x": [1, 2], "y": [0, 1]}).to_csv(project / "data" / "a.csv", index=False)
    pd.DataFrame({"x": [3], "y": [1]}).to_csv(project / "data" / "b.csv", index=False)
    return project


def test_files_inside_the_project_are_recorded_relative_to_it(folder: Path) -> None:
    source = resolve_source(_data("data/*.csv"), folder)

    assert [f["path"] for f in source["files"]] == ["data/a.csv", "data/b.csv"]
    assert list(read_source(source, folder)["x"]) == [1, 2, 3]


def test_a_moved_project_resolves_to_the_same_source(folder: Path, tmp_path: Path) -> None:
    before = resolve_source(_data("data/*.csv"), folder)
    moved = tmp_path / "elsewhere"
    shutil.move(str(folder), str(moved))

    after = resolve_source(_data("data/*.csv"), moved)

    assert after == before  # so the ingest step's span (and the package) is unchanged
    assert list(read_source(after, moved)["x"]) == [1, 2, 3]


def test_files_outside_the_project_stay_absolute(folder: Path, tmp_path: Path) -> None:
    outside = tmp_path / "shared.csv"
    shutil.copy(folder / "data" / "a.csv", outside)

    source = resolve_source(_data(str(outside)), folder)

    assert source["files"][0]["path"] == str(outside)
    assert source_path(str(outside), folder) == str(outside)


def test_an_earlier_absolute_record_is_the_same_source(folder: Path) -> None:
    current = resolve_source(_data("data/a.csv"), folder)
    recorded = {
        **current,
        "files": [{**current["files"][0], "path": str(folder / "data" / "a.csv")}],
    }

    assert same_source(recorded, current, folder)
    assert list(read_source(recorded, folder)["x"]) == [1, 2]  # absolute paths still read
    changed = {**current, "files": [{**current["files"][0], "size": 1}]}
    assert not same_source(changed, current, folder)
    assert not same_source(None, current, folder)


def test_errors_name_the_file_where_it_is_now(folder: Path) -> None:
    (folder / "data" / "a.csv").write_text("", encoding="utf-8")
    source = resolve_source(_data("data/a.csv"), folder)

    with pytest.raises(
        InvalidInputError, match=re.escape(f"{folder / 'data' / 'a.csv'} is empty.")
    ):
        read_source(source, folder)
    assert os.path.isabs(str(folder))
