"""Tests for the run report (reports/_run_report.py), on real results of the components."""

from __future__ import annotations

import html
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_wine
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from loopline.components._bless import BlessingRule
from loopline.components._candidates import make_candidate
from loopline.components._evaluate import evaluate
from loopline.components._roles import infer_roles
from loopline.components._schema import infer_schema
from loopline.components._select import cross_validate_candidates
from loopline.components._statistics import compute_statistics
from loopline.components._transform import build_preprocessor
from loopline.components._tune import tune
from loopline.components._validate import validate
from loopline.errors import InvalidInputError
from loopline.reports import Markup, format_mean_std, format_number, render_run_report, write_report

from ._checks import assert_balanced, assert_self_contained

HOSTILE = "<script>alert(1)</script>"
SECTIONS = (
    "columns",
    "validation",
    "statistics",
    "leaderboard",
    "tuning",
    "evaluation",
    "blessing",
)


@pytest.fixture(scope="module")
def wine() -> dict[str, Any]:
    """Every input of a report, made by the components on the wine dataset."""
    frame = load_wine(as_frame=True).frame
    X, y = frame.drop(columns="target"), frame["target"]
    statistics = compute_statistics(frame)
    drifted = frame.assign(alcohol=frame["alcohol"] * 1.5, extra="x")
    validation = validate(drifted, infer_schema(statistics), previous=statistics)
    preprocessor = build_preprocessor(list(X.columns), [])
    logreg = make_candidate(
        "sklearn.linear_model.LogisticRegression",
        {"max_iter": 1000},
        name="logreg",
        search_space={"C": {"type": "float", "low": 1e-3, "high": 10.0, "log": True}},
    )
    tree = make_candidate("sklearn.tree.DecisionTreeClassifier", {"max_depth": 2}, name="tree")
    leaderboard = cross_validate_candidates(
        X, y, [logreg, tree], preprocessor, task="classification", metric="accuracy", folds=3
    )
    tuning = tune(X, y, logreg, preprocessor, task="classification", metric="accuracy", n_trials=3)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.4, random_state=0)
    band = pd.cut(X_test["alcohol"], 3).astype(str)

    def fitted(c: float) -> Any:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=1000))
        return model.fit(X_train, y_train)

    evaluation = evaluate(
        fitted(1.0), X_test, y_test, task="classification", slices={"alcohol_band": band}
    )
    champion = evaluate(
        fitted(0.001), X_test, y_test, task="classification", slices={"alcohol_band": band}
    )
    blessing = BlessingRule(thresholds={"accuracy": 0.8}, slice_min_rows=5).fit(
        evaluation, champion
    )
    return {
        "validation": validation.to_dict(),
        "statistics": statistics,
        "leaderboard": leaderboard.to_dict(),
        "tuning": tuning.to_dict(),
        "evaluation": evaluation.to_dict(),
        "blessing": blessing.to_dict(),
        "span": {
            "rows": len(frame),
            "target": "target",
            "roles": [role.to_dict() for role in infer_roles(frame, exclude=["target"])],
        },
    }


def a_run(**overrides: Any) -> dict[str, Any]:
    run = {
        "id": "run-42",
        "pipeline": "wine",
        "status": "succeeded",
        "started_at": 1714564803,
        "duration": 94.2,
        "steps": [
            {"name": "ingest", "status": "cached", "duration": 0.02, "cache_hit": True},
            {"name": "select", "status": "succeeded", "duration": 12.4, "cache_hit": False},
        ],
        "params": {"folds": 3, "metric": "accuracy", "candidates": ["logreg", "tree"]},
    }
    run.update(overrides)
    return run


def test_full_report_is_well_formed_and_self_contained(wine: dict[str, Any]) -> None:
    page = render_run_report(a_run(), **wine)

    text = assert_balanced(page)
    assert_self_contained(page)
    assert page.count("<svg") >= 4 + len(wine["statistics"]["columns"])
    for section in ("summary", *SECTIONS):
        assert f'<details class="section" id="{section}" open>' in page
        assert f'href="#{section}"' in page
    assert "Not part of this run." not in page
    assert "2024-05-01 12:00:03 UTC" in text
    assert "1 min 34 s" in text


