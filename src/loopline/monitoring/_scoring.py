"""Scoring one feature of a window against its baseline: the tests and the verdict.

Which test decides, per kind. With a million rows every tiny shift is "significant", and
with twenty rows a large one may be chance, so a feature drifts only when a test is
significant *and* the change is large enough to matter (the pairing that Evidently's
defaults approximate by switching from p-values to distances above 1,000 rows):

=============  ================================  ==========================================
kind           significant (p-value)             and large enough (effect size)
=============  ================================  ==========================================
numeric        KS p < ``ks_alpha``               KS > ``ks_threshold`` or PSI >
                                                 ``psi_threshold``
categorical,   chi-square p < ``chi2_alpha``     JS distance > ``js_threshold`` or PSI >
boolean                                          ``psi_threshold``
any            missing counts: chi-square p <    the missing rate moved by more than
               ``chi2_alpha``                    ``missing_rate_threshold``
=============  ================================  ==========================================

The KS statistic is a *one-sample* test of the window against the training CDF rebuilt from
the statistics (see ``_baseline``), since the training rows are not kept; its p-value uses
the effective sample size ``n*m/(n+m)`` of the two-sample test (``m`` training values), as
``scipy.stats.ks_2samp`` does. The chi-square test is the two-sample test of homogeneity
(training counts against window counts), which also copes with categories the training
data never had. Datetime features are compared on missing values only.

Speed: a numeric column costs one sort of the window's values and two binary searches of a
few thousand precomputed points into them (PSI counts, KS distance and the range check all
come from those); a categorical column costs one ``value_counts``. No Python loop runs over
rows.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import special, stats

from loopline.components import column_kind, psi, to_float_array, value_counts
from loopline.errors import InvalidInputError

from ._baseline import FeatureBaseline
from ._report import FeatureDrift

__all__ = ["Thresholds", "empty_feature", "missing_feature", "score_feature"]

#: Above this effective sample size the KS p-value comes from the limiting (Kolmogorov)
#: distribution, within about 5% (relative) of the exact one at this size and closer beyond:
#: scipy's exact-n ``kstwo.sf`` costs about 1 ms per call here, 7 ms at 10^4 and up to a
#: second at 10^6.
_KS_EXACT_MAX_N = 2_000
_UNSEEN_EXAMPLES = 10


class Thresholds(NamedTuple):
    """The detector's checked parameters."""

    psi_threshold: float
    ks_alpha: float
    ks_threshold: float
    chi2_alpha: float
    js_threshold: float
    missing_rate_threshold: float
    drift_share: float


def empty_feature(baseline: FeatureBaseline) -> FeatureDrift:
    """A feature of an empty window: nothing compared, no drift."""
    return FeatureDrift(baseline.name, baseline.kind, reference_missing_rate=baseline.missing_rate)


def missing_feature(baseline: FeatureBaseline) -> FeatureDrift:
    """A feature whose column is absent from the window."""
    return FeatureDrift(
        baseline.name,
        baseline.kind,
        reference_missing_rate=baseline.missing_rate,
        schema_violations=("column missing from the window",),
        note="column missing from the window",
    )


def score_feature(
    baseline: FeatureBaseline, series: pd.Series, thresholds: Thresholds
) -> FeatureDrift:
    """Every test of one feature on its column of the window, and the verdict."""
    expected = _expected_kinds(baseline)
    if expected and _kind(series, baseline.name) not in expected:
        if series.notna().any():
            problem = f"expected {baseline.kind} values, got dtype {series.dtype}"
            return FeatureDrift(
                baseline.name,
                baseline.kind,
                reference_missing_rate=baseline.missing_rate,
                schema_violations=(problem,),
                note="not compared: " + problem,
            )
        found: dict[str, Any] = {"count": 0}  # only missing values: any dtype will do
    elif baseline.kind == "numeric":
        found = _numeric(baseline, series)
    elif baseline.kind in ("categorical", "boolean"):
        found = _categorical(baseline, series)
    else:
        found = {"count": int(series.notna().sum())}
    count = int(found["count"])
    missing = len(series) - count
    _, found["missing_rate_p_value"] = _chi2_homogeneity(
        np.array([baseline.missing, baseline.count]), np.array([missing, count])
    )
    found["missing_rate"] = missing / len(series)
    found["note"] = _note(baseline, count)
    drifted, reasons = _verdict(baseline, found, thresholds)
    return FeatureDrift(
        baseline.name,
        baseline.kind,
        compared=True,
        reference_missing_rate=baseline.missing_rate,
        drifted=drifted,
        reasons=tuple(reasons),
        schema_violations=tuple(_violations(baseline, found)),
        **found,
    )


