"""Other servers' protocols on the same service: MLflow's health routes and KServe's v2.

- MLflow's scoring server answers ``GET /ping`` and ``GET /health`` (200 once a model is
  loaded) and ``GET /version``; its ``ScoringServerClient.wait_server_ready()`` polls
  ``/ping`` before ``invoke()`` posts to ``/invocations`` (served in ``_app.py``).
- The Open Inference Protocol (KServe v2, also Triton's and MLServer's HTTP API):
  ``/v2``, ``/v2/health/live``, ``/v2/health/ready``, ``/v2/models/{name}[/versions/{v}]``,
  ``…/ready`` and ``…/infer``. Tabular inputs come either as one tensor per feature (named
  after it, shape ``[n]`` or ``[n, 1]``) or as one ``[n, k]`` tensor whose columns are the
  features in training order (as ``/v2/models/{name}`` lists them). The rows then go
  through the service's one validation path, as MLflow's ``dataframe_split``. Outputs:
  ``predict`` (``[n]``) and, for classifiers, ``predict_proba`` (``[n, classes]``, the
  class order in the model's metadata). Spec: https://kserve.github.io/website/latest/modelserving/data_plane/v2_protocol/
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import TYPE_CHECKING, Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from .._version import __version__
from ..errors import BackendUnavailableError, NotFoundError
from ._openapi import error_responses
from ._payload import parse_json_body
from ._validation import PayloadError

if TYPE_CHECKING:
    from ..components import Schema
    from ._batcher import BatchResult
    from ._service import Answer, LoadedModel, PredictionService

#: The OIP datatypes of our schema's column kinds (metadata) and of numpy dtypes (outputs).
#: Kinds not listed (text, datetime) travel as BYTES.
_KIND_DATATYPES = {"numeric": "FP64", "boolean": "BOOL"}
_DATATYPES = frozenset(
    {"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64"}
    | {"FP16", "FP32", "FP64", "BYTES"}
)
OUTPUT_NAMES = ("predict", "predict_proba")


def server_metadata() -> dict[str, Any]:
    """``GET /v2``: the server's name, version and protocol extensions."""
    return {"name": "loopline", "version": __version__, "extensions": []}


def model_metadata(
    name: str, version: int, schema: Schema, features: list[str], classes: list[Any]
) -> dict[str, Any]:
    """``GET /v2/models/{name}``: the inputs (in training order) and outputs of a version."""
    predict = _datatype(np.asarray(classes)) if classes else "FP64"
    outputs = [{"name": "predict", "datatype": predict, "shape": [-1]}]
    if classes:
        outputs.append({"name": "predict_proba", "datatype": "FP64", "shape": [-1, len(classes)]})
    return {
        "name": name,
        "versions": [str(version)],
        "platform": "loopline-sklearn",
        "inputs": [
            {
                "name": column.name,
                "datatype": _KIND_DATATYPES.get(column.kind, "BYTES"),
                "shape": [-1],
            }
            for column in map(schema.column, features)
        ],
        "outputs": outputs,
        "parameters": {"classes": [str(c) for c in classes]},
    }


def infer_request_to_split(
    body: Any, features: list[str], binary: bytes = b""
) -> tuple[dict[str, Any], list[str] | None]:
    """An OIP inference request as MLflow's ``dataframe_split`` body (for the one validation
    path), and the output names the client asked for (None: all).

    Args:
        body: The decoded JSON part of the request.
        features: The model's input columns, in training order.
        binary: The bytes after the JSON part, with the binary tensor data extension
            (``Inference-Header-Content-Length``; tritonclient's default).

    Raises:
        PayloadError: The body is not an inference request of tabular inputs (422).
    """
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list) or not body["inputs"]:
        raise _bad('An inference request is an object with a non-empty "inputs" list.')
    body["inputs"] = _with_binary_data(body["inputs"], binary)
    tensors = [_tensor(t, i) for i, t in enumerate(body["inputs"])]
    if len(tensors) == 1 and tensors[0][0] not in features:
        split = _split_of_matrix(*tensors[0], features)
    else:
        split = _split_of_columns(tensors)
    return split, _requested_outputs(body.get("outputs"))


