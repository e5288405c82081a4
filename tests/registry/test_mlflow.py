"""MLflow's model format: export a version, import a scikit-learn model, serve and monitor it.

With LOOPLINE_TEST_INTEROP_PYTHON naming a Python with mlflow-skinny (``.ci/interop.sh``),
MLflow itself loads what Loopline exports and writes the models Loopline imports.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from sklearn.datasets import load_wine

from loopline.errors import ConflictError, InvalidInputError
from loopline.monitoring import monitor
from loopline.registry import Registry, export_mlflow, import_mlflow
from loopline.serving import PredictionService, ServingOptions

from ..conftest import run_cli

INTEROP_PYTHON = os.environ.get("LOOPLINE_TEST_INTEROP_PYTHON")
needs_interop = pytest.mark.skipif(
    not INTEROP_PYTHON, reason="LOOPLINE_TEST_INTEROP_PYTHON names no Python with mlflow"
)


def _wine() -> pd.DataFrame:
    return load_wine(as_frame=True).frame


def test_export_writes_an_mlflow_model_that_predicts_like_the_version(
    registry: Registry, tmp_path: Path
) -> None:
    version, _ = registry.register_run(registry.store.runs.list()[-1].id, name="wine")
    folder = export_mlflow(registry, version.ref, tmp_path / "exported")
    mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
    assert mlmodel["flavors"]["python_function"]["loader_module"] == "mlflow.sklearn"
    assert mlmodel["flavors"]["sklearn"]["pickled_model"] == "model.pkl"
    package = registry.load_package(version.ref)
    signature = json.loads(mlmodel["signature"]["inputs"])
    assert [c["name"] for c in signature] == package.features
    assert {c["type"] for c in signature} == {"double"}
    requirements = (folder / "requirements.txt").read_text().splitlines()
    assert any(r.startswith("scikit-learn==") for r in requirements)
    assert any(r.startswith("loopline==") for r in requirements)
    with (folder / "model.pkl").open("rb") as handle:
        model = pickle.load(handle)
    frame = _wine()[package.features]
    assert model.predict(frame).tolist() == package.model.predict(frame).tolist()
    example = json.loads((folder / "input_example.json").read_text())
    assert example["columns"] == package.features


def test_export_refuses_a_folder_that_is_not_empty(registry: Registry, tmp_path: Path) -> None:
    version, _ = registry.register_run(registry.store.runs.list()[-1].id, name="wine")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file.txt").write_text("x")
    with pytest.raises(ConflictError, match="exists and is not empty"):
        export_mlflow(registry, version.ref, tmp_path / "busy")


def test_imported_model_is_served_and_monitored_like_any_other(
    registry: Registry, tmp_path: Path
) -> None:
    import asyncio

    version, _ = registry.register_run(registry.store.runs.list()[-1].id, name="wine")
    folder = export_mlflow(registry, version.ref, tmp_path / "mlflow-model")
    data = _wine()
    imported = import_mlflow(
        registry, folder, name="imported", data=data, target="target", policy="auto"
    )
    assert imported.created and imported.task == "classification"
    assert imported.version.metrics["accuracy"] > 0.8
    again = import_mlflow(registry, folder, name="imported", data=data, target="target")
    assert not again.created and again.version.version == imported.version.version
    registry.promote("imported", imported.version.version)  # infra validation included
    package = registry.load_package("imported@production")
    assert package.manifest["features"] == imported.features
    assert package.statistics["columns"]["alcohol"]["count"] == len(data)

    log = tmp_path / "requests"
    service = PredictionService(
        registry, "imported@production", options=ServingOptions(request_log_dir=log)
    )

    async def serve() -> list[Any]:
        await service.start()
        try:
            rows, _ = service.parse(
                data.drop(columns="target").head(40).to_json(orient="records").encode(),
                format="loopline",
            )
            answer = await service.predict(rows)
            return list(answer.result.predictions)
        finally:
            await service.aclose()

    predictions = asyncio.run(serve())
    features = data.drop(columns="target").head(40)[package.features]
    assert predictions == package.model.predict(features).tolist()
    result = monitor(registry, "imported@production", request_log=log)
    assert result.rows == 40 and result.version == imported.version.version


BAD_FOLDERS = [
    ("no MLmodel", {}, "is not an MLflow model folder: it has no MLmodel file"),
    (
        "another flavor",
        {"MLmodel": "flavors:\n  pytorch: {pytorch_version: '2.0'}\n"},
        "has no 'sklearn' flavor (flavors: pytorch)",
    ),
    ("not YAML", {"MLmodel": "flavors: [unclosed\n"}, "is not readable YAML"),
    (
        "tensor signature",
        {
            "MLmodel": "flavors:\n  sklearn: {pickled_model: model.pkl}\nsignature:\n  inputs: "
            '\'[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 4]}}]\'\n',
            "model.pkl": "model",
        },
        "has a tensor signature",
    ),
    (
        "missing pickle",
        {"MLmodel": "flavors:\n  sklearn: {pickled_model: model.pkl}\n"},
        "pickled model model.pkl is missing",
    ),
    (
        "unknown serialization",
        {
            "MLmodel": "flavors:\n  sklearn: {pickled_model: model.pkl, serialization_format: onnx}\n",
            "model.pkl": "model",
        },
        "Unknown serialization format 'onnx'",
    ),
    (
        "corrupt pickle",
        {
            "MLmodel": "flavors:\n  sklearn: {pickled_model: model.pkl, serialization_format: pickle}\n",
            "model.pkl": b"\x80\x04garbage",
        },
        "model.pkl could not be read (pickle)",
    ),
    (
        "not an estimator",
        {
            "MLmodel": "flavors:\n  sklearn: {pickled_model: model.pkl, serialization_format: pickle}\n",
            "model.pkl": pickle.dumps({"a": 1}),
        },
        "holds a dict, which has no predict method",
    ),
]


@pytest.mark.parametrize(("name", "files", "message"), BAD_FOLDERS, ids=[b[0] for b in BAD_FOLDERS])
def test_import_refuses_what_is_not_an_mlflow_sklearn_model(
    registry: Registry, tmp_path: Path, name: str, files: dict[str, Any], message: str
) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    for file, content in files.items():
        if isinstance(content, bytes):
            (folder / file).write_bytes(content)
        else:
            (folder / file).write_text(content)
    with pytest.raises(InvalidInputError, match=_escape(message)):
        import_mlflow(registry, folder, name="x", data=_wine())


def test_import_refuses_data_without_the_models_columns_or_target(
    registry: Registry, tmp_path: Path
) -> None:
    version, _ = registry.register_run(registry.store.runs.list()[-1].id, name="wine")
    folder = export_mlflow(registry, version.ref, tmp_path / "m")
    with pytest.raises(InvalidInputError, match="The data lacks 2 of the model's input columns"):
        import_mlflow(registry, folder, name="x", data=_wine().drop(columns=["hue", "proline"]))
    with pytest.raises(InvalidInputError, match="The data has no target column 'label'"):
        import_mlflow(registry, folder, name="x", data=_wine(), target="label")
    with pytest.raises(InvalidInputError, match="The data has no rows"):
        import_mlflow(registry, folder, name="x", data=_wine().head(0))


def _escape(text: str) -> str:
    import re

    return re.escape(text)


def test_cli_export_and_import(registry: Registry, tmp_path: Path) -> None:
    version, _ = registry.register_run(registry.store.runs.list()[-1].id, name="wine")
    project = tmp_path / "p"  # the registry fixture's project folder (its artifacts)
    (project / "loopline.toml").write_text(
        f'[project]\nname = "wine"\n[store]\nurl = "{registry.store.url}"\n'
        '[artifacts]\nurl = "artifacts"\n'
    )
    _wine().to_csv(project / "sample.csv", index=False)
    out = tmp_path / "exported"
    done = run_cli("models", "export", version.ref, str(out), cwd=project)
    assert done.returncode == 0, done.stderr
    assert "in MLflow's format" in done.stdout and (out / "MLmodel").is_file()
    again = run_cli("models", "export", version.ref, str(out), cwd=project)
    assert again.returncode != 0 and "exists and is not empty" in again.stdout + again.stderr
    wrong = run_cli(
        "models", "export", version.ref, str(tmp_path / "o"), "--format", "onnx", cwd=project
    )
    assert wrong.returncode != 0 and "Unknown export format 'onnx'" in wrong.stdout + wrong.stderr
    imported = run_cli(
        "models", "import-mlflow", str(out), "--name", "twin", "--data", "sample.csv", cwd=project
    )
    assert imported.returncode == 0, imported.stderr
    assert "twin/1 registered" in imported.stdout and "status pending" in imported.stdout
    missing = run_cli(
        "models", "import-mlflow", str(out), "--name", "twin", "--data", "nope.csv", cwd=project
    )
    assert missing.returncode != 0 and "No file nope.csv" in missing.stdout + missing.stderr


MLFLOW_LOADS = """
import io, sys, json
import pandas as pd
import mlflow.pyfunc
model = mlflow.pyfunc.load_model(sys.argv[1])
frame = pd.read_json(io.StringIO(sys.argv[2]), orient="split").astype("float64")
print(json.dumps(pd.Series(model.predict(frame)).tolist()))
"""

MLFLOW_SAVES = """
import sys
import pandas as pd
import mlflow.sklearn
from mlflow.models import infer_signature
from sklearn.ensemble import RandomForestClassifier
from sklearn.datasets import load_wine
frame = load_wine(as_frame=True).frame
X, y = frame.drop(columns="target"), frame["target"]
model = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y)
trusted = ["sklearn.tree._tree.Tree"] if sys.argv[2] == "skops" else None
mlflow.sklearn.save_model(
    model, sys.argv[1], signature=infer_signature(X, model.predict(X)),
    serialization_format=sys.argv[2], skops_trusted_types=trusted,
)
"""


@needs_interop
def test_mlflow_loads_the_export_and_predicts_the_same(registry: Registry, tmp_path: Path) -> None:
    version, _ = registry.register_run(registry.store.runs.list()[-1].id, name="wine")
    folder = export_mlflow(registry, version.ref, tmp_path / "exported")
    package = registry.load_package(version.ref)
    frame = _wine()[package.features].head(30)
    done = subprocess.run(
        [
            str(INTEROP_PYTHON),
            "-c",
            textwrap.dedent(MLFLOW_LOADS),
            str(folder),
            frame.to_json(orient="split"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == package.model.predict(frame).tolist()


@needs_interop
@pytest.mark.parametrize("serialization", ["cloudpickle", "skops"])
def test_an_mlflow_written_model_imports_and_predicts_the_same(
    registry: Registry, tmp_path: Path, serialization: str
) -> None:
    folder = tmp_path / f"rf-{serialization}"
    done = subprocess.run(
        [str(INTEROP_PYTHON), "-c", textwrap.dedent(MLFLOW_SAVES), str(folder), serialization],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    data = _wine()
    imported = import_mlflow(registry, folder, name="rf", data=data, target="target", policy="auto")
    assert imported.task == "classification"
    assert imported.version.metrics["accuracy"] == pytest.approx(1.0)
    registry.promote("rf", imported.version.version)
    package = registry.load_package("rf@production")
    assert package.features == list(data.drop(columns="target").columns)