def test_summary_puts_the_verdict_and_the_run_first(wine: dict[str, Any]) -> None:
    page = render_run_report(a_run(), **wine)

    summary = page[page.index('id="summary"') : page.index('id="validation"')]
    assert wine["blessing"]["blessed"] is True
    assert '<div class="verdict good"><span class="badge good">blessed</span>' in summary
    assert "2 steps: 1 cached, 1 succeeded." in summary
    assert '<span class="badge good">cached</span>' in summary
    assert "<td>candidates</td><td>[&quot;logreg&quot;, &quot;tree&quot;]</td>" in summary
    assert page.index("verdict good") < page.index('id="validation"')


def test_validation_lists_every_anomaly_with_its_severity(wine: dict[str, Any]) -> None:
    page = render_run_report(a_run(), validation=wine["validation"])

    anomalies = wine["validation"]["anomalies"]
    assert {a["kind"] for a in anomalies} >= {"out_of_range", "drift", "extra_column"}
    for anomaly in anomalies:
        assert html.escape(anomaly["message"]) in page
    assert page.count('<span class="badge warn">warning</span>') == len(anomalies)
    assert f"{len(anomalies)} warnings" in page


def test_statistics_show_each_column_with_a_histogram(wine: dict[str, Any]) -> None:
    page = render_run_report(a_run(), statistics=wine["statistics"])

    alcohol = wine["statistics"]["columns"]["alcohol"]
    row = page[page.index("<td>alcohol</td>") : page.index("</tr>", page.index("<td>alcohol</td>"))]
    for value in ("mean", "std", "min", "max"):
        assert f'<td class="num">{format_number(alcohol[value])}</td>' in row
    assert "Histogram of alcohol" in row
    assert row.count("<rect") == len(alcohol["histogram"]["counts"])


def test_leaderboard_names_the_best_candidate_and_charts_every_score(
    wine: dict[str, Any],
) -> None:
    page = render_run_report(a_run(), leaderboard=wine["leaderboard"])

    best = wine["leaderboard"]["rows"][0]
    assert best["name"] == "logreg"
    score = format_mean_std(best["means"]["accuracy"], best["stds"]["accuracy"])
    assert "Best: <strong>logreg</strong>" in page
    assert f"<title>logreg: {score}</title>" in page  # the bar's tooltip
    assert f'<td class="num">{score}</td>' in page
    assert '<code title="sklearn.tree.DecisionTreeClassifier">DecisionTreeClassifier</code>' in page


def test_tuning_shows_history_best_so_far_and_best_params(wine: dict[str, Any]) -> None:
    page = render_run_report(a_run(), tuning=wine["tuning"])

    tuning = wine["tuning"]
    assert f"<strong>{format_number(tuning['best_value'])}</strong>" in page
    assert "best so far" in page
    assert page.count("<title>trial value: ") == len(tuning["history"])
    assert f"<td>C</td><td>{tuning['best_params']['C']:.6g}</td>" in page
    assert "All 3 trials" in page


def test_evaluation_shows_metrics_slices_and_classification_plots(wine: dict[str, Any]) -> None:
    page = render_run_report(a_run(), evaluation=wine["evaluation"])

    accuracy = wine["evaluation"]["metrics"]["accuracy"]
    assert f'<td>accuracy</td><td class="num">{format_number(accuracy)}</td>' in page
    assert "Confusion matrix" in page
    assert "Calibration (top-class confidence)" in page
    assert "By alcohol_band" in page
    for key in wine["evaluation"]["slices"]["alcohol_band"]:
        assert f"<td>{html.escape(key)}</td>" in page


def test_blessing_lists_each_check(wine: dict[str, Any]) -> None:
    page = render_run_report(a_run(), blessing=wine["blessing"])

    reasons = wine["blessing"]["reasons"]
    assert len(reasons) >= 3
    for reason in reasons:
        assert html.escape(reason["message"]) in page
    assert page.count('<span class="badge good">passed</span>') == len(reasons)
    assert "<td>threshold</td>" in page
    assert "<td>overall</td>" in page


