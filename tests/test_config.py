"""Project settings: finding loopline.toml, reading it, and LOOPLINE_* overrides."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from loopline.config import (
    PROJECT_FILE,
    Settings,
    find_project_dir,
    load_settings,
    read_project_file,
)
from loopline.errors import ConfigError


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No LOOPLINE_* variable of the caller's shell, and the test's folder as the cwd.

    tests/conftest.py does the same for every test; settings read nothing else, so this
    file says so itself.
    """
    for name in list(os.environ):
        if name.startswith("LOOPLINE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write_project(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / PROJECT_FILE
    path.write_text(text, encoding="utf-8")
    return path


# -- finding the project -----------------------------------------------------------------


def test_defaults_without_loopline_toml(tmp_path: Path) -> None:
    here = tmp_path.resolve()
    settings = load_settings()
    assert settings == Settings(
        project_dir=here,
        name=here.name,
        store_url=f"sqlite:///{here / '.loopline' / 'loopline.db'}",
        artifacts_url=str(here / ".loopline" / "artifacts"),
        request_log_url=str(here / ".loopline" / "requests"),
        executor="inprocess",
        max_workers=None,
        pipelines={},
        raw={},
    )
    assert settings.state_dir == here / ".loopline"
    assert not settings.state_dir.exists()  # reading settings creates nothing


def test_loopline_toml_is_found_from_a_subfolder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    write_project(
        project, '[project]\nname = "fraud"\n\n[pipelines]\ntrain = "pipelines.py:train"\n'
    )
    deep = project / "notebooks" / "eda"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    settings = load_settings()
    assert settings.project_dir == project.resolve()
    assert settings.name == "fraud"
    assert settings.pipelines == {"train": "pipelines.py:train"}
    assert settings.store_url == f"sqlite:///{project.resolve() / '.loopline' / 'loopline.db'}"
    assert settings.raw == {
        "project": {"name": "fraud"},
        "pipelines": {"train": "pipelines.py:train"},
    }


def test_the_nearest_loopline_toml_wins(tmp_path: Path) -> None:
    write_project(tmp_path / "outer", '[project]\nname = "outer"\n')
    write_project(tmp_path / "outer" / "inner", '[project]\nname = "inner"\n')
    assert load_settings(tmp_path / "outer" / "inner" / "src").name == "inner"
    assert find_project_dir(tmp_path / "outer" / "x") == (tmp_path / "outer").resolve()


def test_an_explicit_project_dir(tmp_path: Path) -> None:
    project = tmp_path / "elsewhere"
    write_project(project, '[project]\nname = "elsewhere"\n')
    assert load_settings(project).project_dir == project.resolve()
    assert load_settings(str(project)).name == "elsewhere"


def test_loopline_project_dir_overrides_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_project(tmp_path, '[project]\nname = "cwd"\n')
    project = tmp_path / "chosen"
    write_project(project, '[project]\nname = "chosen"\n')
    monkeypatch.setenv("LOOPLINE_PROJECT_DIR", str(project))
    assert find_project_dir() == project.resolve()
    assert load_settings().name == "chosen"
    # An explicit folder still wins over the variable.
    assert load_settings(tmp_path).name == "cwd"


# -- LOOPLINE_* overrides ----------------------------------------------------------------

FULL_FILE = """
[store]
url = "sqlite:////from/file/loopline.db"

[artifacts]
url = "/from/file/artifacts"

[serving]
request_log = "/from/file/requests"

[run]
executor = "inprocess"
max_workers = 2
"""


@pytest.mark.parametrize(
    ("variable", "value", "attribute"),
    [
        ("LOOPLINE_STORE_URL", "postgresql+psycopg://u@db/loopline", "store_url"),
        ("LOOPLINE_STORE_URL", "sqlite:////from/env/loopline.db", "store_url"),
        ("LOOPLINE_ARTIFACTS_URL", "s3://bucket/artifacts", "artifacts_url"),
        ("LOOPLINE_ARTIFACTS_URL", "/from/env/artifacts", "artifacts_url"),
        ("LOOPLINE_REQUEST_LOG_URL", "s3://bucket/requests", "request_log_url"),
        ("LOOPLINE_REQUEST_LOG_URL", "/from/env/requests", "request_log_url"),
        ("LOOPLINE_EXECUTOR", "process", "executor"),
    ],
)
def test_environment_overrides_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, attribute: str
) -> None:
    write_project(tmp_path, FULL_FILE)
    from_file = load_settings()
    monkeypatch.setenv(variable, value)
    settings = load_settings()
    assert getattr(settings, attribute) == value
    others = {"store_url", "artifacts_url", "request_log_url", "executor"} - {attribute}
    assert {a: getattr(settings, a) for a in others} == {a: getattr(from_file, a) for a in others}


