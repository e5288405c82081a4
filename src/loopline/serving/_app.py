"""The HTTP face of the prediction service (FastAPI), with one error-to-status table.

Endpoints: ``POST /predict`` (records or columns), ``POST /invocations`` (MLflow's scoring
protocol), ``GET /healthz``, ``GET /readyz``, ``GET /metrics`` (Prometheus), and
``POST /admin/reload`` / ``POST /admin/promote``, which always need the admin token.
No endpoint reads a path given by the client.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi_offline import FastAPIOffline
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from pydantic import BaseModel, Field

from .._version import __version__
from ..config import NAME_MAX_LENGTH, NAME_PATTERN, NAME_RULE
from ..errors import (
    BackendUnavailableError,
    ConflictError,
    InvalidInputError,
    LooplineError,
    NotFoundError,
)
from ..registry import MAX_VERSION
from ._batcher import BatchInfo
from ._interop import add_interop_routes
from ._openapi import ERROR_STATUSES, error_responses, json_body, with_model_schema
from ._payload import PayloadError, parse_json_body
from ._service import Answer, PredictionService
from ._validation import json_type


class AuthError(LooplineError):
    """A request lacked the bearer token an endpoint needs."""

    def __init__(self, message: str, *, status: int = 401) -> None:
        super().__init__(message, hint="Send 'Authorization: Bearer <token>'.")
        self.status = status


#: The single table mapping our errors to HTTP status codes (first match wins).
STATUS_BY_ERROR: list[tuple[type[LooplineError], int]] = [
    (NotFoundError, 404),
    (ConflictError, 409),
    (InvalidInputError, 422),
    (BackendUnavailableError, 503),
    (LooplineError, 500),
]


def status_of(error: LooplineError) -> int:
    """The HTTP status of an error: its own ``status`` if it has one, else from the table."""
    own = getattr(error, "status", None)
    if isinstance(own, int):
        return own
    return next(code for cls, code in STATUS_BY_ERROR if isinstance(error, cls))


class PredictResponse(BaseModel):
    """The answer of ``POST /predict``."""

    request_id: str
    model: str
    version: int
    predictions: list[Any]
    probabilities: list[dict[str, float]] | None = Field(
        None, description="Per record, class -> probability (classifiers only)."
    )
    warnings: list[dict[str, Any]] = Field(default_factory=list)


class InvocationsResponse(BaseModel):
    """The answer of ``POST /invocations`` (MLflow's)."""

    predictions: list[Any]


class PromoteRequest(BaseModel):
    """Body of ``POST /admin/promote``."""

    model: str = Field(pattern=NAME_PATTERN, max_length=NAME_MAX_LENGTH, description=NAME_RULE)
    version: int = Field(ge=1, le=MAX_VERSION)
    alias: str = Field(
        "production", pattern=NAME_PATTERN, max_length=NAME_MAX_LENGTH, description=NAME_RULE
    )
    reason: str | None = Field(None, max_length=1_000)


class FeedbackRecord(BaseModel):
    """One label for a record of an earlier request."""

    request_id: str = Field(max_length=80, description="The request id /predict answered.")
    label: str | int | float = Field(
        description="A class of the model (classifier) or a finite number (regressor)."
    )
    row: int = Field(0, ge=0, description="The record within the request.")


class FeedbackResponse(BaseModel):
    """The answer of ``POST /feedback``: what was stored, and each refusal with its reason."""

    accepted: int
    rejected: list[dict[str, Any]]


class _Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "loopline_requests",
            "Requests by endpoint, model version and status.",
            ["endpoint", "model", "version", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "loopline_request_latency_seconds",
            "Latency of answered prediction requests, by endpoint and the version that answered"
            " (champion and canary side by side).",
            ["endpoint", "model", "version", "role"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.batch_rows = Histogram(
            "loopline_batch_rows",
            "Rows per model call (micro-batching).",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=self.registry,
        )
        self.loads = Counter(
            "loopline_model_loads",
            "Model loads, swaps and refusals.",
            ["event", "model", "version"],
            registry=self.registry,
        )
        self.serving = Gauge(
            "loopline_serving_version",
            "The version each role serves.",
            ["role", "model"],
            registry=self.registry,
            multiprocess_mode="livemostrecent",
        )

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format: of all workers under ``serve --workers``.

        There, each worker process writes its values to files in one folder
        (``PROMETHEUS_MULTIPROC_DIR``, set by the supervisor), and any worker answering a
        scrape sums them: counters stay monotonic whichever worker answers, and through a
        worker's replacement.
        """
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)

    def on_batch(self, info: BatchInfo) -> None:
        self.batch_rows.observe(info.rows)

    def on_event(self, kind: str, details: dict[str, Any]) -> None:
        self.loads.labels(kind, details.get("model", ""), str(details.get("version", ""))).inc()
        if kind in ("load", "swap"):
            self.serving.labels(details["role"], details["model"]).set(details["version"])
        elif kind == "unload":
            self.serving.labels(details["role"], details["model"]).set(0)


def create_app(service: PredictionService) -> FastAPI:
    """The FastAPI application serving ``service`` (started and stopped by its lifespan)."""
    # One series per sample, not a second '_created' timestamp series beside each counter
    # and histogram (prometheus-client's default; Prometheus itself ignores them).
    disable_created_metrics()  # type: ignore[no-untyped-call]
    metrics = _Metrics()
    service.on_event = metrics.on_event
    service.on_batch = metrics.on_batch

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.aclose()

    # FastAPIOffline: /docs and /redoc serve Swagger UI and ReDoc from the package, not a
    # CDN, so they work offline (decision 0009).
    app = FastAPIOffline(
        title="Loopline prediction service",
        version=__version__,
        description="Predictions of registered models, validated against their schema.",
        lifespan=lifespan,
    )
    documents: dict[tuple[str, int] | None, dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        # The request bodies follow the primary model's schema, which a hot swap may change.
        loaded = service.slots["primary"].loaded if service.ready else None
        key = (loaded.name, loaded.version) if loaded is not None else None
        if key not in documents:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            documents.clear()
            documents[key] = with_model_schema(
                document,
                loaded.package.schema if loaded is not None else None,
                strict=service.options.policy == "strict",
                secured=service.options.token is not None,
            )
        return documents[key]

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(LooplineError)
    async def _loopline_error(request: Request, exc: LooplineError) -> JSONResponse:
        status = status_of(exc)
        body: dict[str, Any] = {"detail": str(exc), "hint": exc.hint}
        if isinstance(exc, PayloadError):
            body = exc.to_dict()
        if request.scope["path"].startswith("/v2/"):
            body["error"] = str(exc)  # the Open Inference Protocol's error field
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        _count(request, status)
        # A request without the right token never reached the model: not its error_rate.
        if _is_prediction(request.scope["path"]) and status not in (401, 403):
            service.log_error(status, str(exc))
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler echoes each bad input: a lone surrogate in it cannot be
        # encoded (a 500), and a 100,000-character name came back whole. Say where, not what.
        errors = [
            {
                "loc": [_printable(part) for part in error.get("loc", ())],
                "msg": _printable(error.get("msg", "")),
                "type": _printable(error.get("type", "")),
            }
            for error in exc.errors()[:20]
        ]
        _count(request, 422)
        return JSONResponse(
            {"detail": errors, "hint": "Fix the listed fields of the body."}, status_code=422
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Outside /predict and /invocations (whose failures are ModelErrors): a bug. The
        # answer is JSON and counted; Starlette still logs the traceback.
        _count(request, 500)
        if request.scope["path"] in ("/predict", "/invocations"):
            service.log_error(500, f"{type(exc).__name__}: {exc}")
        body = {"detail": f"Internal error: {type(exc).__name__}", "hint": "See the server log."}
        return JSONResponse(body, status_code=500)

    def _count(request: Request, status: int, answer: Answer | None = None) -> None:
        metrics.requests.labels(
            _endpoint(request),
            answer.model if answer else "",
            str(answer.version) if answer else "",
            str(status),
        ).inc()

    async def _answer(
        request: Request, format: str, convert: Callable[[bytes], bytes] | None = None
    ) -> Answer:
        _check_token(request, service.options.token, what="predictions")
        raw = await _read_body(request, service.options.max_body_bytes)
        media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        csv = media_type == "text/csv"
        if convert is not None:
            raw = convert(raw)
        if len(raw) > _PARSE_INLINE_BYTES:
            # A large body is checked in a worker thread: /healthz and small requests are
            # answered meanwhile (the GIL is handed over every few milliseconds).
            frame, warnings = await asyncio.to_thread(service.parse, raw, format=format, csv=csv)
        else:
            frame, warnings = service.parse(raw, format=format, csv=csv)
        start = time.perf_counter()
        answer = await service.predict(
            frame, request_id=request.headers.get("x-request-id"), warnings=warnings
        )
        metrics.latency.labels(
            _endpoint(request), answer.model, str(answer.version), answer.role
        ).observe(time.perf_counter() - start)
        _count(request, 200, answer)
        return answer

    @app.post(
        "/predict",
        response_model=PredictResponse,
        summary="Predict records or columns",
        responses=error_responses(401, 413, 422, 500, 503),
    )
    async def predict(request: Request) -> JSONResponse:
        """Body: ``[{"f1": 1.0, ...}, ...]`` or ``{"columns": [...], "data": [[...]]}``
        (or, with ``Content-Type: text/csv``, a header row and one record per line)."""
        answer = await _answer(request, "loopline")
        result = answer.result
        body: dict[str, Any] = {
            "request_id": answer.request_id,
            "model": answer.model,
            "version": answer.version,
            "predictions": _plain(result.predictions),
            "warnings": answer.warnings,
        }
        if result.probabilities is not None and result.classes is not None:
            labels = [str(c) for c in _plain(result.classes)]
            # Row dicts from columns: a third less work than zipping each row's list.
            columns = np.asarray(result.probabilities, dtype=np.float64).T.tolist()
            body["probabilities"] = [
                dict(zip(labels, row, strict=True)) for row in zip(*columns, strict=True)
            ]
        return _response(body, answer)

    @app.post(
        "/invocations",
        summary="MLflow scoring protocol",
        response_model=InvocationsResponse,
        responses=error_responses(401, 413, 422, 500, 503),
    )
    async def invocations(request: Request) -> JSONResponse:
        """Bodies of ``mlflow models serve``: ``dataframe_split``, ``dataframe_records``,
        ``instances`` or ``inputs`` (JSON), or CSV with ``Content-Type: text/csv``; answers
        ``{"predictions": [...]}``."""
        answer = await _answer(request, "mlflow")
        return _response({"predictions": _plain(answer.result.predictions)}, answer)

    add_interop_routes(app, service, _answer, _headers)

    @app.post(
        "/feedback",
        summary="Attach ground-truth labels to earlier requests",
        openapi_extra=json_body(list[FeedbackRecord], "Labels, one per record of a request."),
        response_model=FeedbackResponse,
        responses=error_responses(401, 413, 422),
    )
    async def feedback(request: Request) -> JSONResponse:
        """Labels arrive late; monitoring turns them into performance per window. Each
        label is checked against the model's target (a class of a classifier, a finite
        number for a regressor); a refused one is listed with its reason."""
        from ..monitoring import LabelTarget, attach_feedback

        _check_token(request, service.options.token, what="feedback")
        raw = await _read_body(request, service.options.max_body_bytes)
        records = _feedback_records(raw, service.options.max_body_bytes, service.options.max_rows)
        if service.options.request_log_dir is None:
            raise InvalidInputError(
                "This server keeps no request log, so labels cannot be matched to requests.",
                hint="Start it with a request log (loopline serve keeps one).",
            )
        if service.request_log is not None:
            # Requests answered a moment ago may still wait in the log's queue.
            await asyncio.to_thread(service.request_log.flush, 10.0)
        loaded = service.slots["primary"].loaded
        result = await asyncio.to_thread(
            attach_feedback,
            service.registry.store,
            service.options.request_log_dir,
            loaded.name,
            records,
            target=LabelTarget.of(loaded.package),
        )
        status = 200 if result.accepted or not records else 422
        body = {"accepted": result.accepted, "rejected": result.rejected}
        return JSONResponse(body, status_code=status)

    @app.get("/healthz", summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        summary="Readiness: a model is loaded",
        responses={503: {"description": ERROR_STATUSES[503]}},
    )
    async def readyz() -> JSONResponse:
        if not service.ready:
            return JSONResponse({"status": "loading"}, status_code=503)
        return JSONResponse({"status": "ready", "serving": service.describe()})

    @app.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=PlainTextResponse,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    async def prometheus() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    @app.post(
        "/admin/reload",
        summary="Check the registry for alias moves now",
        responses=error_responses(401, 403),
    )
    async def reload(request: Request) -> dict[str, Any]:
        _check_admin(request, service.options.admin_token)
        return {"swaps": await service.refresh(), "serving": service.describe()}

    @app.post(
        "/admin/promote",
        summary="Move an alias (after approval and infra validation)",
        responses=error_responses(400, 401, 403, 404, 409, 422),
    )
    async def promote(request: Request, body: PromoteRequest) -> dict[str, Any]:
        _check_admin(request, service.options.admin_token)

        move = await asyncio.to_thread(
            service.registry.promote, body.model, body.version, alias=body.alias, reason=body.reason
        )
        swaps = await service.refresh()
        return {
            "alias": move.alias,
            "version": move.version,
            "previous": move.previous,
            "swaps": swaps,
        }

    return app


def _is_prediction(path: str) -> bool:
    """Whether ``path`` asks for predictions (refusals there count in ``error_rate``)."""
    return path in ("/predict", "/invocations") or (
        path.startswith("/v2/models/") and path.endswith("/infer")
    )


def _endpoint(request: Request) -> str:
    """The route's path template (``/v2/models/{name}/infer``): a bounded metric label."""
    route = request.scope.get("route")
    return str(getattr(route, "path", request.scope["path"]))


#: Bodies up to this size are checked on the event loop (a thread hop costs more than them).
_PARSE_INLINE_BYTES = 64 * 1024


def _printable(value: Any) -> Any:
    """Text that UTF-8 can encode (lone surrogates escaped), at most 200 characters."""
    if isinstance(value, int):
        return value
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")[:200]


def _headers(answer: Answer) -> dict[str, str]:
    return {
        "X-Request-ID": answer.request_id,
        "X-Loopline-Model": f"{answer.model}/{answer.version}",
        "X-Loopline-Role": answer.role,
    }


class _FastJSONResponse(JSONResponse):
    """A JSON response written by orjson: a tenth of the json module's time for 1,000 rows."""

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except (orjson.JSONEncodeError, TypeError):  # ints beyond 64 bits: the json module
            return super().render(content)


def _response(body: dict[str, Any], answer: Answer) -> JSONResponse:
    """The answer's JSON; by orjson unless a value is not finite (which orjson would write as
    null, and the json module refuses, failing the request as before)."""
    result = answer.result
    finite = all(
        values is None or np.asarray(values).dtype.kind != "f" or bool(np.isfinite(values).all())
        for values in (result.predictions, result.probabilities)
    )
    kind = _FastJSONResponse if finite else JSONResponse
    return kind(body, headers=_headers(answer))


def _plain(values: np.ndarray) -> list[Any]:
    return list(np.asarray(values).tolist())


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _check_token(request: Request, token: str | None, *, what: str) -> None:
    if token is None:
        return
    given = _bearer(request)
    # Bytes, not text: compare_digest refuses non-ASCII str (a 500 before, issue 10).
    # Starlette decodes header bytes as latin-1, so this gives back the bytes sent.
    if given is None or not hmac.compare_digest(
        given.encode("latin-1", "replace"), token.encode("utf-8")
    ):
        raise AuthError(f"This server needs a bearer token for {what}.")


def _check_admin(request: Request, token: str | None) -> None:
    if token is None:
        raise AuthError(
            "Administrative endpoints are off: the server was started without an admin token.",
            status=403,
        )
    _check_token(request, token, what="administrative endpoints")


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _feedback_records(raw: bytes, max_bytes: int, max_rows: int) -> list[Any]:
    """The records of a ``/feedback`` body (each judged later, one by one)."""
    body = parse_json_body(raw, max_bytes=max_bytes)
    if not isinstance(body, list):
        raise PayloadError(
            f"The body of /feedback must be a JSON list of labels; got {json_type(body)}.",
            hint='Send [{"request_id": "...", "label": 1, "row": 0}, ...].',
        )
    if len(body) > max_rows:
        raise PayloadError(
            f"The request has {len(body):,} labels, more than the limit of {max_rows:,}.",
            status=413,
            hint=f"Split the labels over requests of at most {max_rows:,}.",
        )
    return body


def _too_large(size: int, limit: int) -> PayloadError:
    return PayloadError(
        f"The request body is over the limit of {limit:,} bytes (at least {size:,}).",
        errors=[],
        status=413,
        hint="Send fewer records per request, or start the server with a larger --max-body-bytes.",
    )
