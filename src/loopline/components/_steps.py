"""The standard steps of the model-development workflow, each usable in any pipeline.

Each step wraps one function of this package and passes plain values: DataFrames,
JSON-able dicts (statistics, schema, reports, leaderboard) and fitted scikit-learn
pipelines, so every output is an artifact with lineage. Configuration comes in as
JSON-able parameters, which makes it part of each step's cache key.
"""

from __future__ import annotations

import hashlib
import importlib
import math
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from threadpoolctl import threadpool_limits

from ..errors import InvalidInputError
from ..pipeline import (
    current_executor,
    current_run_id,
    current_store_url,
    load_artifact,
    log_artifact,
    log_metric,
    log_metrics,
    report_progress,
    step,
)
from ._bless import BlessingRule
from ._candidates import Candidate, default_candidates, infer_task, make_candidate
from ._config import DataConfig
from ._evaluate import Evaluation, evaluate, permutation_importances
from ._imbalance import class_balance, default_metric
from ._ingest import (
    check_training_frame,
    describe_span,
    drop_missing_targets,
    read_source_with_origins,
)
from ._policy import check_policy
from ._roles import apply_roles, infer_roles
from ._schema import Schema, infer_schema
from ._select import Leaderboard, baseline_candidate, cross_validate_candidates
from ._statistics import compute_statistics
from ._transform import build_preprocessor
from ._trials import trials_for_executor
from ._tune import TuningResult, tune
from ._validate import validate


def feature_columns(columns: list[str], data: dict[str, Any]) -> list[str]:
    """The model's input columns: all but the target, id, timestamp and dropped columns."""
    excluded = {data["target"], data.get("id_column"), data.get("timestamp_column")}
    excluded |= set(data.get("drop_columns") or [])
    return [c for c in columns if c not in excluded]