def _expected_kinds(baseline: FeatureBaseline) -> tuple[str, ...]:
    """The column kinds a window may have for this baseline (any, for categories: as text)."""
    return {"numeric": ("numeric",), "datetime": ("datetime",)}.get(baseline.kind, ())


def _kind(series: pd.Series, name: str) -> str:
    """The window column's kind (``"unsupported"`` for complex and timedelta columns)."""
    try:
        return column_kind(series, name)
    except InvalidInputError:
        return "unsupported"


def _numeric(baseline: FeatureBaseline, series: pd.Series) -> dict[str, Any]:
    """PSI, KS and the range check of a numeric column, from one sort of its values."""
    ordered = np.sort(to_float_array(series, "numeric"))  # NaN sorts last
    present = int(np.searchsorted(ordered, np.nan))
    found: dict[str, Any] = {"count": present}
    points, bounds = baseline.cdf_points, baseline.cdf_bounds
    if present == 0 or points is None or bounds is None or baseline.edge_positions is None:
        return found
    ordered = ordered[:present]
    below = np.searchsorted(ordered, points, side="left")  # values < each point
    upto = np.searchsorted(ordered, points, side="right")  # values <= each point
    positions = baseline.edge_positions
    # bin_counts' bins: [e_i, e_i+1), values beyond the end edges in the end bins.
    actual = np.diff(np.concatenate(([0], below[positions[1:-1]], [present])))
    assert baseline.counts is not None
    found["psi"] = psi(baseline.counts, actual)
    left, right = below / present, upto / present
    distance = max(
        0.0,
        float(np.max(bounds[0] - left)),
        float(np.max(left - bounds[1])),
        float(np.max(bounds[2] - right)),
        float(np.max(right - bounds[3])),
    )
    found["ks_statistic"] = distance
    n_eff = present * baseline.count / (present + baseline.count)
    found["ks_p_value"] = _ks_p_value(distance, n_eff)
    out_of_range = int(below[positions[0]] + present - upto[positions[-1]])
    if baseline.infinite:  # the training data had infinities: they are not out of range
        out_of_range -= int(
            np.searchsorted(ordered, -np.inf, side="right")
            + present
            - np.searchsorted(ordered, np.inf, side="left")
        )
    found["out_of_range"] = out_of_range
    return found


def _categorical(baseline: FeatureBaseline, series: pd.Series) -> dict[str, Any]:
    """Chi-square, JS distance, PSI and unseen categories from one ``value_counts``."""
    counts = value_counts(series)
    counts.index = counts.index.astype(str)
    if counts.index.has_duplicates:  # 1 and "1" in an object column are one label as text
        counts = counts.groupby(level=0, sort=False).sum().sort_values(ascending=False)
    present = int(counts.sum())
    found: dict[str, Any] = {"count": present}
    known = baseline.categories
    found["unseen"] = 0 if known is not None else None
    if present == 0 or baseline.counts is None:
        return found
    other = len(baseline.labels)
    cells = pd.Index(baseline.labels).get_indexer(counts.index)
    if known is not None:
        is_unseen = ~counts.index.isin(list(known))
        cells[(cells < 0) & is_unseen] = other + 1
        unseen = counts[cells == other + 1]
        found["unseen"] = int(unseen.sum())
        found["unseen_values"] = tuple(unseen.index[:_UNSEEN_EXAMPLES])
    cells[cells < 0] = other
    if not baseline.has_distribution:
        return found  # the training data had no values: only unseen ones to count
    actual = np.bincount(cells, weights=counts.to_numpy(dtype=np.float64), minlength=other + 2)
    expected = baseline.counts.astype(np.float64)
    used = (expected > 0) | (actual > 0)
    expected, actual = expected[used], actual[used]
    found["chi2_statistic"], found["chi2_p_value"] = _chi2_homogeneity(expected, actual)
    found["js_distance"] = _js_distance(expected, actual)
    found["psi"] = psi(expected, actual)
    return found


