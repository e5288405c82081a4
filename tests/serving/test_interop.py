"""MLflow's health routes and the Open Inference Protocol (KServe v2), on a real server.

With LOOPLINE_TEST_INTEROP_PYTHON naming a Python that has mlflow-skinny and tritonclient
(``.ci/interop.sh`` makes one), the real clients of both talk to the server too.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from loopline.serving import ServingOptions

from ._server import TOKEN, Server, _records

INTEROP_PYTHON = os.environ.get("LOOPLINE_TEST_INTEROP_PYTHON")
needs_interop = pytest.mark.skipif(
    not INTEROP_PYTHON, reason="LOOPLINE_TEST_INTEROP_PYTHON names no Python with the clients"
)


@pytest.fixture
def server(project: Path) -> Iterator[Server]:
    options = ServingOptions(token=TOKEN, request_log_dir=project / "requests")
    with Server(project, {}, options) as running:
        yield running


def _auth() -> dict[str, str]:
    return {"authorization": f"Bearer {TOKEN}"}


def _expected(server: Server, records: list[dict[str, Any]]) -> tuple[list[Any], list[Any]]:
    package = server.registry.load_package("wine@production")
    frame = pd.DataFrame(records)[package.features]
    return (
        package.model.predict(frame).tolist(),
        package.model.predict_proba(frame).tolist(),
    )


def _column_tensors(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "shape": [len(records)],
            "datatype": "FP64",
            "data": [r[name] for r in records],
        }
        for name in records[0]
    ]


def test_mlflow_health_routes(server: Server) -> None:
    for path in ("/ping", "/health"):
        answer = httpx.get(server.url + path)
        assert answer.status_code == 200, path
    version = httpx.get(server.url + "/version")
    assert version.status_code == 200 and version.text[0].isdigit()


def test_v2_server_and_model_metadata(server: Server) -> None:
    assert httpx.get(server.url + "/v2/health/live").json() == {"live": True}
    assert httpx.get(server.url + "/v2/health/ready").json() == {"ready": True}
    assert httpx.get(server.url + "/v2").json()["name"] == "loopline"
    package = server.registry.load_package("wine@production")
    for path in ("/v2/models/wine", "/v2/models/wine/versions/1"):
        meta = httpx.get(server.url + path).json()
        assert meta["name"] == "wine" and meta["versions"] == ["1"]
        assert [i["name"] for i in meta["inputs"]] == package.features
        assert {i["datatype"] for i in meta["inputs"]} == {"FP64"}
        assert [o["name"] for o in meta["outputs"]] == ["predict", "predict_proba"]
        assert meta["outputs"][1]["shape"] == [-1, 3]
    assert httpx.get(server.url + "/v2/models/wine/ready").json() == {"name": "wine", "ready": True}


def test_v2_infer_with_one_tensor_per_feature_equals_the_model(server: Server) -> None:
    records = _records(7)
    predictions, probabilities = _expected(server, records)
    body = {"id": "abc", "inputs": _column_tensors(records)}
    answer = httpx.post(server.url + "/v2/models/wine/infer", json=body, headers=_auth())
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert (result["model_name"], result["model_version"]) == ("wine", "1")
    outputs = {o["name"]: o for o in result["outputs"]}
    assert outputs["predict"]["shape"] == [7]
    assert outputs["predict"]["data"] == predictions
    assert outputs["predict_proba"]["shape"] == [7, 3]
    flat = [p for row in probabilities for p in row]
    assert outputs["predict_proba"]["data"] == pytest.approx(flat, abs=1e-12)


def test_v2_infer_with_one_matrix_and_chosen_outputs(server: Server) -> None:
    records = _records(4)
    predictions, probabilities = _expected(server, records)
    names = server.registry.load_package("wine@production").features
    matrix = [[r[n] for n in names] for r in records]
    body = {
        "inputs": [
            {"name": "input-0", "shape": [4, len(names)], "datatype": "FP64", "data": matrix}
        ],
        "outputs": [{"name": "predict_proba"}],
    }
    answer = httpx.post(server.url + "/v2/models/wine/versions/1/infer", json=body, headers=_auth())
    assert answer.status_code == 200, answer.text
    (output,) = answer.json()["outputs"]
    assert output["name"] == "predict_proba"
    assert output["data"] == pytest.approx([p for row in probabilities for p in row], abs=1e-12)
    del predictions


def test_v2_infer_with_the_binary_tensor_data_extension(server: Server) -> None:
    import numpy as np

    records = _records(3)
    predictions, _ = _expected(server, records)
    inputs, chunks = [], []
    for name in records[0]:
        chunk = np.array([r[name] for r in records], dtype="<f8").tobytes()
        inputs.append(
            {
                "name": name,
                "shape": [3],
                "datatype": "FP64",
                "parameters": {"binary_data_size": len(chunk)},
            }
        )
        chunks.append(chunk)
    header = json.dumps({"inputs": inputs, "outputs": [{"name": "predict"}]}).encode()
    headers = {**_auth(), "inference-header-content-length": str(len(header))}
    answer = httpx.post(
        server.url + "/v2/models/wine/infer", content=header + b"".join(chunks), headers=headers
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["outputs"][0]["data"] == predictions
    cut = httpx.post(
        server.url + "/v2/models/wine/infer",
        content=header + b"".join(chunks)[:-3],
        headers=headers,
    )
    assert cut.status_code == 422 and "beyond the body's binary part" in cut.json()["error"]


def _tensors_with(field: str, value: Any) -> dict[str, Any]:
    tensors = _column_tensors(_records(2))
    for tensor in tensors:
        if tensor["name"] == field:
            tensor["data"][1] = value
    return {"inputs": tensors}


BAD_V2 = [
    ("not an object", [1, 2], 422, 'non-empty "inputs" list'),
    ("no inputs", {"inputs": []}, 422, 'non-empty "inputs" list'),
    (
        "wrong shape for data",
        {"inputs": [{"name": "alcohol", "shape": [3], "datatype": "FP64", "data": [1.0]}]},
        422,
        "has shape [3] (3 values) but 1 values",
    ),
    (
        "unknown datatype",
        {"inputs": [{"name": "alcohol", "shape": [1], "datatype": "COMPLEX", "data": [1.0]}]},
        422,
        "datatype 'COMPLEX'",
    ),
    (
        "matrix of the wrong width",
        {"inputs": [{"name": "input-0", "shape": [1, 2], "datatype": "FP64", "data": [1.0, 2.0]}]},
        422,
        "must be one [n, 13] tensor",
    ),
    ("a value of the wrong type", _tensors_with("alcohol", "strong"), 422, "field 'alcohol'"),
    (
        "a missing feature",
        {"inputs": [t for t in _column_tensors(_records(1)) if t["name"] != "proline"]},
        422,
        "proline",
    ),
    (
        "unknown output",
        {"inputs": _column_tensors(_records(1)), "outputs": [{"name": "embedding"}]},
        422,
        "Unknown output 'embedding'",
    ),
]


@pytest.mark.parametrize(("name", "body", "status", "message"), BAD_V2, ids=[b[0] for b in BAD_V2])
def test_v2_bad_requests_answer_the_protocols_error_field(
    server: Server, name: str, body: Any, status: int, message: str
) -> None:
    answer = httpx.post(server.url + "/v2/models/wine/infer", json=body, headers=_auth())
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"], answer.json()


def test_v2_other_model_or_version_is_404_and_token_is_required(server: Server) -> None:
    body = {"inputs": _column_tensors(_records(1))}
    other = httpx.post(server.url + "/v2/models/beer/infer", json=body, headers=_auth())
    assert other.status_code == 404 and "serves model 'wine', not 'beer'" in other.json()["error"]
    version = httpx.get(server.url + "/v2/models/wine/versions/7")
    assert version.status_code == 404 and "version 1, not '7'" in version.json()["error"]
    assert httpx.post(server.url + "/v2/models/wine/infer", json=body).status_code == 401


def test_metrics_latency_per_version_and_no_created_series(server: Server) -> None:
    body = {"inputs": _column_tensors(_records(2))}
    assert httpx.post(server.url + "/v2/models/wine/infer", json=body, headers=_auth()).is_success
    assert httpx.post(server.url + "/predict", json=_records(1), headers=_auth()).is_success
    text = httpx.get(server.url + "/metrics").text
    assert (
        'loopline_request_latency_seconds_count{endpoint="/v2/models/{name}/infer",model="wine",'
        'role="primary",version="1"} 1.0' in text
    )
    assert (
        'loopline_request_latency_seconds_count{endpoint="/predict",model="wine",'
        'role="primary",version="1"} 1.0' in text
    )
    assert "_created" not in text


CLIENTS = """
import sys, json
import pandas as pd
from mlflow.pyfunc.scoring_server.client import ScoringServerClient
import tritonclient.http as triton
import numpy as np

