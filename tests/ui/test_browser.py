"""The UI in a real browser (Chromium driven by Playwright) over the demo project.

Skipped unless LOOPLINE_TEST_BROWSER is set (``.ci/run`` sets it after ``.ci/browser.sh``
installs Debian's chromium). The demo project is built once per session with
``loopline demo --dir`` (or copied from LOOPLINE_TEST_DEMO, a demo built before), and
``loopline ui`` runs on it as a real subprocess. Screenshots of every page at desktop and
narrow widths go to LOOPLINE_TEST_SCREENSHOTS (default: a temporary folder).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from loopline.store import Store

from ..conftest import run_cli

# Read at import: the autouse clean_environ fixture removes LOOPLINE_* before each test.
BROWSER = os.environ.get("LOOPLINE_TEST_BROWSER")
DEMO = os.environ.get("LOOPLINE_TEST_DEMO")
SHOTS = os.environ.get("LOOPLINE_TEST_SCREENSHOTS")
CHROMIUM = "/usr/bin/chromium"
VIEWER, OPERATOR = "demo-viewer", "demo-operator"
WIDTHS = {"desktop": 1280, "narrow": 390}

pytestmark = [
    pytest.mark.skipif(not BROWSER, reason="LOOPLINE_TEST_BROWSER is not set: no browser tests."),
    pytest.mark.slow,
    pytest.mark.timeout(1200),
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo project: the whole loop ran once (two versions, drift, alerts, a canary)."""
    folder = tmp_path_factory.mktemp("browser") / "demo"
    if DEMO:
        shutil.copytree(DEMO, folder)
        return folder
    done = run_cli("demo", "--dir", str(folder), cwd=folder.parent, timeout=1100)
    assert done.returncode == 0, done.stdout + done.stderr
    return folder


