"""``loopline init`` checks the project name and escapes what it writes to TOML (issue 10)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from loopline.cli._init import toml_string

from ..conftest import run_cli

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 reads TOML with tomli, a dependency there
    import tomli as tomllib


@pytest.mark.parametrize(
    "name",
    ['x"\n[store]\nurl = "sqlite:////tmp/evil.db', "../../evil", "", "a b", "x" * 129],
    ids=["toml-injection", "path", "empty", "space", "too-long"],
)
def test_init_refuses_a_name_that_breaks_the_rule(tmp_path: Path, name: str) -> None:
    result = run_cli("init", "proj", "--name", name, cwd=tmp_path)
    assert result.returncode == 1, result.stdout
    assert "is not a valid project name: names of models, aliases and projects have" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "proj" / "loopline.toml").exists()
    assert not Path("/tmp/evil.db").exists()


def test_init_escapes_the_data_path_and_slugs_a_folder_name(tmp_path: Path) -> None:
    folder = tmp_path / "my project"
    folder.mkdir()
    data = 'we"ird\\[store]\nurl.csv'
    (folder / data).write_text("x,target\n1,0\n2,1\n3,0\n4,1\n", encoding="utf-8")
    result = run_cli("init", "my project", "--data", data, "--target", "target", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    parsed = tomllib.loads((folder / "loopline.toml").read_text(encoding="utf-8"))
    assert parsed["project"]["name"] == "my-project"
    assert parsed["model"]["name"] == "my-project"
    assert parsed["data"]["source"] == data
    assert "store" not in parsed


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", '"plain"'),
        ('q"\\', '"q\\"\\\\"'),
        ("a\nb\x00\x7f", '"a\\u000Ab\\u0000\\u007F"'),
        ("\ud800", '"\\uFFFD"'),
        ("é€", '"é€"'),
    ],
)
def test_toml_string_round_trips_through_a_toml_parser(value: str, expected: str) -> None:
    assert toml_string(value) == expected
    parsed = tomllib.loads(f"k = {expected}")["k"]
    assert parsed == value.replace("\ud800", "\ufffd")
