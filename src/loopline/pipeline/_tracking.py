"""Tracking inside a step: ``log_metric``, ``log_params``, ``set_tag``, ``log_artifact``.

Calls append to an in-memory buffer, written to the store in one batch when it fills,
when the step ends, and when it fails: thousands of metrics cost one transaction.
"""

from __future__ import annotations

import contextvars
import math
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInputError

if TYPE_CHECKING:
    from ..store import Run, Store

#: Buffered metrics are written once this many are waiting.
FLUSH_EVERY = 5000


@dataclass
class TrackingContext:
    """Where tracking calls go: a run, optionally a step run, and a buffer."""

    run_id: str
    step_run_id: int | None
    store: Store
    save_artifact: Callable[[Any, str], int] | None = None
    load_artifact: Callable[[int, str], Any] | None = None
    #: The name of the executor running the step (steps may spread their own work on it).
    executor: str = "inprocess"
    metrics: list[tuple[str, float, int | None, float]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    progress_written: float = 0.0

    def flush(self) -> None:
        """Write everything buffered in one transaction."""
        if not (self.metrics or self.params or self.tags):
            return
        metrics, params, tags = self.metrics, self.params, self.tags
        self.metrics, self.params, self.tags = [], {}, {}
        self.store.tracking.write(
            self.run_id, self.step_run_id, metrics=metrics, params=params, tags=tags
        )


_context: contextvars.ContextVar[TrackingContext | None] = contextvars.ContextVar(
    "loopline_tracking", default=None
)


@contextmanager
def tracking_context(context: TrackingContext) -> Iterator[TrackingContext]:
    """Send tracking calls to ``context`` inside the block; flush it on the way out."""
    token = _context.set(context)
    try:
        yield context
    finally:
        _context.reset(token)
        context.flush()


def _current(what: str) -> TrackingContext:
    context = _context.get()
    if context is None:
        raise InvalidInputError(
            f"loopline.{what}() was called outside a step and outside a run.",
            hint="Call it inside a @step function, or inside 'with loopline.start_run():'.",
        )
    return context


def log_metric(key: str, value: float, step: int | None = None) -> None:
    """Log one metric value of the current step.

    Args:
        key: The metric's name, e.g. ``"val_loss"``.
        value: A finite number.
        step: An optional x-axis position (epoch, iteration).

    Raises:
        InvalidInputError: Outside a step or run, or the value is not a finite number.
    """
    context = _context.get() or _current("log_metric")
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or not isinstance(key, str) or not key:
        raise InvalidInputError(
            f"log_metric({key!r}, {value!r}): a metric needs a non-empty str key and a "
            "finite number.",
            hint="Check for NaN or infinite values before logging them.",
            key=key,
            value=value,
        )
    context.metrics.append((key, number, step, time.time()))
    if len(context.metrics) >= FLUSH_EVERY:
        context.flush()


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    """Log several metric values of the current step at once.

    Raises:
        InvalidInputError: Outside a step or run, or a value is not a finite number.
    """
    for key, value in metrics.items():
        log_metric(key, value, step)


#: Metric keys ``report_progress`` writes; the CLI's live view reads them.
PROGRESS_KEYS = ("progress.done", "progress.total", "progress.seconds_left")
_PROGRESS_EVERY_S = 1.0


def report_progress(done: int, total: int, seconds_left: float | None = None) -> None:
    """Say how far the current step is (``done`` of ``total``), for ``loopline run``'s view.

    Written to the store at once (not buffered), at most once a second unless the step is
    done, so another process can follow it. Outside a step or run it does nothing.

    Args:
        done: Units of work finished (trials, fits).
        total: Units of work in all.
        seconds_left: The estimated time to finish, if known.
    """
    context = _context.get()
    if context is None:
        return
    now = time.time()
    if done < total and now - context.progress_written < _PROGRESS_EVERY_S:
        return
    context.progress_written = now
    context.metrics.append((PROGRESS_KEYS[0], float(done), None, now))
    context.metrics.append((PROGRESS_KEYS[1], float(total), None, now))
    if seconds_left is not None and math.isfinite(seconds_left):
        context.metrics.append((PROGRESS_KEYS[2], float(max(seconds_left, 0.0)), None, now))
    context.flush()


@dataclass(frozen=True)
class StepProgress:
    """The latest ``report_progress`` of a step: ``done`` of ``total``, and the time left."""

    done: int
    total: int
    seconds_left: float | None = None


def step_progress(store: Store, run_id: str) -> dict[str, StepProgress]:
    """The latest progress each step of run ``run_id`` reported, by step name."""
    names = {sr.id: sr.name for sr in store.runs.steps(run_id)}
    latest: dict[int, dict[str, float]] = {}
    for metric in store.tracking.metrics(run_id):
        if metric.key in PROGRESS_KEYS and metric.step_run_id in names:
            latest.setdefault(metric.step_run_id, {})[metric.key] = metric.value
    out = {}
    for step_run_id, values in latest.items():
        done, total = values.get(PROGRESS_KEYS[0]), values.get(PROGRESS_KEYS[1])
        if done is not None and total is not None:
            out[names[step_run_id]] = StepProgress(
                int(done), int(total), values.get(PROGRESS_KEYS[2])
            )
    return out


def log_params(params: Mapping[str, Any]) -> None:
    """Record parameters (JSON-able values) of the current step.

    Raises:
        InvalidInputError: Outside a step or run.
    """
    _current("log_params").params.update(params)


def set_tag(key: str, value: str) -> None:
    """Tag the current run (``key`` → ``value``); a later value replaces an earlier one.

    Raises:
        InvalidInputError: Outside a step or run.
    """
    _current("set_tag").tags[str(key)] = str(value)


def log_artifact(value: Any, name: str) -> int:
    """Store ``value`` as an extra output artifact of the current step.

    Args:
        value: Anything a materializer handles (a DataFrame, an array, a JSON-able
            value, an estimator, a ``pathlib.Path`` to a file or folder).
        name: The name of the artifact in the step's lineage.

    Returns:
        The artifact's id in the store.

    Raises:
        InvalidInputError: Outside a step, or no materializer handles the value.
    """
    context = _current("log_artifact")
    if context.save_artifact is None:
        raise InvalidInputError(
            "loopline.log_artifact() needs a step: artifacts are linked to the step run "
            "that wrote them.",
            hint="Call it inside a @step function.",
        )
    return context.save_artifact(value, name)


def load_artifact(artifact_id: int, name: str | None = None) -> Any:
    """Load a stored artifact inside a step, recording it as an input of the step.

    For artifacts a step needs besides its inputs, e.g. the champion model it is compared
    with: the read is part of the step's lineage.

    Args:
        artifact_id: The artifact's id in the store.
        name: The name of the input in the step's lineage; ``artifact-<id>`` by default.

    Returns:
        The artifact's value, after its bytes were checked against their sha256.

    Raises:
        InvalidInputError: Outside a step.
        NotFoundError: No such artifact.
        ArtifactIntegrityError: Its bytes changed on disk.
    """
    context = _current("load_artifact")
    if context.load_artifact is None:
        raise InvalidInputError(
            "loopline.load_artifact() needs a step: the read is recorded in its lineage.",
            hint="Call it inside a @step function.",
        )
    return context.load_artifact(artifact_id, name or f"artifact-{artifact_id}")


def current_run_id() -> str:
    """The id of the run the current step belongs to.

    Raises:
        InvalidInputError: Outside a step or run.
    """
    return _current("current_run_id").run_id


def current_store_url() -> str:
    """The URL of the metadata store the current step or run writes to.

    Raises:
        InvalidInputError: Outside a step or run.
    """
    return _current("current_store_url").store.url


def current_executor() -> str:
    """The name of the executor running the current step (``inprocess``, ``process``, ``ray``).

    A step that parallelises its own work (tuning trials) asks this to use the same engine.

    Raises:
        InvalidInputError: Outside a step or run.
    """
    return _current("current_executor").executor


@contextmanager
def start_run(name: str = "adhoc", *, project_dir: str | None = None) -> Iterator[Run]:
    """Track metrics, params and tags outside a pipeline, as one run of the project.

    Example:
        >>> import loopline, tempfile
        >>> with loopline.start_run("notebook", project_dir=tempfile.mkdtemp()) as run:
        ...     loopline.log_metric("accuracy", 0.91)

    Raises:
        ConfigError: The project's settings are wrong.
    """
    from ..config import load_settings
    from ..store import Store

    store = Store(load_settings(project_dir).store_url)
    run = store.runs.create(name, executor="none")
    context = TrackingContext(run.id, None, store)
    status, error = "failed", None
    try:
        with tracking_context(context):
            yield run
        status = "succeeded"
    except KeyboardInterrupt:
        status, error = "interrupted", "Interrupted by the user."
        raise
    except BaseException as exc:
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        try:
            store.runs.finish(run.id, status, error=error)
        finally:
            store.close()
