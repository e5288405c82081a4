"""Tests for the monitoring report (reports/_monitoring_report.py), on real drift results."""

from __future__ import annotations

import html
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_wine

from loopline.components._statistics import bin_counts, compute_statistics
from loopline.errors import InvalidInputError
from loopline.monitoring import DriftDetector
from loopline.reports import format_number, format_percent
from loopline.reports._monitoring_report import render_monitoring_report

from ._checks import assert_balanced, assert_self_contained

HOSTILE = "<script>alert(1)</script>"
START = 1714564800  # 2024-05-01 12:00:00 UTC
HOUR = 3600


def window(rows: int, **overrides: Any) -> dict[str, Any]:
    spec = {
        "start": START + 5 * HOUR,
        "end": START + 6 * HOUR,
        "rows": rows,
        "requests": 37 if rows else 0,
        "skipped_files": 0,
    }
    spec.update(overrides)
    return spec


def numeric_counts(frame: pd.DataFrame, baseline: dict[str, Any]) -> dict[str, list[int]]:
    """The window's counts on the baseline's bins, as the caller computes them."""
    return {
        name: bin_counts(frame[name].to_numpy(dtype=float), entry["histogram"]["edges"]).tolist()
        for name, entry in baseline["columns"].items()
        if entry["kind"] == "numeric"
    }


@pytest.fixture(scope="module")
def wine() -> dict[str, Any]:
    """Training statistics of wine (plus a categorical column), a shifted window, its drift,
    five earlier windows, labelled performance and two alerts."""
    rng = np.random.default_rng(0)
    frame = load_wine(as_frame=True).frame.drop(columns="target")
    train = frame.assign(colour=rng.choice(["red", "white", "rose"], len(frame), p=[0.6, 0.3, 0.1]))
    baseline = compute_statistics(train)
    current = train.sample(150, replace=True, random_state=1).reset_index(drop=True)
    current = current.assign(
        alcohol=current["alcohol"] + 1.0,
        proline=current["proline"] * 1.4,
        colour=rng.choice(["red", "white", "orange"], len(current)),
    )
    current.loc[:30, "magnesium"] = np.nan
    drift = DriftDetector().fit(baseline).score(current).to_dict()
    history = [
        {
            "end": START + i * HOUR,
            "drift_share": share,
            "drifted": drifted,
            "metrics": {"accuracy": accuracy} if accuracy is not None else {},
            "rows": rows,
        }
        for i, (share, drifted, accuracy, rows) in enumerate(
            [
                (0.0, [], 0.95, 120),
                (1 / 14, ["alcohol"], 0.94, 140),
                (1 / 14, ["proline"], 0.93, 90),
                (2 / 14, ["alcohol", "proline"], 0.90, 160),
                (None, [], None, 0),
            ]
        )
    ]
    performance = {
        "labelled_rows": 80,
        "metrics": {"accuracy": 0.86},
        "holdout": {"accuracy": 0.95},
        "decay": {"accuracy": 0.09},
    }
    alerts = [
        {
            "rule": "drift",
            "state": "firing",
            "value": 0.29,
            "message": "[warning] drift: drift_share = 0.29 > 0.2",
            "severity": "warning",
            "time": START + 6 * HOUR,
        },
        {
            "rule": "accuracy-decay",
            "state": "firing",
            "value": 0.09,
            "message": "[critical] accuracy-decay: decay.accuracy = 0.09 > 0.05",
            "severity": "critical",
            "time": "2024-05-01T18:00:00+00:00",  # Alert.to_dict() gives ISO 8601
        },
    ]
    inputs = {
        "model": "wine-classifier",
        "version": 3,
        "window": window(len(current)),
        "drift": drift,
        "baseline": baseline,
        "current": compute_statistics(current),
        "current_counts": numeric_counts(current, baseline),
        "history": history,
        "performance": performance,
        "alerts": alerts,
    }
    return {"inputs": inputs, "frame": current, "page": render_monitoring_report(**inputs)}


def card(page: str, name: str) -> str:
    """The HTML of the feature card whose heading is ``name``."""
    found = re.findall(r'<article class="feature-card[^"]*" id="[^"]+">.*?</article>', page, re.S)
    matches = [c for c in found if f"<h3>{html.escape(name)}</h3>" in c]
    assert len(matches) == 1, f"{len(matches)} cards for {name}"
    return matches[0]


