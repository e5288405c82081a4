"""``loopline schema show|export|import``: the input schema, to read, edit and pin.

The schema comes from a model version (``NAME@ALIAS``, ``NAME/VERSION``), else from the
latest successful training run, else it is inferred from the project's data now (roles
applied, as the ``ingest`` step does). ``import`` checks a file and pins it: the training
workflow then validates every span against it (``[schema] path``), and models trained from
it serve with it, so serving, ``loopline predict`` and ``validate_data`` all read the same
columns, kinds, categories and ranges, under the same ``[schema] policy``.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import NotFoundError
from ._output import console

if TYPE_CHECKING:
    from ..components import Schema
    from ..config import Settings

#: Where ``import`` copies a schema inside the project.
PINNED_NAME = "schema.json"


def load_schema(project: Path | None, model: str | None) -> tuple[Schema, str]:
    """The schema of ``model``, else of the latest training run, else inferred from the data.

    Returns:
        The schema and a phrase saying where it came from.
    """
    from ..config import load_settings

    settings = load_settings(project)
    if model is not None:
        return _model_schema(settings, model)
    found = _run_schema(settings)
    if found is not None:
        return found
    return _inferred_schema(settings)


def show_schema(project: Path | None, model: str | None) -> None:
    """Print the schema as a table, with its source and the project's policy."""
    from rich.markup import escape
    from rich.table import Table

    from ..config import load_settings
    from ._serve import project_policy

    schema, origin = load_schema(project, model)
    policy = project_policy(load_settings(project).raw, None)
    table = Table(title=escape(f"Schema of {origin} (policy {policy})"))
    for name in ("column", "kind", "nullable", "max missing", "categories", "min", "max"):
        table.add_column(name)
    for column in schema.columns:
        categories = (
            "any"
            if column.categories is None
            else _shorten(", ".join(column.categories), 60) + f" ({len(column.categories)})"
        )
        table.add_row(
            escape(column.name),
            column.kind,
            "yes" if column.nullable else "no",
            f"{column.max_missing_rate:.0%}" if column.nullable else "-",
            escape(categories) if column.kind == "categorical" else "-",
            _number(column.min),
            _number(column.max),
        )
    console().print(table)


def export_schema(project: Path | None, model: str | None, output: Path) -> None:
    """Write the schema as JSON to ``output`` (to review, edit and import)."""
    schema, origin = load_schema(project, model)
    schema.to_json(output)
    console().print(f"Wrote the schema of {origin} ({len(schema.columns)} columns) to {output}")
    console().print(
        f"Edit it (kinds, categories, ranges, nullable), then: loopline schema import {output}"
    )


def import_schema(project: Path | None, path: Path) -> Path:
    """Check ``path`` and pin it: copy it into the project and set ``[schema] path``."""
    from ..components import Schema
    from ..config import PROJECT_FILE, load_settings

    schema = Schema.from_json(path)  # names the file and key of every mistake
    settings = load_settings(project)
    target = settings.project_dir / PINNED_NAME
    if path.resolve() != target.resolve():
        shutil.copyfile(path, target)
    toml = settings.project_dir / PROJECT_FILE
    toml.write_text(_with_schema_path(toml.read_text(encoding="utf-8"), PINNED_NAME), "utf-8")
    load_settings(settings.project_dir)  # the edited file still parses
    from rich.markup import escape

    console().print(
        escape(
            f"Pinned {len(schema.columns)} columns from {path} as {target.name}; "
            f'{PROJECT_FILE} now has [schema] path = "{PINNED_NAME}". The next run '
            "validates the data against it."
        )
    )
    return target


def _with_schema_path(text: str, value: str) -> str:
    """``text`` (a loopline.toml) with ``path = value`` in its ``[schema]`` section."""
    line = f"path = {json.dumps(value)}"
    lines = text.splitlines()
    header = next((i for i, s in enumerate(lines) if s.strip() == "[schema]"), None)
    if header is None:
        return text.rstrip("\n") + f"\n\n[schema]\n{line}\n"
    end = next(
        (i for i in range(header + 1, len(lines)) if lines[i].lstrip().startswith("[")),
        len(lines),
    )
    for i in range(header + 1, end):
        if re.match(r"\s*path\s*=", lines[i]):
            lines[i] = line
            return "\n".join(lines) + "\n"
    lines.insert(header + 1, line)
    return "\n".join(lines) + "\n"


def _model_schema(settings: Settings, model: str) -> tuple[Schema, str]:
    from ..artifacts import ArtifactStore
    from ..registry import Registry
    from ..store import Store

    with Store(settings.store_url) as store:
        registry = Registry(store, ArtifactStore(settings.artifacts_url))
        version = registry.resolve(model)
        package = registry.load_package(f"{version.model}/{version.version}")
    return package.schema, f"model {version.model}/{version.version}"


def _run_schema(settings: Settings) -> tuple[Schema, str] | None:
    from ..artifacts import ArtifactStore
    from ..components import PIPELINE_NAME, Schema
    from ..store import Store

    with Store(settings.store_url) as store:
        for run in store.runs.list(limit=20, status="succeeded", name=PIPELINE_NAME):
            for step_run in store.runs.steps(run.id):
                if step_run.name != "schema":
                    continue
                found = store.runs.step_outputs(step_run.id).get("schema")
                if found is not None:
                    artifacts = ArtifactStore(settings.artifacts_url)
                    data = artifacts.load(found.uri, found.sha256, found.materializer)
                    return Schema.from_dict(data), f"run {run.id[:8]}"
    return None


def _inferred_schema(settings: Settings) -> tuple[Schema, str]:
    from ..components import (
        apply_roles,
        compute_statistics,
        infer_roles,
        infer_schema,
        parse_workflow_config,
        read_source,
        resolve_source,
    )

    if "data" not in settings.raw:
        raise NotFoundError(
            "There is no model, no training run and no [data] section to take a schema from.",
            hint="Name a model (loopline schema show NAME@production), run 'loopline run', "
            "or add [data] to loopline.toml.",
        )
    config = parse_workflow_config(settings.raw, settings.project_dir / "loopline.toml")
    data = config.data
    frame = read_source(resolve_source(data, settings.project_dir), settings.project_dir)
    frame = frame.loc[frame[data.target].notna()].drop(columns=data.drop_columns)
    excluded = [c for c in (data.target, data.id_column, data.timestamp_column) if c]
    frame = apply_roles(frame, infer_roles(frame, exclude=excluded, declared=data.columns))
    statistics = compute_statistics(frame)
    schema = infer_schema(statistics, max_categories=config.schema_.max_categories)
    return schema, f"the data {data.source or 'query'} (inferred now; no run yet)"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