def infer_response(
    *, name: str, version: int, request_id: str, result: BatchResult, wanted: list[str] | None
) -> dict[str, Any]:
    """The OIP response: one output tensor per requested output name."""
    predictions = np.asarray(result.predictions)
    outputs: list[dict[str, Any]] = []
    if wanted is None or "predict" in wanted:
        outputs.append(_output_tensor("predict", predictions))
    if result.probabilities is not None and (wanted is None or "predict_proba" in wanted):
        outputs.append(_output_tensor("predict_proba", np.asarray(result.probabilities)))
    return {
        "model_name": name,
        "model_version": str(version),
        "id": request_id,
        "outputs": outputs,
    }


def check_model(name: str, served: str, version: str | None, serving: int) -> None:
    """Refuse a model name or version this server does not serve (404)."""
    if name != served:
        raise NotFoundError(
            f"This server serves model {served!r}, not {name!r}.",
            hint=f"Use /v2/models/{served}.",
            value=name,
        )
    if version is not None and version != str(serving):
        raise NotFoundError(
            f"Model {served!r} is served at version {serving}, not {version!r}.",
            hint=f"Use /v2/models/{served}/versions/{serving}, or leave the version out.",
            value=version,
        )


#: Little-endian numpy dtypes of the binary tensor data extension's fixed-size datatypes.
_BINARY_DTYPES = {
    "BOOL": "?", "UINT8": "<u1", "UINT16": "<u2", "UINT32": "<u4", "UINT64": "<u8",
    "INT8": "<i1", "INT16": "<i2", "INT32": "<i4", "INT64": "<i8",
    "FP16": "<f2", "FP32": "<f4", "FP64": "<f8",
}  # fmt: skip


