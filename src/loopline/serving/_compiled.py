"""A served model's fitted parts without scikit-learn's per-call overhead.

scikit-learn re-checks its input and its fitted state on every call, and a forest
dispatches its trees through joblib. That costs milliseconds per call whatever the
number of rows: 2-6 ms for the ``ColumnTransformer`` of 20 numeric columns, 6 ms for a
100-tree random forest, on a 2-core machine; most of the cost of a small batch.

``compile_preprocessing`` turns the fitted preprocessing into one function doing the same
arithmetic:

- the numeric branches (``SimpleImputer`` and ``StandardScaler`` in any order, as
  ``build_preprocessor`` makes them) become numpy on the branch's columns;
- every other branch (categories, dates, text, ...) keeps its own fitted ``transform``,
  called on its columns, without the ``ColumnTransformer`` around it;
- steps before the ``ColumnTransformer`` (``FeatureFunctions``) run as they are.

``compile_probabilities`` sums a random forest's (or extra trees') tree probabilities in
tree order, as scikit-learn does with one job: for a small batch by walking all trees at
once on one flat copy of their nodes, for a larger one tree by tree.

Each is used only if it gives scikit-learn's numbers bit for bit on the package's sample
rows (and, for the preprocessing, on them again with every numeric value missing).
Anything they do not recognise, any input they cannot convert and any infinity or missing
value where scikit-learn checks for them go to scikit-learn's own method, so answers and
errors stay the same.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

Transform = Callable[[pd.DataFrame], np.ndarray]
Predict = Callable[[np.ndarray], np.ndarray]


def compile_preprocessing(preprocess: Any, samples: pd.DataFrame) -> Transform | None:
    """A faster equivalent of ``preprocess.transform``, or ``None`` if there is none.

    Args:
        preprocess: A fitted scikit-learn ``Pipeline`` ending in a ``ColumnTransformer``
            (what precedes the model's estimator).
        samples: Rows of the model's inputs to check the equivalent against.

    Returns:
        A function of a ``DataFrame`` of the model's inputs, giving what
        ``preprocess.transform`` gives, or ``None`` if the pipeline's parts are not ones it
        knows or the check on ``samples`` fails.
    """
    try:
        fast = _compile(preprocess)
        if fast is None or len(samples) == 0:
            return None
        equal = all(_same(fast(probe), preprocess.transform(probe)) for probe in _probes(samples))
    except Exception as exc:  # anything odd: scikit-learn's own transform it is
        logger.debug("The preprocessing is not compiled: %r", exc)
        return None
    if not equal:
        logger.debug("The compiled preprocessing differs from scikit-learn's; not used.")
        return None
    slow: Transform = preprocess.transform

    def transform(frame: pd.DataFrame) -> np.ndarray:
        try:
            return fast(frame)
        except _Unsupported:
            return slow(frame)  # scikit-learn's answer, or its error message

    return transform


class _Unsupported(Exception):
    """An input the compiled function leaves to scikit-learn."""


def _compile(preprocess: Any) -> Transform | None:
    from sklearn.compose import ColumnTransformer

    steps = _flat_steps(preprocess)
    if not steps or not isinstance(steps[-1], ColumnTransformer):
        return None
    before, columns = steps[:-1], steps[-1]
    if getattr(columns, "sparse_output_", True) or _pandas_output(columns):
        return None
    branches = [_branch(name, fitted, selected) for name, fitted, selected in columns.transformers_]
    if any(branch is _UNKNOWN for branch in branches):
        return None
    parts = [branch for branch in branches if branch is not None]

    def transform(frame: pd.DataFrame) -> np.ndarray:
        for step in before:
            frame = step.transform(frame)
        outputs = [part(frame) for part in parts]
        return np.hstack(outputs) if outputs else np.empty((len(frame), 0))

    return transform


_UNKNOWN: Any = object()


def _flat_steps(estimator: Any) -> list[Any]:
    from sklearn.pipeline import Pipeline

    if not isinstance(estimator, Pipeline):
        return [estimator]
    steps: list[Any] = []
    for _, step in estimator.steps:
        if step is None or step == "passthrough":
            continue
        steps.extend(_flat_steps(step))
    return steps


def _pandas_output(estimator: Any) -> bool:
    config: dict[str, Any] = getattr(estimator, "_sklearn_output_config", {})
    return bool(config.get("transform", "default") != "default")


def _branch(name: str, fitted: Any, selected: Any) -> Any:
    """One ``ColumnTransformer`` branch as a function; ``None`` if dropped."""
    if fitted == "drop" or (name == "remainder" and isinstance(fitted, str)):
        return None if fitted == "drop" else _UNKNOWN
    if not isinstance(selected, list) or not all(isinstance(c, str) for c in selected):
        return _UNKNOWN
    if not selected:
        return None
    if isinstance(fitted, str) or _pandas_output(fitted):
        return _UNKNOWN
    numeric = _numeric_steps(_flat_steps(fitted))
    if numeric is not None:
        return _numeric_branch(selected, numeric)
    transform = fitted.transform

    def other(frame: pd.DataFrame) -> np.ndarray:
        try:
            columns = frame[selected]
        except KeyError as exc:
            raise _Unsupported from exc
        output = transform(columns)
        return output.toarray() if hasattr(output, "toarray") else np.asarray(output)

    return other


def _numeric_steps(steps: list[Any]) -> list[Callable[[np.ndarray], np.ndarray]] | None:
    """Numpy versions of an imputer and a scaler, or ``None`` for any other step."""
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import StandardScaler

    operations: list[Callable[[np.ndarray], np.ndarray]] = []
    for step in steps:
        if type(step) is SimpleImputer:
            missing = step.missing_values
            statistics = np.asarray(step.statistics_, dtype=np.float64)
            if (
                not (isinstance(missing, float) and math.isnan(missing))
                or step.add_indicator
                or not np.isfinite(statistics).all()
            ):
                return None
            operations.append(_imputer(statistics))
        elif type(step) is StandardScaler:
            operations.append(_scaler(step))
        else:
            return None
    return operations


def _imputer(statistics: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    def impute(values: np.ndarray) -> np.ndarray:
        missing = np.isnan(values)
        if missing.any():
            values[missing] = np.broadcast_to(statistics, values.shape)[missing]
        return values

    return impute


def _scaler(scaler: Any) -> Callable[[np.ndarray], np.ndarray]:
    mean = scaler.mean_ if scaler.with_mean else None
    scale = scaler.scale_ if scaler.with_std else None

    def standardise(values: np.ndarray) -> np.ndarray:
        if mean is not None:
            values -= mean
        if scale is not None:
            values /= scale
        return values

    return standardise


def _numeric_branch(
    selected: list[str], operations: list[Callable[[np.ndarray], np.ndarray]]
) -> Callable[[pd.DataFrame], np.ndarray]:
    def numeric(frame: pd.DataFrame) -> np.ndarray:
        try:
            values = _numeric_values(frame, selected)
        except (TypeError, ValueError, KeyError) as exc:
            raise _Unsupported from exc
        if np.isinf(values).any():
            raise _Unsupported
        for operation in operations:
            values = operation(values)
        return values

    return numeric


def _numeric_values(frame: pd.DataFrame, selected: list[str]) -> np.ndarray:
    """The ``selected`` columns as a new float64 array (missing values as NaN)."""
    if all(isinstance(dtype, np.dtype) and dtype.kind in "fiub" for dtype in frame.dtypes):
        # One conversion of the whole frame (a single block when all are float64) is
        # much cheaper than one Series per column.
        position = {name: i for i, name in enumerate(frame.columns)}
        whole: np.ndarray = frame.to_numpy(dtype=np.float64)
        picked: np.ndarray = whole[:, [position[name] for name in selected]]  # a copy
        return picked
    values = np.empty((len(frame), len(selected)), dtype=np.float64)
    for i, column in enumerate(selected):
        values[:, i] = frame[column].to_numpy(dtype=np.float64, na_value=np.nan)
    return values


def compile_probabilities(estimator: Any, samples: np.ndarray) -> Predict | None:
    """A faster equivalent of ``estimator.predict_proba``, or ``None`` if there is none.

    Random forests and extra trees (one output) sum their trees' probabilities in tree
    order, as scikit-learn does with one job, without its per-call checks and job dispatch
    (6 ms per call for 100 trees, whatever the number of rows).

    Args:
        estimator: A fitted classifier (the model's last step).
        samples: Preprocessed rows to check the equivalent against.
    """
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

    if type(estimator) not in (RandomForestClassifier, ExtraTreesClassifier):
        return None
    try:
        if estimator.n_outputs_ != 1 or len(samples) == 0:
            return None
        fast = _forest(estimator)
        larger = np.resize(samples, (max(len(samples), _FLAT_ROWS + 1), samples.shape[1]))
        equal = all(  # both ways of walking the trees
            _same(fast(probe), estimator.predict_proba(probe)) for probe in (samples, larger)
        )
    except Exception as exc:
        logger.debug("The estimator is not compiled: %r", exc)
        return None
    if not equal:
        logger.debug("The compiled estimator differs from scikit-learn's; not used.")
        return None
    slow: Predict = estimator.predict_proba

    def predict_proba(X: np.ndarray) -> np.ndarray:
        try:
            return fast(X)
        except _Unsupported:
            return slow(X)

    return predict_proba


def _forest(forest: Any) -> Predict:
    trees = [(tree.tree_, int(tree.n_classes_)) for tree in forest.estimators_]
    classes, features = int(forest.n_classes_), int(forest.n_features_in_)
    flat = _FlatForest(forest.estimators_, classes) if all(n == classes for _, n in trees) else None

    def predict_proba(X: np.ndarray) -> np.ndarray:
        if not isinstance(X, np.ndarray) or X.ndim != 2 or X.shape[1] != features:
            raise _Unsupported
        X32 = np.ascontiguousarray(X, dtype=np.float32)
        if not np.isfinite(X32).all():  # missing values, or too large for float32
            raise _Unsupported
        if flat is not None and len(X32) <= _FLAT_ROWS:
            return flat.predict_proba(X32)
        total = np.zeros((len(X32), classes), dtype=np.float64)
        for tree, n in trees:
            total += tree.predict(X32)[:, :n]
        total /= len(trees)
        return total

    return predict_proba


_FLAT_ROWS = 32
"""Batches up to this many rows walk all trees at once; larger ones go tree by tree.

Below where the per-tree loop became the faster in the trials (64 to over 100 rows,
depending on the trees' depth: docs/benchmarks.md).
"""


class _FlatForest:
    """All trees' nodes in one set of arrays, walked level by level for every (row, tree).

    One numpy step per tree level for the whole batch instead of one ``tree.predict`` call
    per tree: 0.47 ms -> 0.22 ms for one row through 100 trees. A leaf compares against
    +inf and points to itself, so walking on from a leaf stays there. The trees' leaf
    probabilities are added in tree order (``cumsum``), as the per-tree loop adds them, so
    the sums are the same to the bit. The copy costs about 50 bytes per node (47 MB for 100
    trees grown on 100,000 rows).
    """

    def __init__(self, estimators: list[Any], classes: int) -> None:
        feature, threshold, child, leaves, value, roots = [], [], [], [], [], []
        offset = 0
        for estimator in estimators:
            tree = estimator.tree_
            count = int(tree.node_count)
            leaf = tree.children_left < 0
            ids = np.arange(offset, offset + count, dtype=np.int64)
            left = np.where(leaf, ids, tree.children_left + offset)
            right = np.where(leaf, ids, tree.children_right + offset)
            feature.append(np.where(leaf, 0, tree.feature))
            threshold.append(np.where(leaf, np.inf, tree.threshold))
            child.append(np.stack([right, left], axis=1).ravel())  # [x > t, x <= t]
            leaves.append(leaf)
            value.append(tree.value[:, 0, :classes])
            roots.append(offset)
            offset += count
        self.feature = np.concatenate(feature).astype(np.intp)
        self.threshold = np.concatenate(threshold).astype(np.float64)
        self.child = np.concatenate(child).astype(np.intp)
        self.leaf = np.concatenate(leaves)
        self.value = np.ascontiguousarray(np.concatenate(value), dtype=np.float64)
        self.roots = np.array(roots, dtype=np.intp)

    def predict_proba(self, X32: np.ndarray) -> np.ndarray:
        rows, features = X32.shape
        trees = len(self.roots)
        values = X32.astype(np.float64).ravel()  # float32 compared as double, as in the trees
        node = np.tile(self.roots, rows)
        base = np.repeat(np.arange(rows, dtype=np.intp) * features, trees)
        done = np.empty_like(node)
        where = np.arange(len(node), dtype=np.intp)
        level = 0
        while len(node):
            go = values.take(self.feature.take(node) + base) <= self.threshold.take(node)
            node = self.child.take(2 * node + go)
            level += 1
            if level % 3 == 0:
                finished = self.leaf.take(node)
                if finished.any():
                    done[where[finished]] = node[finished]
                    running = ~finished
                    node, base, where = node[running], base[running], where[running]
        leaves = self.value.take(done, axis=0).reshape(rows, trees, -1)
        total: np.ndarray = np.ascontiguousarray(np.cumsum(leaves, axis=1)[:, -1])
        total /= trees
        return total


def _probes(samples: pd.DataFrame) -> list[pd.DataFrame]:
    """The sample rows, and the same rows with every numeric value missing."""
    missing = samples.copy()
    for column in missing.columns:
        if pd.api.types.is_numeric_dtype(missing[column]) and not pd.api.types.is_bool_dtype(
            missing[column]
        ):
            missing[column] = np.nan
    return [samples, missing, samples.iloc[:1]]


def _same(got: np.ndarray, expected: Any) -> bool:
    return (
        isinstance(expected, np.ndarray)
        and got.dtype == expected.dtype
        and got.shape == expected.shape
        and np.array_equal(got, expected, equal_nan=True)
    )
