"""Settings of a Loopline project: where ``loopline.toml`` is, and what it says.

A project is a folder with a ``loopline.toml`` (found from the working directory
upwards) and a ``.loopline/`` folder holding the embedded store and artifacts.
``LOOPLINE_*`` environment variables override the file:

============================  ==========================================  ========================
variable                      meaning                                     default
============================  ==========================================  ========================
``LOOPLINE_PROJECT_DIR``      the project folder                          found from the cwd
``LOOPLINE_STORE_URL``        SQLAlchemy URL of the metadata store        ``.loopline/loopline.db``
``LOOPLINE_ARTIFACTS_URL``    folder or fsspec URL of the artifact store  ``.loopline/artifacts``
``LOOPLINE_REQUEST_LOG_URL``  folder or fsspec URL of the request log     ``.loopline/requests``
``LOOPLINE_EXECUTOR``         ``inprocess`` or ``process``                ``inprocess``
============================  ==========================================  ========================

The file's keys for these are ``[store] url``, ``[artifacts] url``, ``[serving]
request_log`` and ``[run] executor``. A relative folder is resolved against the project
folder. The request log may live on an object store (``s3://bucket/prefix``) so that
serving replicas on several hosts write it and the controller reads it; its credentials
come only from the usual AWS variables or fsspec's options, never from loopline.toml.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from .errors import ConfigError, IntegrityError, InvalidInputError

PROJECT_FILE = "loopline.toml"
STATE_DIR = ".loopline"

#: The one rule for the names of models and aliases (and of projects, whose name is the
#: model's by default): they appear in URLs, file names (``model=NAME`` folders of the
#: request log), references (``NAME@ALIAS``, ``NAME/VERSION``) and loopline.toml.
NAME_RULE = (
    "1 to 128 characters: ASCII letters, digits, '_', '.' or '-', not starting with '.' or '-'"
)
NAME_MAX_LENGTH = 128
NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$"
_NAME = re.compile(NAME_PATTERN)


def check_name(value: object, *, what: str = "model name") -> str:
    """Return ``value`` if it is a valid name of a model, alias or project (``NAME_RULE``).

    Args:
        value: The name to check.
        what: What the name is, for the message (``"model name"``, ``"alias"``).

    Returns:
        The name, unchanged.

    Raises:
        InvalidInputError: The name breaks the rule; the message shows it and the rule.

    Example:
        >>> check_name("wine-quality.v2")
        'wine-quality.v2'
    """
    if isinstance(value, str) and _NAME.fullmatch(value):
        return value
    shown = repr(value) if len(repr(value)) <= 80 else f"{repr(value)[:80]}..."
    raise InvalidInputError(
        f"{shown} is not a valid {what}: names of models, aliases and projects have {NAME_RULE}.",
        hint="Choose a name such as 'wine' or 'churn-model.v2'.",
        value=value if isinstance(value, str) and len(value) <= 200 else shown,
    )


#: Sections and keys ``loopline.toml`` may hold, with their expected types.
_SECTIONS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "project": {"name": str},
    "store": {"url": str},
    "artifacts": {"url": str},
    "serving": {"request_log": str},
    "run": {"executor": str, "max_workers": int, "address": str},
    "pipelines": {},  # any name -> "module:attr" or "path.py:attr"
}


@dataclass(frozen=True)
class Settings:
    """Resolved settings of one project.

    Attributes:
        project_dir: The project folder.
        name: The project's name.
        store_url: SQLAlchemy URL of the metadata store.
        artifacts_url: Folder or fsspec URL of the artifact store.
        request_log_url: Folder or fsspec URL of the request log (``[serving]
            request_log``, ``LOOPLINE_REQUEST_LOG_URL``; default ``.loopline/requests``):
            where ``loopline serve`` writes the requests it answered and monitoring and
            the controller read them.
        executor: Name of the executor that runs steps.
        max_workers: Worker processes of the ``process`` executor (None: one per CPU), or
            CPUs of a private Ray the ``ray`` executor starts when no address is given.
        ray_address: The Ray cluster of the ``ray`` executor (``auto``, ``HOST:PORT``,
            ``ray://HOST:10001`` or ``local``); None: ``RAY_ADDRESS``, else the cluster
            ``ray start`` runs on this machine, else a private Ray.
        pipelines: Pipeline names declared in ``[pipelines]``, with their references.
        raw: The whole parsed ``loopline.toml`` (sections other components read).
    """

    project_dir: Path
    name: str
    store_url: str
    artifacts_url: str
    request_log_url: str
    executor: str = "inprocess"
    max_workers: int | None = None
    ray_address: str | None = None
    pipelines: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def state_dir(self) -> Path:
        """The project's ``.loopline/`` folder."""
        return self.project_dir / STATE_DIR


def find_project_dir(start: str | os.PathLike[str] | None = None) -> Path:
    """The nearest folder at or above ``start`` holding ``loopline.toml``, else ``start``."""
    env = os.environ.get("LOOPLINE_PROJECT_DIR")
    if start is None and env:
        return Path(env).resolve()
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder
    return here


#: Every top-level section of ``loopline.toml``. The core checks the keys of its own
#: (``_SECTIONS``); the workflow sections are checked by ``loopline.components``.
KNOWN_SECTIONS = (
    *_SECTIONS,
    "data",
    "split",
    "schema",
    "validation",
    "training",
    "blessing",
    "model",
    "monitoring",
    "alerts",
    "triggers",
    "automation",
)


def read_project_file(path: Path) -> dict[str, Any]:
    """Parse and check ``loopline.toml``: known sections and keys, right types.

    Raises:
        ConfigError: The file is not valid TOML, or a key is unknown or of a wrong type.
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid TOML: {exc}.", hint="Fix the syntax at that line.", path=str(path)
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text.", path=str(path)) from exc
    for section in data:
        if section not in KNOWN_SECTIONS:
            close = difflib.get_close_matches(section, KNOWN_SECTIONS, n=1)
            raise ConfigError(
                f"Unknown section [{section}] in {path}."
                + (f" Did you mean [{close[0]}]?" if close else "")
                + f" Known sections: {', '.join(KNOWN_SECTIONS)}.",
                path=str(path),
                key=section,
            )
    check_sections(data, path, _SECTIONS)
    return data


def check_sections(
    data: dict[str, Any], path: Path, sections: dict[str, dict[str, type | tuple[type, ...]]]
) -> None:
    """Check the sections and keys Loopline's core owns; other sections pass through.

    Raises:
        ConfigError: A core key is unknown or of a wrong type.
    """
    for section, keys in sections.items():
        table = data.get(section)
        if table is None:
            continue
        if not isinstance(table, dict):
            raise ConfigError(
                f"[{section}] in {path} must be a table. Got {type(table).__name__} instead.",
                path=str(path),
                key=section,
            )
        if not keys:  # a free-form table: names -> references
            for key, value in table.items():
                if not isinstance(value, str):
                    raise ConfigError(
                        f"{section}.{key} in {path} must be a str. Got {value!r} instead.",
                        path=str(path),
                        key=f"{section}.{key}",
                        value=value,
                    )
            continue
        for key, value in table.items():
            if key not in keys:
                close = difflib.get_close_matches(key, list(keys), n=1)
                raise ConfigError(
                    f"Unknown key {section}.{key} in {path}."
                    + (f" Did you mean {section}.{close[0]}?" if close else "")
                    + f" Allowed keys of [{section}]: {', '.join(keys)}.",
                    path=str(path),
                    key=f"{section}.{key}",
                )
            expected = keys[key]
            if not isinstance(value, expected) or isinstance(value, bool) and expected is int:
                names = (
                    expected.__name__
                    if isinstance(expected, type)
                    else "/".join(t.__name__ for t in expected)
                )
                raise ConfigError(
                    f"{section}.{key} in {path} must be a {names}. Got {value!r} instead.",
                    path=str(path),
                    key=f"{section}.{key}",
                    value=value,
                )


def load_settings(project_dir: str | os.PathLike[str] | None = None) -> Settings:
    """Settings of the project at ``project_dir`` (found from the cwd when None).

    Raises:
        ConfigError: ``loopline.toml`` or a ``LOOPLINE_*`` variable is wrong.
    """
    root = find_project_dir(project_dir)
    path = root / PROJECT_FILE
    data = read_project_file(path) if path.is_file() else {}
    state = root / STATE_DIR
    store_url = (
        os.environ.get("LOOPLINE_STORE_URL")
        or data.get("store", {}).get("url")
        or f"sqlite:///{state / 'loopline.db'}"
    )
    artifacts_url = (
        os.environ.get("LOOPLINE_ARTIFACTS_URL")
        or data.get("artifacts", {}).get("url")
        or str(state / "artifacts")
    )
    request_log_url = (
        os.environ.get("LOOPLINE_REQUEST_LOG_URL")
        or data.get("serving", {}).get("request_log")
        or str(state / "requests")
    )
    run = data.get("run", {})
    max_workers = os.environ.get("LOOPLINE_MAX_WORKERS") or run.get("max_workers")
    try:
        max_workers = int(max_workers) if max_workers is not None else None
    except ValueError as exc:
        raise ConfigError(
            f"LOOPLINE_MAX_WORKERS must be an integer. Got {max_workers!r} instead.",
            value=max_workers,
        ) from exc
    store_url = _relative_to(store_url, root)
    artifacts_url = _relative_to(artifacts_url, root)
    request_log_url = _relative_to(request_log_url, root)
    _refuse_emptied_store(store_url, artifacts_url)
    return Settings(
        project_dir=root,
        name=data.get("project", {}).get("name") or root.name,
        store_url=store_url,
        artifacts_url=artifacts_url,
        request_log_url=request_log_url,
        executor=os.environ.get("LOOPLINE_EXECUTOR") or run.get("executor") or "inprocess",
        max_workers=max_workers,
        ray_address=os.environ.get("LOOPLINE_RAY_ADDRESS") or run.get("address"),
        pipelines=dict(data.get("pipelines", {})),
        raw=data,
    )


def _refuse_emptied_store(store_url: str, artifacts_url: str) -> None:
    """Refuse a 0-byte SQLite store beside an artifact store that holds artifacts.

    SQLite takes an empty file for a new, empty database, so a truncated or replaced
    ``loopline.db`` would silently become a store that knows none of the artifacts
    (loopline issue 10, item 10). A 0-byte file with no artifacts is a new store.

    Raises:
        IntegrityError: The store file is empty but artifacts exist.
    """
    sqlite = re.match(r"^sqlite(?:\+\w+)?:///(.+)$", store_url)
    if sqlite is None or sqlite[1].startswith((":memory:", "file:")):
        return
    database = Path(sqlite[1].split("?", 1)[0])
    try:
        if database.stat().st_size != 0:
            return
    except OSError:
        return  # absent: a new store
    objects = Path(artifacts_url, "objects")
    if "://" in artifacts_url or not objects.is_dir():
        return
    count = sum(1 for _ in objects.glob("*/*"))
    if count:
        raise IntegrityError(
            f"The metadata store {database} is empty (0 bytes), but the artifact store "
            f"{Path(artifacts_url)} holds {count} artifacts: the store's file was truncated "
            "or replaced, and opening it would start a new store that knows none of them.",
            hint="Restore the store file from a backup (with its -wal file if there is one). "
            "To start over instead, delete the empty file and move the artifacts folder away.",
            path=str(database),
            artifacts=count,
        )


def _relative_to(url: str, root: Path) -> str:
    """Resolve relative SQLite paths and local folders against the project folder."""
    sqlite = re.match(r"^(sqlite(?:\+\w+)?:///)(.*)$", url)
    if sqlite:
        prefix, rest = sqlite.groups()
        if rest and not Path(rest).is_absolute() and not rest.startswith(":memory:"):
            return f"{prefix}{root / rest}"
        return url
    if "://" not in url and not Path(url).is_absolute():
        return str(root / url)
    return url


_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str, *, what: str = "duration") -> timedelta:
    """``90s``, ``30m``, ``1h``, ``2d``, ``1w`` as a timedelta.

    Raises:
        ConfigError: Not a positive number followed by s, m, h, d or w.
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", str(text))
    if match is None or float(match[1]) <= 0:
        raise ConfigError(
            f"The {what} must be a duration like 30m, 1h or 2d. Got {text!r} instead.",
            value=text,
        )
    return timedelta(**{_UNITS[match[2]]: float(match[1])})
