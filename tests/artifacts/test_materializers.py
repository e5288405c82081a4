"""Materializers: one conformance check run over every built-in, then each one's edges.

``check_materializer`` is what a plugin author runs over their own materializer: a
value saved through the artifact store loads back equal, identical content is stored
once under the same uri, and the recorded metadata is JSON.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from sklearn.linear_model import LogisticRegression

from loopline.artifacts import ArtifactStore, BaseMaterializer, MaterializerRegistry
from loopline.artifacts import materializers as default_registry
from loopline.artifacts._materializers import (
    BUILTIN_MATERIALIZERS,
    ENTRY_POINT_GROUP,
    JsonMaterializer,
    NumpyMaterializer,
    PathMaterializer,
    type_name,
)
from loopline.errors import MaterializationError
from tests.strategies import json_values

BUILTIN_NAMES = "pandas.parquet, numpy.npy, sklearn.joblib, path.tar, json"


# -- samples of every built-in -----------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """A value a materializer handles, and how to tell two such values are the same."""

    make: Callable[[Path], Any]  # builds a fresh, equal value each call (in the given folder)
    assert_same: Callable[[Any, Any], None]
    type_name: str


def _frame(_: Path) -> pd.DataFrame:
    return pd.DataFrame(
        {"amount": [1, 2, 3], "score": [0.5, None, 2.0], "label": ["a", "b", None]},
        index=pd.Index([10, 20, 30], name="id"),
    )


def _array(_: Path) -> np.ndarray:
    return np.arange(12, dtype=np.float32).reshape(3, 4)


def _assert_same_array(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype
    np.testing.assert_array_equal(a, b)


_X = np.array([[0.0], [1.0], [2.0], [3.0]])


def _estimator(_: Path) -> LogisticRegression:
    return LogisticRegression(C=2.0).fit(_X, np.array([0, 0, 1, 1]))


def _assert_same_estimator(a: LogisticRegression, b: LogisticRegression) -> None:
    assert type(a) is type(b)
    assert a.get_params() == b.get_params()
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.predict_proba(_X), b.predict_proba(_X))


def _folder(parent: Path) -> Path:
    folder = parent / "report"
    (folder / "plots").mkdir(parents=True)
    (folder / "empty").mkdir()
    (folder / "index.html").write_text("<h1>report</h1>", encoding="utf-8")
    (folder / "plots" / "roc.png").write_bytes(bytes(range(256)))
    return folder


def tree(path: Path) -> dict[str, bytes | None]:
    """A file's bytes, or a folder's files and subfolders by relative path."""
    if path.is_file():
        return {".": path.read_bytes()}
    return {
        str(p.relative_to(path)): p.read_bytes() if p.is_file() else None
        for p in sorted(path.rglob("*"))
    }


def _assert_same_path(loaded: Path, original: Path) -> None:
    assert isinstance(loaded, Path)
    assert loaded.name == original.name
    assert tree(loaded) == tree(original)


def _json(_: Path) -> dict[str, Any]:
    return {"accuracy": 0.93, "classes": ["a", "b"], "n": 3, "ok": True, "none": None}


def _assert_equal(a: Any, b: Any) -> None:
    assert type(a) is type(b)
    assert a == b


SAMPLES: dict[str, Sample] = {
    "pandas.parquet": Sample(_frame, pd.testing.assert_frame_equal, "pandas.DataFrame"),
    "numpy.npy": Sample(_array, _assert_same_array, "numpy.ndarray"),
    "sklearn.joblib": Sample(
        _estimator, _assert_same_estimator, "sklearn.linear_model._logistic.LogisticRegression"
    ),
    "path.tar": Sample(
        _folder,
        _assert_same_path,
        "pathlib.PosixPath" if sys.platform != "win32" else "pathlib.WindowsPath",
    ),
    "json": Sample(_json, _assert_equal, "dict"),
}


def check_materializer(
    store: ArtifactStore, cls: type[BaseMaterializer], sample: Sample, folder: Path
) -> None:
    """The conformance check every materializer passes (run it over a plugin's too)."""
    value = sample.make(_fresh(folder / "first"))
    assert cls.can_save(value)
    assert store.registry.for_value(value).name == cls.name

    blob = store.save(value)
    assert blob.materializer == cls.name
    assert blob.type == sample.type_name
    assert json.loads(json.dumps(blob.metadata)) == blob.metadata
    assert re.fullmatch(r"[0-9a-f]{64}", blob.sha256)
    assert blob.uri.endswith(f"/objects/{blob.sha256[:2]}/{blob.sha256}")
    assert store.exists(blob.uri)
    with store.local_copy(blob.uri, blob.sha256) as path:
        assert path.stat().st_size == blob.size > 0
    sample.assert_same(store.load(blob.uri, blob.sha256, blob.materializer), value)

    # Identical content, even from an equal value built anew, is stored once.
    again = store.save(sample.make(_fresh(folder / "second")))
    assert (again.sha256, again.uri, again.size) == (blob.sha256, blob.uri, blob.size)

    # The materializer alone, without the store.
    direct = folder / "direct.bin"
    metadata = cls().save(value, direct)
    assert metadata == blob.metadata
    sample.assert_same(cls().load(direct), value)


def _fresh(folder: Path) -> Path:
    folder.mkdir(parents=True)
    return folder


def test_every_builtin_has_a_sample() -> None:
    assert set(SAMPLES) == {cls.name for cls in BUILTIN_MATERIALIZERS}
    assert len(BUILTIN_MATERIALIZERS) == len(SAMPLES)


@pytest.mark.parametrize("store_kind", ["local", "memory"])
@pytest.mark.parametrize("cls", BUILTIN_MATERIALIZERS, ids=lambda cls: cls.name)
def test_builtin_materializer_conformance(
    request: pytest.FixtureRequest, cls: type[BaseMaterializer], store_kind: str, tmp_path: Path
) -> None:
    store = request.getfixturevalue(f"{'artifact' if store_kind == 'local' else 'memory'}_store")
    check_materializer(store, cls, SAMPLES[cls.name], tmp_path / "values")


# -- choosing a materializer -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (pd.DataFrame({"a": [1]}), "pandas.parquet"),
        (np.zeros(2), "numpy.npy"),
        (np.array(["a", "b"]), "numpy.npy"),
        (LogisticRegression(), "sklearn.joblib"),  # unfitted estimators too
        (Path("some/file.csv"), "path.tar"),
        (None, "json"),
        (True, "json"),
        (3, "json"),
        (2.5, "json"),
        (np.float64(2.5), "json"),  # a float subclass
        ("text", "json"),
        ([1, "a", None], "json"),
        ((1, 2), "json"),
        ({"nested": {"list": [1.0, {"x": None}]}}, "json"),
    ],
    ids=repr,
)
def test_for_value_picks(registry: MaterializerRegistry, value: Any, expected: str) -> None:
    assert registry.for_value(value).name == expected


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


