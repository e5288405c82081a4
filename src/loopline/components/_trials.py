"""Where the trials of a tuning study run: in this process, or in parallel on Ray workers.

``tune`` builds the study and the objective; a trial runner only decides where
``study.optimize`` happens. :class:`RayTrials` starts one Ray task per worker; each
loads the same study from its database and optimises its share of the trials, so the
workers coordinate through the study's storage (Optuna's own way to parallelise), the
sampler sees every finished trial, and pruning compares with all of them. PostgreSQL is
the store for this at scale; a SQLite store works on one machine (WAL). See
docs/decisions/0007-ray-executor.md for why not Ray Tune.
"""

from __future__ import annotations

import copy
import importlib
import os
import sys
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import optuna
from optuna.trial import FrozenTrial, Trial, TrialState

from ..errors import BackendUnavailableError, ConfigError

__all__ = [
    "BaseTrialRunner",
    "InProcessTrials",
    "RayTrials",
    "trials_for_executor",
]

Objective = Callable[[Trial], float]
Callback = Callable[[optuna.Study, FrozenTrial], None]


class BaseTrialRunner(ABC):
    """Runs ``n_trials`` trials of a study; what ``tune(..., trials=...)`` accepts."""

    @abstractmethod
    def optimize(
        self,
        study: optuna.Study,
        objective: Objective,
        *,
        n_trials: int,
        timeout: float | None,
        catch: tuple[type[Exception], ...],
        storage: str | None,
        callbacks: Sequence[Callback] = (),
    ) -> None:
        """Run ``n_trials`` trials of ``study`` (stopping new ones after ``timeout`` s).

        Args:
            study: The study, already created in ``storage``.
            objective: The trial function.
            n_trials: How many trials to run in all.
            timeout: Seconds after which no new trial starts; None for no limit.
            catch: Exceptions that fail one trial without stopping the study.
            storage: The SQLAlchemy URL the study lives in (None: in memory).
            callbacks: Called with each finished trial, as by ``Study.optimize``.
                Runners that spread trials over workers call them in this process
                (progress displays), except ``optuna.study.MaxTrialsCallback``, which
                bounds the study's total and so runs in every worker.
        """


class InProcessTrials(BaseTrialRunner):
    """Run the trials one after another in this process (the default)."""

    def optimize(
        self,
        study: optuna.Study,
        objective: Objective,
        *,
        n_trials: int,
        timeout: float | None,
        catch: tuple[type[Exception], ...],
        storage: str | None,
        callbacks: Sequence[Callback] = (),
    ) -> None:
        study.optimize(
            objective, n_trials=n_trials, timeout=timeout, catch=catch, callbacks=list(callbacks)
        )


class RayTrials(BaseTrialRunner):
    """Run the trials in parallel Ray tasks that share the study through its storage.

    Args:
        workers: Parallel trial tasks (each asks Ray for one CPU); by default as many as
            the cluster has CPUs, never more than the trials.
        address: The Ray cluster to connect to when this process is not connected yet
            (``auto``, ``HOST:PORT``, ``ray://HOST:10001``, ``local``); None as ``ray.init()``.
            Inside a step run by the Ray executor the step's cluster is used.

    Raises:
        ConfigError: ``workers`` is not a positive integer (or, when used, Ray is missing
            or the study has no storage).
    """

    def __init__(self, workers: int | None = None, address: str | None = None) -> None:
        if workers is not None and (
            isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
        ):
            raise ConfigError(
                f"The 'workers' parameter of RayTrials must be an integer >= 1, or None for "
                f"one per CPU of the cluster. Got {workers!r} instead.",
                value=workers,
            )
        self.workers = workers
        self.address = address

    def optimize(
        self,
        study: optuna.Study,
        objective: Objective,
        *,
        n_trials: int,
        timeout: float | None,
        catch: tuple[type[Exception], ...],
        storage: str | None,
        callbacks: Sequence[Callback] = (),
    ) -> None:
        if storage is None:
            raise ConfigError(
                "Tuning on Ray needs the study in a database that every worker can reach; "
                "got storage=None (a study in memory).",
                hint="Pass storage='postgresql+psycopg://...' (or a SQLite URL on one machine).",
                value=None,
            )
        from ..pipeline import RayExecutor

        # Connecting through the executor gives its clear errors (no Ray, no cluster); it
        # reuses this process's connection inside a step that runs on Ray.
        connection = RayExecutor(self.address)
        try:
            # Typed as Any: mypy runs with and without the ray extra installed.
            ray: Any = importlib.import_module("ray")
            workers = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
            shares = _split(n_trials, workers)
            task = ray.remote(num_cpus=1, max_retries=0)(_optimize_share)
            shipped = ray.put(objective)
            # A budget over the whole study (it calls study.stop()) must act where the
            # trials run; every other callback observes, here.
            budgets = [cb for cb in callbacks if isinstance(cb, optuna.study.MaxTrialsCallback)]
            observers = [cb for cb in callbacks if cb not in budgets]
            refs = [
                task.remote(
                    study.study_name,
                    storage,
                    _sampler_for(study, index),
                    study.pruner,
                    shipped,
                    share,
                    timeout,
                    catch,
                    budgets,
                    _heartbeat_of(study),
                    list(sys.path),
                )
                for index, share in enumerate(shares)
            ]
            try:
                _wait(ray, refs, study, observers)
            except Exception as exc:
                for ref in refs:
                    ray.cancel(ref, force=True)
                raise BackendUnavailableError(
                    f"A Ray worker running trials of study {study.study_name!r} failed: "
                    f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1]}",
                    hint="The trials it finished are in the study; run again to resume.",
                    value=study.study_name,
                ) from exc
        finally:
            connection.shutdown()


