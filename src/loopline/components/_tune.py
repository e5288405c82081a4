"""Hyperparameter tuning of one candidate with Optuna (TFX Tuner).

Each trial cross-validates the candidate with sampled parameters; the running mean over
folds is reported after every fold so that a ``MedianPruner`` stops hopeless trials early.
With a ``storage`` URL and a fixed ``study_name`` the study lives in a database, so a search
that was interrupted resumes where it stopped: only the missing trials run.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import optuna
import pandas as pd
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial, Trial, TrialState

from ..errors import BackendUnavailableError, ConfigError, ConflictError, InvalidInputError
from ._candidates import Candidate, parse_search_space
from ._evaluate import check_metric, check_task, metric_direction
from ._select import check_cv_data, class_labels, make_splitter, score_fold
from ._trials import BaseTrialRunner, InProcessTrials

__all__ = [
    "TuningResult",
    "tune",
]

_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@dataclass
class TuningResult:
    """The outcome of a tuning study.

    Attributes:
        candidate: Name of the tuned candidate.
        metric: The optimised metric.
        direction: ``"max"`` or ``"min"``.
        best_params: The best trial's sampled parameters.
        best_value: The best trial's mean cross-validated score.
        n_trials: Finished (complete or pruned) trials in the study.
        n_previous: How many of those had already finished before this call (resumed).
        study_name: The Optuna study name.
        history: One ``{number, value, params, state, duration, error}`` per trial, with
            ``duration`` in seconds.
    """

    candidate: str
    metric: str
    direction: str
    best_params: dict[str, Any]
    best_value: float
    n_trials: int
    n_previous: int = 0
    study_name: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return the result as plain JSON values."""
        return {
            "candidate": self.candidate,
            "metric": self.metric,
            "direction": self.direction,
            "best_params": dict(self.best_params),
            "best_value": self.best_value,
            "n_trials": self.n_trials,
            "n_previous": self.n_previous,
            "study_name": self.study_name,
            "history": [dict(entry) for entry in self.history],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TuningResult:
        """Rebuild a result from ``to_dict()`` output."""
        return cls(
            candidate=data["candidate"],
            metric=data["metric"],
            direction=data["direction"],
            best_params=dict(data["best_params"]),
            best_value=float(data["best_value"]),
            n_trials=int(data["n_trials"]),
            n_previous=int(data.get("n_previous", 0)),
            study_name=data.get("study_name", ""),
            history=[dict(entry) for entry in data.get("history", [])],
        )


class _TrialFailed(Exception):
    """A trial's fit or scoring failed; the study records it and goes on."""


def tune(
    X: pd.DataFrame,
    y: pd.Series | Sequence[Any] | np.ndarray,
    candidate: Candidate,
    preprocessor: Any,
    *,
    task: str,
    metric: str,
    search_space: Mapping[str, Any] | None = None,
    n_trials: int = 20,
    timeout: float | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    folds: int = 3,
    random_state: int = 0,
    time_ordered: bool = False,
    trial_runner: BaseTrialRunner | None = None,
) -> TuningResult:
    """Search ``candidate``'s hyperparameters with a seeded TPE sampler and median pruning.

    Args:
        X: Features.
        y: Target, one value per row of ``X``.
        candidate: The candidate to tune; its fixed params stay, sampled ones override.
        preprocessor: Unfitted transformer, cloned and fitted within each fold.
        task: ``"classification"`` or ``"regression"``.
        metric: The metric to optimise (its direction comes from ``metric_direction``).
        search_space: Parameter -> spec (see ``parse_search_space``); the candidate's own
            search space when None.
        n_trials: Total finished trials wanted in the study, counting those already in a
            resumed study.
        timeout: Stop starting new trials after this many seconds.
        storage: SQLAlchemy URL of the study database (``"sqlite:///path/store.db"``); in
            memory when None.
        study_name: Study name; with ``storage``, a fixed name makes the search resumable.
        folds: Cross-validation folds per trial.
        random_state: Seed for the sampler, the folds and the estimator.
        time_ordered: Use successive time-ordered folds.
        trial_runner: Where the trials run: one after another here (``InProcessTrials``, the
            default) or in parallel Ray tasks sharing the study (``RayTrials``, which needs
            ``storage``).

    Returns:
        The best parameters and value, and the trial history.

    Raises:
        ConfigError: The task, metric, search space, ``n_trials``, ``timeout`` or storage URL
            is invalid.
        ConflictError: The stored study optimises in the other direction.
        BackendUnavailableError: The storage database cannot be reached.
        InvalidInputError: The data cannot be cross-validated, or no trial completed.
    """
    task = check_task(task)
    check_metric(metric, task)
    _check_budget(n_trials, timeout)
    space = candidate.search_space if search_space is None else search_space
    distributions = parse_search_space(space, candidate=candidate.name)
    if not distributions:
        raise ConfigError(
            f"Candidate {candidate.name!r} has no search space to tune. Give one with "
            "search_space={...}, or skip tuning for this candidate.",
            value=candidate.name,
        )
    candidate.check_param_names(distributions, what="search space parameter")
    target = check_cv_data(X, y, task=task, folds=folds, time_ordered=time_ordered)
    labels = class_labels(target) if task == "classification" else None
    splits = list(
        make_splitter(task, folds, time_ordered, random_state).split(np.zeros(len(X)), target)
    )
    direction = metric_direction(metric)

    def objective(trial: Trial) -> float:
        params = {name: _suggest(trial, name, dist) for name, dist in distributions.items()}
        values: list[float] = []
        for step, (train, test) in enumerate(splits):
            model = candidate.build_pipeline(preprocessor, params, random_state=random_state)
            result = score_fold(
                model, X, target, train, test, task=task, labels=labels, metrics=[metric]
            )
            if result.error is not None:
                _fail(trial, f"{type(result.error).__name__}: {result.error}", result.error)
            if metric in result.scores:
                values.append(result.scores[metric])
                trial.report(float(np.mean(values)), step)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned after fold {step + 1} of {len(splits)}")
        if not values:
            _fail(trial, f"{metric} was undefined in every fold: {result.skipped.get(metric)}")
        return float(np.mean(values))

    with _quiet_optuna(), _open_storage(storage) as rdb:
        study = _load_study(rdb, study_name, metric, random_state)
        _fail_interrupted_trials(study)
        previous = len(study.get_trials(deepcopy=False, states=_FINISHED))
        remaining = max(n_trials - previous, 0)
        if remaining:
            # Reseed by progress so a resumed study does not replay the first trials' samples.
            study.sampler = optuna.samplers.TPESampler(seed=random_state + previous)
            runner = trial_runner if trial_runner is not None else InProcessTrials()
            runner.optimize(
                study,
                objective,
                n_trials=remaining,
                timeout=timeout,
                catch=(_TrialFailed,),
                storage=storage,
            )
        trials = study.get_trials(deepcopy=False)
        return _result(study, trials, candidate.name, metric, direction, previous)


def _fail_interrupted_trials(study: optuna.Study) -> None:
    """Mark trials left RUNNING by a killed process as FAIL, so they are not counted as done.

    One ``tune`` call works on a study at a time (the pipeline step owns its study name), so
    a trial still RUNNING when the call starts was interrupted. Its slot is run again.
    """
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.tell(trial.number, state=TrialState.FAIL)


def _suggest(trial: Trial, name: str, distribution: BaseDistribution) -> Any:
    """Sample ``name`` from ``distribution`` through the public Trial API."""
    if isinstance(distribution, IntDistribution):
        return trial.suggest_int(
            name, distribution.low, distribution.high, step=distribution.step, log=distribution.log
        )
    if isinstance(distribution, FloatDistribution):
        return trial.suggest_float(
            name, distribution.low, distribution.high, step=distribution.step, log=distribution.log
        )
    if isinstance(distribution, CategoricalDistribution):
        return trial.suggest_categorical(name, distribution.choices)
    raise ConfigError(
        f"Unsupported distribution {type(distribution).__name__} for parameter {name!r}. "
        "Use IntDistribution, FloatDistribution or CategoricalDistribution.",
        value=name,
    )


def _fail(trial: Trial, message: str, cause: BaseException | None = None) -> None:
    trial.set_user_attr("error", message)
    raise _TrialFailed(message) from cause


def _check_budget(n_trials: int, timeout: float | None) -> None:
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise ConfigError(
            f"The 'n_trials' parameter must be an integer >= 1. Got {n_trials!r} instead.",
            value=n_trials,
        )
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0
    ):
        raise ConfigError(
            f"The 'timeout' parameter must be a number of seconds > 0, or None. "
            f"Got {timeout!r} instead.",
            value=timeout,
        )


@contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Lower Optuna's logging to WARNING for the duration, then restore it."""
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(previous)


@contextmanager
def _open_storage(url: str | None) -> Iterator[optuna.storages.RDBStorage | None]:
    """Open the study database (None: in memory), translating failures, and close it after."""
    if url is None:
        yield None
        return
    if not isinstance(url, str) or "://" not in url:
        raise ConfigError(
            f"The 'storage' parameter must be a SQLAlchemy URL such as "
            f"'sqlite:///path/store.db'. Got {url!r} instead.",
            value=url,
        )
    try:
        rdb = optuna.storages.RDBStorage(url)
    except ImportError as exc:
        raise ConfigError(
            f"The driver for storage {url!r} is not installed: {exc}", value=url
        ) from exc
    except Exception as exc:
        raise _storage_error(url, exc) from exc
    try:
        yield rdb
    finally:
        rdb.engine.dispose()


def _storage_error(url: str, exc: Exception) -> Exception:
    """Map a SQLAlchemy error from Optuna's storage to ours; other errors pass unchanged."""
    kind = type(exc)
    if not kind.__module__.startswith("sqlalchemy"):
        return exc
    if kind.__name__ == "ArgumentError":
        return ConfigError(f"Invalid storage URL {url!r}: {exc}", value=url)
    return BackendUnavailableError(
        f"Cannot open the tuning storage {url!r}: {exc}",
        hint="Check that the database exists and is reachable, and that its folder exists.",
        value=url,
    )


