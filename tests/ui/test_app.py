"""The UI's pages and actions over HTTP, on a real uvicorn server (tests/ui/conftest.py)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from loopline.ui import UIOptions

from .conftest import ADMIN, VIEWER, UIServer

AS_VIEWER = {"Authorization": f"Bearer {VIEWER}"}
AS_OPERATOR = {"Authorization": f"Bearer {ADMIN}"}


def get(ui: UIServer, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.get(ui.url + path, headers=AS_VIEWER if headers is None else headers)


def post(
    ui: UIServer, path: str, data: dict[str, str], headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.post(ui.url + path, data=data, headers=AS_OPERATOR if headers is None else headers)


def run_ids(page: str) -> list[str]:
    """The run ids of the runs list's rows, in order."""
    return re.findall(r'name="run" value="([0-9a-f]{32})"', page)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
def test_reading_needs_a_token_when_one_is_set(ui: UIServer, headers: dict[str, str]) -> None:
    answer = get(ui, "/runs", headers)
    assert answer.status_code == 401
    assert "This UI needs a token to be read (LOOPLINE_TOKEN)." in answer.text
    assert 'action="/login"' in answer.text


def test_signing_in_sets_a_strict_http_only_cookie(ui: UIServer) -> None:
    with httpx.Client(base_url=ui.url) as client:
        answer = client.post("/login", data={"token": VIEWER, "next": "/models"})
        assert answer.status_code == 303 and answer.headers["location"] == "/models"
        cookie = answer.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert client.get("/models").status_code == 200
        assert 'class="role">viewer<' in client.get("/runs").text


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/"])
def test_sign_in_never_redirects_off_the_site(ui: UIServer, target: str) -> None:
    answer = httpx.post(f"{ui.url}/login", data={"token": ADMIN, "next": target})
    assert answer.headers["location"] == "/runs"


def test_a_wrong_token_does_not_sign_in(ui: UIServer) -> None:
    answer = httpx.post(f"{ui.url}/login", data={"token": "guess"})
    assert answer.status_code == 401
    assert "That token is neither the viewer&#x27;s nor the operator&#x27;s." in answer.text
    assert "set-cookie" not in answer.headers


def test_runs_list_filters_sorts_and_pages(ui: UIServer, seeded: tuple[Path, dict]) -> None:
    runs = seeded[1]["runs"]
    assert run_ids(get(ui, "/runs?status=failed").text) == [runs[3]]
    nightly = get(ui, "/runs?name=nightly").text
    assert len(run_ids(nightly)) == 3 and "3 runs · page 1 of 1" in nightly
    best = get(ui, "/runs?sort=metric:test_accuracy&order=desc").text
    assert run_ids(best)[:2] == [runs[6], runs[5]]
    above = get(ui, "/runs?metric=test_accuracy&op=%3E&value=0.72").text
    assert set(run_ids(above)) == {runs[5], runs[6]}
    first = get(ui, "/runs?size=3").text
    assert "8 runs · page 1 of 3" in first
    assert 'href="/runs?size=3&amp;page=2"' in first  # the pager keeps the filters
    third = get(ui, "/runs?size=3&page=3").text
    assert run_ids(third) == [runs[1], runs[0]]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=done", "Unknown run status &#x27;done&#x27;"),
        ("sort=colour", "Cannot sort runs by &#x27;colour&#x27;"),
        ("page=0", "Page 0 of size 50 is out of range"),
        ("page=two", "The &#x27;page&#x27; filter must be a number. Got &#x27;two&#x27; instead."),
        ("metric=acc&value=high", "The &#x27;value&#x27; filter must be a number."),
        ("op=~&metric=a&value=1", "Unknown metric operator &#x27;~&#x27;"),
    ],
)
def test_bad_filters_get_a_clear_message(ui: UIServer, query: str, message: str) -> None:
    answer = get(ui, f"/runs?{query}")
    assert answer.status_code == 422
    assert message in answer.text


def test_names_are_shown_never_run(ui: UIServer, seeded: tuple[Path, dict]) -> None:
    for path in ("/runs", f"/runs/{seeded[1]['hostile']}"):
        text = get(ui, path).text
        assert "<script>alert(1)</script>" not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_run_page_shows_dag_timings_metrics_and_lineage(
    ui: UIServer, seeded: tuple[Path, dict]
) -> None:
    run_id = seeded[1]["runs"][2]
    answer = get(ui, f"/runs/{run_id}")
    assert answer.status_code == 200
    text = answer.text
    for part in (
        'id="dag"',
        'aria-label="step timings"',
        "<title>loss",
        "test_accuracy",
        "loans/3",
    ):
        assert part in text
    assert re.search(r'href="/artifacts/\d+/lineage"', text)
    report = get(ui, f"/runs/{run_id}/report")
    assert report.status_code == 200 and report.text.startswith("<!DOCTYPE html>")


def test_unknown_pages_are_not_found(ui: UIServer) -> None:
    assert get(ui, "/runs/ffffffffffff").status_code == 404
    assert "No run with id &#x27;ffffffffffff&#x27;" in get(ui, "/runs/ffffffffffff").text
    assert get(ui, "/artifacts/999/lineage").status_code == 404
    assert get(ui, "/models/nope").status_code == 404
    assert get(ui, "/models/nope/monitoring").status_code == 404
    assert get(ui, "/monitoring/5/report").status_code == 404


@pytest.mark.parametrize("count", [0, 1, 6])
def test_compare_takes_two_to_five_runs(
    ui: UIServer, seeded: tuple[Path, dict], count: int
) -> None:
    runs = (seeded[1]["runs"] * 2)[:count]
    query = "&".join(f"run={r}" for r in runs)
    answer = get(ui, f"/compare?{query}")
    assert answer.status_code == 422
    assert f"Compare takes 2 to 5 runs. Got {min(count, 7)} instead." in answer.text


