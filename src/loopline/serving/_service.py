"""The prediction service without its web framework: model slots, loading, hot swap.

A service serves one *primary* model reference (``wine@production``) and optionally a
*canary* (a weighted share of traffic) or a *shadow* (scores a copy of every request;
only the primary answers). Each slot follows its reference: a watcher polls the registry,
and when an alias moves the new version is loaded and warmed in a worker thread, then
swapped in atomically between two batches. A version that fails to load (its package was
altered, or it does not answer its samples) is refused and the old one keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import random
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import BackendUnavailableError, LooplineError, NotFoundError
from ..requestlog import Records, RequestLog, prediction_outputs
from ._batcher import BatchResult, MicroBatcher, Predictions
from ._compiled import compile_preprocessing, compile_probabilities
from ._payload import read_records

if TYPE_CHECKING:
    from ..components import ModelPackage, Schema
    from ..registry import ModelRef, Registry
    from ..store import ModelVersion

log = logging.getLogger(__name__)

ROLES = ("primary", "canary", "shadow")
# Exceptions a model raises on values it cannot take (scikit-learn's "Input X contains
# infinity or a value too large", numpy overflows): the request's fault, answered with 422.
# (predict runs with numpy overflows raised: FloatingPointError, an ArithmeticError; where
# warnings are errors, RuntimeWarning.)
_INPUT_FAULTS = (ValueError, ArithmeticError, TypeError, RuntimeWarning)


class ModelError(LooplineError):
    """A model failed on a request that passed the schema's checks.

    Attributes:
        status: 422 when the values were at fault (a model that scored its samples at
            load raised ``ValueError``, ``ArithmeticError`` or ``TypeError``), else 500.
        model: ``NAME/VERSION`` of the model that failed.
    """

    def __init__(self, message: str, *, status: int, model: str, hint: str) -> None:
        super().__init__(message, hint=hint, model=model)
        self.status = status


def _model_error(loaded: LoadedModel, exc: Exception) -> ModelError:
    detail = f"{type(exc).__name__}: {str(exc)[:300]}"
    ref = f"{loaded.name}/{loaded.version}"
    if isinstance(exc, _INPUT_FAULTS):
        return ModelError(
            f"The model {ref} could not score this request, although its values passed the "
            f"schema's checks: {detail}",
            status=422,
            model=ref,
            hint="Send values of a realistic magnitude (numbers far beyond the training range "
            "can overflow the model's preprocessing).",
        )
    return ModelError(
        f"The model {ref} failed on this request: {detail}",
        status=500,
        model=ref,
        hint="This is a fault of the model or the server; the request log counts it.",
    )


@dataclass
class ServingOptions:
    """How the service behaves; every field has a sensible default.

    Attributes:
        canary_weight: Share of requests (0 to 1) the canary answers.
        max_batch_size: Most rows predicted in one call.
        max_wait_ms: Longest a request waits for others to share its batch.
        max_body_bytes: Largest request body accepted.
        max_rows: Most records in one request.
        policy: ``strict`` refuses unseen categories; ``lenient`` lets the model's encoder
            ignore them.
        poll_interval: Seconds between checks of the registry for alias moves.
        token: Bearer token required on ``/predict`` and ``/invocations`` (None: open).
        admin_token: Bearer token of the administrative endpoints (None: they are off).
        request_log_dir: Where the request log is written, a folder or an fsspec URL
            (``s3://bucket/prefix``); None: no request log.
    """

    canary_weight: float = 0.0
    max_batch_size: int = 64
    max_wait_ms: float = 2.0
    max_body_bytes: int = 1 << 20
    max_rows: int = 10_000
    policy: str = "strict"
    poll_interval: float = 2.0
    token: str | None = None
    admin_token: str | None = None
    request_log_dir: str | os.PathLike[str] | None = None


@dataclass
class LoadedModel:
    """One model version in memory, warmed and ready."""

    name: str
    version: int
    package: ModelPackage
    folder: Path
    loaded_at: float = field(default_factory=time.time)
    _preprocess: Any = field(init=False, repr=False, default=None)
    _final: Any = field(init=False, repr=False, default=None)
    _probabilities: Any = field(init=False, repr=False, default=None)
    _features_only: bool = field(init=False, repr=False, default=False)

    def __post_init__(self) -> None:
        from sklearn.pipeline import Pipeline

        model = self.package.model
        self._final = model
        if isinstance(model, Pipeline) and len(model.steps) > 1:
            # The preprocessing runs once per batch for both of the model's methods:
            # what Pipeline.predict and Pipeline.predict_proba each do on their own.
            preprocess, self._final = model[:-1], model.steps[-1][1]
            self._preprocess = preprocess.transform
        self._probabilities = getattr(self._final, "predict_proba", None)
        try:
            samples = self.package.samples()[self.package.features]
        except Exception:  # an imported package may have no sample rows
            return
        # Equivalents without scikit-learn's per-call overhead, where they give its numbers
        # on the sample rows (_compiled).
        if self._preprocess is not None:
            compiled = compile_preprocessing(model[:-1], samples)
            if compiled is not None:
                # It reads its columns by name: no copy of the frame's feature columns.
                self._preprocess, self._features_only = compiled, True
        if self._probabilities is not None and self.package.task == "classification":
            with contextlib.suppress(Exception):
                preprocessed = samples if self._preprocess is None else self._preprocess(samples)
                fast = compile_probabilities(self._final, preprocessed)
                self._probabilities = fast or self._probabilities

    def predict(self, frame: pd.DataFrame) -> Predictions:
        """Predict a batch; classifiers also give class probabilities.

        The preprocessing runs once; estimators whose ``predict`` is the most probable
        class are scored once too (``predict_proba``); others call both methods.
        """
        # An overflow (1e308 through a scaler) raises here, naming the request as the cause,
        # instead of becoming infinities that the estimator refuses less clearly.
        with np.errstate(over="raise"):
            return self._predict(frame)

    def _predict(self, frame: pd.DataFrame) -> Predictions:
        model = self.package.model
        features = self.package.features
        same = self._features_only and frame.columns.tolist() == features
        X = frame if same else frame[features]
        Xt = X if self._preprocess is None else self._preprocess(X)
        if self.package.task != "classification" or not hasattr(model, "predict_proba"):
            return Predictions(np.asarray(self._final.predict(Xt)))
        proba = np.asarray(self._probabilities(Xt))
        classes = np.asarray(model.classes_)
        if _predicts_argmax(model):
            predictions = classes[proba.argmax(axis=1)]
        else:
            predictions = np.asarray(self._final.predict(Xt))
        return Predictions(predictions, proba, classes)


def _freeze_heap() -> None:
    """Move the loaded models and libraries out of the garbage collector's way.

    A full collection walks every object; with scikit-learn, pandas and a model loaded
    that is long enough to stall requests (the p99 at concurrency 32 went from 156 ms to
    100 ms on a 2-core machine, see docs/benchmarks.md). Objects alive now are frozen; the
    requests' short-lived objects are still collected.
    """
    gc.collect()
    gc.freeze()


#: Estimator modules whose classifiers predict the class of highest probability.
_ARGMAX_MODULES = (
    "sklearn.ensemble",
    "sklearn.tree",
    "sklearn.naive_bayes",
    "sklearn.neighbors",
    "sklearn.discriminant_analysis",
    "lightgbm",
    "xgboost",
    "loopline.components._boosting",
)


def _predicts_argmax(model: Any) -> bool:
    """Whether ``predict`` equals ``classes_[argmax(predict_proba)]`` for this model.

    True for trees, forests, boosting, naive Bayes, neighbours; not for, e.g., ``SVC``
    (Platt scaling) or linear models (ties and ``decision_function`` thresholds), which
    are scored with both methods.
    """
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    return type(final).__module__.startswith(_ARGMAX_MODULES)


@dataclass
class Answer:
    """What the service answers for one request."""

    request_id: str
    model: str
    version: int
    role: str
    result: BatchResult
    warnings: list[dict[str, Any]]
    latency_ms: float


class _Slot:
    """A role's reference, its loaded model, and the batcher that serves it."""

    def __init__(
        self,
        role: str,
        ref: ModelRef,
        loaded: LoadedModel,
        options: ServingOptions,
        on_batch: Callable[[Any], None] | None,
    ) -> None:
        self.role = role
        self.ref = ref
        self.loaded = loaded
        self.versions: dict[int, LoadedModel] = {loaded.version: loaded}
        self.refused: set[int] = set()
        self.batcher = MicroBatcher(
            loaded.predict,
            max_batch_size=options.max_batch_size,
            max_wait_ms=options.max_wait_ms,
            on_batch=on_batch,
        )

    def swap(self, loaded: LoadedModel) -> LoadedModel:
        """Serve ``loaded`` from the next batch on; return the version it replaced."""
        old = self.loaded
        self.versions[loaded.version] = loaded
        self.loaded = loaded
        self.batcher.predict = loaded.predict
        return old

    def version_of(self, result: BatchResult) -> LoadedModel:
        """The loaded model whose predict function served a batch."""
        for loaded in self.versions.values():
            if result.served_by == loaded.predict:
                return loaded
        return self.loaded


class PredictionService:
    """Serves predictions of registered models, following their aliases.

    Args:
        registry: Where references are resolved and packages loaded (verified).
        primary: The reference that answers, e.g. ``wine@production``.
        canary: A reference answering ``options.canary_weight`` of the requests.
        shadow: A reference that scores a copy of every request without answering.
        options: Limits, batching, tokens and the request log.
        on_event: Called with ``(kind, details)`` on loads, swaps and refusals (metrics).
    """

    def __init__(
        self,
        registry: Registry,
        primary: str,
        *,
        canary: str | None = None,
        shadow: str | None = None,
        options: ServingOptions | None = None,
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
        on_batch: Callable[[Any], None] | None = None,
    ) -> None:
        from ..registry import parse_ref

        self.registry = registry
        self.options = options or ServingOptions()
        self.refs = {
            role: parse_ref(text)
            for role, text in (("primary", primary), ("canary", canary), ("shadow", shadow))
            if text is not None
        }
        self.slots: dict[str, _Slot] = {}
        self.on_event = on_event or (lambda kind, details: None)
        self.on_batch = on_batch
        self.request_log = (
            RequestLog(self.options.request_log_dir) if self.options.request_log_dir else None
        )
        self._watcher: asyncio.Task[None] | None = None
        self._shadow_tasks: set[asyncio.Task[None]] = set()
        self._refreshing: asyncio.Lock | None = None  # one refresh at a time (watcher, admin)
        self._scratch = Path(__import__("tempfile").mkdtemp(prefix="loopline-serve-"))

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Whether the primary model is loaded."""
        return "primary" in self.slots

    @property
    def schema(self) -> Schema:
        """The input schema requests are validated against (the primary model's)."""
        return self.slots["primary"].loaded.package.schema

    async def start(self) -> None:
        """Load every slot's model, start the batchers and the alias watcher.

        Raises:
            NotFoundError: A reference names no model, alias or version.
            LooplineError: A package cannot be loaded.
        """
        for role, ref in self.refs.items():
            try:
                version = await asyncio.to_thread(self.registry.resolve, ref)
            except NotFoundError:
                if role == "primary":
                    raise
                # A canary or shadow alias may not point anywhere yet: the watcher starts
                # serving it when it does (the controller moves it there).
                log.info("%s %s points nowhere yet; waiting for it", role, ref)
                continue
            await self._open_slot(role, version)
        _freeze_heap()
        self._watcher = asyncio.create_task(self._watch())

    async def _open_slot(self, role: str, version: ModelVersion) -> None:
        loaded = await asyncio.to_thread(self._load, version)
        slot = _Slot(role, self.refs[role], loaded, self.options, self.on_batch)
        slot.batcher.start()
        self.slots[role] = slot
        self.on_event("load", {"role": role, "model": loaded.name, "version": loaded.version})

    async def aclose(self) -> None:
        """Stop watching, drain the batchers, flush the request log."""
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        if self._shadow_tasks:
            await asyncio.gather(*self._shadow_tasks, return_exceptions=True)
        for slot in self.slots.values():
            await slot.batcher.aclose()
        if self.request_log is not None:
            await asyncio.to_thread(self.request_log.close)
        shutil.rmtree(self._scratch, ignore_errors=True)

    # -- loading and swapping ---------------------------------------------------------------

    def _load(self, version: ModelVersion) -> LoadedModel:
        """Unpack (verified), load and warm a version; runs in a worker thread."""
        from ..components import load_package

        folder = self._scratch / f"{version.model}-{version.version}-{uuid.uuid4().hex[:8]}"
        folder.mkdir(parents=True)
        path = self.registry.package_path(version, into=folder)
        package = load_package(path)
        loaded = LoadedModel(version.model, version.version, package, folder)
        loaded.predict(package.samples())  # warm: the first request pays nothing extra
        return loaded

    async def refresh(self) -> list[dict[str, Any]]:
        """Check every slot's reference now; load and swap in versions that changed.

        Returns:
            One ``{role, model, version, previous}`` per swap made.
        """
        if self._refreshing is None:
            self._refreshing = asyncio.Lock()
        async with self._refreshing:
            return await self._refresh()

    async def _refresh(self) -> list[dict[str, Any]]:
        swaps = []
        for role in [r for r in self.refs if r not in self.slots]:
            try:
                version = await asyncio.to_thread(self.registry.resolve, self.refs[role])
                await self._open_slot(role, version)
            except LooplineError:
                continue
            swaps.append(
                {"role": role, "model": version.model, "version": version.version, "previous": None}
            )
        for role, slot in list(self.slots.items()):
            try:
                version = await asyncio.to_thread(self.registry.resolve, slot.ref)
            except NotFoundError as exc:
                if role == "primary":
                    log.warning("Cannot resolve %s: %s", slot.ref, exc)
                    continue
                # The canary's (or shadow's) alias was removed, e.g. after a failed canary:
                # stop sending it traffic at once; it comes back if the alias does.
                del self.slots[role]
                await slot.batcher.aclose()
                gone: dict[str, Any] = {
                    "role": role,
                    "model": slot.loaded.name,
                    "version": None,
                    "previous": slot.loaded.version,
                }
                swaps.append(gone)
                self.on_event("unload", gone)
                log.info("%s %s points nowhere now; it gets no traffic", role, slot.ref)
                continue
            except LooplineError as exc:
                log.warning("Cannot resolve %s: %s", slot.ref, exc)
                continue
            if version.version == slot.loaded.version or version.version in slot.refused:
                continue
            try:
                cached = slot.versions.get(version.version)
                loaded = (
                    cached if cached is not None else await asyncio.to_thread(self._load, version)
                )
            except Exception as exc:  # noqa: BLE001 - a bad package must not stop serving
                slot.refused.add(version.version)
                details = {
                    "role": role,
                    "model": version.model,
                    "version": version.version,
                    "error": f"{type(exc).__name__}: {exc}",
                }
                log.error("Refused %s/%s: %s", version.model, version.version, details["error"])
                self.on_event("refused", details)
                continue
            old = slot.swap(loaded)
            _freeze_heap()
            swap = {
                "role": role,
                "model": loaded.name,
                "version": loaded.version,
                "previous": old.version,
            }
            self.on_event("swap", swap)
            swaps.append(swap)
        return swaps

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.options.poll_interval)
            try:
                await self.refresh()
            except Exception:  # noqa: BLE001 - the watcher must outlive a bad poll
                log.exception("Checking the registry for alias moves failed")

    # -- predicting -------------------------------------------------------------------------

    def parse(
        self, raw: bytes, *, format: str, csv: bool = False
    ) -> tuple[pd.DataFrame | Records, list[dict[str, Any]]]:
        """Validate a request body (JSON, or CSV) against the primary model's schema.

        Returns:
            The validated rows (``Records`` for a clean request) and the warnings.

        Raises:
            PayloadError: The body is malformed, too large, or invalid (status 413 or 422).
            BackendUnavailableError: No model is loaded yet.
        """
        if not self.ready:
            raise BackendUnavailableError("No model is loaded yet.", hint="Retry in a moment.")
        rows, warnings = read_records(
            raw,
            self.schema,
            format=format,  # type: ignore[arg-type]
            policy=self.options.policy,  # type: ignore[arg-type]
            max_bytes=self.options.max_body_bytes,
            max_rows=self.options.max_rows,
            csv=csv,
        )
        return rows, [w.to_dict() for w in warnings]

    async def predict(
        self,
        rows: pd.DataFrame | Records,
        *,
        request_id: str | None = None,
        warnings: list[dict[str, Any]] | None = None,
    ) -> Answer:
        """Route validated rows to the primary or the canary; copy them to the shadow."""
        start = time.perf_counter()
        request_id = request_id or uuid.uuid4().hex
        role = "primary"
        if "canary" in self.slots and random.random() < self.options.canary_weight:
            role = "canary"
        slot = self.slots[role]
        loaded = slot.loaded
        try:
            result = await slot.batcher.submit(rows)
        except LooplineError:
            raise
        except Exception as exc:  # a model fails: a JSON error the app counts
            raise _model_error(loaded, exc) from exc
        loaded = slot.version_of(result)
        latency = (time.perf_counter() - start) * 1000
        self._log(loaded, request_id, rows, result, latency)
        if "shadow" in self.slots:
            task = asyncio.create_task(self._shadow(rows, request_id))
            self._shadow_tasks.add(task)
            task.add_done_callback(self._shadow_tasks.discard)
        return Answer(
            request_id, loaded.name, loaded.version, role, result, warnings or [], latency
        )

    async def _shadow(self, rows: pd.DataFrame | Records, request_id: str) -> None:
        slot = self.slots["shadow"]
        start = time.perf_counter()
        try:
            result = await slot.batcher.submit(rows)
        except Exception:  # noqa: BLE001 - the shadow never affects the answer
            log.warning("Shadow model failed on request %s", request_id, exc_info=True)
            return
        loaded = slot.version_of(result)
        self._log(loaded, request_id, rows, result, (time.perf_counter() - start) * 1000)

    def _log(
        self,
        loaded: LoadedModel,
        request_id: str,
        rows: pd.DataFrame | Records,
        result: BatchResult,
        latency_ms: float,
    ) -> None:
        if self.request_log is None:
            return
        outputs = prediction_outputs(result.predictions, result.probabilities, result.classes)
        self.request_log.append(loaded.name, loaded.version, request_id, rows, outputs, latency_ms)

    def log_error(self, status: int, message: str) -> None:
        """Count a refused or failed request for monitoring's ``error_rate``."""
        if self.request_log is None or "primary" not in self.slots:
            return
        model = self.slots["primary"].loaded.name
        # Written at once to a local log; queued and batched for an object store.
        self.request_log.append_error(model, status, message)

    def describe(self) -> dict[str, Any]:
        """Which version each role serves, for ``/readyz`` and the logs."""
        return {
            role: {"ref": str(slot.ref), "model": slot.loaded.name, "version": slot.loaded.version}
            for role, slot in self.slots.items()
        }