def trials_for_executor(executor: str) -> BaseTrialRunner:
    """The trial runner that matches the executor a step runs on: Ray trials on ``ray``."""
    return RayTrials() if executor == "ray" else InProcessTrials()


#: How often the driver looks for newly finished trials to pass to the callbacks.
POLL_SECONDS = 1.0


def _wait(ray: Any, refs: list[Any], study: optuna.Study, callbacks: Sequence[Callback]) -> None:
    """Wait for the trial tasks; call ``callbacks`` here with each trial that finished.

    Callbacks run in the caller's process (where a progress display lives), from the
    study's storage, within about ``POLL_SECONDS`` of each trial's end.
    """
    ended = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    seen = {t.number for t in study.get_trials(deepcopy=False, states=ended)}
    pending = list(refs)
    while True:
        if pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=POLL_SECONDS)
            ray.get(done)  # raises what a task raised
        if callbacks:
            for trial in study.get_trials(deepcopy=False, states=ended):
                if trial.number not in seen:
                    seen.add(trial.number)
                    for callback in callbacks:
                        callback(study, trial)
        if not pending:
            return


def _heartbeat_of(study: optuna.Study) -> tuple[int, int | None] | None:
    """The heartbeat settings of the study's database, for the workers' connections.

    Trials in the workers beat like the caller's would, so a trial left running by a
    killed worker is failed as stale (``tune`` does that at its next start). Optuna keeps
    the settings on the RDBStorage its study wraps; there is no public accessor.
    """
    storage = getattr(study, "_storage", None)
    inner = getattr(storage, "_backend", storage)
    if isinstance(inner, optuna.storages.RDBStorage) and inner.heartbeat_interval:
        return inner.heartbeat_interval, inner.grace_period
    return None


def _split(n_trials: int, workers: int) -> list[int]:
    """``n_trials`` as near-equal shares for at most ``n_trials`` workers."""
    workers = min(workers, n_trials)
    return [n_trials // workers + (i < n_trials % workers) for i in range(workers)]


def _sampler_for(study: optuna.Study, index: int) -> optuna.samplers.BaseSampler:
    """The study's sampler for worker ``index``: the first keeps its seed, others reseed."""
    sampler = copy.deepcopy(study.sampler)
    if index:
        sampler.reseed_rng()
    return sampler


def _optimize_share(
    study_name: str,
    storage: str,
    sampler: optuna.samplers.BaseSampler,
    pruner: optuna.pruners.BasePruner,
    objective: Objective,
    n_trials: int,
    timeout: float | None,
    catch: tuple[type[Exception], ...],
    callbacks: list[Callback],
    heartbeat: tuple[int, int | None] | None,
    paths: list[str],
) -> None:
    """One Ray task: load the shared study and run ``n_trials`` of its trials.

    ``paths`` is the driver's ``sys.path``; entries that exist here are added so the
    estimator classes the objective names import as they do in the driver.
    """
    for entry in paths:
        if entry not in sys.path and os.path.isdir(entry):
            sys.path.append(entry)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if heartbeat is None:
            rdb = optuna.storages.RDBStorage(storage)
        else:
            interval, grace = heartbeat
            rdb = optuna.storages.RDBStorage(
                storage, heartbeat_interval=interval, grace_period=grace
            )
    try:
        study = optuna.load_study(
            study_name=study_name, storage=rdb, sampler=sampler, pruner=pruner
        )
        study.optimize(
            objective, n_trials=n_trials, timeout=timeout, catch=catch, callbacks=callbacks
        )
    finally:
        rdb.engine.dispose()