def test_compare_shows_runs_side_by_side(ui: UIServer, seeded: tuple[Path, dict]) -> None:
    runs = seeded[1]["runs"]
    text = get(ui, f"/compare?run={runs[0]}&run={runs[4]}&run={runs[0]}").text
    assert "Compare 2 runs" in text
    assert '<td class="diff">0</td><td class="diff">4</td>' in text  # param C differs
    assert 'class="num best">0.7000<' in text  # the higher accuracy wins
    assert "<title>loss" in text  # overlaid curves


def test_lineage_page_draws_the_producing_step(ui: UIServer, seeded: tuple[Path, dict]) -> None:
    text = get(ui, "/artifacts/1/lineage").text
    assert "Where it came from" in text and ">train<" in text and "loans/1" in text
    down = get(ui, "/artifacts/1/lineage?direction=down").text
    assert "What it fed" in down


def test_viewers_cannot_act(ui: UIServer) -> None:
    answer = post(ui, "/models/loans/approve", {"version": "3", "reason": "x"}, AS_VIEWER)
    assert answer.status_code == 403
    assert "This action needs the operator token (LOOPLINE_ADMIN_TOKEN)." in answer.text
    assert ui.store.models.get("loans", 3).status == "pending"
    assert "approve-form" not in get(ui, "/models/loans").text


def test_operator_actions_go_through_the_registry_and_are_events(ui: UIServer) -> None:
    answer = post(ui, "/models/loans/approve", {"version": "3", "reason": "looks good"})
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/models/loans?done=Version+3+approved.")
    assert ui.store.models.get("loans", 3).status == "approved"
    event = ui.store.events.list(kind="model.approved", limit=1)[0]
    assert (event.subject_id, event.actor, event.reason) == ("loans/3", "ui", "looks good")

    answer = post(ui, "/models/loans/rollback", {"alias": "production", "reason": "bad canary"})
    assert answer.status_code == 303
    assert ui.store.models.aliases("loans")["production"] == 1
    event = ui.store.events.list(kind="alias.rolled_back", limit=1)[0]
    assert (event.actor, event.reason) == ("ui", "bad canary")

    answer = post(ui, "/models/loans/reject", {"version": "3", "reason": "leaks the label"})
    assert answer.status_code == 303 and ui.store.models.get("loans", 3).status == "rejected"
    page = get(ui, "/models/loans", AS_OPERATOR).text
    assert "approve-form" in page and "leaks the label" in page and "bad canary" in page


def test_refusals_of_the_registry_reach_the_operator(ui: UIServer) -> None:
    post(ui, "/models/loans/reject", {"version": "3", "reason": "no"})
    answer = post(ui, "/models/loans/promote", {"version": "3", "alias": "staging", "reason": "r"})
    assert answer.status_code == 409
    assert "Version 3 of &#x27;loans&#x27; was rejected" in answer.text
    answer = post(ui, "/models/loans/reject", {"version": "2", "reason": "r"})
    assert answer.status_code == 409 and "is behind alias(es) production" in answer.text


@pytest.mark.parametrize(
    ("path", "form", "status", "message"),
    [
        ("approve", {"version": "3", "reason": "  "}, 422, "To approve, give a reason"),
        (
            "approve",
            {"version": "three", "reason": "r"},
            422,
            "The &#x27;version&#x27; field must be a whole number. Got &#x27;three&#x27; instead.",
        ),
        ("approve", {"version": "9", "reason": "r"}, 404, "9"),
        ("rollback", {"alias": "staging", "reason": "r"}, 409, "has no earlier version"),
        ("approve", {"version": "3", "reason": "x" * 20_000}, 422, "at most 16384 are accepted"),
    ],
)
def test_bad_actions_change_nothing(
    ui: UIServer, path: str, form: dict[str, str], status: int, message: str
) -> None:
    before = len(ui.store.events.list(limit=1000))
    answer = post(ui, f"/models/loans/{path}", form)
    assert answer.status_code == status
    assert message in answer.text
    assert len(ui.store.events.list(limit=1000)) == before
    assert ui.store.models.get("loans", 3).status == "pending"


def test_a_form_from_another_site_is_refused(ui: UIServer) -> None:
    headers = {**AS_OPERATOR, "Origin": "http://evil.example"}
    answer = post(ui, "/models/loans/approve", {"version": "3", "reason": "r"}, headers)
    assert answer.status_code == 403
    assert "A form from http://evil.example may not act here." in answer.text
    assert ui.store.models.get("loans", 3).status == "pending"


def test_without_tokens_reading_is_open_and_actions_are_off(
    seeded: tuple[Path, dict],
) -> None:
    with UIServer(seeded[0], UIOptions()) as ui:
        assert httpx.get(f"{ui.url}/runs").status_code == 200
        answer = httpx.post(f"{ui.url}/models/loans/approve", data={"version": "3", "reason": "r"})
        assert answer.status_code == 403
        assert "Actions are off: the UI was started without LOOPLINE_ADMIN_TOKEN." in answer.text


def test_monitoring_page_without_windows_says_what_to_do(ui: UIServer) -> None:
    text = get(ui, "/models/loans/monitoring").text
    assert "No monitoring window yet: run loopline monitor loans" in text


def test_every_page_reports_its_server_time(ui: UIServer) -> None:
    answer = get(ui, "/runs")
    assert re.fullmatch(r"app;dur=\d+\.\d\d", answer.headers["server-timing"])