@step(outputs=["data", "span"])
def ingest(
    source: dict[str, Any],
    data: dict[str, Any],
    folds: int = 5,
    test_size: float = 0.2,
    project_dir: str | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read the source, refuse data that cannot train a model, apply the column roles.

    ``source`` records files by their path relative to ``project_dir``, so the span does
    not change when the project folder moves (only this step reads again). Rows whose
    target is missing are dropped (``[data] missing_target = "drop"``, counted and named
    by CSV line in the span) or refused (``"fail"``). Column roles come from
    ``[data.columns]`` or are inferred (``_roles.py``): identifier and constant columns are
    dropped, date text is parsed. The span records both under ``missing_target`` and
    ``roles``.
    """
    config = DataConfig.model_validate(data)
    frame, origins = read_source_with_origins(source, project_dir)
    check_training_frame(frame, config, folds=folds, test_size=test_size)
    frame, missing = drop_missing_targets(
        frame, config.target, origins, policy=config.missing_target, encoding=config.encoding
    )
    frame = frame.drop(columns=config.drop_columns)
    excluded = [config.target, config.id_column, config.timestamp_column]
    roles = infer_roles(
        frame, exclude=[c for c in excluded if c is not None], declared=config.columns
    )
    frame = apply_roles(frame, roles)
    span = describe_span(frame, source, config.timestamp_column)
    span["missing_target"] = missing
    span["target"] = config.target
    span["roles"] = [role.to_dict() for role in roles]
    log_metrics(
        {
            "rows": span["rows"],
            "columns": len(span["columns"]),
            "rows_missing_target": missing["count"],
            "columns_dropped_by_role": sum(role.is_dropped for role in roles),
        }
    )
    return frame, span


@step
def statistics(data: pd.DataFrame) -> Annotated[dict[str, Any], "statistics"]:
    """Per-column statistics of the span: the drift baseline the model will carry."""
    return compute_statistics(data)


@step
def schema(
    statistics: dict[str, Any], pinned: dict[str, Any] | None = None, max_categories: int = 50
) -> Annotated[dict[str, Any], "schema"]:
    """The pinned schema if there is one, else one inferred from the statistics."""
    if pinned is not None:
        return Schema.from_dict(pinned).to_dict()
    return infer_schema(statistics, max_categories=max_categories).to_dict()


@step
def validate_data(
    data: pd.DataFrame,
    statistics: dict[str, Any],
    schema: dict[str, Any],
    reference: dict[str, int] | None = None,
    pinned: bool = False,
    missing_jump: float = 0.1,
    drift_threshold: float = 0.2,
    policy: str = "strict",
) -> Annotated[dict[str, Any], "validation"]:
    """Check the span against the reference schema and drift from the previous span.

    The reference schema is the pinned one, else the schema of the previous span (so
    new data is checked against what the model was trained on), else this span's own.
    Every anomaly is reported; an error stops the run with the whole report.
    """
    expected = schema
    previous = None
    if reference is not None:
        previous = load_artifact(reference["statistics"], "previous_statistics")
        if not pinned:
            expected = load_artifact(reference["schema"], "reference_schema")
    report = validate(
        data,
        Schema.from_dict(expected),
        statistics=statistics,
        previous=previous,
        missing_jump=missing_jump,
        drift_threshold=drift_threshold,
        policy=check_policy(policy),
    )
    log_metrics({"anomalies": len(report.anomalies), "anomaly_errors": len(report.errors)})
    if report.has_errors:
        log_artifact(report.to_dict(), "validation")
        report.raise_for_errors()
    return report.to_dict()


@step(outputs=["train", "test"])
def split(
    frame: pd.DataFrame,
    data: dict[str, Any],
    method: str | None = None,
    test_size: float = 0.2,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out test rows: stratified (classification), the latest by time, or random."""
    from sklearn.model_selection import train_test_split

    target, stamp = data["target"], data.get("timestamp_column")
    task = data.get("task") or infer_task(frame[target])
    method = method or ("time" if stamp else "stratified" if task == "classification" else "random")
    if method == "time":
        if not stamp:
            raise InvalidInputError(
                'split.method = "time" needs data.timestamp_column.',
                hint="Name the timestamp column in [data], or use another split method.",
            )
        ordered = frame.sort_values(stamp, kind="stable")
        cut = int(round(len(ordered) * (1 - test_size)))
        return ordered.iloc[:cut], ordered.iloc[cut:]
    stratify = frame[target] if method == "stratified" else None
    train, test = train_test_split(frame, test_size=test_size, random_state=seed, stratify=stratify)
    return train, test


@step
def transform(
    schema: dict[str, Any],
    statistics: dict[str, Any],
    data: dict[str, Any],
    feature_functions: list[str] | None = None,
    span: dict[str, Any] | None = None,
) -> Annotated[Any, "preprocessor"]:
    """The unfitted preprocessing pipeline built from the schema (it becomes part of the model).

    The schema's kinds choose the encoding; the span's column roles add one distinction a
    kind cannot make: text columns (role ``text``) get TF-IDF instead of categories.
    """
    features = feature_columns([c["name"] for c in schema["columns"]], data)
    kinds = {c["name"]: c["kind"] for c in schema["columns"]}
    free_text = {r["name"] for r in (span or {}).get("roles", []) if r["role"] == "text"}
    numeric = [c for c in features if kinds.get(c) == "numeric"]
    text = [c for c in features if c in free_text and kinds.get(c) == "categorical"]
    categorical = [
        c for c in features if kinds.get(c) in ("categorical", "boolean") and c not in text
    ]
    dates = [c for c in features if kinds.get(c) == "datetime"]
    counts = {
        c: int(statistics["columns"][c]["distinct"])
        for c in categorical
        if c in statistics["columns"]
    }
    functions = [_import_function(ref) for ref in feature_functions or []]
    return build_preprocessor(
        numeric,
        categorical,
        dates,
        text=text,
        category_counts=counts,
        feature_functions=functions,
    )


def _import_function(ref: str) -> Any:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


#: Shares of ``training.time_budget``: selection stops starting folds past the first, and a
#: candidate whose final fit on all rows would take longer than the second is set aside.
SELECT_SHARE = 0.4
FINAL_FIT_SHARE = 0.5
#: The final fit uses every core from this many training rows on, one below.
THREADED_FIT_ROWS = 100_000


def _candidates(
    configs: list[dict[str, Any]], task: str, *, balanced: bool = False
) -> list[Candidate]:
    if not configs:
        return default_candidates(task, balanced=balanced)
    return [
        make_candidate(
            c["estimator"],
            c.get("params"),
            name=c.get("name"),
            search_space=c.get("search_space"),
            task=task,
        )
        for c in configs
    ]


@step
def select(
    train: pd.DataFrame,
    preprocessor: Any,
    data: dict[str, Any],
    candidates: list[dict[str, Any]] | None = None,
    metric: str | None = None,
    folds: int = 5,
    time_ordered: bool = False,
    seed: int = 0,
    time_budget: float | None = None,
    cv_rows: int | None = None,
) -> Annotated[dict[str, Any], "leaderboard"]:
    """Cross-validate every candidate algorithm (and the dummy baseline) and rank them.

    An imbalanced classification target is reported on the leaderboard; unless a metric is
    set it is ranked by balanced accuracy, and the built-in candidates weigh its classes.
    """
    target, features = data["target"], feature_columns(list(train.columns), data)
    task = data.get("task") or infer_task(train[target])
    balanced = task == "classification" and class_balance(train[target]).imbalanced
    board = cross_validate_candidates(
        train[features],
        train[target],
        _candidates(candidates or [], task, balanced=balanced),
        preprocessor,
        task=task,
        metric=metric or default_metric(task, train[target]),
        folds=folds,
        time_ordered=time_ordered,
        random_state=seed,
        max_rows=cv_rows,
        time_budget=None if time_budget is None else time_budget * SELECT_SHARE,
        progress=report_progress,
    )
    if time_budget is not None:
        board.set_aside_slow(len(train), time_budget * FINAL_FIT_SHARE)
    for row in board.rows:
        if board.metric in row.means:
            log_metric(f"cv_{board.metric}.{row.name}", row.means[board.metric])
    return board.to_dict()


@step
def tune_best(
    train: pd.DataFrame,
    preprocessor: Any,
    leaderboard: dict[str, Any],
    data: dict[str, Any],
    candidates: list[dict[str, Any]] | None = None,
    trials: int = 20,
    timeout: float | None = None,
    folds: int = 3,
    time_ordered: bool = False,
    seed: int = 0,
    time_budget: float | None = None,
    cv_rows: int | None = None,
) -> Annotated[dict[str, Any], "tuning"]:
    """Tune the best candidate with Optuna; the study lives in the metadata store's database.

    The study's name is derived from the data, the candidate and the settings, so a search
    interrupted by a crash resumes where it stopped on the next run. Tuning uses the same
    folds (and sample) as selection, so the tuned score compares with the candidate's
    default score; ``chosen_params`` keeps the defaults when no trial beat them. It gets
    what is left of ``time_budget`` after selection and the estimated final fit. Run by the
    Ray executor, the trials run in parallel Ray tasks sharing the study (``RayTrials``).
    """
    board = Leaderboard.from_dict(leaderboard)
    target, features = data["target"], feature_columns(list(train.columns), data)
    best = board.best
    balanced = bool((board.balance or {}).get("imbalanced"))
    candidate = next(
        c
        for c in _candidates(candidates or [], board.task, balanced=balanced)
        if c.name == best.name
    )
    budget, note = _tuning_budget(board, best.name, len(train), timeout, time_budget)
    if trials == 0 or not candidate.search_space or note is not None:
        outcome = TuningResult(
            candidate=candidate.name,
            metric=board.metric,
            direction=board.direction,
            best_params={},
            best_value=best.means.get(board.metric, float("nan")),
            n_trials=0,
            n_previous=0,
            study_name="",
            history=[],
        ).to_dict()
        outcome["note"] = note
        outcome["spec"] = candidate.to_dict()
        return outcome
    digest = hashlib.sha256(pd.util.hash_pandas_object(train, index=False).to_numpy().tobytes())
    digest.update(repr((candidate.to_dict(), board.metric, folds, seed, time_ordered)).encode())
    digest.update(repr(cv_rows).encode())
    result = tune(
        train[features],
        train[target],
        candidate,
        preprocessor,
        task=board.task,
        metric=board.metric,
        n_trials=trials,
        timeout=budget,
        storage=current_store_url(),
        study_name=f"loopline-{candidate.name}-{digest.hexdigest()[:16]}",
        folds=folds,
        random_state=seed,
        time_ordered=time_ordered,
        max_rows=cv_rows,
        progress=report_progress,
        trial_runner=trials_for_executor(current_executor()),
    )
    outcome = result.to_dict()
    default = best.means.get(board.metric)
    improved = default is None or (
        result.best_value > default if board.direction == "max" else result.best_value < default
    )
    outcome["default_value"] = default
    outcome["chosen_params"] = result.best_params if improved else {}
    outcome["spec"] = candidate.to_dict()
    outcome["budget_seconds"] = budget
    if math.isfinite(result.best_value):
        log_metric(f"tuned_{board.metric}", result.best_value)
    return outcome


def _tuning_budget(
    board: Leaderboard,
    name: str,
    n_rows: int,
    timeout: float | None,
    time_budget: float | None,
) -> tuple[float | None, str | None]:
    """Seconds tuning may take, and why it is skipped (None when it is not).

    What is left of ``time_budget`` after selection and the estimated final fit on all
    rows; tuning is skipped when that would not cover one trial (the candidate's
    cross-validation time in selection).
    """
    if time_budget is None:
        return timeout, None
    final_fit = board.estimate_fit_seconds(name, n_rows)
    left = time_budget - board.seconds - final_fit
    one_trial = next((r.fit_seconds for r in board.rows if r.name == name), 0.0)
    if left <= 0 or left < one_trial:
        return None, (
            f"skipped: of the time budget of {time_budget:.0f} s, selection took "
            f"{board.seconds:.0f} s and the final fit should take about {final_fit:.0f} s, "
            f"leaving {max(left, 0):.0f} s, less than one trial (about {one_trial:.0f} s)"
        )
    return (left if timeout is None else min(timeout, left)), None


@step
def train_model(
    train: pd.DataFrame,
    preprocessor: Any,
    tuning: dict[str, Any],
    data: dict[str, Any],
    candidates: list[dict[str, Any]] | None = None,
    seed: int = 0,
) -> Annotated[Any, "model"]:
    """Fit the final pipeline (preprocessing + the tuned estimator) on all training rows."""
    target, features = data["target"], feature_columns(list(train.columns), data)
    task = data.get("task") or infer_task(train[target])
    if "spec" in tuning:
        candidate = Candidate.from_dict(tuning["spec"])
    else:
        candidate = next(
            c for c in _candidates(candidates or [], task) if c.name == tuning["candidate"]
        )
    params = tuning.get("chosen_params", tuning["best_params"])
    model = candidate.build_pipeline(preprocessor, params, random_state=seed)
    # Threads pay off only on large data; below that they cost more than they save.
    with threadpool_limits(limits=None if len(train) >= THREADED_FIT_ROWS else 1):
        return model.fit(train[features], train[target])


@step
def evaluate_model(
    model: Any,
    test: pd.DataFrame,
    data: dict[str, Any],
    slices: list[str] | None = None,
    train: pd.DataFrame | None = None,
    leaderboard: dict[str, Any] | None = None,
) -> Annotated[dict[str, Any], "evaluation"]:
    """Holdout metrics, the same per declared slice, the data behind the plots, the dummy
    baseline's holdout metrics (fitted on ``train``) and permutation feature importance
    (in the leaderboard's metric)."""
    metric = None if leaderboard is None else leaderboard["metric"]
    with threadpool_limits(limits=1):  # many small predictions: threads only add overhead
        result = _evaluate_on_one_thread(model, train, test, data, slices, metric)
    log_metrics({f"test_{k}": v for k, v in result.metrics.items()})
    return result.to_dict()


def _evaluate_on_one_thread(
    model: Any,
    train: pd.DataFrame | None,
    test: pd.DataFrame,
    data: dict[str, Any],
    slices: list[str] | None,
    metric: str | None,
) -> Evaluation:
    target, features = data["target"], feature_columns(list(test.columns), data)
    task = data.get("task") or infer_task(test[target])
    result = evaluate(
        model,
        test[features],
        test[target],
        task=task,
        slices={name: test[name] for name in slices or []},
        metric=metric,
    )
    if train is not None:
        result.baseline = _baseline_evaluation(train, test, target, features, task, result)
    if metric is not None and metric in result.metrics and features:
        result.plots["permutation_importance"] = permutation_importances(
            model, test[features], test[target], task=task, metric=metric
        )
    return result


def rows_in(frame: pd.DataFrame, other: pd.DataFrame, columns: list[str]) -> Any:
    """A boolean array: which rows of ``frame`` also appear in ``other`` (same values in
    ``columns``; numbers compared as floats, so 1 and 1.0 match)."""
    import numpy as np

    shared = [c for c in columns if c in frame and c in other]
    if not shared or not len(other) or not len(frame):
        return np.zeros(len(frame), dtype=bool)
    return np.isin(_row_hashes(frame[shared]), _row_hashes(other[shared]))


def _row_hashes(frame: pd.DataFrame) -> Any:
    normal = pd.DataFrame(
        {
            c: pd.to_numeric(frame[c], errors="coerce").astype(float)
            if pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c])
            else frame[c].astype(str)
            for c in frame.columns
        }
    )
    return pd.util.hash_pandas_object(normal, index=False).to_numpy()