class _Model:
    pass


@pytest.mark.parametrize(
    ("value", "type_"),
    [
        (object(), "object"),
        (lambda x: x, "function"),
        ({1, 2}, "set"),
        (b"bytes", "bytes"),
        (1 + 2j, "complex"),
        ({1: "int key"}, "dict"),
        ([1, object()], "list"),
        ({"a": {1, 2}}, "dict"),
        (_nested(150), "list"),
        (LogisticRegression, "type"),  # the class, not an estimator
        (_Model(), f"{__name__}._Model"),
        (pd.Series([1, 2]), "pandas.Series"),
        (np.int64(3), "numpy.int64"),
    ],
    ids=lambda v: type(v).__name__,
)
def test_unsupported_values_list_the_known_materializers(
    registry: MaterializerRegistry,
    artifact_store: ArtifactStore,
    root: Path,
    value: Any,
    type_: str,
) -> None:
    with pytest.raises(
        MaterializationError, match=re.escape(f"No materializer can save a value of type {type_}.")
    ) as info:
        artifact_store.save(value)
    assert info.value.type == type_
    assert f"Known: {BUILTIN_NAMES}." in info.value.hint
    assert "register" in info.value.hint
    assert isinstance(info.value, ValueError)
    assert list((root / "tmp").iterdir()) == []


@pytest.mark.parametrize(
    "array",
    [
        np.array([1, "a", None], dtype=object),
        np.array([(1, None)], dtype=[("n", "i8"), ("o", "O")]),
        np.empty((0,), dtype=object),
    ],
    ids=["object", "structured-with-object-field", "empty-object"],
)
def test_numpy_object_arrays_are_refused(
    artifact_store: ArtifactStore, root: Path, array: np.ndarray
) -> None:
    with pytest.raises(
        MaterializationError,
        match=re.escape("A numpy array of dtype object cannot be saved without pickle."),
    ) as info:
        artifact_store.save(array)
    assert "Convert it" in info.value.hint
    assert list((root / "tmp").iterdir()) == []
    assert list((root / "objects").iterdir()) == []


