"""The data a retraining learns from, and where the data changed.

``change_point`` finds the single most likely shift in the mean of a sequence (a model's
per-row errors, or a drifted feature's values, in arrival order): the split that maximises
the two-sample statistic ``|mean_after - mean_before| / (sd * sqrt(1/k + 1/(n-k)))``, kept
only when it exceeds ``threshold`` (the classic CUSUM/binary-segmentation test for one
change in mean; Page 1954, Hinkley 1971). ``training_window`` turns a policy of
``[automation] data_window`` into the rows to train on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: The statistic a change point must exceed. The largest of n correlated |t| values of a
#: stationary sequence stays below ~3.5 for the lengths seen here (a few thousand rows).
CHANGE_THRESHOLD = 4.0
#: The fewest rows on each side of a change point.
MIN_SEGMENT = 30


@dataclass(frozen=True)
class ChangePoint:
    """Where a sequence's mean shifted.

    Attributes:
        index: The first position after the change.
        statistic: The two-sample statistic at that split.
        before: The mean before it.
        after: The mean from it on.
    """

    index: int
    statistic: float
    before: float
    after: float


def change_point(
    values: np.ndarray,
    *,
    threshold: float = CHANGE_THRESHOLD,
    min_segment: int = MIN_SEGMENT,
    increase_only: bool = False,
) -> ChangePoint | None:
    """The most likely single shift in mean of ``values``, or None if none is significant.

    Args:
        values: The sequence, in arrival order (NaN entries are dropped).
        threshold: The statistic the shift must exceed.
        min_segment: The fewest values on each side.
        increase_only: Only shifts upwards count (errors that grew).
    """
    x = np.asarray(values, dtype=float)
    keep = np.flatnonzero(~np.isnan(x))
    x = x[keep]
    n = len(x)
    if n < 2 * min_segment:
        return None
    sd = float(np.std(x))
    if sd == 0:
        return None
    cs = np.cumsum(x)
    k = np.arange(min_segment, n - min_segment + 1)
    before = cs[k - 1] / k
    after = (cs[-1] - cs[k - 1]) / (n - k)
    stat = (after - before) / (sd * np.sqrt(1.0 / k + 1.0 / (n - k)))
    score = stat if increase_only else np.abs(stat)
    best = int(np.argmax(score))
    if not score[best] > threshold:
        return None
    return ChangePoint(
        int(keep[k[best]]), float(stat[best]), float(before[best]), float(after[best])
    )


@dataclass(frozen=True)
class TrainingWindow:
    """The rows a retraining learns from, and how they were chosen.

    Attributes:
        frame: The rows (the source's columns, the target included).
        policy: The ``data_window`` policy.
        description: One line for the ``retrain.started`` event.
        since_change: Rows after the change point (None: no change point was used).
    """

    frame: pd.DataFrame
    policy: str
    description: str
    since_change: int | None = None


def training_window(
    base: pd.DataFrame,
    recent: pd.DataFrame,
    *,
    policy: str,
    window_rows: int | None,
    min_window_rows: int,
    change_at: int | None = None,
) -> TrainingWindow:
    """The training rows ``policy`` chooses from the source and the labelled requests.

    Args:
        base: The training source's rows, oldest first.
        recent: Labelled requests as training rows, oldest first (after ``base``).
        policy: ``sliding``, ``reference_plus_recent`` or ``since_change``.
        window_rows: The most rows kept (``sliding``, ``since_change``).
        min_window_rows: ``since_change`` tops the rows since the change up to this many.
        change_at: Position in ``recent`` of the first row after the change point.
    """
    frames = [f for f in (base, recent) if len(f)]
    both = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].copy()
    if policy == "reference_plus_recent":
        return TrainingWindow(
            both, policy, f"the {len(base)} source rows and {len(recent)} labelled requests"
        )
    if policy == "sliding" or change_at is None:
        frame = both.tail(window_rows) if window_rows else both
        note = "" if policy == "sliding" else " (no change point found: the latest rows)"
        return TrainingWindow(
            frame, policy, f"the latest {len(frame)} of {len(both)} rows{note}", None
        )
    start = len(base) + change_at
    since = len(both) - start
    first = max(0, min(start, len(both) - min_window_rows))
    frame = both.iloc[first:]
    if window_rows:
        frame = frame.tail(window_rows)
    topped = len(frame) - min(since, len(frame))
    return TrainingWindow(
        frame,
        policy,
        f"{min(since, len(frame))} rows since the change point"
        + (f", topped up with the {topped} rows before it" if topped else ""),
        since,
    )