def test_the_file_overrides_the_defaults(tmp_path: Path) -> None:
    write_project(tmp_path, FULL_FILE)
    settings = load_settings()
    assert settings.store_url == "sqlite:////from/file/loopline.db"
    assert settings.artifacts_url == "/from/file/artifacts"
    assert settings.request_log_url == "/from/file/requests"
    assert settings.max_workers == 2


def test_an_empty_variable_does_not_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_project(tmp_path, FULL_FILE)
    monkeypatch.setenv("LOOPLINE_STORE_URL", "")
    assert load_settings().store_url == "sqlite:////from/file/loopline.db"


@pytest.mark.parametrize(("value", "expected"), [("4", 4), ("1", 1)])
def test_loopline_max_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, expected: int
) -> None:
    write_project(tmp_path, FULL_FILE)
    monkeypatch.setenv("LOOPLINE_MAX_WORKERS", value)
    assert load_settings().max_workers == expected


@pytest.mark.parametrize("value", ["four", "2.5", "1e3"])
def test_loopline_max_workers_must_be_an_integer(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("LOOPLINE_MAX_WORKERS", value)
    with pytest.raises(
        ConfigError,
        match=re.escape(f"LOOPLINE_MAX_WORKERS must be an integer. Got {value!r} instead."),
    ) as info:
        load_settings()
    assert info.value.value == value


# -- relative locations ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///data/meta.db", "sqlite:///{root}/data/meta.db"),
        ("sqlite:///meta.db", "sqlite:///{root}/meta.db"),
        ("sqlite:////abs/meta.db", "sqlite:////abs/meta.db"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("sqlite://", "sqlite://"),
        ("postgresql+psycopg://user@host/db", "postgresql+psycopg://user@host/db"),
        pytest.param(
            "sqlite+pysqlite:///data/meta.db",
            "sqlite+pysqlite:///{root}/data/meta.db",
            id="sqlite-with-driver",
        ),
    ],
)
@pytest.mark.parametrize("source", ["file", "env"])
def test_relative_sqlite_paths_are_resolved_against_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, expected: str, source: str
) -> None:
    project = tmp_path / "project"
    write_project(project, f'[store]\nurl = "{url}"\n' if source == "file" else "")
    (project / "sub").mkdir()
    monkeypatch.chdir(project / "sub")
    if source == "env":
        monkeypatch.setenv("LOOPLINE_STORE_URL", url)
    assert load_settings().store_url == expected.format(root=project.resolve())


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("store/artifacts", "{root}/store/artifacts"),
        ("/abs/artifacts", "/abs/artifacts"),
        ("s3://bucket/prefix", "s3://bucket/prefix"),
        ("memory://bucket", "memory://bucket"),
    ],
)
def test_relative_artifact_folders_are_resolved_against_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, expected: str
) -> None:
    project = tmp_path / "project"
    write_project(project, f'[artifacts]\nurl = "{url}"\n\n[serving]\nrequest_log = "{url}"\n')
    (project / "sub").mkdir()
    monkeypatch.chdir(project / "sub")
    settings = load_settings()
    assert settings.artifacts_url == expected.format(root=project.resolve())
    assert settings.request_log_url == expected.format(root=project.resolve())