@pytest.fixture(scope="module")
def ui_url(demo: Path) -> Iterator[str]:
    """``loopline ui`` on the demo project, in a subprocess, with both tokens set."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPLINE_")}
    env.update(LOOPLINE_TOKEN=VIEWER, LOOPLINE_ADMIN_TOKEN=OPERATOR)
    server = subprocess.Popen(
        [sys.executable, "-m", "loopline", "ui", "--port", str(port)],
        cwd=demo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
            assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stdout:
            server.stdout.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium, driven by Playwright (never ``playwright install``)."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: run .ci/browser.sh"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(SHOTS) if SHOTS else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _ids(demo: Path) -> dict[str, Any]:
    with Store(f"sqlite:///{demo / '.loopline' / 'loopline.db'}") as store:
        runs = store.runs.list(status="succeeded", name="training", limit=5)
        runs = [r for r in runs if store.tracking.metrics(r.id, "test_accuracy")]
        version = store.models.get("loans", 2)
        window = store.monitoring.reports("loans", limit=1)[-1]
    return {"runs": [r.id for r in runs], "package": version.artifact_id, "window": window.id}


def test_click_through_list_run_compare_lineage_approve_promote_monitoring(
    browser: Any, ui_url: str, demo: Path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        # Reading needs the viewer's token: the browser is sent to sign in, as the operator.
        page.goto(f"{ui_url}/runs")
        assert "needs a token" in page.content()
        page.fill("input[name=token]", OPERATOR)
        page.click("#login-form button")
        page.wait_for_url(re.compile(r"/runs$"))
        assert page.locator(".role").inner_text() == "operator"

        # The list: filter to the training pipeline, then open the newest run.
        page.select_option("select[name=name]", "training")
        page.click("#filters button[type=submit]")
        page.wait_for_url(re.compile(r"name=training"))
        rows = page.locator("#compare-form tbody tr")
        assert rows.count() >= 2
        page.locator("#compare-form tbody tr >> nth=0 >> a").first.click()
        page.wait_for_url(re.compile(r"/runs/[0-9a-f]{32}$"))
        assert page.locator("#dag svg g.node").count() == 12  # the standard workflow's steps
        assert page.locator('#timings svg[aria-label="step timings"]').count() == 1
        assert page.locator("#steps").inner_text().count("succeeded") >= 12

        # Lineage of the model package the run wrote.
        page.locator("#steps a", has_text="package").first.click()
        page.wait_for_url(re.compile(r"/artifacts/\d+/lineage$"))
        assert "Where it came from" in page.content()
        assert page.locator("#graph svg g.node").count() > 10
        page.click("text=show what it fed")
        page.wait_for_url(re.compile(r"direction=down"))

        # Compare the two newest training runs that trained (not the cached rerun).
        page.goto(f"{ui_url}/runs?name=training")
        page.fill("input[name=metric]", "test_accuracy")
        page.fill("input[name=value]", "0")
        page.click("#filters button[type=submit]")
        page.wait_for_url(re.compile(r"metric=test_accuracy"))
        assert "2 runs" in page.locator("#run-count").inner_text()
        boxes = page.locator("#compare-form input[type=checkbox]")
        boxes.nth(0).check()
        boxes.nth(1).check()
        page.click("#compare-button")
        page.wait_for_url(re.compile(r"/compare\?run="))
        assert page.locator("h1").inner_text() == "Compare 2 runs"
        assert page.locator("#metrics td.best").count() >= 1

        # The registry: reject, approve again, promote to production, roll back.
        page.goto(f"{ui_url}/models")
        page.click("text=loans")
        page.wait_for_url(re.compile(r"/models/loans$"))
        for form, fields, done in [
            ("#reject-form", {"version": "1"}, "Version 1 rejected."),
            ("#approve-form", {"version": "1"}, "Version 1 approved."),
            (
                "#promote-form",
                {"version": "1", "alias": "production"},
                "production now points at version 1.",
            ),
            ("#rollback-form", {"alias": "production"}, "production rolled back to version 2."),
        ]:
            for name, value in fields.items():
                page.select_option(f"{form} select[name={name}]", value)
            page.fill(f"{form} input[name=reason]", f"browser test: {form[1:-5]}")
            page.click(f"{form} button")
            page.wait_for_load_state()
            assert page.locator("p.msg.good").inner_text() == done
        history = page.locator("#history").inner_text()
        assert "browser test: promote" in history and "browser test: rollback" in history

        # Monitoring over time, with the latest window's report embedded.
        page.click("text=Monitoring over time")
        page.wait_for_url(re.compile(r"/models/loans/monitoring$"))
        assert "PSI per feature and window" in page.content()
        assert "alert.firing" in page.locator("#alerts").inner_text()
        assert "canary.passed" in page.locator("#decisions").inner_text()
        frame = page.frame_locator("iframe.report")
        assert "Monitoring report: loans" in frame.locator("h1").inner_text()
    finally:
        page.close()

    with Store(f"sqlite:///{demo / '.loopline' / 'loopline.db'}") as store:
        mine = [e for e in store.events.list(limit=50) if e.actor == "ui"]
        assert [e.kind for e in mine] == [
            "alias.rolled_back",
            "alias.moved",
            "model.approved",
            "model.rejected",
        ]
        assert all(e.reason and e.reason.startswith("browser test: ") for e in mine)
        assert store.models.aliases("loans")["production"] == 2


PAGES = {
    "runs": lambda ids: "/runs",
    "run": lambda ids: f"/runs/{ids['runs'][0]}",
    "compare": lambda ids: f"/compare?run={ids['runs'][0]}&run={ids['runs'][1]}",
    "lineage": lambda ids: f"/artifacts/{ids['package']}/lineage",
    "models": lambda ids: "/models",
    "model": lambda ids: "/models/loans",
    "monitoring": lambda ids: "/models/loans/monitoring",
    "events": lambda ids: "/events",
    "run-report": lambda ids: f"/runs/{ids['runs'][0]}/report",
    "monitoring-report": lambda ids: f"/monitoring/{ids['window']}/report",
}


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("name", list(PAGES))
def test_screenshot_of_each_page(
    browser: Any, ui_url: str, demo: Path, shots: Path, name: str, width: str
) -> None:
    """Each page renders at desktop and phone widths without scrolling the page sideways
    (wide tables and graphs scroll inside their own boxes)."""
    context = browser.new_context(
        viewport={"width": WIDTHS[width], "height": 900},
        extra_http_headers={"Authorization": f"Bearer {VIEWER}"},
    )
    try:
        page = context.new_page()
        answer = page.goto(ui_url + PAGES[name](_ids(demo)))
        assert answer is not None and answer.status == 200
        page.wait_for_load_state("load")
        path = shots / f"{name}-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 5_000
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, f"{name} scrolls sideways by {overflow}px at {WIDTHS[width]}px"
    finally:
        context.close()
