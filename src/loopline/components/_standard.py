"""``standard_pipeline(config)``: the whole model-development workflow from ``loopline.toml``.

ingest → statistics → schema → validate → split → transform → select → tune → train →
evaluate → package → bless. Everything that can be checked without running — the data
source, the candidates and their search spaces, the metric, the thresholds, a pinned
schema — is checked here, so a mistake fails before any step runs.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..pipeline import Pipeline
from ._candidates import make_candidate
from ._config import WorkflowConfig
from ._evaluate import check_metric
from ._ingest import resolve_source, same_source
from ._schema import Schema
from ._steps import (
    bless,
    evaluate_model,
    ingest,
    package,
    schema,
    select,
    split,
    statistics,
    train_model,
    transform,
    tune_best,
    validate_data,
)

if TYPE_CHECKING:
    from ..store import Store

#: The name standard pipeline runs are recorded under.
PIPELINE_NAME = "training"


def standard_pipeline(
    config: WorkflowConfig,
    project_dir: Path,
    *,
    name: str = "model",
    store: Store | None = None,
    champion: int | None = None,
) -> Pipeline:
    """Build the standard training pipeline from the workflow configuration.

    Args:
        config: The parsed workflow sections of ``loopline.toml``.
        project_dir: The project folder (relative paths are resolved against it).
        name: The model's name, written into its package.
        store: The metadata store, to find the previous span's schema and statistics
            that new data is validated against (see :func:`find_reference`).
        champion: Artifact id of the champion's model package to bless against (on the
            holdout rows it was not trained on, found through lineage).

    Returns:
        A :class:`~loopline.pipeline.Pipeline` named ``training``.

    Raises:
        ConfigError: The source matches no file, a candidate, search space, metric,
            threshold, feature function or pinned schema is wrong.
    """
    source = resolve_source(config.data, project_dir)
    reference = find_reference(store, source, project_dir) if store is not None else None
    data = config.data.model_dump()
    pinned = _pinned_schema(config, project_dir)
    training, blessing = config.training, config.blessing
    candidates = [c.model_dump() for c in training.candidates]
    _check_candidates(candidates, config.data.task)
    if str(project_dir) not in sys.path:  # custom metrics and feature functions live there
        sys.path.insert(0, str(project_dir))
    if training.metric is not None:
        check_metric(training.metric, config.data.task)
    for metric in blessing.thresholds:
        check_metric(metric, config.data.task)
    functions = list(training.feature_functions)
    _check_feature_functions(functions, project_dir)
    time_ordered = bool(config.data.timestamp_column)
    split_cfg = config.split
    champion_train = (
        find_training_rows(store, champion) if store is not None and champion is not None else None
    )

    def training_pipeline() -> None:
        frame, span = ingest(source, data, training.folds, split_cfg.test_size, str(project_dir))
        stats = statistics(frame)
        current_schema = schema(stats, pinned, config.schema_.max_categories)
        validate_data(
            frame,
            stats,
            current_schema,
            reference,
            pinned is not None,
            config.validation.missing_jump,
            config.validation.drift_threshold,
            config.schema_.policy,
        )
        train, test = split.with_options(after=["validate_data"])(
            frame, data, split_cfg.method, split_cfg.test_size, split_cfg.seed
        )
        preprocessor = transform(current_schema, stats, data, functions, span)
        board = select(
            train,
            preprocessor,
            data,
            candidates,
            training.metric,
            training.folds,
            time_ordered,
            training.seed,
            training.time_budget,
            training.cv_rows,
        )
        tuning = tune_best(
            train,
            preprocessor,
            board,
            data,
            candidates,
            training.trials,
            training.timeout,
            training.folds,
            time_ordered,
            training.seed,
            training.time_budget,
            training.cv_rows,
        )
        model = train_model(train, preprocessor, tuning, data, candidates, training.seed)
        evaluation = evaluate_model(model, test, data, blessing.slices, train, board)
        package(model, current_schema, stats, evaluation, test, span, board, tuning, data, name)
        bless(
            model,
            evaluation,
            test,
            data,
            champion,
            training.metric,
            blessing.thresholds,
            blessing.absolute_margin,
            blessing.relative_margin,
            blessing.slices,
            blessing.slice_min_rows,
            champion_train,
            blessing.beat_baseline,
        )

    return Pipeline(training_pipeline, name=PIPELINE_NAME)


def _pinned_schema(config: WorkflowConfig, project_dir: Path) -> dict[str, Any] | None:
    if config.schema_.path is None:
        return None
    path = Path(config.schema_.path)
    path = path if path.is_absolute() else project_dir / path
    if not path.is_file():
        raise ConfigError(
            f"schema.path {config.schema_.path!r} does not exist (looked for {path}).",
            hint="Point it at a schema JSON file (a run's schema artifact is one), or "
            "remove the key to infer the schema from the data.",
            key="schema.path",
        )
    return Schema.from_json(path).to_dict()


def _check_candidates(candidates: list[dict[str, Any]], task: str | None) -> None:
    names = []
    for c in candidates:
        candidate = make_candidate(
            c["estimator"], c["params"], name=c["name"], search_space=c["search_space"], task=task
        )
        names.append(candidate.name)
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(
            f"training.candidates has several candidates named {dupes}.",
            hint="Give each candidate a distinct name.",
            key="training.candidates",
        )


def _check_feature_functions(refs: list[str], project_dir: Path) -> None:
    if str(project_dir) not in sys.path:
        sys.path.insert(0, str(project_dir))
    for ref in refs:
        module, sep, attr = ref.partition(":")
        try:
            function = getattr(importlib.import_module(module), attr) if sep else None
        except (ImportError, AttributeError):
            function = None
        if not callable(function):
            raise ConfigError(
                f"training.feature_functions: cannot import {ref!r}.",
                hint="Name module-level functions as 'module:function', importable from "
                "the project folder.",
                key="training.feature_functions",
                value=ref,
            )


def find_reference(
    store: Store, source: dict[str, Any], project_dir: Path | None = None
) -> dict[str, int] | None:
    """The schema and statistics of the latest successful run on a different span.

    A run on unchanged data finds the same reference as the run before it, so its steps
    are served from cache; a run on new data is validated against the last accepted one.
    Recorded sources are compared with file paths made absolute against ``project_dir``
    (earlier versions recorded absolute paths).
    """
    root = project_dir if project_dir is not None else Path.cwd()
    for run in store.runs.list(limit=100, status="succeeded", name=PIPELINE_NAME):
        steps = {s.name: s for s in store.runs.steps(run.id)}
        if "ingest" not in steps or same_source(steps["ingest"].params.get("source"), source, root):
            continue
        try:
            return {
                "schema": store.runs.step_outputs(steps["schema"].id)["schema"].id,
                "statistics": store.runs.step_outputs(steps["statistics"].id)["statistics"].id,
            }
        except KeyError:
            continue
    return None


def find_training_rows(store: Store, package_artifact: int) -> int | None:
    """The artifact id of the rows the model in ``package_artifact`` was fitted on.

    Found through lineage: the run whose ``package`` step made the package, and the ``train``
    output of its ``split`` step. None when that is not known (a package from elsewhere).
    """
    graph = store.lineage.upstream(package_artifact, max_depth=1)
    for step_run in graph.step_runs.values():
        if step_run.name != "package":
            continue
        for sr in store.runs.steps(step_run.run_id):
            if sr.name == "split":
                train = store.runs.step_outputs(sr.id).get("train")
                return train.id if train is not None else None
    return None