def split_binary(raw: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """The JSON part and the binary part of a request body (all JSON without the header).

    Raises:
        PayloadError: The header is not a length within the body.
    """
    if header_length is None:
        return raw, b""
    if not header_length.isdigit() or int(header_length) > len(raw):
        raise _bad(
            f"Inference-Header-Content-Length is {header_length!r}; it must be the length of "
            f"the JSON part, at most the body's {len(raw)} bytes."
        )
    cut = int(header_length)
    return raw[:cut], raw[cut:]


def _with_binary_data(inputs: list[Any], binary: bytes) -> list[Any]:
    """The inputs with the ``data`` of those sent as binary (``binary_data_size``) decoded."""
    offset, decoded = 0, []
    for index, tensor in enumerate(inputs):
        size = (
            (tensor.get("parameters") or {}).get("binary_data_size")
            if isinstance(tensor, dict)
            else None
        )
        if size is None:
            decoded.append(tensor)
            continue
        if not _is_size(size) or offset + size > len(binary):
            raise _bad(
                f"inputs[{index}] has binary_data_size {size!r} beyond the body's binary part."
            )
        chunk, offset = binary[offset : offset + size], offset + size
        decoded.append({**tensor, "data": _decode(chunk, tensor.get("datatype"), index)})
    if offset != len(binary):
        raise _bad(f"The body has {len(binary) - offset} bytes of binary data no input claims.")
    return decoded


def _decode(chunk: bytes, datatype: Any, index: int) -> list[Any]:
    if datatype == "BYTES":
        values, at = [], 0
        while at < len(chunk):
            if at + 4 > len(chunk):
                raise _bad(f"inputs[{index}]: a BYTES element's length prefix is cut short.")
            length = int.from_bytes(chunk[at : at + 4], "little")
            at += 4
            if at + length > len(chunk):
                raise _bad(f"inputs[{index}]: a BYTES element is longer than the data left.")
            values.append(chunk[at : at + length].decode("utf-8", errors="replace"))
            at += length
        return values
    dtype = _BINARY_DTYPES.get(str(datatype))
    if dtype is None:
        raise _bad(f"inputs[{index}] has datatype {datatype!r}, which has no binary form here.")
    if len(chunk) % np.dtype(dtype).itemsize:
        raise _bad(f"inputs[{index}]: {len(chunk)} bytes is not a whole number of {datatype}.")
    return list(np.frombuffer(chunk, dtype=dtype).tolist())


def _tensor(value: Any, index: int) -> tuple[str, list[int], str, list[Any]]:
    where = f"inputs[{index}]"
    if not isinstance(value, dict):
        raise _bad(f"{where} must be an object with name, shape, datatype and data.")
    name, shape, datatype, data = (value.get(k) for k in ("name", "shape", "datatype", "data"))
    if not isinstance(name, str) or not name:
        raise _bad(f"{where} needs a 'name' (text).")
    if not isinstance(shape, list) or not shape or not all(_is_size(s) for s in shape):
        raise _bad(f"{where} ({name!r}) needs a 'shape': a list of non-negative integers.")
    if datatype not in _DATATYPES:
        raise _bad(
            f"{where} ({name!r}) has datatype {datatype!r}; use one of "
            f"{', '.join(sorted(_DATATYPES))}."
        )
    flat = _flatten(data, where, name)
    if len(flat) != math.prod(shape):
        raise _bad(
            f"{where} ({name!r}) has shape {shape} ({math.prod(shape)} values) but "
            f"{len(flat)} values in 'data'."
        )
    return name, shape, datatype, flat


def _is_size(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31


def _flatten(data: Any, where: str, name: str) -> list[Any]:
    """``data`` in row-major order: the spec allows flat or nested lists."""
    if not isinstance(data, list):
        raise _bad(f"{where} ({name!r}) needs 'data': a list of values.")
    if not any(isinstance(v, list) for v in data):
        return data
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:  # iterative, so deep nesting cannot exhaust the recursion limit
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            flat.append(item)
        else:
            stack.pop()
    return flat


def _split_of_columns(tensors: list[tuple[str, list[int], str, list[Any]]]) -> dict[str, Any]:
    """One tensor per feature: each of shape ``[n]`` or ``[n, 1]``, all with the same n.

    Unknown and missing feature names are left to the validation path, which names each.
    """
    rows = {len(data) for _, _, _, data in tensors}
    for name, shape, _, _ in tensors:
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
            raise _bad(
                f"Input {name!r} has shape {shape}; a feature's tensor has shape [n] or [n, 1]."
            )
    if len(rows) > 1:
        raise _bad(
            "The input tensors have different numbers of rows "
            f"({', '.join(f'{n}: {len(d)}' for n, _, _, d in tensors)})."
        )
    columns = [name for name, _, _, _ in tensors]
    data = [list(row) for row in zip(*(d for _, _, _, d in tensors), strict=True)]
    return {"columns": columns, "data": data}


def _split_of_matrix(
    name: str, shape: list[int], datatype: str, data: list[Any], names: list[str]
) -> dict[str, Any]:
    """One ``[n, k]`` tensor whose k columns are the schema's features, in order."""
    if len(shape) != 2 or shape[1] != len(names):
        raise _bad(
            f"Input {name!r} is not a feature name, so it must be one [n, {len(names)}] tensor "
            f"with the features in this order: {', '.join(names)}. Got shape {shape}.",
        )
    width = shape[1]
    return {"columns": names, "data": [data[i : i + width] for i in range(0, len(data), width)]}


def _requested_outputs(outputs: Any) -> list[str] | None:
    if outputs is None:
        return None
    if not isinstance(outputs, list) or not all(
        isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs
    ):
        raise _bad('"outputs" must be a list of objects with a "name".')
    wanted = [o["name"] for o in outputs]
    unknown = [n for n in wanted if n not in OUTPUT_NAMES]
    if unknown:
        raise _bad(
            f"Unknown output {unknown[0]!r}; this model has outputs {', '.join(OUTPUT_NAMES)}."
        )
    return wanted


def _datatype(values: np.ndarray) -> str:
    return {"f": "FP64", "i": "INT64", "u": "INT64", "b": "BOOL"}.get(values.dtype.kind, "BYTES")


def _output_tensor(name: str, values: np.ndarray) -> dict[str, Any]:
    datatype = _datatype(values)
    if datatype == "BYTES":
        values = values.astype(str)
    return {
        "name": name,
        "datatype": datatype,
        "shape": list(values.shape),
        "data": values.reshape(-1).tolist(),
    }


def _bad(message: str) -> PayloadError:
    return PayloadError(
        message,
        errors=[],
        hint="See the Open Inference Protocol (KServe v2): "
        '{"inputs": [{"name": "<feature>", "shape": [n], "datatype": "FP64", "data": [...]}]}.',
    )


def dumps(body: dict[str, Any]) -> bytes:
    """JSON bytes of a converted body, for the service's parser."""
    return json.dumps(body).encode()


def add_interop_routes(
    app: FastAPI,
    service: PredictionService,
    answer: Callable[..., Awaitable[Answer]],
    headers: Callable[[Answer], dict[str, str]],
) -> None:
    """Add MLflow's health routes and the Open Inference Protocol to ``app``.

    Args:
        app: The service's application.
        service: The prediction service.
        answer: The app's prediction path: ``answer(request, format, convert)`` checks the
            token, reads the body, turns it into ``format``'s bytes with ``convert``,
            validates, predicts and counts.
        headers: The response headers of an answer.
    """

    async def ping() -> Response:
        status = 200 if service.ready else 503
        return Response("\n", status_code=status, media_type="application/json")

    # MLflow answers a newline (and its version as bare text) labelled application/json:
    # the document declares no body for them, which is what they have (issue 10's
    # schemathesis run checks every declared JSON body).
    for path in ("/ping", "/health"):
        app.get(
            path,
            summary="Health (MLflow's scoring server)",
            tags=["MLflow"],
            response_class=Response,
            responses=error_responses(503),
        )(ping)

    @app.get(
        "/version",
        summary="Server version (MLflow's scoring server)",
        tags=["MLflow"],
        response_class=Response,
    )
    async def version() -> Response:
        return Response(__version__, media_type="application/json")

    @app.get("/v2", summary="Server metadata", tags=["Open Inference Protocol"])
    async def v2() -> dict[str, Any]:
        return server_metadata()

    @app.get("/v2/health/live", summary="Liveness", tags=["Open Inference Protocol"])
    async def v2_live() -> dict[str, bool]:
        return {"live": True}

    @app.get(
        "/v2/health/ready",
        summary="Readiness",
        tags=["Open Inference Protocol"],
        responses=error_responses(503),
    )
    async def v2_ready() -> JSONResponse:
        return JSONResponse({"ready": service.ready}, status_code=200 if service.ready else 503)

    def primary(name: str, version: str | None) -> LoadedModel:
        if not service.ready:
            raise BackendUnavailableError("No model is loaded yet.", hint="Retry in a moment.")
        loaded = service.slots["primary"].loaded
        check_model(name, loaded.name, version, loaded.version)
        return loaded

    async def metadata(name: str, version: str | None = None) -> dict[str, Any]:
        loaded = primary(name, version)
        classes = list(loaded.package.manifest.get("classes") or [])
        features = loaded.package.features
        return model_metadata(loaded.name, loaded.version, service.schema, features, classes)

    async def ready(name: str, version: str | None = None) -> JSONResponse:
        primary(name, version)
        return JSONResponse({"name": name, "ready": True})

    async def infer(request: Request, name: str, version: str | None = None) -> JSONResponse:
        features = primary(name, version).package.features
        wanted: list[str] | None = None

        def convert(raw: bytes) -> bytes:
            nonlocal wanted
            header = request.headers.get("inference-header-content-length")
            text, binary = split_binary(raw, header)
            body = parse_json_body(text, max_bytes=service.options.max_body_bytes)
            split, wanted = infer_request_to_split(body, features, binary)
            return dumps({"dataframe_split": split})

        result = await answer(request, "mlflow", convert)
        return JSONResponse(
            infer_response(
                name=result.model,
                version=result.version,
                request_id=result.request_id,
                result=result.result,
                wanted=wanted,
            ),
            headers=headers(result),
        )

    tags: list[str | Enum] = ["Open Inference Protocol"]
    read = error_responses(404, 503)
    inferred = error_responses(401, 404, 413, 422, 500, 503)
    for prefix in ("/v2/models/{name}", "/v2/models/{name}/versions/{version}"):
        app.get(prefix, summary="Model metadata", tags=tags, responses=read)(metadata)
        app.get(prefix + "/ready", summary="Model readiness", tags=tags, responses=read)(ready)
        app.post(prefix + "/infer", summary="Inference", tags=tags, responses=inferred)(infer)