@pytest.mark.parametrize(
    ("columns", "dupes"),
    [(["a", "a", "b"], "['a']"), (["b", "a", "b", "a", "c"], "['a', 'b']"), ([1, 1], "['1']")],
)
def test_dataframe_with_duplicate_columns_is_refused(
    artifact_store: ArtifactStore, root: Path, columns, dupes: str
) -> None:
    frame = pd.DataFrame([list(range(len(columns)))], columns=columns)
    with pytest.raises(
        MaterializationError,
        match=re.escape(
            f"A DataFrame with duplicate column names {dupes} cannot be saved as Parquet."
        ),
    ):
        artifact_store.save(frame)
    assert list((root / "tmp").iterdir()) == []


def test_dataframe_metadata(artifact_store: ArtifactStore) -> None:
    blob = artifact_store.save(_frame(Path()))
    assert blob.metadata == {
        "rows": 3,
        "columns": ["amount", "score", "label"],
        "dtypes": {
            "amount": "int64",
            "score": "float64",
            "label": str(_frame(Path())["label"].dtype),
        },
    }


def test_numpy_metadata(artifact_store: ArtifactStore) -> None:
    assert artifact_store.save(_array(Path())).metadata == {"shape": [3, 4], "dtype": "float32"}


def test_estimator_metadata(artifact_store: ArtifactStore) -> None:
    metadata = artifact_store.save(_estimator(Path())).metadata
    assert metadata["estimator"] == "sklearn.linear_model._logistic.LogisticRegression"
    assert metadata["params"]["C"] == "2.0"


def test_path_of_a_single_file(artifact_store: ArtifactStore, tmp_path: Path) -> None:
    file = tmp_path / "data.csv"
    file.write_text("a,b\n1,2\n", encoding="utf-8")
    blob = artifact_store.save(file)
    assert blob.metadata == {"name": "data.csv", "is_dir": False, "files": 1}
    loaded = artifact_store.load(blob.uri, blob.sha256, blob.materializer)
    assert loaded.name == "data.csv"
    assert loaded.read_text(encoding="utf-8") == "a,b\n1,2\n"


def test_path_metadata_and_load_location(
    artifact_store: ArtifactStore, tmp_path: Path, system_tmp: Path
) -> None:
    blob = artifact_store.save(_folder(tmp_path))
    assert blob.metadata == {"name": "report", "is_dir": True, "files": 2}
    loaded = artifact_store.load(blob.uri, blob.sha256, blob.materializer)
    assert loaded.parent.parent == system_tmp
    assert loaded.parent.name.startswith("loopline-artifact-")


def test_path_content_ignores_times_and_modes(
    artifact_store: ArtifactStore, tmp_path: Path
) -> None:
    first = _folder(_fresh(tmp_path / "a"))
    second = _folder(_fresh(tmp_path / "b"))
    (second / "index.html").chmod(0o600)
    os.utime(second / "index.html", (0, 0))
    assert artifact_store.save(first).sha256 == artifact_store.save(second).sha256
    (second / "index.html").write_text("changed", encoding="utf-8")
    assert artifact_store.save(first).sha256 != artifact_store.save(second).sha256


def test_a_missing_path_is_refused(artifact_store: ArtifactStore, tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here"
    with pytest.raises(
        MaterializationError,
        match=re.escape(f"The path {missing} returned as an artifact does not exist."),
    ):
        artifact_store.save(missing)


def test_json_tuples_come_back_as_lists(artifact_store: ArtifactStore) -> None:
    blob = artifact_store.save({"pair": (1, 2)})
    assert artifact_store.load(blob.uri, blob.sha256, blob.materializer) == {"pair": [1, 2]}


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_json_keeps_non_finite_floats(artifact_store: ArtifactStore, value: float) -> None:
    blob = artifact_store.save([value])
    [loaded] = artifact_store.load(blob.uri, blob.sha256, blob.materializer)
    assert math.isnan(loaded) if math.isnan(value) else loaded == value


@given(json_values())
def test_json_round_trip(tmp_path_factory: pytest.TempPathFactory, value: Any) -> None:
    path = tmp_path_factory.getbasetemp() / "json-round-trip.json"
    materializer = JsonMaterializer()
    assert JsonMaterializer.can_save(value)
    materializer.save(value, path)
    assert materializer.load(path) == value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (pd.DataFrame(), "pandas.DataFrame"),
        (np.zeros(1), "numpy.ndarray"),
        ({}, "dict"),
        (_Model(), f"{__name__}._Model"),
        (LogisticRegression(), "sklearn.linear_model._logistic.LogisticRegression"),
    ],
)
def test_type_name(value: Any, expected: str) -> None:
    assert type_name(value) == expected


