"""The model package: everything needed to serve, monitor and audit one trained model.

A package is a folder, stored as one content-addressed artifact::

    MANIFEST.json        format, name, task, target, features, classes, metrics, run
    model.joblib         the fitted scikit-learn Pipeline (preprocessing + estimator)
    schema.json          the input schema requests are validated against
    statistics.json      training statistics of the inputs: the drift baseline
    predictions.json     statistics of the model's holdout predictions: prediction drift
    evaluation.json      holdout metrics, per-slice metrics, plot data
    model_card.md        the model card, for people
    requirements.json    Python and package versions the model was trained with
    lineage.json         run, span, leaderboard winner, tuned parameters
    samples.parquet      holdout rows (features only) to check that a server answers
"""

from __future__ import annotations

import json
import platform
import tempfile
import time
from dataclasses import dataclass
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from .._version import __version__
from ..errors import IntegrityError
from ._schema import Schema
from ._statistics import compute_statistics

FORMAT = 1
MANIFEST = "MANIFEST.json"
_PACKAGES = ("numpy", "pandas", "scipy", "scikit-learn", "joblib", "pyarrow", "lightgbm", "xgboost")
_SAMPLE_ROWS = 50


def _installed_versions() -> dict[str, str]:
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def write_package(
    folder: Path,
    *,
    name: str,
    model: Any,
    task: str,
    target: str,
    features: list[str],
    schema: dict[str, Any],
    statistics: dict[str, Any],
    evaluation: dict[str, Any],
    test: pd.DataFrame,
    lineage: dict[str, Any],
    metric: str,
) -> Path:
    """Write a model package into ``folder`` (created) and return it."""
    import joblib

    folder.mkdir(parents=True, exist_ok=True)
    inputs = Schema.from_dict(schema)
    input_schema = Schema([c for c in inputs.columns if c.name in features])
    predictions = pd.DataFrame({"prediction": model.predict(test[features])})
    classes = [_plain(c) for c in getattr(model, "classes_", [])]
    input_statistics = dict(statistics)
    input_statistics["columns"] = {k: v for k, v in statistics["columns"].items() if k in features}
    manifest = {
        "format": FORMAT,
        "name": name,
        "task": task,
        "target": target,
        "features": features,
        "classes": classes,
        "metric": metric,
        "metrics": evaluation.get("metrics", {}),
        "estimator": type(model.steps[-1][1]).__name__
        if hasattr(model, "steps")
        else type(model).__name__,
        "created_at": time.time(),
        "loopline_version": __version__,
        "run_id": lineage.get("run_id"),
    }
    joblib.dump(model, folder / "model.joblib")
    _write_json(folder / "schema.json", input_schema.to_dict())
    _write_json(folder / "statistics.json", input_statistics)
    _write_json(folder / "predictions.json", compute_statistics(predictions))
    _write_json(folder / "evaluation.json", evaluation)
    _write_json(
        folder / "requirements.json",
        {"python": platform.python_version(), "packages": _installed_versions()},
    )
    _write_json(folder / "lineage.json", lineage)
    test[features].head(_SAMPLE_ROWS).to_parquet(folder / "samples.parquet")
    (folder / "model_card.md").write_text(
        model_card(manifest, evaluation, lineage, input_schema), encoding="utf-8"
    )
    _write_json(folder / MANIFEST, manifest)  # last: a folder without it is incomplete
    return folder


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=True, default=str), encoding="utf-8")


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def model_card(
    manifest: dict[str, Any], evaluation: dict[str, Any], lineage: dict[str, Any], schema: Schema
) -> str:
    """The model card in Markdown: what the model is, what it was trained on, how it scores."""
    lines = [
        f"# Model card: {manifest['name']}",
        "",
        f"- **Task**: {manifest['task']} of `{manifest['target']}`",
        f"- **Estimator**: {manifest['estimator']} "
        "(inside a scikit-learn Pipeline with its preprocessing)",
        f"- **Trained by**: Loopline {manifest['loopline_version']}, "
        f"run `{manifest.get('run_id')}`",
        f"- **Optimised metric**: {manifest['metric']}",
    ]
    if manifest["classes"]:
        lines.append(f"- **Classes**: {', '.join(map(str, manifest['classes']))}")
    span = lineage.get("span", {})
    lines += ["", "## Training data", ""]
    lines.append(
        f"- {span.get('rows', '?')} rows, content hash `{str(span.get('content_hash', ''))[:16]}`"
    )
    for f in span.get("files", []):
        lines.append(f"- file `{f['path']}` ({f['size']} bytes)")
    if span.get("start"):
        lines.append(f"- time range {span['start']} to {span['end']}")
    lines += [
        "",
        "## Inputs",
        "",
        "| feature | kind | missing allowed | domain |",
        "|---|---|---|---|",
    ]
    for c in schema.columns:
        if c.categories is not None:
            domain = ", ".join(c.categories[:10]) + (" …" if len(c.categories) > 10 else "")
        elif c.min is not None or c.max is not None:
            domain = f"{c.min} to {c.max}"
        else:
            domain = "any"
        lines.append(f"| {c.name} | {c.kind} | {'yes' if c.nullable else 'no'} | {domain} |")
    lines += ["", "## Holdout evaluation", "", "| metric | value |", "|---|---|"]
    for key, value in sorted(evaluation.get("metrics", {}).items()):
        lines.append(f"| {key} | {value:.4f} |")
    for slice_name, values in (evaluation.get("slices") or {}).items():
        lines += ["", f"### By {slice_name}", ""]
        for value, entry in values.items():
            metrics = entry.get("metrics", {}) if isinstance(entry, dict) else {}
            shown = ", ".join(f"{k} {v:.4f}" for k, v in sorted(metrics.items()))
            lines.append(f"- {value}: {shown}")
    tuned = lineage.get("tuning", {})
    if tuned.get("best_params"):
        lines += ["", "## Tuned parameters", ""]
        lines += [f"- `{k}` = {v!r}" for k, v in sorted(tuned["best_params"].items())]
    lines += [
        "",
        "## Intended use and limits",
        "",
        "Trained and validated automatically by Loopline on the data above. Check the",
        "holdout metrics per slice before relying on it for a group of inputs, and watch",
        "its drift reports: it was not validated on data unlike its training span.",
        "",
    ]
    return "\n".join(lines)


