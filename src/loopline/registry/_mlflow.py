"""MLflow's model format, both ways: export a version, import a scikit-learn model.

An exported folder is what ``mlflow.sklearn.save_model`` writes (``MLmodel`` with the
``python_function`` and ``sklearn`` flavors, the pickled pipeline, the environment files, a
column signature and an input example), so ``mlflow.pyfunc.load_model`` and
``mlflow models serve`` take it as it is. The pipeline is Loopline's whole fitted pipeline,
preprocessing included, so MLflow predicts exactly what Loopline serves.

An imported MLflow model becomes an ordinary model package: its signature gives the input
columns, a sample of the data it learned from gives the schema's domains and the drift
baseline (an MLflow model carries neither), and, with a target column, holdout metrics.
Unpickling runs code from the model folder: import only models you trust (as MLflow says).
"""

from __future__ import annotations

import json
import pickle
import platform
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .._version import __version__
from ..errors import ConflictError, InvalidInputError

if TYPE_CHECKING:
    from ..components import ModelPackage
    from ..store import ModelVersion
    from ._registry import Registry

MLMODEL = "MLmodel"
_PICKLE = "model.pkl"
#: MLflow's column types of our schema's kinds; text-like kinds travel as strings.
_MLFLOW_TYPES = {"numeric": "double", "boolean": "boolean"}
_NUMERIC_TYPES = {"double", "float", "long", "integer"}
_KNOWN_TYPES = _NUMERIC_TYPES | {"string", "boolean", "datetime"}


@dataclass(frozen=True)
class ImportedModel:
    """What ``import_mlflow`` registered.

    Attributes:
        version: The registered version.
        created: False when the same package was registered before.
        features: The input columns, from the MLflow signature.
        task: ``classification`` or ``regression``.
    """

    version: ModelVersion
    created: bool
    features: list[str]
    task: str


def export_mlflow(registry: Registry, ref: str, folder: str | Path) -> Path:
    """Write version ``ref`` as an MLflow model into ``folder`` (which must not exist yet).

    Args:
        registry: The registry holding the version.
        ref: ``NAME/VERSION``, ``NAME@ALIAS`` or ``NAME``.
        folder: A new folder.

    Returns:
        The folder.

    Raises:
        ConflictError: ``folder`` exists and is not empty.
        IntegrityError: The package's bytes do not match the hash the store holds.
    """
    target = Path(folder)
    if target.exists() and any(target.iterdir()):
        raise ConflictError(
            f"{target} exists and is not empty; an MLflow model goes into a new folder.",
            hint="Choose another folder, or remove this one first.",
            path=str(target),
        )
    version = registry.resolve(ref)
    package = registry.load_package(version.ref)
    sha256 = registry.store.artifacts.get(version.artifact_id).sha256
    target.mkdir(parents=True, exist_ok=True)
    with (target / _PICKLE).open("wb") as out:
        pickle.dump(package.model, out, protocol=pickle.DEFAULT_PROTOCOL)
    requirements = _requirements(package.path / "requirements.json")
    (target / "requirements.txt").write_text("\n".join(requirements) + "\n", encoding="utf-8")
    _write_yaml(target / "python_env.yaml", _python_env())
    _write_yaml(target / "conda.yaml", _conda_env(requirements))
    samples = package.samples().head(5)
    (target / "input_example.json").write_text(
        samples.to_json(orient="split", index=False), encoding="utf-8"
    )
    shutil.copyfile(package.path / "model_card.md", target / "model_card.md")
    _write_yaml(target / MLMODEL, _mlmodel(package, version, sha256, requirements))
    return target