# -- checking loopline.toml --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "suggestion"),
    [
        ('[store]\nurll = "sqlite://"\n', "store.urll", "store.url"),
        ('[project]\nnmae = "x"\n', "project.nmae", "project.name"),
        ('[run]\nexecuter = "process"\n', "run.executer", "run.executor"),
        ("[run]\nmax_worker = 2\n", "run.max_worker", "run.max_workers"),
        ('[artifacts]\nuri = "/a"\n', "artifacts.uri", "artifacts.url"),
    ],
)
def test_unknown_key_suggests_the_closest(
    tmp_path: Path, text: str, key: str, suggestion: str
) -> None:
    path = write_project(tmp_path, text)
    message = f"Unknown key {key} in {path.resolve()}. Did you mean {suggestion}?"
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        load_settings()
    assert info.value.key == key
    assert info.value.path == str(path.resolve())
    assert re.search(r"Allowed keys of \[\w+\]: ", str(info.value))


def test_unknown_key_without_a_close_match_lists_the_allowed(tmp_path: Path) -> None:
    path = write_project(tmp_path, "[run]\ncolour = 1\n")
    with pytest.raises(
        ConfigError,
        match=re.escape(
            f"Unknown key run.colour in {path.resolve()}. "
            "Allowed keys of [run]: executor, max_workers, address."
        ),
    ) as info:
        load_settings()
    assert "Did you mean" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "key", "expected_type", "got"),
    [
        ("[store]\nurl = 5\n", "store.url", "str", "5"),
        ("[artifacts]\nurl = false\n", "artifacts.url", "str", "False"),
        ('[project]\nname = ["a"]\n', "project.name", "str", "['a']"),
        ("[run]\nexecutor = 1\n", "run.executor", "str", "1"),
        ('[run]\nmax_workers = "4"\n', "run.max_workers", "int", "'4'"),
        ("[run]\nmax_workers = 2.5\n", "run.max_workers", "int", "2.5"),
        ("[run]\nmax_workers = true\n", "run.max_workers", "int", "True"),
    ],
)
def test_wrong_type_names_the_key(
    tmp_path: Path, text: str, key: str, expected_type: str, got: str
) -> None:
    path = write_project(tmp_path, text)
    message = f"{key} in {path.resolve()} must be a {expected_type}. Got {got} instead."
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        load_settings()
    assert info.value.key == key


@pytest.mark.parametrize("section", ["store", "run", "pipelines"])
def test_a_section_must_be_a_table(tmp_path: Path, section: str) -> None:
    path = write_project(tmp_path, f'{section} = "sqlite://"\n')
    with pytest.raises(
        ConfigError,
        match=re.escape(f"[{section}] in {path.resolve()} must be a table. Got str instead."),
    ) as info:
        load_settings()
    assert info.value.key == section


def test_a_pipeline_reference_must_be_a_string(tmp_path: Path) -> None:
    write_project(tmp_path, "[pipelines]\ntrain = 5\n")
    with pytest.raises(ConfigError, match=re.escape("pipelines.train")):
        load_settings()


def test_workflow_sections_pass_through(tmp_path: Path) -> None:
    # Their keys are checked by loopline.components, not here.
    write_project(tmp_path, '[training]\nmodel = "lightgbm"\n\n[blessing]\nmin_auc = 0.8\n')
    settings = load_settings()
    assert settings.raw == {"training": {"model": "lightgbm"}, "blessing": {"min_auc": 0.8}}


def test_unknown_section_suggests_the_closest(tmp_path: Path) -> None:
    path = write_project(tmp_path, '[trainig]\nmodel = "x"\n')
    message = f"Unknown section [trainig] in {path.resolve()}. Did you mean [training]?"
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        load_settings()
    assert info.value.key == "trainig"
    assert "Known sections: project, store, artifacts, serving, run, pipelines" in str(info.value)