# -- errors raised inside a materializer -------------------------------------------------


class Boom(BaseMaterializer):
    """Writes half a file, then fails."""

    name = "boom"

    @classmethod
    def can_save(cls, value: Any) -> bool:
        return isinstance(value, dict) and "boom" in value

    def _save(self, value: Any, path: Path) -> dict[str, Any]:
        path.write_text("half a", encoding="utf-8")
        raise RuntimeError("disk on fire")

    def _load(self, path: Path) -> Any:
        raise RuntimeError("cannot read")


def test_a_failing_save_is_wrapped(
    registry: MaterializerRegistry, artifact_store: ArtifactStore, root: Path
) -> None:
    registry.register(Boom)
    with pytest.raises(
        MaterializationError,
        match=re.escape("The boom materializer could not save a value of type dict: disk on fire"),
    ) as info:
        artifact_store.save({"boom": 1})
    assert info.value.materializer == "boom"
    assert isinstance(info.value.__cause__, RuntimeError)
    assert list((root / "tmp").iterdir()) == []
    assert list((root / "objects").iterdir()) == []


def test_a_failing_load_is_wrapped(
    registry: MaterializerRegistry, artifact_store: ArtifactStore
) -> None:
    registry.register(Boom)
    blob = artifact_store.save({"ok": 1})
    with pytest.raises(
        MaterializationError, match=re.escape("The boom materializer could not load ")
    ) as info:
        artifact_store.load(blob.uri, blob.sha256, "boom")
    assert str(info.value).endswith(": cannot read")
    assert "package versions" in info.value.hint


class Picky(JsonMaterializer):
    """Refuses to load with an error of its own, which must reach the caller unchanged."""

    name = "picky"

    def _load(self, path: Path) -> Any:
        raise MaterializationError("Picky refuses this file.", hint="Ask nicely.")


def test_loopline_errors_from_a_materializer_are_not_wrapped(
    registry: MaterializerRegistry, artifact_store: ArtifactStore
) -> None:
    registry.register(Picky)
    blob = artifact_store.save([1], materializer="picky")
    with pytest.raises(MaterializationError, match=r"^Picky refuses this file\.$") as info:
        artifact_store.load(blob.uri, blob.sha256, blob.materializer)
    assert info.value.hint == "Ask nicely."


class OddEstimator:
    """Quacks like an estimator, but its get_params is broken."""

    def __init__(self) -> None:
        self.weights = [1.0, 2.0]

    def fit(self, X: Any, y: Any = None) -> OddEstimator:
        return self

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        raise RuntimeError("no params here")


def test_a_broken_get_params_does_not_fail_the_save(artifact_store: ArtifactStore) -> None:
    blob = artifact_store.save(OddEstimator())
    assert blob.materializer == "sklearn.joblib"
    assert blob.metadata == {"estimator": f"{__name__}.OddEstimator", "params": {}}
    loaded = artifact_store.load(blob.uri, blob.sha256, blob.materializer)
    assert isinstance(loaded, OddEstimator)
    assert loaded.weights == [1.0, 2.0]


def test_loading_with_the_wrong_materializer(artifact_store: ArtifactStore) -> None:
    blob = artifact_store.save({"a": 1})
    with pytest.raises(
        MaterializationError, match=re.escape("The numpy.npy materializer could not load ")
    ):
        artifact_store.load(blob.uri, blob.sha256, "numpy.npy")


def test_saving_with_a_named_materializer_that_cannot(
    artifact_store: ArtifactStore, root: Path
) -> None:
    with pytest.raises(
        MaterializationError,
        match=re.escape("The json materializer could not save a value of type numpy.ndarray: "),
    ):
        artifact_store.save(np.zeros(2), materializer="json")
    assert list((root / "tmp").iterdir()) == []


# -- the registry ------------------------------------------------------------------------


class UpperJson(JsonMaterializer):
    """A user's materializer for dicts: stores them as JSON with a marker."""

    name = "user.upper-json"

    @classmethod
    def can_save(cls, value: Any) -> bool:
        return isinstance(value, dict)

    def _save(self, value: Any, path: Path) -> dict[str, Any]:
        path.write_text(json.dumps({"wrapped": value}), encoding="utf-8")
        return {"user": True}

    def _load(self, path: Path) -> Any:
        return json.loads(path.read_text(encoding="utf-8"))["wrapped"]


