"""Hyperparameter tuning of one candidate with Optuna (TFX Tuner).

Each trial cross-validates the candidate with sampled parameters; the running mean over
folds is reported after every fold so that a ``MedianPruner`` stops hopeless trials early.
With a ``storage`` URL and a fixed ``study_name`` the study lives in a database, so a search
that was interrupted resumes where it stopped: only the missing trials run. Running
trials send heartbeats to the database, so a trial left running by a killed process is
failed once its heartbeat is stale, never the live trial of another process tuning the
same study at the same time.

``timeout`` is a budget, not a hint: no trial starts after it, and a running trial is
pruned between folds once it is spent, so a search overruns by at most one fold's fit.
Large data is tuned on the same stratified sample that selection used (``max_rows``).
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
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
from ._select import Progress, check_cv_data, class_labels, cv_sample, make_splitter, score_fold
from ._trials import BaseTrialRunner, InProcessTrials

__all__ = [
    "TuningResult",
    "tune",
]

_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
#: A user attribute every trial of ours sets first thing: it has heartbeats. A running
#: trial without it was started by other code (or an older Loopline) and is taken as
#: interrupted once it is older than ``stale_after``.
_BEATS = "loopline_heartbeat"


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
    stale_after: int = 30,
    max_rows: int | None = None,
    progress: Progress | None = None,
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
        timeout: Seconds: no trial starts after them, and a running trial is pruned at
            its next fold once they are spent.
        storage: SQLAlchemy URL of the study database (``"sqlite:///path/store.db"``); in
            memory when None.
        study_name: Study name; with ``storage``, a fixed name makes the search resumable.
        folds: Cross-validation folds per trial.
        random_state: Seed for the sampler, the folds and the estimator.
        time_ordered: Use successive time-ordered folds.
        stale_after: Seconds without a heartbeat after which a running trial in the
            storage counts as interrupted (its process was killed): it is marked failed
            and its slot runs again. Live trials of another process tuning the same study
            keep beating and are left alone (issue 10, item 6).
        max_rows: Tune on a stratified sample of at most this many rows (as in selection).
        progress: Called with ``(trials finished, trials wanted, seconds left)`` after
            each trial.
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
    X_cv, y_cv = cv_sample(
        X,
        target,
        task=task,
        max_rows=max_rows,
        folds=folds,
        time_ordered=time_ordered,
        random_state=random_state,
    )
    splits = list(
        make_splitter(task, folds, time_ordered, random_state).split(np.zeros(len(X_cv)), y_cv)
    )
    direction = metric_direction(metric)
    deadline = None if timeout is None else time.monotonic() + timeout
    fold_data = _Folds(X_cv, y_cv, splits, task, labels, metric, random_state, deadline)

    def objective(trial: Trial) -> float:
        if storage is not None:
            trial.set_user_attr(_BEATS, True)
        params = {name: _suggest(trial, name, dist) for name, dist in distributions.items()}
        return run_trial(trial, candidate, preprocessor, params, fold_data)

    _check_stale_after(stale_after)
    with _quiet_optuna(), _open_storage(storage, stale_after) as rdb:
        study = _load_study(rdb, study_name, metric, random_state)
        _fail_stale_trials(study, stale_after)
        previous = len(study.get_trials(deepcopy=False, states=_FINISHED))
        remaining = max(n_trials - previous, 0)
        if remaining:
            # Reseed by progress so a resumed study does not replay the first trials' samples.
            study.sampler = optuna.samplers.TPESampler(seed=random_state + previous)
            callbacks = (
                [] if progress is None else [_ProgressCallback(progress, n_trials, deadline)]
            )
            runner = trial_runner if trial_runner is not None else InProcessTrials()
            runner.optimize(
                study,
                objective,
                n_trials=remaining,
                timeout=timeout,
                catch=(_TrialFailed,),
                storage=storage,
                # Another process tuning the same study (two `loopline run` at once) shares
                # the budget: stop once the study holds n_trials finished trials.
                callbacks=[optuna.study.MaxTrialsCallback(n_trials, states=_FINISHED), *callbacks],
            )
        trials = study.get_trials(deepcopy=False)
        return _result(study, trials, candidate.name, metric, direction, previous)


@dataclass
class _Folds:
    """What every trial of one study cross-validates on."""

    X: pd.DataFrame
    y: np.ndarray
    splits: list[tuple[np.ndarray, np.ndarray]]
    task: str
    labels: list[Any] | None
    metric: str
    random_state: int
    deadline: float | None  # time.monotonic() after which running trials are pruned


def run_trial(
    trial: Trial, candidate: Candidate, preprocessor: Any, params: dict[str, Any], folds: _Folds
) -> float:
    """Cross-validate ``candidate`` with ``params``: one Optuna trial.

    The running mean is reported after each fold, so the pruner (and the deadline) can stop
    the trial early.

    Returns:
        The mean score over folds.

    Raises:
        optuna.TrialPruned: The pruner judged the trial hopeless, or the deadline passed.
        _TrialFailed: A fit or a score failed (the study records it and goes on).
    """
    values: list[float] = []
    result = None
    for step, (train, test) in enumerate(folds.splits):
        if step and folds.deadline is not None and time.monotonic() > folds.deadline:
            raise optuna.TrialPruned(f"the time budget ran out after fold {step}")
        model = candidate.build_pipeline(preprocessor, params, random_state=folds.random_state)
        result = score_fold(
            model,
            folds.X,
            folds.y,
            train,
            test,
            task=folds.task,
            labels=folds.labels,
            metrics=[folds.metric],
        )
        if result.error is not None:
            _fail(trial, f"{type(result.error).__name__}: {result.error}", result.error)
        if folds.metric in result.scores:
            values.append(result.scores[folds.metric])
            trial.report(float(np.mean(values)), step)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after fold {step + 1} of {len(folds.splits)}")
    if not values:
        why = result.skipped.get(folds.metric) if result is not None else "no folds"
        _fail(trial, f"{folds.metric} was undefined in every fold: {why}")
    return float(np.mean(values))


class _ProgressCallback:
    """Tells ``progress`` how many trials are finished and how long the rest should take."""

    def __init__(self, progress: Progress, wanted: int, deadline: float | None) -> None:
        self.progress = progress
        self.wanted = wanted
        self.deadline = deadline
        self.started = time.monotonic()
        self.done_at_start: int | None = None

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        done = len(study.get_trials(deepcopy=False, states=_FINISHED))
        if self.done_at_start is None:
            self.done_at_start = done - 1
        ran = max(done - self.done_at_start, 1)
        left = (time.monotonic() - self.started) / ran * max(self.wanted - done, 0)
        if self.deadline is not None:
            left = min(left, max(self.deadline - time.monotonic(), 0.0))
        self.progress(min(done, self.wanted), self.wanted, left)


def _fail_stale_trials(study: optuna.Study, stale_after: int) -> None:
    """Fail trials whose heartbeat stopped (their process was killed): their slots run again.

    Trials of a live process keep beating and are left alone, so two processes can tune
    one study at once. (Optuna does this too before each trial; doing it first keeps a
    finished search from reporting a dead trial as running.) A running trial that never
    had heartbeats is failed once it is older than ``stale_after``.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    now = datetime.now()  # Optuna stamps trials with naive local times
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        started = trial.datetime_start
        if _BEATS in trial.user_attrs or started is None:
            continue
        if (now - started).total_seconds() > stale_after:
            with contextlib.suppress(RuntimeError, ValueError):  # another process did it
                study.tell(trial.number, state=TrialState.FAIL)


