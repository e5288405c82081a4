"""Materializers: how a Python value becomes a file, and back.

A materializer writes one value to one local file and reads it back. The artifact
store hashes and stores that file; it never sees the value. Built-ins cover pandas
DataFrames (Parquet), numpy arrays (``.npy`` without pickle), JSON-able values,
scikit-learn estimators (joblib) and files or folders (a tar of them). Users register
their own with :meth:`MaterializerRegistry.register` or through the
``loopline.materializers`` entry-point group.
"""

from __future__ import annotations

import json
import logging
import tarfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from ..errors import LooplineError, MaterializationError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "loopline.materializers"


def type_name(value: Any) -> str:
    """``module.QualName`` of a value's type, e.g. ``pandas.DataFrame``."""
    cls = type(value)
    module = cls.__module__.split(".")[0] if cls.__module__.startswith("pandas") else cls.__module__
    return f"{module}.{cls.__qualname__}" if module != "builtins" else cls.__qualname__


class BaseMaterializer(ABC):
    """Writes values of some types to a local file and reads them back.

    Subclasses set ``name`` (stored with each artifact, so keep it stable), implement
    ``can_save``, ``_save`` and ``_load``; the public ``save`` and ``load`` add error
    translation so every materializer reports failures the same way.
    """

    name: ClassVar[str]

    @classmethod
    @abstractmethod
    def can_save(cls, value: Any) -> bool:
        """Whether this materializer handles ``value``."""

    @abstractmethod
    def _save(self, value: Any, path: Path) -> dict[str, Any]:
        """Write ``value`` to ``path``; return metadata worth recording (shape, columns)."""

    @abstractmethod
    def _load(self, path: Path) -> Any:
        """Read the value back from ``path``."""

    def save(self, value: Any, path: Path) -> dict[str, Any]:
        """Write ``value`` to the local file ``path`` and return its metadata.

        Raises:
            MaterializationError: The value could not be written.
        """
        try:
            return self._save(value, path)
        except LooplineError:
            raise
        except Exception as exc:
            raise MaterializationError(
                f"The {self.name} materializer could not save a value of type "
                f"{type_name(value)}: {exc}",
                hint="Return a value this materializer supports, or register your own "
                "materializer for this type.",
                materializer=self.name,
            ) from exc

    def load(self, path: Path) -> Any:
        """Read a value from the local file ``path``.

        Raises:
            MaterializationError: The file could not be read as this kind of value.
        """
        try:
            return self._load(path)
        except LooplineError:
            raise
        except Exception as exc:
            raise MaterializationError(
                f"The {self.name} materializer could not load {path}: {exc}",
                hint="Check that the package versions match the ones that wrote it.",
                materializer=self.name,
            ) from exc


class DataFrameMaterializer(BaseMaterializer):
    """pandas DataFrames as Parquet (index and dtypes kept)."""

    name = "pandas.parquet"

    @classmethod
    def can_save(cls, value: Any) -> bool:
        pd = _imported("pandas")
        return pd is not None and isinstance(value, pd.DataFrame)

    def _save(self, value: Any, path: Path) -> dict[str, Any]:
        if not value.columns.is_unique:
            dupes = sorted({str(c) for c in value.columns[value.columns.duplicated()]})
            raise MaterializationError(
                f"A DataFrame with duplicate column names {dupes} cannot be saved as Parquet.",
                hint="Rename or drop the duplicated columns.",
            )
        value.to_parquet(path, engine="pyarrow")
        return {
            "rows": int(len(value)),
            "columns": [str(c) for c in value.columns][:200],
            "dtypes": {str(c): str(d) for c, d in list(value.dtypes.items())[:200]},
        }

    def _load(self, path: Path) -> Any:
        import pandas as pd

        return pd.read_parquet(path, engine="pyarrow")


class NumpyMaterializer(BaseMaterializer):
    """numpy arrays as ``.npy`` files, never pickled."""

    name = "numpy.npy"

    @classmethod
    def can_save(cls, value: Any) -> bool:
        np = _imported("numpy")
        return np is not None and isinstance(value, np.ndarray)

    def _save(self, value: Any, path: Path) -> dict[str, Any]:
        import numpy as np

        if value.dtype.hasobject:
            raise MaterializationError(
                "A numpy array of dtype object cannot be saved without pickle.",
                hint="Convert it to a numeric or string dtype, or to a DataFrame.",
            )
        with open(path, "wb") as fh:
            np.save(fh, value, allow_pickle=False)
        return {"shape": list(value.shape), "dtype": str(value.dtype)}

    def _load(self, path: Path) -> Any:
        import numpy as np

        return np.load(path, allow_pickle=False)


class EstimatorMaterializer(BaseMaterializer):
    """scikit-learn-compatible estimators and pipelines, with joblib.

    Loading unpickles: the artifact store only hands a file to this materializer after
    its bytes matched the sha256 recorded when it was written.
    """

    name = "sklearn.joblib"

    @classmethod
    def can_save(cls, value: Any) -> bool:
        return (
            not isinstance(value, type)
            and callable(getattr(value, "fit", None))
            and callable(getattr(value, "get_params", None))
        )

    def _save(self, value: Any, path: Path) -> dict[str, Any]:
        import joblib

        joblib.dump(value, path)
        params = {}
        try:
            params = {k: repr(v)[:200] for k, v in value.get_params(deep=False).items()}
        except Exception:  # noqa: BLE001 - metadata only; a broken get_params must not fail the save
            log.debug("get_params failed for %s", type_name(value), exc_info=True)
        return {"estimator": type_name(value), "params": params}

    def _load(self, path: Path) -> Any:
        import joblib

        return joblib.load(path)