def test_a_registered_materializer_takes_precedence(
    registry: MaterializerRegistry, artifact_store: ArtifactStore
) -> None:
    assert registry.register(UpperJson) is UpperJson
    assert registry.names()[0] == "user.upper-json"
    assert registry.for_value({"a": 1}).name == "user.upper-json"
    assert registry.for_value([1]).name == "json"  # other types are untouched
    blob = artifact_store.save({"a": 1})
    assert (blob.materializer, blob.metadata) == ("user.upper-json", {"user": True})
    assert artifact_store.load(blob.uri, blob.sha256, blob.materializer) == {"a": 1}
    # Registered on this registry only.
    assert MaterializerRegistry().for_value({"a": 1}).name == "json"
    assert default_registry.for_value({"a": 1}).name == "json"


def test_the_latest_registration_wins(registry: MaterializerRegistry) -> None:
    class Second(UpperJson):
        name = "user.second"

    registry.register(UpperJson)
    registry.register(Second)
    assert registry.for_value({"a": 1}).name == "user.second"
    assert registry.names()[:2] == ["user.second", "user.upper-json"]


def test_register_as_a_decorator(registry: MaterializerRegistry) -> None:
    @registry.register
    class Decorated(UpperJson):
        name = "user.decorated"

    assert isinstance(registry.by_name("user.decorated"), Decorated)


def test_by_name(registry: MaterializerRegistry) -> None:
    for cls in BUILTIN_MATERIALIZERS:
        assert type(registry.by_name(cls.name)) is cls
    assert registry.names() == BUILTIN_NAMES.split(", ")


def test_by_name_of_an_unknown_materializer(registry: MaterializerRegistry) -> None:
    with pytest.raises(
        MaterializationError,
        match=re.escape(
            "No materializer named 'polars.ipc' is installed; it is needed to read this artifact."
        ),
    ) as info:
        registry.by_name("polars.ipc")
    assert info.value.materializer == "polars.ipc"
    assert info.value.hint == f"Install the plugin that provides it. Known: {BUILTIN_NAMES}."


def test_a_registry_with_only_some_materializers(tmp_path: Path) -> None:
    registry = MaterializerRegistry((NumpyMaterializer, PathMaterializer))
    store = ArtifactStore(tmp_path / "a", registry=registry)
    with pytest.raises(
        MaterializationError, match=re.escape("No materializer can save a value of type dict.")
    ) as info:
        store.save({"a": 1})
    assert "Known: numpy.npy, path.tar." in info.value.hint


# -- plugins through entry points --------------------------------------------------------


@pytest.fixture
def plugin_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An installed distribution declaring a working and a broken materializer plugin."""
    site = tmp_path / "site"
    dist_info = site / "loopline_test_plugin-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: loopline-test-plugin\nVersion: 1.0\n", encoding="utf-8"
    )
    (dist_info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\n"
        "yaml = loopline_test_plugin:YamlMaterializer\n"
        "broken = loopline_test_plugin_missing:Nothing\n",
        encoding="utf-8",
    )
    (site / "loopline_test_plugin.py").write_text(
        textwrap.dedent(
            """
            from loopline.artifacts._materializers import JsonMaterializer

            class YamlMaterializer(JsonMaterializer):
                name = "plugin.yaml"

                @classmethod
                def can_save(cls, value):
                    return isinstance(value, str)
            """
        ),
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "loopline_test_plugin", raising=False)
    yield "plugin.yaml"
    sys.modules.pop("loopline_test_plugin", None)


def test_entry_point_plugins_load_and_broken_ones_are_skipped(
    plugin_dist: str, caplog: pytest.LogCaptureFixture
) -> None:
    registry = MaterializerRegistry()
    with caplog.at_level(logging.WARNING, logger="loopline.artifacts._materializers"):
        assert registry.names() == [plugin_dist, *BUILTIN_NAMES.split(", ")]
    assert registry.for_value("text").name == plugin_dist
    assert registry.by_name(plugin_dist).name == plugin_dist
    assert "Skipping materializer plugin 'broken': it failed to load." in caplog.messages
    # Loaded once: asking again neither duplicates nor warns again.
    caplog.clear()
    assert registry.names().count(plugin_dist) == 1
    assert caplog.messages == []


def test_a_plugin_given_explicitly_is_not_added_twice(plugin_dist: str) -> None:
    from loopline_test_plugin import YamlMaterializer

    registry = MaterializerRegistry((JsonMaterializer, YamlMaterializer))
    assert registry.names() == ["json", plugin_dist]