def import_mlflow(
    registry: Registry,
    path: str | Path,
    *,
    name: str,
    data: pd.DataFrame,
    target: str | None = None,
    policy: str = "manual",
) -> ImportedModel:
    """Register the scikit-learn model of an MLflow model folder as a new version of ``name``.

    Args:
        registry: Where to register it.
        path: The MLflow model folder (with its ``MLmodel`` file).
        name: The registered model's name.
        data: Rows the model learned from (or a sample of them): the schema's domains, the
            drift baseline and the infra-validation samples come from them.
        target: A column of ``data`` holding the true target: then the version also gets
            holdout metrics on those rows.
        policy: ``manual`` (approve it yourself) or ``auto``.

    Returns:
        The registered version and what was read.

    Raises:
        InvalidInputError: The folder is not an MLflow scikit-learn model, its signature is
            not of columns, or ``data`` lacks its columns.
    """
    from sklearn.base import is_classifier

    from ..artifacts import sha256_file
    from ..components import (
        compute_statistics,
        evaluate,
        infer_schema,
        package_folder,
        write_package,
    )

    folder = Path(path)
    mlmodel = _read_mlmodel(folder)
    flavor = _sklearn_flavor(mlmodel, folder)
    features = _signature_columns(mlmodel, folder) or [c for c in data.columns if c != target]
    _check_data(data, features, target)
    pickled = folder / str(flavor.get("pickled_model", _PICKLE))
    model = _load_sklearn(pickled, flavor)
    task = "classification" if is_classifier(model) else "regression"
    source = sha256_file(pickled)
    earlier = _imported_before(registry, name, source)
    if earlier is not None:
        return ImportedModel(earlier, False, features, task)
    inputs = data[features]
    statistics = compute_statistics(inputs)
    evaluation: dict[str, Any] = {}
    metric = "accuracy" if task == "classification" else "r2"
    if target is not None:
        evaluation = evaluate(model, inputs, data[target], task=task).to_dict()
    written = write_package(
        package_folder(),
        name=name,
        model=model,
        task=task,
        target=target or "target",
        features=features,
        schema=infer_schema(statistics).to_dict(),
        statistics=statistics,
        evaluation=evaluation,
        test=inputs,
        lineage={
            "imported_from": {
                "format": "mlflow",
                "path": str(folder.resolve()),
                "model_uuid": mlmodel.get("model_uuid"),
                "run_id": mlmodel.get("run_id"),
                "mlflow_version": mlmodel.get("mlflow_version"),
            }
        },
        metric=metric,
    )
    try:
        blob = registry.artifacts.save(written)
    finally:
        shutil.rmtree(written.parent, ignore_errors=True)
    record = registry.store.artifacts.add(
        uri=blob.uri,
        sha256=blob.sha256,
        type=blob.type,
        materializer=blob.materializer,
        size=blob.size,
        metadata={"imported_from": "mlflow", "model": name, "source_sha256": source},
    )
    version, created = registry.register(
        name,
        record.id,
        metrics=evaluation.get("metrics", {}),
        policy=policy,
        reason=f"imported from the MLflow model in {folder}",
    )
    return ImportedModel(version, created, features, task)


# -- reading ------------------------------------------------------------------------------


def _imported_before(registry: Registry, name: str, source: str) -> ModelVersion | None:
    """The version of ``name`` imported from the same pickled model, if any."""
    if name not in registry.store.models.names():
        return None
    for version in registry.store.models.versions(name):
        metadata = registry.store.artifacts.get(version.artifact_id).metadata
        if metadata.get("source_sha256") == source:
            return version
    return None


def _read_mlmodel(folder: Path) -> dict[str, Any]:
    import yaml

    file = folder / MLMODEL
    if not file.is_file():
        raise InvalidInputError(
            f"{folder} is not an MLflow model folder: it has no {MLMODEL} file.",
            hint="Give the folder mlflow.sklearn.save_model wrote (or a run's model "
            "artifact folder, downloaded).",
            path=str(folder),
        )
    try:
        content = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InvalidInputError(
            f"{file} is not readable YAML: {exc}",
            hint="Export the model again with MLflow.",
            path=str(file),
        ) from exc
    if not isinstance(content, dict):
        raise InvalidInputError(
            f"{file} holds no MLflow model description.",
            hint="Export the model again with MLflow.",
            path=str(file),
        )
    return content


def _sklearn_flavor(mlmodel: dict[str, Any], folder: Path) -> dict[str, Any]:
    flavors = mlmodel.get("flavors") or {}
    flavor = flavors.get("sklearn") if isinstance(flavors, dict) else None
    if not isinstance(flavor, dict):
        found = ", ".join(sorted(flavors)) if isinstance(flavors, dict) and flavors else "none"
        raise InvalidInputError(
            f"The MLflow model in {folder} has no 'sklearn' flavor (flavors: {found}); Loopline "
            "imports scikit-learn models.",
            hint="Save the model with mlflow.sklearn.save_model or log_model.",
            path=str(folder),
        )
    return flavor


def _load_sklearn(file: Path, flavor: dict[str, Any]) -> Any:
    fmt = str(flavor.get("serialization_format", "cloudpickle"))
    if not file.is_file():
        raise InvalidInputError(
            f"The MLflow model's pickled model {file.name} is missing from {file.parent}.",
            hint="Copy the whole model folder.",
            path=str(file),
        )
    try:
        if fmt == "skops":
            model = _load_skops(file)
        elif fmt in ("pickle", "cloudpickle"):
            with file.open("rb") as handle:
                model = pickle.load(handle)  # noqa: S301 - the user imports a model they trust
        else:
            raise InvalidInputError(
                f"Unknown serialization format {fmt!r} in the MLflow model; Loopline reads "
                "'pickle', 'cloudpickle' and 'skops'.",
                hint="Save the model again with one of those formats.",
                value=fmt,
            )
    except InvalidInputError:
        raise
    except ModuleNotFoundError as exc:
        raise InvalidInputError(
            f"The MLflow model needs the module {exc.name!r}, which is not installed here.",
            hint=f"Install it (pip install {exc.name}) and import again.",
            value=exc.name,
        ) from exc
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError) as exc:
        raise InvalidInputError(
            f"The MLflow model's {file.name} could not be read ({fmt}): {exc}",
            hint="Copy the model folder again; it may be truncated, or saved by incompatible "
            "package versions (see its requirements.txt).",
            path=str(file),
        ) from exc
    if not hasattr(model, "predict"):
        raise InvalidInputError(
            f"The MLflow model holds a {type(model).__name__}, which has no predict method.",
            hint="Import a fitted scikit-learn estimator or pipeline.",
        )
    return model