def test_unknown_section_without_a_close_match(tmp_path: Path) -> None:
    path = write_project(tmp_path, "[zzz]\nx = 1\n")
    with pytest.raises(
        ConfigError, match=re.escape(f"Unknown section [zzz] in {path.resolve()}. Known sections: ")
    ) as info:
        load_settings()
    assert "Did you mean" not in str(info.value)


@pytest.mark.parametrize(
    "text",
    ['[store\nurl = "x"\n', 'name = "unterminated\n', "[run]\nmax_workers = = 2\n", "[a]\n[a]\n"],
    ids=["unclosed-table", "unterminated-string", "double-equals", "duplicate-table"],
)
def test_invalid_toml_names_the_file(tmp_path: Path, text: str) -> None:
    path = write_project(tmp_path, text)
    with pytest.raises(
        ConfigError, match=re.escape(f"{path.resolve()} is not valid TOML: ")
    ) as info:
        load_settings()
    assert info.value.path == str(path.resolve())
    assert info.value.hint == "Fix the syntax at that line."
    assert re.search(r"line \d+", str(info.value))


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / PROJECT_FILE
    path.write_bytes(b'[project]\nname = "caf\xe9"\n')
    with pytest.raises(ConfigError, match=re.escape(f"{path.resolve()} is not UTF-8 text.")):
        load_settings()


def test_read_project_file_directly(tmp_path: Path) -> None:
    path = write_project(tmp_path, '[project]\nname = "x"\n[run]\nmax_workers = 3\n')
    assert read_project_file(path) == {"project": {"name": "x"}, "run": {"max_workers": 3}}


# -- the name rule (issue 10) ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["wine", "churn-model.v2", "_x", "A9", "x" * 128])
def test_check_name_accepts_the_rule(name: str) -> None:
    from loopline.config import check_name

    assert check_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "../../evil", "a/b", "a\nb", "a\x00", "\ud800", ".hidden", "-x", "a b", "x" * 129, 3],
    ids=repr,
)
def test_check_name_refuses_what_breaks_the_rule(name: object) -> None:
    from loopline.config import NAME_RULE, check_name
    from loopline.errors import InvalidInputError

    message = f"is not a valid alias: names of models, aliases and projects have {NAME_RULE}."
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        check_name(name, what="alias")


# -- an emptied store file (issue 10, item 10) --------------------------------------------


def _project_with_artifacts(folder: Path, count: int) -> Path:
    (folder / "loopline.toml").write_text('[project]\nname = "p"\n', encoding="utf-8")
    for i in range(count):
        blob = folder / ".loopline" / "artifacts" / "objects" / f"{i:02x}" / f"{i:02x}{'0' * 62}"
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(b"x")
    (folder / ".loopline").mkdir(exist_ok=True)
    return folder


@pytest.mark.parametrize(
    ("database", "artifacts", "refused"),
    [
        (b"", 3, True),  # truncated beside artifacts: refused
        (b"", 0, False),  # empty and nothing else: a new store
        (None, 3, False),  # absent: a new store (e.g. a fresh clone with artifacts on S3)
        (b"SQLite format 3\x00", 3, False),  # not empty: opened (and checked) by the store
    ],
    ids=["emptied", "empty-new", "absent", "not-empty"],
)
def test_an_emptied_store_beside_artifacts_is_refused(
    tmp_path: Path, database: bytes | None, artifacts: int, refused: bool
) -> None:
    from loopline.errors import IntegrityError

    project = _project_with_artifacts(tmp_path, artifacts)
    path = project / ".loopline" / "loopline.db"
    if database is not None:
        path.write_bytes(database)

    if not refused:
        assert load_settings(project).store_url == f"sqlite:///{path}"
        return
    message = (
        f"The metadata store {path} is empty (0 bytes), but the artifact store "
        f"{project / '.loopline' / 'artifacts'} holds 3 artifacts"
    )
    with pytest.raises(IntegrityError, match=re.escape(message)) as info:
        load_settings(project)
    assert (info.value.path, info.value.artifacts) == (str(path), 3)
    assert "Restore the store file from a backup" in info.value.hint