def section(page: str, ident: str) -> str:
    """The HTML of the section ``ident``, up to the next section or the footer."""
    start = page.index(f'<details class="section" id="{ident}"')
    end = page.find('<details class="section"', start + 1)
    return page[start : end if end > 0 else page.index("<footer>")]


def test_page_is_well_formed_and_self_contained(wine: dict[str, Any]) -> None:
    page = wine["page"]

    assert page.startswith("<!DOCTYPE html>")
    text = assert_balanced(page)
    assert_self_contained(page)
    assert "Monitoring report: wine-classifier v3" in text
    assert "2024-05-01 17:00:00 UTC" in text and "2024-05-01 18:00:00 UTC" in text
    assert "(1 h 00 min)" in text
    for ident in ("summary", "alerts", "drifted", "performance", "history", "features"):
        assert f'href="#{ident}"' in page


def test_header_shows_the_verdict_rows_and_alerts(wine: dict[str, Any]) -> None:
    page, drift = wine["page"], wine["inputs"]["drift"]

    header = page[page.index('<header class="report-header">') : page.index("</header>")]
    assert drift["dataset_drift"] is False and len(drift["drifted_features"]) == 4
    assert '<span class="badge warn">no dataset drift</span>' in header
    assert '<span class="badge bad">2 alerts</span>' in header  # a critical one among them
    assert "<dd>150</dd>" in header and "<dd>37</dd>" in header
    assert f"4 of {drift['n_compared']}" in header


def test_each_drifted_feature_has_its_chart_numbers_and_reasons(wine: dict[str, Any]) -> None:
    page, drift = wine["page"], wine["inputs"]["drift"]

    drifted = section(page, "drifted")
    assert set(drift["drifted_features"]) == {"alcohol", "magnesium", "proline", "colour"}
    for name in drift["drifted_features"]:
        entry = drift["features"][name]
        html_card = card(drifted, name)
        assert 'class="feature-card drifted"' in html_card
        assert html_card.count("<svg") == 1
        assert f"{name}: training vs this window" in html_card
        assert format_number(entry["psi"]) in html_card
        for reason in entry["reasons"]:
            assert html.escape(reason) in html_card
        for violation in entry["schema_violations"]:
            assert html.escape(violation) in html_card
        missing = f"{format_percent(entry['reference_missing_rate'])} → "
        assert missing + format_percent(entry["missing_rate"]) in html_card
    assert format_number(drift["features"]["alcohol"]["ks_statistic"]) in card(page, "alcohol")
    assert format_number(drift["features"]["colour"]["js_distance"]) in card(page, "colour")
    assert "+20.7 pp" in card(page, "magnesium")  # the missing-rate change that fired


def test_numeric_chart_counts_the_window_on_the_baseline_bins(wine: dict[str, Any]) -> None:
    counts = wine["inputs"]["current_counts"]["alcohol"]
    edges = wine["inputs"]["baseline"]["columns"]["alcohol"]["histogram"]["edges"]

    alcohol = card(wine["page"], "alcohol")
    last = counts[-1]
    assert last > 0  # +1.0 pushed values past the training maximum into the end bin
    tooltip = f"this window {format_percent(last / sum(counts))} ({last})"
    assert f"[{format_number(edges[-2])}, {format_number(edges[-1])}]: {tooltip}" in alcohol
    assert alcohol.count("this window ") == len(edges) - 1


def test_current_counts_are_preferred_to_the_window_statistics(wine: dict[str, Any]) -> None:
    inputs = wine["inputs"]
    baseline = inputs["baseline"]
    bins = len(baseline["columns"]["ash"]["histogram"]["counts"])
    given = [7] * bins
    # ``current`` here has the very same edges (it is the baseline), yet current_counts win.
    page = render_monitoring_report(
        **{**inputs, "current": baseline, "current_counts": {"ash": given}}
    )

    ash = card(page, "ash")
    assert f"this window {format_percent(1 / bins)} (7)" in ash
    assert "on its own bins" not in ash


def test_window_binned_on_its_own_edges_shows_both_histograms(wine: dict[str, Any]) -> None:
    page = render_monitoring_report(**{**wine["inputs"], "current_counts": None})

    alcohol = card(page, "alcohol")
    assert alcohol.count("<svg") == 2
    assert "alcohol: this window (on its own bins)" in alcohol
    colour = card(page, "colour")  # categories need no bins: still one paired chart
    assert colour.count("<svg") == 1