port, records = int(sys.argv[1]), json.loads(sys.argv[2])
client = ScoringServerClient("127.0.0.1", port)
client.wait_server_ready(timeout=30)
mlflow = client.invoke(pd.DataFrame(records)).get_predictions()
print(json.dumps({"mlflow_predictions": pd.DataFrame(mlflow).iloc[:, 0].tolist()}))

triton_client = triton.InferenceServerClient(f"127.0.0.1:{port}")
assert triton_client.is_server_live() and triton_client.is_server_ready()
assert triton_client.is_model_ready("wine")
meta = triton_client.get_model_metadata("wine")
inputs = []
for spec in meta["inputs"]:
    tensor = triton.InferInput(spec["name"], [len(records)], "FP64")
    tensor.set_data_from_numpy(np.array([r[spec["name"]] for r in records], dtype=np.float64))
    inputs.append(tensor)
result = triton_client.infer("wine", inputs, outputs=[triton.InferRequestedOutput("predict")])
print(json.dumps({"triton_predictions": result.as_numpy("predict").tolist()}))
"""


@needs_interop
def test_mlflow_scoring_client_and_triton_client_talk_to_the_server(project: Path) -> None:
    with Server(project, {}, ServingOptions(request_log_dir=project / "requests")) as server:
        records = _records(5)
        predictions, _ = _expected(server, records)
        done = subprocess.run(
            [
                str(INTEROP_PYTHON),
                "-c",
                textwrap.dedent(CLIENTS),
                str(server.port),
                json.dumps(records),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines[0]["mlflow_predictions"] == predictions
    assert lines[1]["triton_predictions"] == predictions