def _check_stale_after(stale_after: int) -> None:
    if isinstance(stale_after, bool) or not isinstance(stale_after, int) or stale_after < 2:
        raise ConfigError(
            f"The 'stale_after' parameter must be an integer number of seconds >= 2. "
            f"Got {stale_after!r} instead.",
            value=stale_after,
        )


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
def _open_storage(
    url: str | None, stale_after: int = 30
) -> Iterator[optuna.storages.RDBStorage | None]:
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
        rdb = _rdb_storage(url, stale_after)
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


def _rdb_storage(url: str, stale_after: int) -> optuna.storages.RDBStorage:
    """Optuna's storage with heartbeats; a race to create its tables is retried.

    Two processes opening a fresh database together both try to create Optuna's tables;
    the loser gets "table ... already exists" and finds them there when it tries again.
    """
    for attempt in range(1, 6):
        try:
            with warnings.catch_warnings():
                # Heartbeats are marked experimental; they tell a trial of a killed process
                # (failed at the next start) from one another process is running now.
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url, heartbeat_interval=max(1, stale_after // 6), grace_period=stale_after
                )
        except Exception as exc:
            text = str(exc).lower()
            if attempt == 5 or not ("already exists" in text or "duplicate" in text):
                raise
            time.sleep(0.2 * attempt)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


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
        if not failed:
            # Every trial was stopped early (by the pruner or the time budget), or the
            # budget was spent before one started: nothing beat the defaults, which is an
            # answer, not an error.
            return TuningResult(
                candidate=candidate,
                metric=metric,
                direction=direction,
                best_params={},
                best_value=math.nan,
                n_trials=pruned,
                n_previous=previous,
                study_name=study.study_name,
                history=_history(trials),
            )
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