def _load_study(
    rdb: optuna.storages.RDBStorage | None,
    study_name: str | None,
    metric: str,
    random_state: int,
) -> optuna.Study:
    direction = metric_direction(metric)
    wanted: Literal["maximize", "minimize"] = "maximize" if direction == "max" else "minimize"
    study = optuna.create_study(
        storage=rdb,
        study_name=study_name,
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=random_state),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0),
        direction=wanted,
    )
    found = study.direction.name.lower()
    if found != wanted:
        raise ConflictError(
            f"Study {study.study_name!r} in the storage was created to {found}, but metric "
            f"{metric!r} is to be {wanted}d. Use another study_name.",
            value=study.study_name,
        )
    return study


def _history(trials: list[FrozenTrial]) -> list[dict[str, Any]]:
    history = []
    for trial in trials:
        duration = trial.duration.total_seconds() if trial.duration is not None else None
        value = trial.value if trial.value is not None and math.isfinite(trial.value) else None
        history.append(
            {
                "number": trial.number,
                "value": value,
                "params": dict(trial.params),
                "state": trial.state.name.lower(),
                "duration": duration,
                "error": trial.user_attrs.get("error"),
            }
        )
    return history


def _result(
    study: optuna.Study,
    trials: list[FrozenTrial],
    candidate: str,
    metric: str,
    direction: str,
    previous: int,
) -> TuningResult:
    complete = [t for t in trials if t.state is TrialState.COMPLETE]
    if not complete:
        failed = [t for t in trials if t.state is TrialState.FAIL]
        first = next((t.user_attrs.get("error") for t in failed if "error" in t.user_attrs), None)
        pruned = sum(t.state is TrialState.PRUNED for t in trials)
        raise InvalidInputError(
            f"No tuning trial of candidate {candidate!r} completed ({len(failed)} failed, "
            f"{pruned} pruned)." + (f" First failure: {first}" if first else ""),
            value=candidate,
        )
    best = study.best_trial
    return TuningResult(
        candidate=candidate,
        metric=metric,
        direction=direction,
        best_params=dict(best.params),
        best_value=float(best.value if best.value is not None else math.nan),
        n_trials=sum(t.state in _FINISHED for t in trials),
        n_previous=previous,
        study_name=study.study_name,
        history=_history(trials),
    )