@dataclass
class ModelPackage:
    """A model package opened from a folder; the model itself loads on first use.

    Attributes:
        path: The package folder.
        manifest: ``MANIFEST.json``.
    """

    path: Path
    manifest: dict[str, Any]

    @cached_property
    def model(self) -> Any:
        """The fitted pipeline."""
        import joblib

        return joblib.load(self.path / "model.joblib")

    @cached_property
    def schema(self) -> Schema:
        """The input schema."""
        return Schema.from_dict(self._json("schema.json"))

    @cached_property
    def statistics(self) -> dict[str, Any]:
        """Training statistics of the inputs (the drift baseline)."""
        return dict(self._json("statistics.json"))

    @cached_property
    def prediction_statistics(self) -> dict[str, Any]:
        """Statistics of the holdout predictions (the prediction-drift baseline)."""
        return dict(self._json("predictions.json"))

    @cached_property
    def evaluation(self) -> dict[str, Any]:
        """Holdout evaluation."""
        return dict(self._json("evaluation.json"))

    def samples(self) -> pd.DataFrame:
        """Holdout rows (features only) for checking that a server answers."""
        return pd.read_parquet(self.path / "samples.parquet")

    @property
    def features(self) -> list[str]:
        """The input columns, in training order."""
        return list(self.manifest["features"])

    @property
    def task(self) -> str:
        """``classification`` or ``regression``."""
        return str(self.manifest["task"])

    def _json(self, name: str) -> Any:
        return json.loads((self.path / name).read_text(encoding="utf-8"))


def load_package(path: str | Path) -> ModelPackage:
    """Open the model package in ``path``.

    Raises:
        IntegrityError: The folder is not a complete package, or of an unknown format.
    """
    folder = Path(path)
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise IntegrityError(
            f"{folder} is not a Loopline model package (no {MANIFEST}).",
            hint="Load packages through the registry (loopline.load_model).",
            path=str(folder),
        )
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise IntegrityError(
            f"The model package in {folder} has format {manifest.get('format')!r}; this "
            f"Loopline reads format {FORMAT}.",
            hint="Upgrade Loopline to read it, or retrain the model with this version.",
            path=str(folder),
        )
    return ModelPackage(folder, manifest)


def package_folder() -> Path:
    """A new temporary folder to write a package into (the artifact store copies it)."""
    return Path(tempfile.mkdtemp(prefix="loopline-package-")) / "package"