def test_categorical_chart_shows_the_union_of_the_top_categories(wine: dict[str, Any]) -> None:
    colour = card(wine["page"], "colour")

    for label in ("red", "white", "rose", "orange (new)"):
        assert f"<title>{label}: training " in colour
    frame = wine["frame"]
    orange = int((frame["colour"] == "orange").sum())
    assert f"orange (new): this window {format_percent(orange / len(frame))} ({orange})" in colour
    assert "orange (new): training 0.0% (0)" in colour


def test_stable_features_are_collapsed_below(wine: dict[str, Any]) -> None:
    page, drift = wine["page"], wine["inputs"]["drift"]

    others = section(page, "others")
    assert '<details class="section" id="others">' in page  # closed
    stable = [n for n, e in drift["features"].items() if not e["drifted"]]
    for name in stable:
        assert 'class="feature-card"' in card(others, name)
    order = sorted(stable, key=lambda n: -drift["features"][n]["psi"])  # closest to drifting first
    positions = [others.index(f"<h3>{name}</h3>") for name in order]
    assert positions == sorted(positions)
    overview = section(page, "features")
    assert overview.count("<tr>") == len(drift["features"]) + 1
    assert overview.count('<span class="badge bad">drifted</span>') == 4


def test_history_draws_drift_share_and_performance_with_references(
    wine: dict[str, Any],
) -> None:
    trends = section(wine["page"], "history")

    assert "Drift share over time" in trends
    assert "dataset drift at 0.5" in trends  # the threshold line
    assert "accuracy over time" in trends
    assert "holdout 0.95" in trends  # the holdout as a reference line
    assert "Rows per window" in trends
    # five earlier windows and this one, newest first in the table
    assert "All 6 windows, newest first" in trends
    table = trends[trends.index("All 6 windows") :]
    assert table.index("2024-05-01 18:00:00 UTC") < table.index("2024-05-01 12:00:00 UTC")
    assert "<title>this window: 2024-05-01 18:00:00 UTC → 0.2857</title>" in trends
    assert "<title>this window: 2024-05-01 18:00:00 UTC → 0.8600</title>" in trends
    assert "<code>alcohol</code>" in trends and "3 of 6" in trends  # drifted most often


def test_this_window_is_not_added_twice_to_the_history(wine: dict[str, Any]) -> None:
    inputs = wine["inputs"]
    here = {"end": inputs["window"]["end"], "drift_share": 0.3, "drifted": [], "rows": 150}
    page = render_monitoring_report(**{**inputs, "history": [*inputs["history"], here]})

    assert "All 6 windows, newest first" in page


def test_performance_table_and_no_labels_note(wine: dict[str, Any]) -> None:
    performance = section(wine["page"], "performance")
    assert '<td>accuracy</td><td class="num">0.86</td><td class="num">0.95</td>' in performance
    assert '<td class="num">0.09</td><td>higher</td>' in performance

    page = render_monitoring_report(**{**wine["inputs"], "performance": None})
    assert "No labels yet" in section(page, "performance")
    assert "accuracy over time" in page  # the earlier windows' metrics still chart


def test_alerts_are_listed_most_severe_first(wine: dict[str, Any]) -> None:
    alerts = section(wine["page"], "alerts")

    assert alerts.index("accuracy-decay") < alerts.index("<code>drift</code>")
    assert '<span class="badge bad">critical</span>' in alerts
    assert '<span class="badge warn">warning</span>' in alerts
    assert "2024-05-01 18:00:00 UTC" in alerts  # ISO 8601 time, as Alert.to_dict() gives
    assert html.escape("decay.accuracy = 0.09 > 0.05") in alerts


def test_empty_window_says_so_without_alarm() -> None:
    train = pd.DataFrame({"x": np.arange(200.0) % 17, "c": ["a", "b"] * 100})
    baseline = compute_statistics(train)
    drift = DriftDetector().fit(baseline).score(train.iloc[:0]).to_dict()

    page = render_monitoring_report(
        model="m", version=1, window=window(0), drift=drift, baseline=baseline, current=None
    )

    text = assert_balanced(page)
    assert_self_contained(page)
    assert "no requests in the window" in text.lower()
    assert '<span class="badge neutral">no requests</span>' in page
    assert '<div class="verdict neutral">' in page
    assert "badge bad" not in page and "badge warn" not in page and "verdict bad" not in page
    assert "<article" not in page and "<svg" not in page
    assert 'id="schema"' not in page  # nothing was checked


