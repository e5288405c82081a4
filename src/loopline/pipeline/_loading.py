"""Finding a pipeline from a reference: ``module:attr``, ``path/file.py:attr``, or a name."""

from __future__ import annotations

import difflib
import importlib
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError, NotFoundError
from ._pipeline import Pipeline


def load_pipeline(ref: str, project_dir: Path, declared: dict[str, str] | None = None) -> Pipeline:
    """The pipeline a reference names.

    Args:
        ref: A name from ``[pipelines]`` in ``loopline.toml``, ``module:attr``, or
            ``path/to/file.py:attr`` (relative to the project folder).
        project_dir: The project folder; it is put on ``sys.path`` so its modules import.
        declared: The ``[pipelines]`` table.

    Raises:
        NotFoundError: Nothing of that name or reference exists.
        ConfigError: The reference is malformed or names something that is not a pipeline.
    """
    declared = declared or {}
    target = declared.get(ref, ref)
    if ":" not in target:
        close = difflib.get_close_matches(ref, list(declared), n=1)
        raise NotFoundError(
            f"No pipeline named {ref!r} in loopline.toml."
            + (f" Did you mean {close[0]!r}?" if close else ""),
            hint='Declare it under [pipelines] as name = "module:function", or pass '
            "'module:function' or 'file.py:function'.",
            value=ref,
        )
    module_part, _, attr = target.rpartition(":")
    root = str(project_dir)
    if root not in sys.path:
        sys.path.insert(0, root)
    if module_part.endswith(".py"):
        path = Path(module_part)
        path = path if path.is_absolute() else project_dir / path
        if not path.is_file():
            raise NotFoundError(f"Pipeline file {path} does not exist.", value=str(path))
        folder = str(path.parent.resolve())
        if folder not in sys.path:
            sys.path.insert(0, folder)
        module_name = path.stem
    else:
        module_name = module_part
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise NotFoundError(
            f"Cannot import module {module_name!r} for pipeline {ref!r}: {exc}.",
            hint="Check the module path, or run from the project folder.",
            value=target,
        ) from exc
    obj: Any = getattr(module, attr, None)
    if not isinstance(obj, Pipeline):
        found = "nothing" if obj is None else f"a {type(obj).__name__}"
        raise ConfigError(
            f"{target!r} is {found}, not a pipeline.",
            hint="Decorate the function with @loopline.pipeline.",
            value=target,
        )
    return obj