class PathMaterializer(BaseMaterializer):
    """A file or folder given as a :class:`pathlib.Path`, stored as a tar; loads as a Path.

    Loading unpacks into a fresh temporary folder and returns the path of the file or
    folder inside it.
    """

    name = "path.tar"

    @classmethod
    def can_save(cls, value: Any) -> bool:
        return isinstance(value, Path)

    def _save(self, value: Any, path: Path) -> dict[str, Any]:
        if not value.exists():
            raise MaterializationError(
                f"The path {value} returned as an artifact does not exist.",
                hint="Return the path of a file or folder that the step wrote.",
            )
        with tarfile.open(path, "w") as tar:
            for item in [value, *sorted(value.rglob("*"))] if value.is_dir() else [value]:
                info = tar.gettarinfo(
                    str(item), arcname=str(Path(value.name) / item.relative_to(value))
                )
                # Same content, same bytes: no times, owners or modes from the disk.
                info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
                info.mode = 0o755 if item.is_dir() else 0o644
                if item.is_file():
                    with open(item, "rb") as fh:
                        tar.addfile(info, fh)
                else:
                    tar.addfile(info)
        files = [value] if value.is_file() else [p for p in value.rglob("*") if p.is_file()]
        return {"name": value.name, "is_dir": value.is_dir(), "files": len(files)}

    def _load(self, path: Path) -> Any:
        import tempfile

        target = Path(tempfile.mkdtemp(prefix="loopline-artifact-"))
        with tarfile.open(path) as tar:
            tar.extractall(target, filter="data")
            first = tar.getmembers()[0].name.split("/")[0]
        return target / first


class JsonMaterializer(BaseMaterializer):
    """JSON-able values: None, bools, numbers, strings, and lists/dicts of them.

    Tuples come back as lists. NaN and infinities are kept (Python's JSON dialect).
    """

    name = "json"

    @classmethod
    def can_save(cls, value: Any) -> bool:
        return _is_jsonable(value)

    def _save(self, value: Any, path: Path) -> dict[str, Any]:
        path.write_text(json.dumps(value, sort_keys=True), encoding="utf-8")
        return {"python_type": type(value).__name__}

    def _load(self, path: Path) -> Any:
        return json.loads(path.read_text(encoding="utf-8"))


def _is_jsonable(value: Any, depth: int = 0) -> bool:
    if depth > 100:
        return False
    if value is None or isinstance(value, (bool, int, str)):
        return True
    if isinstance(value, float):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_jsonable(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_jsonable(v, depth + 1) for k, v in value.items())
    return False


def _imported(module: str) -> Any:
    """The module if something already imported it (a value of its type implies so)."""
    import sys

    return sys.modules.get(module)


BUILTIN_MATERIALIZERS: tuple[type[BaseMaterializer], ...] = (
    DataFrameMaterializer,
    NumpyMaterializer,
    EstimatorMaterializer,
    PathMaterializer,
    JsonMaterializer,
)


class MaterializerRegistry:
    """Chooses a materializer for a value, and finds one by its stored name.

    Materializers registered later take precedence over earlier ones and over the
    built-ins, so a user's materializer can override how a type is saved.
    """

    def __init__(
        self, materializers: tuple[type[BaseMaterializer], ...] = BUILTIN_MATERIALIZERS
    ) -> None:
        self._classes: list[type[BaseMaterializer]] = list(materializers)
        self._entry_points_loaded = False

    def register(self, materializer: type[BaseMaterializer]) -> type[BaseMaterializer]:
        """Add a materializer class (usable as a class decorator)."""
        self._classes.insert(0, materializer)
        return materializer

    def names(self) -> list[str]:
        """The names of every known materializer."""
        self._load_entry_points()
        return [cls.name for cls in self._classes]

    def for_value(self, value: Any) -> BaseMaterializer:
        """The materializer that will save ``value``.

        Raises:
            MaterializationError: No materializer handles this type.
        """
        self._load_entry_points()
        for cls in self._classes:
            if cls.can_save(value):
                return cls()
        raise MaterializationError(
            f"No materializer can save a value of type {type_name(value)}.",
            hint="Return a pandas DataFrame, a numpy array, a JSON-able value, a "
            "scikit-learn estimator or a pathlib.Path, or register a materializer for "
            "this type (loopline.artifacts.materializers.register). "
            f"Known: {', '.join(self.names())}.",
            type=type_name(value),
        )

    def by_name(self, name: str) -> BaseMaterializer:
        """The materializer stored under ``name``.

        Raises:
            MaterializationError: No materializer has this name (a plugin is missing).
        """
        self._load_entry_points()
        for cls in self._classes:
            if cls.name == name:
                return cls()
        raise MaterializationError(
            f"No materializer named {name!r} is installed; it is needed to read this artifact.",
            hint=f"Install the plugin that provides it. Known: {', '.join(self.names())}.",
            materializer=name,
        )

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        from importlib.metadata import entry_points

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                cls = ep.load()
            except Exception:  # noqa: BLE001 - a broken plugin is logged and skipped
                log.warning(
                    "Skipping materializer plugin %r: it failed to load.", ep.name, exc_info=True
                )
                continue
            if cls not in self._classes:
                self._classes.insert(0, cls)


#: The process-wide registry used when none is passed explicitly.
materializers = MaterializerRegistry()
