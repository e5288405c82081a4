"""Issue 11 end to end: a messy CSV (date text, an identifier, a constant, missing targets)
through `loopline init`, `loopline run`, `loopline serve` and `loopline predict`, and one
policy for unseen categories across /predict, `loopline predict` and validate_data."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from loopline.artifacts import ArtifactStore
from loopline.components import Schema, validate
from loopline.config import load_settings
from loopline.registry import Registry
from loopline.store import Store

from ..conftest import run_cli

ROWS = 160
MISSING_TARGET_ROWS = (4, 9, 30)  # data rows (0-based) without a label: CSV lines 6, 11, 32


def shop_frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    days = pd.date_range("2022-01-01", periods=ROWS, freq="D")
    colour = rng.choice(["red", "green", "blue"], ROWS)
    amount = rng.normal(50, 15, ROWS).round(2)
    label = np.where((colour == "red") | (amount > 60), "yes", "no").astype(object)
    label[list(MISSING_TARGET_ROWS)] = None
    return pd.DataFrame(
        {
            "day": days.strftime("%Y-%m-%d"),
            "colour": colour,
            "amount": amount,
            "ref": [f"R{i:05d}" for i in range(ROWS)],
            "site": "main",
            "label": label,
        }
    )


CANDIDATE = """
[[training.candidates]]
estimator = "sklearn.linear_model.LogisticRegression"
params = { max_iter = 500 }
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    project = tmp_path_factory.mktemp("roles")
    shop_frame().to_csv(project / "data.csv", index=False)
    init = run_cli("init", "--name", "shop", "--data", "data.csv", "--target", "label", cwd=project)
    assert init.returncode == 0, init.stderr
    toml = project / "loopline.toml"
    text = toml.read_text(encoding="utf-8")
    text = text.replace("folds = 5", "folds = 3").replace("trials = 20 ", "trials = 0 ")
    text = text.replace('approval = "manual"', 'approval = "auto"')
    toml.write_text(text + CANDIDATE, encoding="utf-8")
    run = run_cli("run", cwd=project, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    return project, " ".join(init.stdout.split()), " ".join(run.stdout.split())


@pytest.fixture
def project(trained: tuple[Path, str, str], tmp_path: Path) -> Path:
    copy = tmp_path / "p"
    shutil.copytree(trained[0], copy)
    return copy


def test_init_shows_roles_and_the_task_and_writes_them(trained: tuple[Path, str, str]) -> None:
    project, out, _ = trained
    for row in (
        "day │ datetime │ text of dates (%Y-%m-%d)",
        "colour │ categorical │ 3 distinct values",
        "amount │ numeric │ numbers",
        "ref │ identifier │ mostly unique text (160 distinct in 160 rows)",
        "site │ constant │ a single value ('main')",
    ):
        assert row in out
    assert "Warning: column 'ref' will be dropped (identifier" in out
    assert "Task: classification of 'label', 2 classes: no (" in out
    text = (project / "loopline.toml").read_text(encoding="utf-8")
    assert "[data.columns]" in text
    assert 'day    = "datetime"' in text and 'ref    = "identifier"' in text
    assert 'policy = "strict"' in text


def test_run_drops_missing_targets_by_csv_line_and_the_identifier(
    trained: tuple[Path, str, str],
) -> None:
    out = trained[2]
    assert (
        "Dropped 3 rows with a missing target (data.csv line 6, data.csv line 11, "
        "data.csv line 32)" in out
    )
    assert "Dropped column 'ref' (identifier:" in out
    assert "Dropped column 'site' (constant:" in out
    assert "Registry: shop/1 registered" in out


def test_missing_target_fail_policy_stops_at_ingest(project: Path) -> None:
    toml = project / "loopline.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(text.replace('# missing_target = "drop"', 'missing_target = "fail"'))
    run = run_cli("run", cwd=project, timeout=300)
    assert run.returncode == 1
    err = " ".join((run.stdout + run.stderr).split())
    assert (
        "3 of 160 rows have no value in the target column 'label' (data.csv line 6, "
        "data.csv line 11, data.csv line 32)" in err
    )
    assert "Traceback" not in err


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving(project: Path, *flags: str) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPLINE_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "loopline", "serve", "shop@production", "--port", str(port), *flags],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.communicate()[1]
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not get ready"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.communicate(timeout=30)  # also closes the stderr pipe


RECORD = {"day": "2031-07-04", "colour": "red", "amount": 52.5}  # a date never seen
UNSEEN = {"day": "2022-02-01", "colour": "purple", "amount": 40.0}  # an unseen category


