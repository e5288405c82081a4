"""Where tuning trials run (components/_trials.py): in process, or in parallel on Ray.

The Ray tests run when LOOPLINE_TEST_RAY_ADDRESS names a running cluster (.ci/ray.sh).
Their estimator only fits once another trial is fitting at the same time, so they fail
unless trials really run in parallel.
"""

from __future__ import annotations

import re
import sqlite3
import time
import uuid
from pathlib import Path

import numpy as np
import optuna
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_breast_cancer

from loopline.components._candidates import make_candidate
from loopline.components._transform import build_preprocessor
from loopline.components._trials import RayTrials, _split, trials_for_executor
from loopline.components._tune import tune
from loopline.errors import ConfigError, InvalidInputError


class MeetingClassifier(ClassifierMixin, BaseEstimator):
    """Predicts the majority class, after waiting until two fits have started in ``folder``."""

    def __init__(self, folder: str = "", C: float = 1.0, wait: float = 60.0) -> None:
        self.folder = folder
        self.C = C
        self.wait = wait

    def fit(self, X, y):
        Path(self.folder, uuid.uuid4().hex).touch()
        deadline = time.monotonic() + self.wait
        while len(list(Path(self.folder).iterdir())) < 2:
            if time.monotonic() > deadline:
                raise TimeoutError("no other trial fitted at the same time")
            time.sleep(0.01)
        values, counts = np.unique(np.asarray(y), return_counts=True)
        self.classes_ = values
        self.majority_ = values[np.argmax(counts)]
        return self

    def predict(self, X):
        return np.full(len(X), self.majority_)


def meeting(folder: Path, wait: float = 60.0):
    folder.mkdir(exist_ok=True)
    return make_candidate(
        f"{__name__}.MeetingClassifier",
        {"folder": str(folder), "wait": wait},
        name="meeting",
        search_space={"C": {"type": "float", "low": 0.1, "high": 10.0}},
    )


def cancer():
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X, y, build_preprocessor(list(X.columns), [])


def test_split_shares_trials_evenly_over_at_most_that_many_workers() -> None:
    assert _split(5, 2) == [3, 2]
    assert _split(20, 2) == [10, 10]
    assert _split(1, 4) == [1]


def test_the_ray_executor_gets_ray_trials() -> None:
    assert isinstance(trials_for_executor("ray"), RayTrials)
    assert not isinstance(trials_for_executor("process"), RayTrials)


@pytest.mark.parametrize(
    ("workers", "message"),
    [
        (
            0,
            "The 'workers' parameter of RayTrials must be an integer >= 1, or None for one per "
            "CPU of the cluster. Got 0 instead.",
        ),
        (1.5, "must be an integer >= 1, or None for one per CPU of the cluster. Got 1.5 instead."),
        (
            True,
            "must be an integer >= 1, or None for one per CPU of the cluster. Got True instead.",
        ),
    ],
)
def test_bad_worker_counts(workers: object, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        RayTrials(workers=workers)  # type: ignore[arg-type]


def test_ray_trials_need_a_study_storage(tmp_path: Path) -> None:
    X, y, preprocessor = cancer()
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "Tuning on Ray needs the study in a database that every worker can reach; got "
            "storage=None (a study in memory)."
        ),
    ):
        tune(
            X,
            y,
            meeting(tmp_path / "m"),
            preprocessor,
            task="classification",
            metric="accuracy",
            n_trials=2,
            folds=2,
            trial_runner=RayTrials(workers=2),
        )


def test_in_process_trials_do_not_overlap(tmp_path: Path) -> None:
    """The control: one trial at a time never meets another, so every trial fails."""
    X, y, preprocessor = cancer()
    with pytest.raises(InvalidInputError, match="No tuning trial of candidate 'meeting'"):
        tune(
            X,
            y,
            meeting(tmp_path / "m", wait=0.2),
            preprocessor,
            task="classification",
            metric="accuracy",
            n_trials=1,
            folds=2,
        )


def test_trials_run_in_parallel_on_ray_sharing_the_study(ray_cluster: str, tmp_path: Path) -> None:
    X, y, preprocessor = cancer()
    storage = f"sqlite:///{tmp_path / 'store.db'}"
    kwargs = {
        "task": "classification",
        "metric": "accuracy",
        "storage": storage,
        "study_name": "parallel",
        "folds": 2,
        "trial_runner": RayTrials(workers=2),
    }

    first = tune(X, y, meeting(tmp_path / "m"), preprocessor, n_trials=4, **kwargs)
    resumed = tune(X, y, meeting(tmp_path / "m"), preprocessor, n_trials=7, **kwargs)

    assert (first.n_trials, first.n_previous) == (4, 0)
    assert all(entry["state"] == "complete" for entry in first.history)
    assert (resumed.n_trials, resumed.n_previous) == (7, 4)
    stored = optuna.load_study(study_name="parallel", storage=storage)
    assert len(stored.trials) == 7
    assert all(len(trial.intermediate_values) == 2 for trial in stored.trials)  # per fold
    assert len({trial.params["C"] for trial in stored.trials}) == 7  # workers sample apart
    starts = sorted(t.datetime_start for t in stored.trials[:4])
    ends = sorted(t.datetime_complete for t in stored.trials[:4])
    assert starts[1] < ends[0]  # two trials were running at the same time
    with sqlite3.connect(tmp_path / "store.db") as db:  # the workers' trials sent heartbeats
        beating = {row[0] for row in db.execute("SELECT trial_id FROM trial_heartbeats")}
    assert len(beating) == 7


def test_callbacks_see_every_trial_in_this_process(ray_cluster: str, tmp_path: Path) -> None:
    import os

    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(storage=storage, study_name="calls")
    seen: list[tuple[int, int]] = []

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", -1.0, 1.0)
        trial.set_user_attr("pid", os.getpid())
        return x * x

    RayTrials(workers=2).optimize(
        study,
        objective,
        n_trials=5,
        timeout=None,
        catch=(),
        storage=storage,
        callbacks=[lambda s, t: seen.append((t.number, os.getpid()))],
    )

    assert sorted(number for number, _ in seen) == [0, 1, 2, 3, 4]
    assert {pid for _, pid in seen} == {os.getpid()}  # called here, not in the workers
    assert os.getpid() not in {t.user_attrs["pid"] for t in study.trials}  # trials ran there


def test_a_study_budget_runs_in_the_workers(ray_cluster: str, tmp_path: Path) -> None:
    """MaxTrialsCallback (tune's shared budget) stops every worker once the study is full."""
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(storage=storage, study_name="budget")
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=3)  # another run's

    RayTrials(workers=2).optimize(
        study,
        lambda trial: trial.suggest_float("x", 0, 1),
        n_trials=6,
        timeout=None,
        catch=(),
        storage=storage,
        callbacks=[optuna.study.MaxTrialsCallback(5)],
    )

    assert 5 <= len(study.trials) <= 6  # each worker stops once 5 are done (one may be running)
