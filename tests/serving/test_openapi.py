"""The service's OpenAPI document and its offline docs page (issue 10, item 11)."""

from __future__ import annotations

import re
from typing import Any

import httpx

from ._server import Server


def _document(server: Server) -> dict[str, Any]:
    answer = httpx.get(f"{server.url}/openapi.json", timeout=30)
    assert answer.status_code == 200
    document: dict[str, Any] = answer.json()
    return document


def test_predict_and_invocations_declare_the_models_request_body(server: Server) -> None:
    document = _document(server)
    record = document["components"]["schemas"]["Record"]
    features = server.registry.load_package("wine@production").features
    assert sorted(record["properties"]) == sorted(features)
    assert sorted(record["required"]) == sorted(features)
    assert record["additionalProperties"] is False  # strict policy: unknown fields refused
    alcohol = record["properties"]["alcohol"]
    assert alcohol.get("anyOf", [alcohol])[0]["type"] == "number"
    for path in ("/predict", "/invocations"):
        content = document["paths"][path]["post"]["requestBody"]["content"]
        assert set(content) == {"application/json", "text/csv"}
    predict = document["paths"]["/predict"]["post"]["requestBody"]["content"]
    assert predict["application/json"]["schema"]["oneOf"][0]["items"] == {
        "$ref": "#/components/schemas/Record"
    }


def test_errors_security_and_metrics_are_declared(server: Server) -> None:
    document = _document(server)
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "The token given to 'loopline serve' (--token or --admin-token).",
    }
    for path in ("/predict", "/invocations"):
        operation = document["paths"][path]["post"]
        assert {"401", "413", "422", "503"} <= set(operation["responses"])
        assert operation["security"] == [{"bearer": []}]
    assert document["paths"]["/admin/promote"]["post"]["security"] == [{"bearer": []}]
    feedback = document["paths"]["/feedback"]["post"]
    assert {"401", "413", "422"} <= set(feedback["responses"])
    assert "requestBody" in feedback
    metrics = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain"]
    assert "503" in document["paths"]["/readyz"]["get"]["responses"]


def test_docs_load_their_assets_from_the_server_not_a_cdn(server: Server) -> None:
    page = httpx.get(f"{server.url}/docs", timeout=30)
    assert page.status_code == 200
    assert "cdn." not in page.text and "https://" not in page.text
    assets = re.findall(r'(?:src|href)="(/[^"]+\.(?:js|css))"', page.text)
    assert len(assets) == 2
    for asset in assets:
        answer = httpx.get(f"{server.url}{asset}", timeout=30)
        assert answer.status_code == 200
        assert len(answer.content) > 100_000  # the real Swagger UI bundle, not a stub
    redoc = httpx.get(f"{server.url}/redoc", timeout=30)
    assert redoc.status_code == 200 and "https://" not in redoc.text