def batch(project: Path, records: list[dict[str, object]], *flags: str) -> tuple[int, str, Path]:
    pd.DataFrame(records).to_csv(project / "in.csv", index=False)
    out = project / "out.csv"
    done = run_cli("predict", "shop@production", "in.csv", "-o", str(out), *flags, cwd=project)
    return done.returncode, " ".join((done.stdout + done.stderr).split()), out


def model_schema(project: Path) -> Schema:
    settings = load_settings(project)
    with Store(settings.store_url) as store:
        registry = Registry(store, ArtifactStore(settings.artifacts_url))
        return registry.load_package("shop/1").schema


def test_an_unseen_date_serves_200_and_batch_scores_it_the_same(project: Path) -> None:
    with serving(project) as url:
        answer = httpx.post(f"{url}/predict", json={"records": [RECORD]}, timeout=30)
    assert answer.status_code == 200, answer.text
    code, out, path = batch(project, [RECORD])
    assert code == 0, out
    assert pd.read_csv(path)["prediction"].tolist() == answer.json()["predictions"]


def test_strict_policy_refuses_an_unseen_category_everywhere(project: Path) -> None:
    with serving(project) as url:
        answer = httpx.post(f"{url}/predict", json={"records": [UNSEEN]}, timeout=30)
    assert answer.status_code == 422
    assert "'purple' is not one of the model's categories" in answer.text
    code, out, path = batch(project, [UNSEEN])
    assert code == 1
    assert "record 0, field 'colour' (CSV line 2): 'purple' is not one of the model's" in out
    assert not path.exists()
    report = validate(pd.DataFrame([UNSEEN]), model_schema(project), policy="strict")
    assert [(a.kind, a.severity) for a in report.anomalies if a.column == "colour"] == [
        ("unseen_category", "error")
    ]


def test_lenient_policy_scores_an_unseen_category_everywhere(project: Path) -> None:
    toml = project / "loopline.toml"
    toml.write_text(toml.read_text().replace('policy = "strict"', 'policy = "lenient"'))
    with serving(project) as url:
        answer = httpx.post(f"{url}/predict", json={"records": [UNSEEN]}, timeout=30)
    assert answer.status_code == 200, answer.text
    code, out, path = batch(project, [UNSEEN])
    assert code == 0, out
    assert "1 warnings (policy lenient), e.g. record 0, field 'colour': 'purple'" in out
    assert pd.read_csv(path)["prediction"].tolist() == answer.json()["predictions"]
    report = validate(pd.DataFrame([UNSEEN]), model_schema(project), policy="lenient")
    assert [(a.kind, a.severity) for a in report.anomalies if a.column == "colour"] == [
        ("unseen_category", "warning")
    ]
    # The flag overrides the file: --strict refuses again.
    assert batch(project, [UNSEEN], "--strict")[0] == 1


def test_schema_show_export_import(project: Path) -> None:
    shown = run_cli("schema", "show", "shop@production", cwd=project)
    assert shown.returncode == 0, shown.stderr
    out = " ".join(shown.stdout.split())
    assert "Schema of model shop/1 (policy strict)" in out
    assert "day │ datetime" in out and "blue, green, red (3)" in out
    exported = run_cli("schema", "export", "-o", "mine.json", cwd=project)
    assert exported.returncode == 0, exported.stderr
    assert "Wrote the schema of run" in exported.stdout
    schema = Schema.from_json(project / "mine.json")
    assert {c.name: c.kind for c in schema.columns} == {
        "day": "datetime",
        "colour": "categorical",
        "amount": "numeric",
        "label": "categorical",
    }
    text = (project / "mine.json").read_text().replace('"red"', '"red", "purple"')
    (project / "mine.json").write_text(text)
    imported = run_cli("schema", "import", "mine.json", cwd=project)
    assert imported.returncode == 0, imported.stderr
    toml = (project / "loopline.toml").read_text()
    assert 'path = "schema.json"' in toml.split("[schema]", 1)[1].split("[", 1)[0]
    assert "purple" in (project / "schema.json").read_text()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"format": 1, "columns": [{"name": "x", "kind": "number"}]}', "columns[0].kind"),
        ('{"format": 1, "colums": []}', "unknown key 'colums'"),
        ("not json", "is not valid JSON"),
    ],
)
def test_schema_import_refuses_a_bad_file(project: Path, content: str, message: str) -> None:
    (project / "bad.json").write_text(content)
    before = (project / "loopline.toml").read_text()
    done = run_cli("schema", "import", "bad.json", cwd=project)
    assert done.returncode == 1
    assert message in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr
    assert (project / "loopline.toml").read_text() == before
