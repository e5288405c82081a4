"""Adaptive micro-batching: concurrent requests share one call of the model.

A ``MicroBatcher`` owns one predict function (a fitted pipeline's ``predict``, wrapped to
return ``Predictions``). Requests ``submit`` their validated rows (a DataFrame, or the fast
path's ``Records``); a single worker task on the event loop takes the requests waiting in
the queue as one batch, and a worker thread joins them into one frame (``frame_of``: one
array per column for all the ``Records``), runs the predict function on it (the event loop
is never blocked), and hands each request back exactly its own rows, in order.

The batching policy:

- A batch takes requests in arrival order, up to ``max_batch_size`` rows, and only requests
  with the same columns (a request bigger than ``max_batch_size`` forms a batch of its
  own; requests are never split).
- Requests that arrive while a batch is predicting wait in the queue and form the next
  batch: under load, batches fill up by themselves without any added wait.
- Beyond that, the batcher waits for more requests only when it has seen concurrency: if
  the previous batch or the current one holds more than one request, it waits until
  ``max_wait_ms`` after the *first* request of the batch arrived (time already spent
  queueing counts) or until the batch is full. A lone request on an idle service (the
  previous batch served one request) is predicted at once, so sequential clients pay no
  added latency; a burst pays at most ``max_wait_ms`` once.
- When a batch fails, each of its requests is predicted again alone (with the same
  function), so one bad request fails only itself.

Hot swap: assigning ``batcher.predict = new_function`` takes effect from the next batch;
the running batch, and its retries, keep the function they started with. Each
``BatchResult`` names the function that served it (``served_by``), so a service can log
the model version that really answered.

Example:
    >>> import asyncio
    >>> import numpy as np
    >>> def double(frame: pd.DataFrame) -> Predictions:
    ...     return Predictions(frame["x"].to_numpy() * 2)
    >>> async def main() -> list[float]:
    ...     async with MicroBatcher(double) as batcher:
    ...         results = await asyncio.gather(
    ...             *(batcher.submit(pd.DataFrame({"x": [float(i)]})) for i in range(3))
    ...         )
    ...     return [float(result.predictions[0]) for result in results]
    >>> asyncio.run(main())
    [0.0, 2.0, 4.0]
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol

import numpy as np
import pandas as pd

from loopline.errors import ConflictError, InvalidInputError

from ..requestlog import Records, frame_of

__all__ = ["BatchInfo", "BatchResult", "MicroBatcher", "PredictFunction", "Predictions"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Predictions:
    """What a predict function returns for a frame: one prediction per row, and maybe more.

    Args:
        predictions: One prediction per row (1-D, or 2-D for several outputs per row).
        probabilities: For classifiers, a ``(rows, classes)`` array of class probabilities.
        classes: The class labels of the columns of ``probabilities``.

    Raises:
        InvalidInputError: If the arrays' lengths or shapes do not agree.
    """

    predictions: np.ndarray
    probabilities: np.ndarray | None = None
    classes: np.ndarray | None = None

    def __post_init__(self) -> None:
        predictions = np.asarray(self.predictions)
        if predictions.ndim == 0:
            predictions = predictions.reshape(1)
        object.__setattr__(self, "predictions", predictions)
        if self.probabilities is not None:
            probabilities = np.asarray(self.probabilities)
            if probabilities.ndim != 2 or len(probabilities) != len(predictions):
                raise InvalidInputError(
                    f"Predictions.probabilities must be a (rows, classes) array with one row "
                    f"per prediction ({len(predictions)}); got shape {probabilities.shape}.",
                    shape=probabilities.shape,
                )
            object.__setattr__(self, "probabilities", probabilities)
        if self.classes is not None:
            classes = np.asarray(self.classes)
            width = None if self.probabilities is None else self.probabilities.shape[1]
            if classes.ndim != 1 or (width is not None and len(classes) != width):
                raise InvalidInputError(
                    f"Predictions.classes must list one label per column of probabilities "
                    f"({width}); got shape {classes.shape}.",
                    shape=classes.shape,
                )
            object.__setattr__(self, "classes", classes)

    def __len__(self) -> int:
        return len(self.predictions)

    def rows(self, start: int, stop: int) -> Predictions:
        """Return rows ``start`` to ``stop`` (exclusive), classes unchanged."""
        probabilities = None if self.probabilities is None else self.probabilities[start:stop]
        return Predictions(self.predictions[start:stop], probabilities, self.classes)


class PredictFunction(Protocol):
    """A function from a frame to its predictions (``Predictions``, or an array of them).

    It runs in a worker thread, one batch at a time, and always gets a DataFrame.
    """

    def __call__(self, frame: pd.DataFrame, /) -> Predictions | np.ndarray: ...


@dataclass(frozen=True)
class BatchResult:
    """One request's share of a batch.

    Attributes:
        predictions: This request's predictions, one per row, in its order.
        probabilities: This request's rows of class probabilities, or ``None``.
        classes: The class labels of the probability columns, or ``None``.
        served_by: The predict function that made these predictions (after a hot swap,
            the old or the new one).
        batch_rows: Rows in the batch this request rode in.
        batch_requests: Requests in that batch.
        retried: Whether the batch failed and this request was predicted again alone.
    """

    predictions: np.ndarray
    probabilities: np.ndarray | None
    classes: np.ndarray | None
    served_by: PredictFunction
    batch_rows: int
    batch_requests: int
    retried: bool = False


@dataclass(frozen=True)
class BatchInfo:
    """What one batch was, for metrics (``on_batch``).

    Attributes:
        rows: Rows predicted together.
        requests: Requests in the batch.
        seconds: Time spent predicting, retries included.
        failed: How many of the requests failed.
        retried: Whether the batch failed as a whole and its requests were retried alone.
    """

    rows: int
    requests: int
    seconds: float
    failed: int = 0
    retried: bool = False


@dataclass
class _Request:
    rows: pd.DataFrame | Records
    columns: tuple[Hashable, ...]
    future: asyncio.Future[BatchResult]
    arrived: float


@dataclass
class _Outcome:
    """The worker thread's answer for one batch: per request, predictions or an error."""

    results: list[Predictions | Exception] = field(default_factory=list)
    retried: bool = False


