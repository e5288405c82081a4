"""The prediction service on a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from loopline.requestlog import read_request_log
from loopline.serving import ServingOptions

from ._server import ADMIN, TOKEN, Server, _post, _records


def test_predictions_match_load_model_exactly(server: Server) -> None:
    records = _records(20)
    answer = _post(server, "/predict", records)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    package = server.registry.load_package("wine@production")
    frame = pd.DataFrame(records)[package.features]
    assert body["predictions"] == package.model.predict(frame).tolist()
    probabilities = package.model.predict_proba(frame)
    for row, expected in zip(body["probabilities"], probabilities, strict=True):
        assert [row[str(c)] for c in package.model.classes_] == pytest.approx(
            expected.tolist(), abs=1e-12
        )
    assert (body["model"], body["version"]) == ("wine", 1)
    assert answer.headers["x-loopline-model"] == "wine/1"
    assert len(body["request_id"]) == 32


def test_concurrent_single_records_are_batched_and_each_gets_its_own_answer(
    server: Server,
) -> None:
    records = _records(60)
    package = server.registry.load_package("wine@production")
    expected = package.model.predict(pd.DataFrame(records)[package.features]).tolist()
    answers: dict[int, Any] = {}

    def client(first: int) -> None:
        with httpx.Client(headers={"authorization": f"Bearer {TOKEN}"}) as http:
            for i in range(first, len(records), 6):
                answers[i] = http.post(f"{server.url}/predict", json=[records[i]], timeout=30)

    threads = [threading.Thread(target=client, args=(first,)) for first in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(answer.status_code == 200 for answer in answers.values())
    assert [answers[i].json()["predictions"][0] for i in range(len(records))] == expected
    metrics = httpx.get(f"{server.url}/metrics").text
    # Every record went through the model exactly once, in however many calls.
    assert float(_metric(metrics, "loopline_batch_rows_sum")) == len(records)
    assert 1 <= float(_metric(metrics, "loopline_batch_rows_count")) <= len(records)


def _metric(text: str, name: str) -> str:
    return next(line.split()[-1] for line in text.splitlines() if line.startswith(name + " "))


def test_columns_format_and_mlflow_formats(server: Server) -> None:
    records = _records(3)
    columns = list(records[0])
    expected = _post(server, "/predict", records).json()["predictions"]
    data = [[r[c] for c in columns] for r in records]
    assert (
        _post(server, "/predict", {"columns": columns, "data": data}).json()["predictions"]
        == expected
    )
    for body in (
        {"dataframe_split": {"columns": columns, "data": data}},
        {"dataframe_records": records},
        {"instances": records},
        {"inputs": {c: [r[c] for r in records] for c in columns}},
    ):
        answer = _post(server, "/invocations", body)
        assert answer.status_code == 200, (body, answer.text)
        assert answer.json() == {"predictions": expected}


def test_mlflow_csv_bodies(server: Server) -> None:
    records = _records(4)
    expected = _post(server, "/predict", records).json()["predictions"]
    csv = pd.DataFrame(records).to_csv(index=False).encode()
    headers = {"authorization": f"Bearer {TOKEN}", "content-type": "text/csv"}
    answer = httpx.post(f"{server.url}/invocations", content=csv, headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": expected}
    bad = pd.DataFrame([{**records[0], "alcohol": "strong"}, *records[1:]]).to_csv(index=False)
    answer = httpx.post(f"{server.url}/invocations", content=bad, headers=headers, timeout=30)
    assert answer.status_code == 422, answer.text
    assert "record 0, field 'alcohol'" in answer.json()["message"]


def _with(field: str, value: Any, index: int = 3, n: int = 5) -> bytes:
    records = _records(n)
    records[index][field] = value
    return json.dumps(records).encode()


BAD = [
    ("malformed JSON", b'[{"alcohol": ', 422, "not valid JSON"),
    ("empty list", b"[]", 422, "no records"),
    ("not records", b'"hello"', 422, ""),
    ("wrong type in one record", _with("alcohol", "strong"), 422, "record 3, field 'alcohol'"),
    ("NaN", _with("alcohol", "NaN").replace(b'"NaN"', b"NaN"), 422, "record 3, field 'alcohol'"),
    (
        "Infinity",
        _with("ash", 0).replace(b'"ash": 0', b'"ash": Infinity'),
        422,
        "record 3, field 'ash'",
    ),
    (
        "huge number",
        _with("ash", 0).replace(b'"ash": 0', b'"ash": 1e400'),
        422,
        "record 3, field 'ash'",
    ),
    ("very long string", _with("hue", "x" * 20_000), 422, "record 3, field 'hue'"),
    ("unknown field", _with("colour", 1.0), 422, "colour"),
    (
        "missing field",
        json.dumps([{k: v for k, v in r.items() if k != "proline"} for r in _records(2)]).encode(),
        422,
        "proline",
    ),
    ("body over the limit", json.dumps(_records(1) * 2000).encode(), 413, "over the limit"),
]


@pytest.mark.parametrize(("name", "raw", "status", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_requests_get_a_4xx_with_a_useful_message(
    server: Server, name: str, raw: bytes, status: int, message: str
) -> None:
    answer = _post(server, "/predict", None, raw=raw)
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert message in json.dumps(body)
    assert body["errors"] and all("message" in e for e in body["errors"])


def test_tokens(server: Server) -> None:
    no_token = _post(server, "/predict", _records(1), token=None)
    assert no_token.status_code == 401 and "bearer token" in no_token.json()["detail"]
    assert no_token.headers["www-authenticate"] == "Bearer"
    assert _post(server, "/predict", _records(1), token="wrong").status_code == 401
    assert _post(server, "/admin/reload", {}, token=TOKEN).status_code == 401
    reload = _post(server, "/admin/reload", {}, token=ADMIN)
    assert reload.status_code == 200 and reload.json()["serving"]["primary"]["version"] == 1


def test_admin_endpoints_are_off_without_an_admin_token(project: Path) -> None:
    with Server(project, {}, ServingOptions()) as running:
        answer = _post(running, "/admin/reload", {}, token="anything")
        assert (
            answer.status_code == 403
            and "started without an admin token" in answer.json()["detail"]
        )
        assert _post(running, "/predict", _records(1), token=None).status_code == 200


def test_health_readiness_metrics_openapi(server: Server) -> None:
    _post(server, "/predict", _records(2))
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/readyz").json()["serving"]["primary"] == {
        "ref": "wine@production",
        "model": "wine",
        "version": 1,
    }
    metrics = httpx.get(f"{server.url}/metrics").text
    assert (
        'loopline_requests_total{endpoint="/predict",model="wine",status="200",version="1"} 1.0'
        in metrics
    )
    assert (
        "loopline_request_latency_seconds_bucket" in metrics
        and "loopline_batch_rows_bucket" in metrics
    )
    assert 'loopline_serving_version{model="wine",role="primary"} 1.0' in metrics
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    assert {"/predict", "/invocations", "/healthz", "/readyz", "/metrics"} <= set(paths)


def test_hot_swap_under_load_fails_no_request(server: Server) -> None:
    records = _records(1)
    seen: Counter[int] = Counter()
    failures: list[str] = []
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(headers={"authorization": f"Bearer {TOKEN}"}) as http:
            while not stop.is_set():
                answer = http.post(f"{server.url}/predict", json=records, timeout=30)
                if answer.status_code != 200:
                    failures.append(answer.text)
                else:
                    seen[answer.json()["version"]] += 1

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    server.registry.promote("wine", 2, reason="swap under load")
    deadline = time.monotonic() + 20
    while seen[2] < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join()
    assert failures == []
    assert seen[1] > 0 and seen[2] >= 20


def test_altered_package_is_refused_and_the_old_version_keeps_serving(server: Server) -> None:
    version = server.store.models.get("wine", 2)  # infra-validated when it went to staging
    record = server.store.artifacts.get(version.artifact_id)
    with open(server.registry.artifacts.locate(record.uri), "r+b") as fh:
        fh.seek(200)
        fh.write(b"tampered")
    server.store.models.move_alias("wine", "production", 2, actor="test")
    swaps = _post(server, "/admin/reload", {}, token=ADMIN).json()["swaps"]
    assert swaps == []
    answer = _post(server, "/predict", _records(2))
    assert answer.status_code == 200 and answer.json()["version"] == 1
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'loopline_model_loads_total{event="refused",model="wine",version="2"} 1.0' in metrics


def test_canary_splits_traffic_and_names_the_version(project: Path) -> None:
    options = ServingOptions(canary_weight=0.5, request_log_dir=project / "requests")
    with Server(project, {"canary": "wine@staging"}, options) as running:
        versions = Counter(
            _post(running, "/predict", _records(1), token=None).json()["version"] for _ in range(60)
        )
    assert set(versions) == {1, 2} and min(versions.values()) >= 5


def test_shadow_scores_a_copy_and_only_the_primary_answers(project: Path) -> None:
    options = ServingOptions(request_log_dir=project / "requests")
    with Server(project, {"shadow": "wine@staging"}, options) as running:
        ids = [_post(running, "/predict", _records(2), token=None).json() for _ in range(5)]
    assert {answer["version"] for answer in ids} == {1}
    logged, stats = read_request_log(project / "requests", "wine")
    assert stats.files_skipped == 0
    by_version = logged.groupby("version")["request_id"].apply(set).to_dict()
    assert by_version["1"] == by_version["2"] == {answer["request_id"] for answer in ids}


def test_request_log_is_flushed_on_shutdown(project: Path) -> None:
    options = ServingOptions(request_log_dir=project / "requests")
    with Server(project, {}, options) as running:
        answers = [
            _post(running, "/predict", _records(3, start=i), token=None).json() for i in range(4)
        ]
    logged, _ = read_request_log(project / "requests", "wine")
    assert len(logged) == 12
    assert set(logged["request_id"]) == {a["request_id"] for a in answers}
    assert {"in.alcohol", "out.prediction", "out.proba.0", "latency_ms"} <= set(logged.columns)


def test_refused_requests_feed_the_error_rate(server: Server) -> None:
    from loopline.monitoring import monitor

    for _ in range(3):
        assert _post(server, "/predict", _records(1)).status_code == 200
    assert _post(server, "/predict", None, raw=b"[{").status_code == 422
    server.service.request_log.flush(10)
    result = monitor(server.registry, "wine@production", request_log=server.project / "requests")
    assert result.errors == 1 and result.requests == 3
    assert result.signals["error_rate"] == pytest.approx(0.25)
    assert set(result.current_counts) >= {"alcohol", "proline"}
    assert sum(result.current_counts["alcohol"]) == 3