def _note(baseline: FeatureBaseline, count: int) -> str | None:
    """Why the distribution of a present column was not compared, if it was not."""
    if baseline.kind == "datetime":
        return "datetime: only the missing rate is compared"
    if not baseline.has_distribution:
        return "no values in the training data: only the missing rate is compared"
    if count == 0:
        return "no values in the window: only the missing rate is compared"
    return None


def _verdict(
    baseline: FeatureBaseline, found: dict[str, Any], t: Thresholds
) -> tuple[bool, list[str]]:
    """Whether the feature drifted, and a sentence per test that says so."""
    reasons = []
    if baseline.kind == "numeric" and found.get("ks_p_value") is not None:
        p = found["ks_p_value"]
        if p < t.ks_alpha:
            if found["ks_statistic"] > t.ks_threshold:
                reasons.append(f"KS {found['ks_statistic']:.3f} > {t.ks_threshold:g} ({_p(p)})")
            if found["psi"] > t.psi_threshold:
                reasons.append(f"PSI {found['psi']:.3f} > {t.psi_threshold:g} (KS {_p(p)})")
    elif found.get("chi2_p_value") is not None:
        p = found["chi2_p_value"]
        if p < t.chi2_alpha:
            if found["js_distance"] > t.js_threshold:
                reasons.append(
                    f"JS distance {found['js_distance']:.3f} > {t.js_threshold:g} "
                    f"(chi-square {_p(p)})"
                )
            if found.get("psi") is not None and found["psi"] > t.psi_threshold:
                reasons.append(f"PSI {found['psi']:.3f} > {t.psi_threshold:g} (chi-square {_p(p)})")
    change = found["missing_rate"] - baseline.missing_rate
    if found["missing_rate_p_value"] < t.chi2_alpha and abs(change) > t.missing_rate_threshold:
        reasons.append(
            f"missing rate {baseline.missing_rate:.1%} -> {found['missing_rate']:.1%} "
            f"(change {abs(change):.1%} > {t.missing_rate_threshold:.1%}, "
            f"{_p(found['missing_rate_p_value'])})"
        )
    return bool(reasons), reasons


def _violations(baseline: FeatureBaseline, found: dict[str, Any]) -> list[str]:
    """Values outside the training range or of unseen categories, as sentences."""
    problems = []
    out = found.get("out_of_range", 0)
    if out:
        problems.append(
            f"{_plural(out, 'value')} outside the training range "
            f"[{baseline.minimum:g}, {baseline.maximum:g}]"
        )
    unseen = found.get("unseen") or 0
    if unseen:
        shown = ", ".join(repr(v) for v in found["unseen_values"])
        problems.append(f"{_plural(unseen, 'value')} of categories unseen in training: {shown}")
    return problems


# -- the tests --------------------------------------------------------------------------------


def _ks_p_value(distance: float, n_eff: float) -> float:
    """P-value of a KS distance for the effective sample size ``n_eff``."""
    if n_eff <= _KS_EXACT_MAX_N:
        p = float(stats.kstwo.sf(distance, max(1, round(n_eff))))
    else:
        p = float(stats.kstwobign.sf(distance * math.sqrt(n_eff)))
    return min(max(p, 0.0), 1.0)


def _chi2_homogeneity(first: np.ndarray, second: np.ndarray) -> tuple[float, float]:
    """Chi-square test that two count vectors over the same cells share one distribution.

    Cells empty in both are dropped; fewer than two cells left, or an empty side, is no
    evidence of a difference: ``(0.0, 1.0)``.
    """
    table = np.array([first, second], dtype=np.float64)
    table = table[:, table.sum(axis=0) > 0]
    rows = table.sum(axis=1)
    if table.shape[1] < 2 or np.any(rows == 0):
        return 0.0, 1.0
    expected = np.outer(rows, table.sum(axis=0)) / rows.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return statistic, float(stats.chi2.sf(statistic, table.shape[1] - 1))


def _js_distance(first: np.ndarray, second: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2) of two count vectors over the same cells."""
    p, q = first / first.sum(), second / second.sum()
    m = (p + q) / 2
    divergence = (special.rel_entr(p, m).sum() + special.rel_entr(q, m).sum()) / 2
    return float(math.sqrt(min(max(divergence / math.log(2), 0.0), 1.0)))


def _p(value: float) -> str:
    """``p=0.0012``, or ``p<1e-300`` where a float cannot tell it from 0."""
    return f"p={value:.2g}" if value >= 1e-300 else "p<1e-300"


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