class MicroBatcher:
    """Batches concurrent requests into single calls of a predict function.

    The batching policy is in this module's docstring. The batcher belongs to the event
    loop that starts it (``start``, the first ``submit``, or ``async with``).

    Args:
        predict: The predict function; replace it any time with ``batcher.predict = f``.
        max_batch_size: The most rows in one batch (a bigger request is a batch alone).
        max_wait_ms: The longest a request waits for others to join its batch, counted
            from its arrival.
        executor: Where predict functions run; by default a thread of the batcher's own
            (closed by ``aclose``). One batch runs at a time.
        on_batch: Called on the event loop after each batch with its ``BatchInfo`` (to
            feed a histogram of batch sizes); its errors are logged and ignored.

    Raises:
        InvalidInputError: If an argument is invalid.
    """

    def __init__(
        self,
        predict: PredictFunction,
        *,
        max_batch_size: int = 64,
        max_wait_ms: float = 2.0,
        executor: Executor | None = None,
        on_batch: Callable[[BatchInfo], None] | None = None,
    ) -> None:
        if isinstance(max_batch_size, bool) or not isinstance(max_batch_size, int):
            raise InvalidInputError(
                f"The 'max_batch_size' argument of MicroBatcher must be an int >= 1. Got "
                f"{max_batch_size!r} instead.",
                value=max_batch_size,
            )
        if max_batch_size < 1 or not 0 <= max_wait_ms < float("inf"):
            raise InvalidInputError(
                f"MicroBatcher needs max_batch_size >= 1 and a finite max_wait_ms >= 0. Got "
                f"max_batch_size={max_batch_size!r}, max_wait_ms={max_wait_ms!r}.",
                value=(max_batch_size, max_wait_ms),
            )
        self._predict = _check_callable(predict)
        self.max_batch_size = max_batch_size
        self.max_wait_ms = float(max_wait_ms)
        self.on_batch = on_batch
        self._executor = executor
        self._owns_executor = executor is None
        self._pending: deque[_Request] = deque()
        self._in_flight: list[_Request] = []
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._last_batch_requests = 1

    @property
    def predict(self) -> PredictFunction:
        """The predict function the next batch uses; assign to hot-swap it."""
        return self._predict

    @predict.setter
    def predict(self, function: PredictFunction) -> None:
        # One reference assignment: atomic, and read once per batch by the worker.
        self._predict = _check_callable(function)

    @property
    def pending_requests(self) -> int:
        """Requests waiting for a batch (not counting the one predicting)."""
        return len(self._pending)

    @property
    def is_running(self) -> bool:
        """Whether the worker task is running."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start the worker task on the running event loop (done by ``submit`` if needed).

        Raises:
            ConflictError: If the batcher is closed, or no event loop is running.
        """
        if self._closing:
            raise _closed_error()
        if self._task is not None:
            if self._task.done():  # the worker died of a bug: refuse rather than hang
                raise ConflictError(
                    "The micro-batcher's worker stopped unexpectedly; see the logged error.",
                    hint="Create a new MicroBatcher.",
                )
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError as exc:
            raise ConflictError(
                "MicroBatcher.start() must be called from a running event loop.",
                hint="Call it in async code (a FastAPI lifespan), or use 'async with'.",
            ) from exc
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="loopline-predict")
        self._wakeup = asyncio.Event()
        self._task = loop.create_task(self._run(), name="loopline-micro-batcher")

    async def submit(self, rows: pd.DataFrame | Records) -> BatchResult:
        """Predict ``rows`` in the next batch and return their predictions.

        Args:
            rows: The request's validated rows (at least one).

        Returns:
            This request's predictions (and probabilities), in its row order.

        Raises:
            ConflictError: If the batcher is closed (or stopped before predicting).
            InvalidInputError: If ``rows`` is not a non-empty DataFrame or ``Records``.
            Exception: Whatever the predict function raised for this request alone.
        """
        if isinstance(rows, Records) and len(rows):
            columns: tuple[Hashable, ...] = rows.names
        elif isinstance(rows, pd.DataFrame) and len(rows):
            columns = tuple(rows.columns)
        else:
            raise InvalidInputError(
                "MicroBatcher.submit needs a DataFrame (or Records) with at least one row. "
                f"Got {_describe(rows)} instead.",
                value=type(rows).__name__,
            )
        self.start()
        assert self._wakeup is not None  # set by start()
        loop = asyncio.get_running_loop()
        request = _Request(rows, columns, loop.create_future(), time.monotonic())
        self._pending.append(request)
        self._wakeup.set()
        return await request.future

    async def aclose(self) -> None:
        """Stop taking requests, predict every pending one, and stop the worker.

        Safe to call more than once.
        """
        self._closing = True
        task = self._task
        if task is not None:
            assert self._wakeup is not None
            self._wakeup.set()
            # wait() neither raises the worker's error (already logged, and given to every
            # waiting request) nor cancels the worker if this call is cancelled.
            await asyncio.wait([task])
            if not task.cancelled():
                task.exception()  # retrieved: no "never retrieved" warning
        if self._owns_executor and self._executor is not None:
            self._executor.shutdown(wait=True)  # idle: the worker awaited every batch

    async def __aenter__(self) -> MicroBatcher:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- the worker -------------------------------------------------------------------------

    async def _run(self) -> None:
        assert self._wakeup is not None
        try:
            while self._pending or not self._closing:
                if not self._pending:
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                batch = await self._collect()
                if batch:
                    await self._dispatch(batch)
        except BaseException as exc:  # cancelled, or a bug: nobody may wait forever
            if not isinstance(exc, asyncio.CancelledError):
                logger.exception("The micro-batcher's worker failed.")
            for request in [*self._in_flight, *self._pending]:
                if not request.future.done():
                    error = ConflictError("The micro-batcher stopped before predicting.")
                    error.__cause__ = exc
                    request.future.set_exception(error)
            self._pending.clear()
            raise

    async def _collect(self) -> list[_Request]:
        """Take the next batch from the queue, waiting for more only under concurrency."""
        assert self._wakeup is not None
        batch: list[_Request] = []
        rows = 0
        while True:
            blocked = False
            while self._pending:
                request = self._pending[0]
                if request.future.done():  # its caller gave up (cancelled)
                    self._pending.popleft()
                    continue
                size = len(request.rows)
                if batch and (
                    rows + size > self.max_batch_size or request.columns != batch[0].columns
                ):
                    blocked = True
                    break
                batch.append(self._pending.popleft())
                rows += size
            if not batch or blocked or rows >= self.max_batch_size or self._closing:
                return batch
            if len(batch) == 1 and self._last_batch_requests == 1:
                return batch  # idle: a lone request does not wait
            remaining = batch[0].arrived + self.max_wait_ms / 1000 - time.monotonic()
            if remaining <= 0:
                return batch
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except asyncio.TimeoutError:
                return batch

    async def _dispatch(self, batch: list[_Request]) -> None:
        """Predict one batch in the executor and hand each request its rows."""
        predict = self._predict  # read once: a hot swap applies from the next batch
        parts = [request.rows for request in batch]
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        self._in_flight = batch  # failed by _run if this task is cancelled while predicting
        outcome = await loop.run_in_executor(self._executor, _predict_batch, predict, parts)
        self._in_flight = []
        seconds = time.perf_counter() - started
        rows = sum(len(part) for part in parts)
        failed = 0
        for request, result in zip(batch, outcome.results, strict=True):
            if isinstance(result, Exception):
                failed += 1
            if request.future.done():
                continue
            if isinstance(result, Exception):
                request.future.set_exception(result)
            else:
                request.future.set_result(
                    BatchResult(
                        predictions=result.predictions,
                        probabilities=result.probabilities,
                        classes=result.classes,
                        served_by=predict,
                        batch_rows=rows,
                        batch_requests=len(batch),
                        retried=outcome.retried,
                    )
                )
        self._last_batch_requests = len(batch)
        if self.on_batch is not None:
            info = BatchInfo(rows, len(batch), seconds, failed, outcome.retried)
            try:
                self.on_batch(info)
            except Exception:
                logger.exception("The on_batch callback of a MicroBatcher raised; ignored.")


