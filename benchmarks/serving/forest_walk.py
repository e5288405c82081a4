"""A served random forest: the flat walk of all trees against the per-tree loop.

    python benchmarks/serving/forest_walk.py [--calls 200]

A 100-tree ``RandomForestClassifier`` grown on 100,000 rows (``make_classification``, 20
features, seed 0). For batches of 1 to 100 rows: the median time of ``calls`` calls of the
per-tree loop (``tree.predict`` per tree, summed in order, what ``_forest`` does above 32
rows) and of ``_FlatForest.predict_proba`` (what it does up to 32 rows), after checking
that both give the same numbers to the bit. Also the flat copy's size.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier

from loopline.serving._compiled import _FlatForest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    X, y = make_classification(100_000, 20, n_informative=10, random_state=0)
    forest = RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=2).fit(X, y)
    flat = _FlatForest(forest.estimators_, int(forest.n_classes_))
    trees = [estimator.tree_ for estimator in forest.estimators_]

    def loop(X32: np.ndarray) -> np.ndarray:
        total = np.zeros((len(X32), 2))
        for tree in trees:
            total += tree.predict(X32)[:, :2]
        return total / len(trees)

    for rows in (1, 4, 16, 32, 48, 64, 100):
        X32 = np.ascontiguousarray(X[:rows], dtype=np.float32)
        assert np.array_equal(flat.predict_proba(X32), loop(X32))
        medians = []
        for predict in (loop, flat.predict_proba):
            times = []
            for _ in range(args.calls):
                start = time.perf_counter()
                predict(X32)
                times.append(time.perf_counter() - start)
            medians.append(statistics.median(times) * 1e3)
        print(f"{rows:>4} rows: loop {medians[0]:.3f} ms, flat {medians[1]:.3f} ms")
    arrays = (flat.feature, flat.threshold, flat.child, flat.leaf, flat.value)
    size = sum(array.nbytes for array in arrays)
    print(f"flat copy: {len(flat.feature):,} nodes, {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