def _baseline_evaluation(
    train: pd.DataFrame,
    test: pd.DataFrame,
    target: str,
    features: list[str],
    task: str,
    candidate: Evaluation,
) -> dict[str, Any]:
    """The dummy baseline fitted on the training rows and scored like the candidate."""
    spec = baseline_candidate(task)
    dummy = spec.build().fit(train[features], train[target])
    scored = evaluate(
        dummy,
        test[features],
        test[target],
        task=task,
        labels=candidate.labels,
        metric=candidate.metric,
    )
    description = "the majority class" if task == "classification" else "the mean"
    return {
        "description": f"the dummy baseline ({description})",
        "estimator": spec.estimator,
        "params": dict(spec.params),
        "metrics": scored.metrics,
    }


@step
def bless(
    model: Any,
    evaluation: dict[str, Any],
    test: pd.DataFrame,
    data: dict[str, Any],
    champion: int | None = None,
    metric: str | None = None,
    thresholds: dict[str, float] | None = None,
    absolute_margin: float = 0.0,
    relative_margin: float = 0.0,
    slices: list[str] | None = None,
    slice_min_rows: int = 30,
    champion_train: int | None = None,
    beat_baseline: bool = True,
) -> Annotated[dict[str, Any], "blessing"]:
    """Compare the candidate with the champion on holdout rows neither was trained on.

    ``champion`` is the artifact id of the champion's model package: it is loaded (and so
    recorded in this step's lineage). ``champion_train`` is the artifact id of the rows the
    champion was fitted on: holdout rows among them are left out of the comparison (a model
    scored on its own training rows looks better than it is), and both models are scored
    on the rest. Without any such row the champion is not compared (the thresholds apply).
    """
    target, features = data["target"], feature_columns(list(test.columns), data)
    candidate = original = Evaluation.from_dict(evaluation)
    champion_evaluation = None
    fresh = test
    if champion is not None:
        from ._package import load_package

        package = load_package(load_artifact(champion, "champion"))
        if champion_train is not None:
            seen = load_artifact(champion_train, "champion_train")
            fresh = test[~rows_in(test, seen, [*features, target])]
        if len(fresh):
            on_fresh = {name: fresh[name] for name in slices or []}
            candidate, champion_evaluation = (
                evaluate(
                    scored,
                    fresh[features],
                    fresh[target],
                    task=original.task,
                    slices=on_fresh,
                    labels=original.labels,
                    metric=original.metric,
                )
                for scored in (model, package.model)
            )
            # The dummy baseline keeps its score on the whole holdout: it learnt nothing
            # from any of these rows, so leaving the champion's out changes it only by noise.
            candidate.baseline = original.baseline
    rule = BlessingRule(
        metric=metric,
        thresholds=thresholds or {},
        absolute_margin=absolute_margin,
        relative_margin=relative_margin,
        slice_min_rows=slice_min_rows,
        beat_baseline=beat_baseline,
    ).fit(candidate, champion_evaluation)
    log_metric("blessed", float(rule.blessed_))
    verdict = rule.to_dict()
    verdict["champion"] = champion
    verdict["champion_metrics"] = champion_evaluation.metrics if champion_evaluation else None
    verdict["compared_rows"] = len(fresh) if champion is not None else None
    verdict["holdout_rows"] = len(test)
    if champion is not None and not len(fresh):
        verdict["reasons"].append(
            {
                "metric": rule.metric_,
                "slice": None,
                "candidate": None,
                "champion": None,
                "threshold": None,
                "delta": None,
                "passed": True,
                "message": f"every one of the {len(test)} holdout rows was in the champion's "
                "training data: the champion is not compared (only the thresholds apply)",
            }
        )
    elif champion is not None and len(fresh) < len(test):
        for reason in verdict["reasons"]:
            if reason["slice"] is None and reason["threshold"] is None:
                reason["message"] += (
                    f" (on the {len(fresh)} of {len(test)} holdout rows the champion was not "
                    "trained on)"
                )
    return verdict


@step
def package(
    model: Any,
    schema: dict[str, Any],
    statistics: dict[str, Any],
    evaluation: dict[str, Any],
    test: pd.DataFrame,
    span: dict[str, Any],
    leaderboard: dict[str, Any],
    tuning: dict[str, Any],
    data: dict[str, Any],
    name: str = "model",
) -> Annotated[Path, "package"]:
    """Write the model package: pipeline, schema, statistics, metrics, card, versions, lineage."""
    from ._package import package_folder, write_package

    board = Leaderboard.from_dict(leaderboard)
    return write_package(
        package_folder(),
        name=name,
        model=model,
        task=board.task,
        target=data["target"],
        features=feature_columns(list(test.columns), data),
        schema=schema,
        statistics=statistics,
        evaluation=evaluation,
        test=test,
        lineage={
            "run_id": current_run_id(),
            "span": span,
            "leaderboard": [row.name for row in board.rows],
            "tuning": {
                "candidate": tuning["candidate"],
                "best_params": tuning.get("chosen_params", tuning["best_params"]),
            },
        },
        metric=board.metric,
    )