def test_a_candidate_that_is_not_blessed_says_why_up_front() -> None:
    blessing = {
        "params": {"thresholds": {"accuracy": 0.95}, "absolute_margin": 0.0},
        "metric": "accuracy",
        "blessed": False,
        "reasons": [
            {
                "metric": "accuracy",
                "slice": None,
                "candidate": 0.91,
                "champion": None,
                "threshold": 0.95,
                "delta": -0.04,
                "passed": False,
                "message": "accuracy 0.9100 fails the threshold: must be at least 0.9500",
            }
        ],
        "skipped": [{"metric": "accuracy", "slice": "region=north", "message": "3 rows"}],
    }

    page = render_run_report(a_run(status="failed"), blessing=blessing)

    summary = page[page.index('id="summary"') : page.index('id="validation"')]
    assert '<div class="verdict bad">' in summary
    assert "1 of 1 checks failed: accuracy 0.9100 fails the threshold" in summary
    assert '<span class="badge bad">failed</span>' in page
    assert "<td>region=north</td>" in page


def test_regression_evaluation_plots_residuals() -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    model = Ridge().fit(X[:300], y[:300])
    evaluation = evaluate(model, X[300:], y[300:], task="regression")

    page = render_run_report(a_run(), evaluation=evaluation)  # the object itself works too

    assert_balanced(page)
    assert "Residuals against predictions" in page
    assert "142 of 142 rows" in page
    assert page.count("<circle") >= 142


def test_sections_left_out_say_they_were_not_part_of_the_run() -> None:
    page = render_run_report({"id": "r1"})

    assert_balanced(page)
    assert page.count("Not part of this run.") == len(SECTIONS)
    assert "No steps recorded." in page
    assert "no blessing" in page


def test_hostile_strings_are_shown_not_run(wine: dict[str, Any]) -> None:
    frame = pd.DataFrame({HOSTILE: ["a", "b", "a"], "x": [1.0, 2.0, 3.0]})
    statistics = compute_statistics(frame)
    validation = validate(frame.assign(**{HOSTILE: ["a", "b", "<c>"]}), infer_schema(statistics))
    leaderboard = dict(
        wine["leaderboard"], rows=[dict(wine["leaderboard"]["rows"][0], name=HOSTILE)]
    )
    run = a_run(id=HOSTILE, pipeline=HOSTILE, params={HOSTILE: HOSTILE}, error=HOSTILE)
    run["steps"] = [{"name": HOSTILE, "status": HOSTILE, "duration": 1, "cache_hit": False}]

    page = render_run_report(
        run,
        statistics=statistics,
        validation=validation.to_dict(),
        leaderboard=leaderboard,
        extra={HOSTILE: HOSTILE, "table": [{HOSTILE: HOSTILE}], "dict": {HOSTILE: 1}},
    )

    assert_balanced(page)
    assert_self_contained(page)
    assert "alert(1)</script>" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 10
    assert any(HOSTILE in a["message"] for a in validation.to_dict()["anomalies"])


def test_extra_sections_render_text_tables_and_markup() -> None:
    page = render_run_report(
        a_run(),
        extra={
            "Notes": "plain text",
            "Drift": Markup("<p class='mine'>trusted</p>"),
            "Rows": [{"a": 1, "b": 2.5}, {"a": 3, "c": None}],
            "Settings": {"k": [1, 2]},
            "Other": 7,
        },
    )

    assert_balanced(page)
    assert '<details class="section" id="extra-drift" open>' in page
    assert "<p class='mine'>trusted</p>" in page
    assert '<th scope="col" class="num">a</th>' in page
    assert "<td>[1, 2]</td>" in page
    assert "<pre>7</pre>" in page


EMPTYISH: list[dict[str, Any]] = [
    {},
    {"anomalies": None, "rows": None, "history": None, "columns": None, "metrics": None},
    {"anomalies": [{}], "rows": [{}], "history": [{}], "reasons": [{}], "skipped": [{}]},
    {"columns": {"c": {"kind": "numeric"}, "d": {"kind": "categorical", "top": [{}]}}},
    {"metrics": {"accuracy": None}, "plots": {"confusion_matrix": {}, "calibration": {}}},
    {"plots": {"residuals": {"y_pred": [1.0], "residual": [None]}}, "slices": {"s": {"v": {}}}},
]