def _predict_batch(predict: PredictFunction, parts: Sequence[pd.DataFrame | Records]) -> _Outcome:
    """Predict all requests at once; if that fails, each alone. Runs in the worker thread."""
    try:
        whole = _call(predict, frame_of(parts))
    except Exception as exc:
        if len(parts) == 1:
            return _Outcome([exc])
        outcome = _Outcome(retried=True)
        for single in parts:
            try:
                outcome.results.append(_call(predict, frame_of([single])))
            except Exception as error:
                outcome.results.append(error)
        return outcome
    outcome = _Outcome()
    start = 0
    for single in parts:
        outcome.results.append(whole.rows(start, start + len(single)))
        start += len(single)
    return outcome


def _call(predict: PredictFunction, frame: pd.DataFrame) -> Predictions:
    """Call ``predict`` and check it returned one prediction per row."""
    output = predict(frame)
    result = output if isinstance(output, Predictions) else Predictions(np.asarray(output))
    if len(result) != len(frame):
        raise InvalidInputError(
            f"The predict function {_name(predict)} returned {len(result)} predictions for "
            f"{len(frame)} rows.",
            hint="Return one prediction per input row, in order.",
            rows=len(frame),
            predictions=len(result),
        )
    return result


def _check_callable(function: Any) -> PredictFunction:
    if not callable(function):
        raise InvalidInputError(
            f"A MicroBatcher's predict function must be callable. Got {_describe(function)}.",
            value=type(function).__name__,
        )
    checked: PredictFunction = function
    return checked


def _closed_error() -> ConflictError:
    return ConflictError(
        "The micro-batcher is closed and takes no more requests.",
        hint="Create a new MicroBatcher (closing is for shutdown).",
    )


def _describe(value: object) -> str:
    if isinstance(value, pd.DataFrame | Records):
        return f"a {type(value).__name__} with {len(value)} rows"
    return f"{type(value).__name__} {value!r}"[:100]


def _name(function: object) -> str:
    return getattr(function, "__qualname__", None) or type(function).__name__
