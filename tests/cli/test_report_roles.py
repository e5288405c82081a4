"""The run report shows the column roles and the task (issue 11, items 1 and 4): a real
table (vega_datasets' seattle-weather, dates as text) with an identifier column added,
through real `loopline init`, `loopline run` and `loopline report` subprocesses, and the
same page from the UI's ReportRenderer."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd
import pytest

from loopline.artifacts import ArtifactStore
from loopline.config import load_settings
from loopline.registry import Registry
from loopline.store import Store
from loopline.ui._reports import ReportRenderer

from ..conftest import run_cli

vega_datasets = pytest.importorskip("vega_datasets")

CANDIDATE = """
[[training.candidates]]
estimator = "sklearn.linear_model.LogisticRegression"
params = { max_iter = 500 }
"""


def _text(page: str) -> str:
    """The page's visible text, tags removed and spaces squeezed."""
    body = re.sub(r"<(style|script|svg)\b.*?</\1>", " ", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


@pytest.fixture(scope="module")
def weather_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    project = tmp_path_factory.mktemp("weather")
    frame = pd.read_csv(Path(vega_datasets.__file__).parent / "_data" / "seattle-weather.csv")
    frame.insert(0, "reading_id", [f"SEA-{i:06d}" for i in range(len(frame))])
    frame["station"] = "SEA"
    frame.to_csv(project / "weather.csv", index=False)
    init = run_cli(
        "init", "--name", "weather", "--data", "weather.csv", "--target", "weather", cwd=project
    )
    assert init.returncode == 0, init.stderr
    toml = project / "loopline.toml"
    text = toml.read_text(encoding="utf-8").replace("folds = 5", "folds = 3")
    toml.write_text(text.replace("trials = 20 ", "trials = 0 ") + CANDIDATE, encoding="utf-8")
    run = run_cli("run", cwd=project, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    run_id = re.search(r"Run ([0-9a-f]{8}) succeeded", run.stdout)
    assert run_id, run.stdout
    return project, run_id.group(1)


def test_the_report_shows_each_columns_role_and_encoding_and_the_task(
    weather_run: tuple[Path, str],
) -> None:
    project, run_id = weather_run

    result = run_cli("report", run_id, "-o", "report.html", cwd=project)

    assert result.returncode == 0, result.stderr
    text = _text((project / "report.html").read_text(encoding="utf-8"))
    # (the first mention is the table of contents)
    section = text[text.index("Columns and task 2 columns dropped Task:") :]
    assert (
        "Task: classification of 'weather' on 1,461 rows, 5 classes: sun (48.9%), fog (28.2%), "
        "rain (17.7%), drizzle (3.7%), snow (1.5%); imbalanced" in section
    )
    # `loopline init` wrote the inferred roles into [data.columns], so the run declares them.
    for row in (
        "reading_id identifier declared in [data.columns] dropped",
        "date datetime declared in [data.columns] date parts: year, month, day,",
        "precipitation numeric declared in [data.columns] median-imputed, scaled",
        "station constant declared in [data.columns] dropped",
    ):
        assert row in section, row
    assert "Left out of the model: reading_id, station." in section
    assert "2 columns dropped" in section


def test_the_ui_renders_the_same_columns_section(weather_run: tuple[Path, str]) -> None:
    project, run_id = weather_run
    settings = load_settings(project)
    with Store(settings.store_url) as store:
        renderer = ReportRenderer(Registry(store, ArtifactStore(settings.artifacts_url)))
        full_id = store.runs.get(run_id).id
        text = _text(renderer.run_report(full_id))

    assert "Columns and task" in text
    assert "reading_id identifier declared in [data.columns] dropped" in text
    assert "Task: classification of 'weather'" in text


def test_a_run_without_an_ingest_span_says_so() -> None:
    from loopline.reports import render_run_report

    text = _text(render_run_report({"id": "r1", "pipeline": "p", "status": "succeeded"}))

    assert "Columns and task not run Not part of this run." in text


@pytest.mark.parametrize(
    ("roles", "distinct", "expected"),
    [
        ("categorical", 3, "one-hot (3 values)"),
        ("categorical", 312, "target-encoded (312 values)"),
        ("text", 500, "TF-IDF (200 words)"),
        ("constant", 1, "dropped"),
    ],
)
def test_the_encoding_column_follows_the_preprocessing_rules(
    roles: str, distinct: int, expected: str
) -> None:
    from loopline.reports import render_run_report

    span = {"rows": 400, "target": "y", "roles": [{"name": "c", "role": roles, "reason": "r"}]}
    statistics = {"columns": {"c": {"distinct": distinct}}}

    text = _text(render_run_report({"id": "r1"}, statistics=statistics, span=span))

    assert f"c {roles} r {expected}" in text
    assert "Target of 'y' on 400 rows; the task was not decided in this run." in text
