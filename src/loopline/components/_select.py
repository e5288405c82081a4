"""Model selection: cross-validate every candidate and rank them on a leaderboard.

The preprocessor is cloned and fitted inside each fold together with the estimator, so
imputation medians, scaling and category lists never see the validation rows. A dummy
baseline (the majority class with the class priors, or the mean) is cross-validated on the
same folds, so the leaderboard shows what "no model" scores.

Large data is cross-validated on a stratified sample (``max_rows``); folds run one after
the other over all candidates, so when ``time_budget`` runs out every candidate has been
scored on the same folds and the ranking stays fair.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.model_selection import KFold, StratifiedKFold, TimeSeriesSplit
from threadpoolctl import threadpool_limits

from ..errors import ConfigError, InvalidInputError, LooplineError
from ._candidates import Candidate
from ._evaluate import (
    METRICS,
    check_metric,
    check_task,
    metric_direction,
    predict_proba_aligned,
    score_predictions,
)
from ._imbalance import class_balance

__all__ = [
    "Leaderboard",
    "LeaderboardRow",
    "cross_validate_candidates",
]


@dataclass
class LeaderboardRow:
    """Cross-validated scores of one candidate.

    Attributes:
        name: Candidate name.
        estimator: Import path of the estimator class.
        params: The candidate's fixed parameters.
        means: Metric -> mean over folds (folds where it was undefined are left out).
        stds: Metric -> standard deviation over the same folds.
        skipped: Metric -> why it was undefined in some or all folds.
        fit_seconds: Total time spent fitting and scoring, over all folds.
        error: Why the candidate failed, or None.
        folds_done: Folds it was scored on.
    """

    name: str
    estimator: str
    params: dict[str, Any] = field(default_factory=dict)
    means: dict[str, float] = field(default_factory=dict)
    stds: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    fit_seconds: float = 0.0
    error: str | None = None
    folds_done: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return the row as plain JSON values."""
        return {
            "name": self.name,
            "estimator": self.estimator,
            "params": dict(self.params),
            "means": dict(self.means),
            "stds": dict(self.stds),
            "skipped": dict(self.skipped),
            "fit_seconds": self.fit_seconds,
            "error": self.error,
            "folds_done": self.folds_done,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LeaderboardRow:
        """Rebuild a row from ``to_dict()`` output."""
        return cls(
            name=data["name"],
            estimator=data["estimator"],
            params=dict(data.get("params", {})),
            means={k: float(v) for k, v in data.get("means", {}).items()},
            stds={k: float(v) for k, v in data.get("stds", {}).items()},
            skipped=dict(data.get("skipped", {})),
            fit_seconds=float(data.get("fit_seconds", 0.0)),
            error=data.get("error"),
            folds_done=int(data.get("folds_done", 0)),
        )


@dataclass
class Leaderboard:
    """Candidates ranked by the mean of one metric, best first.

    Attributes:
        task: ``"classification"`` or ``"regression"``.
        metric: The ranking metric.
        direction: ``"max"`` or ``"min"``: which way the metric improves.
        folds: Number of cross-validation folds.
        rows: One row per candidate; failed candidates and undefined scores come last.
        baseline: The dummy baseline's scores on the same folds (not a candidate).
        cv_rows: Rows cross-validated (a stratified sample of ``total_rows`` when large).
        total_rows: Rows given.
        seconds: Wall time of the whole cross-validation.
        note: Why fewer folds than asked were run (the time budget), or None.
        balance: The target's class balance (classification), see ``ClassBalance``.
    """

    task: str
    metric: str
    direction: str
    folds: int
    rows: list[LeaderboardRow] = field(default_factory=list)
    baseline: LeaderboardRow | None = None
    cv_rows: int = 0
    total_rows: int = 0
    seconds: float = 0.0
    note: str | None = None
    balance: dict[str, Any] | None = None

    @property
    def best(self) -> LeaderboardRow:
        """The top row among candidates that did not fail.

        Raises:
            InvalidInputError: Every candidate failed.
        """
        for row in self.rows:
            if row.error is None and self.metric in row.means:
                return row
        raise InvalidInputError(
            f"No candidate has a {self.metric!r} score: every candidate failed or the "
            "metric was undefined in every fold.",
            value=self.metric,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the leaderboard as plain JSON values."""
        return {
            "task": self.task,
            "metric": self.metric,
            "direction": self.direction,
            "folds": self.folds,
            "rows": [row.to_dict() for row in self.rows],
            "baseline": None if self.baseline is None else self.baseline.to_dict(),
            "cv_rows": self.cv_rows,
            "total_rows": self.total_rows,
            "seconds": self.seconds,
            "note": self.note,
            "balance": self.balance,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Leaderboard:
        """Rebuild a leaderboard from ``to_dict()`` output."""
        return cls(
            task=data["task"],
            metric=data["metric"],
            direction=data["direction"],
            folds=int(data["folds"]),
            rows=[LeaderboardRow.from_dict(row) for row in data.get("rows", [])],
            baseline=LeaderboardRow.from_dict(base) if (base := data.get("baseline")) else None,
            cv_rows=int(data.get("cv_rows", 0)),
            total_rows=int(data.get("total_rows", 0)),
            seconds=float(data.get("seconds", 0.0)),
            note=data.get("note"),
            balance=data.get("balance"),
        )

    def set_aside_slow(self, n_rows: int, limit: float) -> None:
        """Mark candidates whose fit on ``n_rows`` rows would take over ``limit`` seconds.

        They keep their scores but get an ``error`` saying why, which ranks them last; the
        fastest candidate is never set aside, so there is always one to train.
        """
        usable = [r for r in self.rows if r.error is None and self.metric in r.means]
        if not usable:
            return
        fastest = min(usable, key=lambda r: self.estimate_fit_seconds(r.name, n_rows))
        for row in usable:
            estimate = self.estimate_fit_seconds(row.name, n_rows)
            if row is not fastest and estimate > limit:
                row.error = (
                    f"set aside: fitting it on all {n_rows} rows would take about "
                    f"{estimate:.0f} s, more than the {limit:.0f} s the time budget allows"
                )
        self.rows.sort(key=lambda row: _rank_key(row, self.metric, self.direction))

    def estimate_fit_seconds(self, name: str, n_rows: int) -> float:
        """Seconds one fit of candidate ``name`` on ``n_rows`` rows should take.

        Scaled from its cross-validation fits (slightly worse than linearly in the rows).
        """
        row = next((r for r in self.rows if r.name == name), None)
        if row is None or not row.folds_done or not self.cv_rows:
            return 0.0
        per_fit = row.fit_seconds / row.folds_done
        fold_rows = max(self.cv_rows * (self.folds - 1) / self.folds, 1.0)
        return float(per_fit * max(n_rows / fold_rows, 1.0) ** 1.1)

    def to_frame(self) -> pd.DataFrame:
        """One row per candidate: name, estimator, ``<metric>_mean``/``_std``, time, error."""
        metrics = [m for m, (task, _) in METRICS.items() if task == self.task]
        records = []
        for row in self.rows:
            record: dict[str, Any] = {"name": row.name, "estimator": row.estimator}
            for metric in metrics:
                record[f"{metric}_mean"] = row.means.get(metric, np.nan)
                record[f"{metric}_std"] = row.stds.get(metric, np.nan)
            record["fit_seconds"] = row.fit_seconds
            record["error"] = row.error
            records.append(record)
        return pd.DataFrame.from_records(records)


def cross_validate_candidates(
    X: pd.DataFrame,
    y: pd.Series | Sequence[Any] | np.ndarray,
    candidates: Sequence[Candidate],
    preprocessor: Any,
    *,
    task: str,
    metric: str,
    folds: int = 5,
    time_ordered: bool = False,
    random_state: int = 0,
    n_jobs: int | None = 1,
    max_rows: int | None = None,
    time_budget: float | None = None,
    progress: Progress | None = None,
) -> Leaderboard:
    """Cross-validate every candidate on the same folds and rank them by ``metric``.

    Folds are stratified for classification, successive (``TimeSeriesSplit``) when
    ``time_ordered`` (rows must then be sorted by time), shuffled ``KFold`` otherwise.
    A candidate that raises is kept on the leaderboard with its error, ranked last.

    Args:
        X: Features, one row per example.
        y: Target, one value per row of ``X``.
        candidates: The candidates to compare.
        preprocessor: Unfitted transformer, cloned and fitted within each fold.
        task: ``"classification"`` or ``"regression"``.
        metric: The ranking metric (a name from ``METRICS`` for the task, or a custom
            metric's import path).
        folds: Number of folds (at least 2).
        time_ordered: Use successive time-ordered folds instead of shuffled ones.
        random_state: Seed for shuffling and for the estimators.
        n_jobs: Number of candidate fits of one fold to run in parallel (joblib).
        max_rows: Cross-validate a stratified sample of at most this many rows (the
            latest rows when ``time_ordered``); all rows when None.
        time_budget: Seconds; no further fold is started once the folds done so far
            suggest the next would end past it (the first fold always runs).
        progress: Called with ``(fits done, fits in all, seconds left)`` after each fold.

    Returns:
        The leaderboard, best first, with the dummy baseline beside it.

    Raises:
        ConfigError: The task, metric, folds or candidates are invalid.
        InvalidInputError: The data cannot be cross-validated (too few rows, missing target
            values, one class, a class smaller than ``folds``), or every candidate failed.
    """
    task = check_task(task)
    check_metric(metric, task)
    _check_candidates(candidates)
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
    wanted = [m for m, (kind, _) in METRICS.items() if kind == task]
    wanted += [] if metric in wanted else [metric]  # a custom metric
    everyone = [baseline_candidate(task), *candidates]
    results: list[list[FoldResult]] = [[] for _ in everyone]
    start = time.monotonic()
    note = None
    for fold, (train, test) in enumerate(splits):
        elapsed = time.monotonic() - start
        if fold and time_budget is not None and elapsed * (fold + 1) / fold > time_budget:
            note = (
                f"ranked on {fold} of {folds} folds: the time budget of {time_budget:.0f} s "
                "would have run out"
            )
            break
        jobs = [
            delayed(score_fold)(
                _pipeline(candidate, preprocessor, random_state),
                X_cv,
                y_cv,
                train,
                test,
                task=task,
                labels=labels,
                metrics=wanted,
            )
            for candidate in everyone
        ]
        for found, result in zip(results, Parallel(n_jobs=n_jobs)(jobs), strict=True):
            found.append(result)
        if progress is not None:
            spent = time.monotonic() - start
            left = spent / (fold + 1) * (len(splits) - fold - 1)
            progress((fold + 1) * len(everyone), len(splits) * len(everyone), left)
    rows = [_summarise(c, found) for c, found in zip(everyone, results, strict=True)]
    baseline, rows = rows[0], rows[1:]
    _raise_if_all_failed(rows, [r for found in results[1:] for r in found])
    direction = metric_direction(metric)
    rows.sort(key=lambda row: _rank_key(row, metric, direction))
    return Leaderboard(
        task=task,
        metric=metric,
        direction=direction,
        folds=folds,
        rows=rows,
        baseline=baseline,
        cv_rows=len(X_cv),
        total_rows=len(X),
        seconds=time.monotonic() - start,
        note=note,
        balance=class_balance(target).to_dict() if task == "classification" else None,
    )


#: ``progress(done, total, seconds_left)``: how far a long computation is.
Progress = Callable[[int, int, float | None], None]


def baseline_candidate(task: str) -> Candidate:
    """The dummy baseline: the majority class (with the class priors as probabilities), or
    the mean of the target."""
    if task == "classification":
        return Candidate("baseline", "sklearn.dummy.DummyClassifier", {"strategy": "prior"})
    return Candidate("baseline", "sklearn.dummy.DummyRegressor", {"strategy": "mean"})


def _pipeline(candidate: Candidate, preprocessor: Any, random_state: int) -> Any:
    if candidate.name == "baseline" and candidate.estimator.startswith("sklearn.dummy."):
        return candidate.build()  # ignores X: no preprocessing to fit
    return candidate.build_pipeline(preprocessor, random_state=random_state)


def cv_sample(
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    task: str,
    max_rows: int | None,
    folds: int,
    time_ordered: bool = False,
    random_state: int = 0,
) -> tuple[pd.DataFrame, np.ndarray]:
    """At most ``max_rows`` rows of ``X``/``y`` for cross-validation, in their original order.

    Time-ordered data keeps its latest rows. Classification keeps each class's share, and
    at least ``folds`` rows of every class so stratified folds still work; regression
    samples uniformly. With a seed the sample is the same in selection and tuning.
    """
    n = len(X)
    if max_rows is None or n <= max_rows:
        return X, y
    if time_ordered:
        return X.iloc[n - max_rows :], y[n - max_rows :]
    rng = np.random.default_rng(random_state)
    if task != "classification":
        keep = rng.choice(n, size=max_rows, replace=False)
    else:
        codes, counts = np.unique(y.astype(str), return_inverse=True, return_counts=True)[1:]
        parts = []
        for code, count in enumerate(counts):
            members = np.flatnonzero(codes == code)
            take = min(int(count), max(folds, int(round(count * max_rows / n))))
            parts.append(rng.choice(members, size=take, replace=False))
        keep = np.concatenate(parts)
    keep.sort()
    return X.iloc[keep], y[keep]


def check_cv_data(
    X: Any, y: Any, *, task: str, folds: int, time_ordered: bool = False
) -> np.ndarray:
    """Check that ``X``/``y`` can be split into ``folds`` folds, and return ``y`` as an array.

    Args:
        X: Features (a DataFrame).
        y: Target.
        task: ``"classification"`` or ``"regression"``.
        folds: Number of folds.
        time_ordered: Whether ``TimeSeriesSplit`` will be used.

    Returns:
        The target as a 1-d numpy array.

    Raises:
        ConfigError: ``folds`` is not an integer >= 2.
        InvalidInputError: What is wrong with the data, and how to fix it.
    """
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ConfigError(
            f"The 'folds' parameter must be an integer >= 2. Got {folds!r} instead.",
            value=folds,
        )
    if not isinstance(X, pd.DataFrame):
        raise InvalidInputError(
            f"X must be a pandas DataFrame. Got {type(X).__name__}.", value=type(X).__name__
        )
    series = y if isinstance(y, pd.Series) else pd.Series(np.asarray(y))
    if len(series) != len(X):
        raise InvalidInputError(
            f"The target has {len(series)} values but X has {len(X)} rows; give one per row.",
            value=len(series),
        )
    _check_target_missing(series)
    needed = folds + 1 if time_ordered else folds
    if len(X) < needed:
        split = "time-ordered " if time_ordered else ""
        raise InvalidInputError(
            f"Cannot run {folds}-fold {split}cross-validation on {len(X)} rows: it needs at "
            f"least {needed}. Use folds <= {max(len(X) - (needed - folds), 1)} or give more rows.",
            value=len(X),
        )
    if task == "classification":
        _check_classes(series, folds, stratified=not time_ordered)
    target: np.ndarray = series.to_numpy()
    return target


def class_labels(y: np.ndarray) -> list[Any]:
    """The distinct labels of ``y``, sorted (by their text when types are mixed)."""
    unique = list(pd.unique(y))
    try:
        return sorted(unique)
    except TypeError:
        return sorted(unique, key=str)


def make_splitter(task: str, folds: int, time_ordered: bool, random_state: int) -> Any:
    """Return the cross-validation splitter for the task (see ``cross_validate_candidates``).

    Returns:
        A ``TimeSeriesSplit``, ``StratifiedKFold`` or shuffled ``KFold``.
    """
    if time_ordered:
        return TimeSeriesSplit(n_splits=folds)
    if task == "classification":
        return StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
    return KFold(n_splits=folds, shuffle=True, random_state=random_state)


@dataclass
class FoldResult:
    """Scores of one fit on one fold, or the exception it raised."""

    scores: dict[str, float]
    skipped: dict[str, str]
    seconds: float
    error: BaseException | None = None


def score_fold(
    model: Any,
    X: pd.DataFrame,
    y: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    *,
    task: str,
    labels: Sequence[Any] | None,
    metrics: Sequence[str] | None = None,
) -> FoldResult:
    """Fit ``model`` on the train rows and score it on the test rows, catching failures.

    Args:
        model: Unfitted pipeline (fitted in place).
        X: All features.
        y: All targets.
        train: Positions of the training rows.
        test: Positions of the validation rows.
        task: ``"classification"`` or ``"regression"``.
        labels: All class labels (classification).
        metrics: Metrics to compute; all of the task's by default.

    Returns:
        The fold's scores, or the exception the fit or prediction raised.

    The fit runs on one thread (OpenMP and BLAS): folds are small and the cores are
    better used by other fits; on a busy machine a multi-threaded gradient boosting on a
    few hundred rows can take 40 times longer than on one thread.
    """
    start = time.perf_counter()
    try:
        with threadpool_limits(limits=1):
            model.fit(X.iloc[train], y[train])
        X_test = X.iloc[test]
        y_pred = np.asarray(model.predict(X_test))
        proba = None
        if task == "classification" and labels is not None:
            proba = predict_proba_aligned(model, X_test, labels)
        scores, skipped = score_predictions(
            task, y[test], y_pred, proba=proba, labels=labels, metrics=metrics
        )
    except Exception as exc:  # a failing candidate is reported, not fatal to the others
        return FoldResult({}, {}, time.perf_counter() - start, exc)
    return FoldResult(scores, skipped, time.perf_counter() - start)


def _summarise(candidate: Candidate, results: list[FoldResult]) -> LeaderboardRow:
    row = LeaderboardRow(
        name=candidate.name,
        estimator=candidate.estimator,
        params=dict(candidate.params),
        fit_seconds=float(sum(r.seconds for r in results)),
        folds_done=len(results),
    )
    failed = next((r.error for r in results if r.error is not None), None)
    if failed is not None:
        row.error = f"{type(failed).__name__}: {failed}"
        return row
    metrics = {m for r in results for m in [*r.scores, *r.skipped]}
    for metric in sorted(metrics):
        values = [r.scores[metric] for r in results if metric in r.scores]
        reasons = [r.skipped[metric] for r in results if metric in r.skipped]
        if values:
            row.means[metric] = float(np.mean(values))
            row.stds[metric] = float(np.std(values))
        if reasons:
            row.skipped[metric] = (
                f"undefined in {len(reasons)} of {len(results)} folds: {reasons[0]}"
            )
    return row


def _rank_key(row: LeaderboardRow, metric: str, direction: str) -> tuple[int, float]:
    if row.error is not None:
        return (2, 0.0)
    if metric not in row.means:
        return (1, 0.0)
    value = row.means[metric]
    return (0, -value if direction == "max" else value)


def _raise_if_all_failed(rows: list[LeaderboardRow], results: list[FoldResult]) -> None:
    if not rows or any(row.error is None for row in rows):
        return
    first = next(r.error for r in results if r.error is not None)
    if isinstance(first, LooplineError):
        raise first
    summary = "; ".join(f"{row.name}: {row.error}" for row in rows)
    raise InvalidInputError(
        f"Every candidate failed during cross-validation. {summary}", value=len(rows)
    ) from first


def _check_candidates(candidates: Sequence[Candidate]) -> None:
    if not candidates:
        raise ConfigError(
            "No candidates to cross-validate; give at least one (see default_candidates).",
            value=list(candidates),
        )
    names = [c.name for c in candidates]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(
            f"Candidate name(s) {', '.join(map(repr, repeated))} are used more than once; "
            "give each candidate a unique name.",
            value=repeated,
        )


def _check_target_missing(series: pd.Series) -> None:
    missing = series.isna().to_numpy()
    if missing.any():
        positions = np.flatnonzero(missing)
        shown = ", ".join(str(p) for p in positions[:5]) + (", ..." if len(positions) > 5 else "")
        raise InvalidInputError(
            f"The target has {len(positions)} missing values (at row positions {shown}); "
            "drop or fill those rows first.",
            value=int(len(positions)),
        )


def _check_classes(series: pd.Series, folds: int, *, stratified: bool) -> None:
    counts = series.value_counts()
    if len(counts) < 2:
        raise InvalidInputError(
            f"The target has a single class ({_show(counts.index[0])} in all {len(series)} rows); "
            "classification needs at least two. Check the target column, or use "
            "task='regression' for a numeric target.",
            value=counts.index[0],
        )
    if not stratified:
        return
    small = counts[counts < folds]
    if len(small):
        listed = ", ".join(f"{_show(label)} ({int(n)} rows)" for label, n in small.items())
        raise InvalidInputError(
            f"Stratified {folds}-fold cross-validation needs at least {folds} rows of each "
            f"class; class(es) {listed} have fewer. Use folds <= {int(small.min())}, gather "
            "more rows of those classes, or drop them.",
            value=list(small.index),
        )


def _show(label: Any) -> str:
    """repr of a label, as a plain Python value (``1`` rather than ``np.int64(1)``)."""
    return repr(label.item() if isinstance(label, np.generic) else label)
