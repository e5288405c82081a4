"""``loopline init``: write a commented loopline.toml and create the store."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConflictError
from ._output import console

TEMPLATE = """# Loopline project file. Every key is optional; LOOPLINE_* variables override them.

[project]
name = "{name}"

# The metadata & lineage store: a SQLAlchemy URL. Default: a SQLite file in .loopline/.
# [store]
# url = "postgresql+psycopg://user:password@localhost/loopline"

# The artifact store: a folder or an fsspec URL. Default: .loopline/artifacts.
# [artifacts]
# url = "s3://my-bucket/loopline"

[run]
# "inprocess" runs steps one by one in the loopline process; "process" runs
# independent steps in parallel worker processes.
executor = "inprocess"

# Pipelines 'loopline run NAME' knows by name: "module:function" or "file.py:function".
[pipelines]
# train = "pipelines.py:train"
"""


def init_project(directory: Path, *, name: str | None, force: bool) -> Path:
    """Create ``loopline.toml`` and ``.loopline/`` in ``directory``.

    Raises:
        ConflictError: A loopline.toml exists there and ``force`` is not set.
    """
    from ..config import PROJECT_FILE, load_settings
    from ..store import Store

    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / PROJECT_FILE
    if path.exists() and not force:
        raise ConflictError(
            f"{path} already exists.",
            hint="Use --force to overwrite it, or edit it by hand.",
            path=str(path),
        )
    path.write_text(TEMPLATE.format(name=name or directory.name), encoding="utf-8")
    settings = load_settings(directory)
    Store(settings.store_url).close()
    console().print(f"Created a Loopline project in [bold]{directory}[/]")
    console().print(f"  {PROJECT_FILE}: settings (store, artifacts, executor, pipelines)")
    console().print(f"  {settings.state_dir.name}/: the metadata store and artifacts")
    return path