def _load_skops(file: Path) -> Any:
    try:
        import skops.io as sio
    except ModuleNotFoundError as exc:
        raise InvalidInputError(
            "The MLflow model is saved in the 'skops' format, and skops is not installed.",
            hint="pip install skops, then import again.",
        ) from exc
    # Importing is the user's explicit act of trust in this model, as with pickle.
    return sio.load(file, trusted=sio.get_untrusted_types(file=file))


def _signature_columns(mlmodel: dict[str, Any], folder: Path) -> list[str] | None:
    """The input columns of the model's signature (None when it has none)."""
    signature = mlmodel.get("signature") or {}
    raw = signature.get("inputs") if isinstance(signature, dict) else None
    if not raw:
        return None
    try:
        specs = json.loads(raw)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"The signature of the MLflow model in {folder} is not valid JSON: {exc}",
            hint="Log the model again with a signature (mlflow.models.infer_signature).",
        ) from exc
    if not isinstance(specs, list) or not all(
        isinstance(s, dict) and isinstance(s.get("name"), str) for s in specs
    ):
        raise InvalidInputError(
            f"The MLflow model in {folder} has a tensor signature; Loopline serves tables, and "
            "needs a signature of named columns.",
            hint="Log the model with a DataFrame input example or signature.",
        )
    unknown = [s for s in specs if s.get("type") not in _KNOWN_TYPES]
    if unknown:
        raise InvalidInputError(
            f"Column {unknown[0]['name']!r} of the MLflow signature has type "
            f"{unknown[0].get('type')!r}; Loopline imports columns of types "
            f"{', '.join(sorted(_KNOWN_TYPES))}.",
            hint="Log the model with a signature of plain columns.",
        )
    return [str(s["name"]) for s in specs]


def _check_data(data: pd.DataFrame, features: list[str], target: str | None) -> None:
    missing = [c for c in features if c not in data.columns]
    if missing:
        raise InvalidInputError(
            f"The data lacks {len(missing)} of the model's input columns: "
            f"{', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}.",
            hint="Pass rows the model was trained on, with every column of its signature.",
            value=missing,
        )
    if target is not None and target not in data.columns:
        raise InvalidInputError(
            f"The data has no target column {target!r}.",
            hint="Name a column of the data with --target, or leave it out.",
            value=target,
        )
    if data.empty:
        raise InvalidInputError("The data has no rows.", hint="Pass rows the model was trained on.")


# -- writing ------------------------------------------------------------------------------


def _requirements(file: Path) -> list[str]:
    packages = json.loads(file.read_text(encoding="utf-8")).get("packages", {})
    pins = {"loopline": __version__, **packages}
    pins.pop("pyarrow", None)  # needed to read packages, not to run the pipeline
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


def _python_env() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "build_dependencies": ["pip"],
        "dependencies": ["-r requirements.txt"],
    }


def _conda_env(requirements: list[str]) -> dict[str, Any]:
    return {
        "name": "mlflow-env",
        "channels": ["conda-forge"],
        "dependencies": [f"python={platform.python_version()}", "pip", {"pip": requirements}],
    }


def _mlmodel(
    package: ModelPackage, version: ModelVersion, sha256: str, requirements: list[str]
) -> dict[str, Any]:
    sklearn = next(r.split("==")[1] for r in requirements if r.startswith("scikit-learn=="))
    schema = package.schema
    inputs = [
        {
            "type": _MLFLOW_TYPES.get(schema.column(name).kind, "string"),
            "name": name,
            "required": True,
        }
        for name in package.features
    ]
    return {
        "flavors": {
            "python_function": {
                "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
                "loader_module": "mlflow.sklearn",
                "model_path": _PICKLE,
                "predict_fn": "predict",
                "python_version": platform.python_version(),
            },
            "sklearn": {
                "code": None,
                "pickled_model": _PICKLE,
                "serialization_format": "cloudpickle",
                "sklearn_version": sklearn,
            },
        },
        "model_uuid": sha256[:32],  # the package's content address: the same model, same id
        "utc_time_created": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "signature": {"inputs": json.dumps(inputs), "outputs": None, "params": None},
        "saved_input_example_info": {
            "artifact_path": "input_example.json",
            "pandas_orient": "split",
            "type": "dataframe",
        },
        "metadata": {
            "loopline": {
                "model": version.model,
                "version": version.version,
                "run_id": version.run_id,
                "loopline_version": __version__,
            }
        },
    }


def _write_yaml(file: Path, value: dict[str, Any]) -> None:
    import yaml

    file.write_text(yaml.safe_dump(value, sort_keys=False), encoding="utf-8")