@pytest.mark.parametrize("section", SECTIONS)
@pytest.mark.parametrize("data", EMPTYISH)
def test_incomplete_results_render_without_raising(section: str, data: dict[str, Any]) -> None:
    keyword = "span" if section == "columns" else section  # the columns come from the span
    page = render_run_report(a_run(steps=[{}], params=None), **{keyword: data})

    assert_balanced(page)


def test_failed_candidates_and_failed_trials_are_reported() -> None:
    leaderboard = {
        "task": "classification",
        "metric": "accuracy",
        "direction": "max",
        "folds": 3,
        "rows": [
            {"name": "ok", "estimator": "a.B", "means": {"accuracy": 0.8}, "stds": {}},
            {"name": "bad", "estimator": "a.C", "means": {}, "stds": {}, "error": "boom <!>"},
        ],
    }
    tuning = {
        "candidate": "ok",
        "metric": "rmse",
        "direction": "min",
        "best_params": {"alpha": 0.5, "kind": "l2"},
        "best_value": 3.0,
        "n_trials": 4,
        "n_previous": 1,
        "history": [
            {"number": 0, "value": 5.0, "state": "complete", "params": {}, "duration": 1.0},
            {"number": 1, "value": 3.0, "state": "complete", "params": {}, "duration": 1.0},
            {"number": 2, "value": 4.5, "state": "pruned", "params": {}, "duration": 0.5},
            {"number": 3, "value": None, "state": "fail", "params": {}, "error": "oops"},
        ],
    }

    page = render_run_report(a_run(), leaderboard=leaderboard, tuning=tuning)

    assert_balanced(page)
    assert "<strong>bad</strong>: boom &lt;!&gt;" in page
    assert '<span class="badge bad">failed</span>' in page
    assert "1 failed" in page
    assert "pruned (last value)" in page
    assert "1 of them from an earlier call" in page
    assert "(2 complete, 1 pruned, 1 fail)" in page
    assert "<td>oops</td>" in page


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"run": ["not", "a", "dict"]}, "The 'run' argument of render_run_report must be a dict"),
        ({"run": {}, "leaderboard": 3}, "The 'leaderboard' argument of render_run_report must"),
    ],
)
def test_inputs_that_are_not_dicts_are_rejected(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        render_run_report(**kwargs)


def test_write_report_replaces_the_file_atomically(tmp_path: Path) -> None:
    target = tmp_path / "reports" / "run.html"

    first = write_report("<p>é</p>", target)
    second = write_report("<p>second</p>", target)

    assert first == second == target
    assert target.read_text(encoding="utf-8") == "<p>second</p>"
    assert os.listdir(target.parent) == ["run.html"]  # no temporary file left
    assert target.stat().st_mode & 0o644 == 0o644


def test_write_report_leaves_nothing_behind_when_it_fails(tmp_path: Path) -> None:
    (tmp_path / "run.html").mkdir()  # a folder cannot be replaced by a file

    with pytest.raises(OSError):
        write_report("<p>x</p>", tmp_path / "run.html")

    assert os.listdir(tmp_path) == ["run.html"]


def test_write_report_needs_a_string(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="write_report needs the page as a str. Got bytes."):
        write_report(b"<p>", tmp_path / "r.html")  # type: ignore[arg-type]


def test_report_of_a_large_run_renders_quickly(wine: dict[str, Any]) -> None:
    rng = np.random.default_rng(0)
    evaluation = {
        "task": "regression",
        "n_rows": 100_000,
        "metrics": {"rmse": 1.0},
        "plots": {
            "residuals": {
                "n_total": 100_000,
                "y_pred": rng.normal(size=2000).tolist(),
                "residual": rng.normal(size=2000).tolist(),
            }
        },
    }

    page = render_run_report(a_run(), **dict(wine, evaluation=evaluation))

    assert "2,000 of 100,000 rows" in page
    assert len(page) < 600_000