def test_hostile_names_are_escaped_everywhere() -> None:
    rng = np.random.default_rng(1)
    sneaky = '"><img src=x onerror=alert(1)>'
    train = pd.DataFrame(
        {HOSTILE: rng.normal(size=400), sneaky: rng.choice(["a", "<b>b</b>"], 400)}
    )
    baseline = compute_statistics(train)
    current = train.assign(**{HOSTILE: train[HOSTILE] * 3 + 2})
    drift = DriftDetector().fit(baseline).score(current).to_dict()
    assert drift["drifted_features"] == [HOSTILE]

    page = render_monitoring_report(
        model=HOSTILE,
        version=1,
        window=window(len(current)),
        drift=drift,
        baseline=baseline,
        current=compute_statistics(current),
        current_counts=numeric_counts(current, baseline),
        history=[{"end": START, "drift_share": 0.0, "drifted": [HOSTILE], "rows": 5}],
        alerts=[{"rule": HOSTILE, "state": HOSTILE, "message": sneaky, "severity": HOSTILE}],
    )

    assert_balanced(page)
    assert_self_contained(page)
    assert HOSTILE not in page and sneaky not in page and "<b>b</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert html.escape(sneaky) in page
    assert card(page, HOSTILE).count("<svg") == 1
    ids = re.findall(r'id="([^"]*)"', page)
    assert all(re.fullmatch(r"[a-z0-9-]+", i) for i in ids)


def test_prediction_drift_has_its_own_section() -> None:
    rng = np.random.default_rng(2)
    train = pd.DataFrame({"x": rng.normal(size=600)})
    predictions = pd.DataFrame({"prediction": rng.choice(["yes", "no"], 600, p=[0.3, 0.7])})
    detector = DriftDetector().fit(compute_statistics(train), compute_statistics(predictions))
    served = rng.choice(["yes", "no"], 300, p=[0.7, 0.3])
    drift = detector.score(train.iloc[:300], predictions=served).to_dict()
    assert drift["prediction_drift"] is True and drift["drifted_features"] == []
    baseline = compute_statistics(train.assign(prediction=predictions["prediction"]))
    current = compute_statistics(train.iloc[:300].assign(prediction=served))

    page = render_monitoring_report(
        model="m", version=1, window=window(300), drift=drift, baseline=baseline, current=current
    )

    assert_balanced(page)
    prediction = section(page, "prediction")
    assert '<span class="badge bad">drifted</span>' in prediction
    assert "prediction: training vs this window" in prediction
    assert format_number(drift["prediction"]["js_distance"]) in prediction
    assert '<span class="badge bad">drift</span>' in page  # the verdict
    assert "The model&#x27;s predictions drifted." in page

    without = render_monitoring_report(
        model="m", version=1, window=window(300), drift=drift, baseline=compute_statistics(train)
    )
    assert "No chart: the statistics given describe the features" in without


def test_window_without_statistics_shows_numbers_only(wine: dict[str, Any]) -> None:
    page = render_monitoring_report(**{**wine["inputs"], "current": None, "current_counts": None})

    alcohol = card(page, "alcohol")
    assert "<svg" not in alcohol and "numbers only" in alcohol
    assert format_number(wine["inputs"]["drift"]["features"]["alcohol"]["psi"]) in alcohol


def test_nothing_compared_when_every_column_is_missing(wine: dict[str, Any]) -> None:
    detector = DriftDetector().fit(wine["inputs"]["baseline"])
    drift = detector.score(pd.DataFrame({"other": [1.0, 2.0]}))

    page = render_monitoring_report(
        model="m", version=1, window=window(2), drift=drift, baseline=wine["inputs"]["baseline"]
    )  # the DriftReport itself is accepted too

    assert_balanced(page)
    assert '<span class="badge warn">nothing compared</span>' in page
    schema = section(page, "schema")
    assert "Missing from the window:" in schema and "<code>alcohol</code>" in schema
    assert "<code>other</code>" in schema  # ignored extra column


def test_bad_inputs_raise_clear_errors(wine: dict[str, Any]) -> None:
    inputs = wine["inputs"]
    with pytest.raises(InvalidInputError, match="'drift' argument"):
        render_monitoring_report(**{**inputs, "drift": {"n_rows": 3}})
    with pytest.raises(InvalidInputError, match="'baseline' argument"):
        render_monitoring_report(**{**inputs, "baseline": [1, 2]})
    with pytest.raises(InvalidInputError, match="'window' argument"):
        render_monitoring_report(**{**inputs, "window": None})
