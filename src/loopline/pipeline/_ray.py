"""The Ray executor: independent steps run as Ray tasks, on this machine or a cluster.

Each step is one Ray task asking for the step's ``resources``. Inputs and outputs go
through the artifact store (the task gets URIs and hashes, and hands back the blobs it
wrote), never through Ray's object store alone, so a run's artifacts outlive the cluster,
caching and ``--resume`` work as with the other executors, and the runner records
lineage exactly as in-process. Retries are the step's own (``retries=``); Ray's task
retries are off, so a worker that dies fails the step, and ``--resume`` reruns it.

Ray is imported only when this executor is made: ``pip install 'loopline[ray]'``.
See docs/decisions/0007-ray-executor.md.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any
from urllib.parse import urlsplit

from ..errors import BackendUnavailableError, ConfigError
from ._executor import BaseExecutor
from ._step import Step
from ._worker import StepOutcome, StepTask, execute_step, resolve_step

#: How long to wait for a TCP answer from a cluster address before calling it unreachable
#: (ray.init itself retries for minutes on an address nobody listens on).
CONNECT_TIMEOUT = 5.0

#: Our resource names -> ray.remote() options; other names are custom Ray resources.
_RAY_OPTION = {"cpu": "num_cpus", "gpu": "num_gpus", "memory": "memory"}
#: Our resource names -> the keys of ray.cluster_resources().
_RAY_TOTAL = {"cpu": "CPU", "gpu": "GPU", "memory": "memory"}


def import_ray() -> Any:
    """The ``ray`` module, or a clear error saying how to install it.

    Raises:
        ConfigError: Ray is not installed.
    """
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(
            f"The 'ray' executor needs Ray, which is not installed here ({exc}).",
            hint="Install it with: pip install 'loopline[ray]'",
            value="ray",
        ) from exc
    return ray


#: What Ray Client says when its proxy could not start the server of a connection.
_CLIENT_SERVER_FAILED = "Starting Ray client server failed"


class RayExecutor(BaseExecutor):
    """Run steps as Ray tasks, each with the resources its ``@step`` asks for.

    Args:
        address: The cluster: ``"auto"`` (the one ``ray start`` runs on this machine),
            ``"HOST:PORT"`` (its GCS address), ``"ray://HOST:10001"`` (Ray Client), or
            ``"local"`` (a private Ray on this machine that ends with the executor). None
            does what ``ray.init()`` does: ``RAY_ADDRESS`` if set, else the cluster
            ``ray start`` runs here, else a private Ray.
        num_cpus: CPUs of a private Ray; with ``address`` None it means ``"local"``.
        runtime_env: Ray runtime environment for the workers (e.g. ``{"working_dir": "."}``
            so nodes of a remote cluster can import the project's steps).

    Raises:
        ConfigError: Ray is not installed, or the address is malformed.
        BackendUnavailableError: The cluster cannot be reached.

    Example (not run here: it needs a Ray cluster)::

        with Runner(store, artifacts, RayExecutor("auto")) as runner:
            runner.run(my_pipeline)
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: int | None = None,
        runtime_env: Mapping[str, Any] | None = None,
    ) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self.runtime_env = dict(runtime_env) if runtime_env else None
        ray = import_ray()
        self._ray = ray
        self._owns_ray = False
        if not ray.is_initialized():
            _check_reachable(address)
            self._connect(ray)
            self._owns_ray = True
        self.max_parallel = max(1, int(self._totals().get("CPU", 1)))
        # Ray's own task retries are off: a step's retries are its own, and a dead worker
        # fails the step like a dead process-pool worker (the run is then resumable).
        self._task = ray.remote(max_retries=0)(_run_on_ray)
        self._pending: dict[Future[StepOutcome], Any] = {}
        self._lock = threading.Lock()

    def _connect(self, ray: Any) -> None:
        address = self.address
        if address is None and self.num_cpus is not None:
            address = "local"  # ray.init refuses num_cpus when it finds a running cluster
        options: dict[str, Any] = {
            "address": address,
            "logging_level": logging.WARNING,
            "include_dashboard": False,
        }
        if address in (None, "local") and self.num_cpus is not None:
            options["num_cpus"] = self.num_cpus
        if self.runtime_env is not None:
            options["runtime_env"] = self.runtime_env
        if self.address is not None and self.address.startswith("ray://"):
            del options["include_dashboard"]  # a Ray Client session refuses it
        for attempt in (1, 2):
            try:
                ray.init(**options)
                return
            except ValueError as exc:
                raise ConfigError(
                    f"Cannot use the Ray address {self.address!r}: {exc}",
                    hint="Give 'auto', 'HOST:PORT' of a cluster's head, or 'ray://HOST:10001' "
                    "(Ray Client, needs 'pip install ray[client]').",
                    value=self.address,
                ) from exc
            except (ConnectionError, TimeoutError, RuntimeError) as exc:
                if attempt == 1 and _CLIENT_SERVER_FAILED in str(exc):
                    # Ray Client's proxy forks a server for each connection, and that
                    # fork now and then dies at once (seen in CI: "Other threads are
                    # currently calling into gRPC, skipping fork() handlers"); the next
                    # connection gets a new one.
                    ray.shutdown()
                    time.sleep(1.0)
                    continue
                raise _unreachable(self.address, exc) from exc

    def _totals(self) -> dict[str, float]:
        totals: dict[str, float] = self._ray.cluster_resources()
        return totals

    def submit(self, task: StepTask) -> Future[StepOutcome]:
        step = resolve_step(task.step)
        future: Future[StepOutcome] = Future()
        refused = self._infeasible(step)
        if refused is not None:
            future.set_result(StepOutcome(None, error=refused))
            return future
        # Steps Ray workers cannot import (defined in a function or in __main__) travel
        # pickled by value; the others by reference, resolved in the worker as in a
        # process-pool worker, with this process's import path where it exists there.
        shipped = step if _needs_shipping(step) else None
        ref = self._task.options(**ray_options(step)).remote(task, shipped, list(sys.path))
        with self._lock:
            self._pending[future] = ref
        ref.future().add_done_callback(lambda done: self._settle(future, done, step.name))
        return future

    def _infeasible(self, step: Step[..., Any]) -> str | None:
        """Why the cluster can never run ``step`` (it would wait forever), or None."""
        totals = self._totals()
        for key, amount in step.options.resources:
            have = totals.get(_RAY_TOTAL.get(key, key), 0.0)
            if amount > have:
                where = f"at {self.address}" if self.address else "here"
                return (
                    f"Step {step.name!r} asks for {key}={amount:g}, but the Ray cluster {where} "
                    f"has {have:g} in all. Lower the step's resources=, or run on a cluster "
                    "with more."
                )
        return None

    def _settle(self, future: Future[StepOutcome], done: Future[Any], name: str) -> None:
        """Hand the task's outcome to the runner; a Ray failure becomes a failed step."""
        with self._lock:
            self._pending.pop(future, None)
        try:
            outcome: StepOutcome = done.result()
        except BaseException as exc:  # noqa: BLE001 - every Ray failure fails the step
            outcome = StepOutcome(
                None, error=describe_ray_failure(exc, name), traceback=traceback.format_exc()
            )
        if future.set_running_or_notify_cancel():
            future.set_result(outcome)

    def shutdown(self) -> None:
        with self._lock:
            pending, self._pending = list(self._pending.values()), {}
        for ref in pending:
            with contextlib.suppress(Exception):  # it may have finished meanwhile
                self._ray.cancel(ref, force=True)
        if self._owns_ray:
            self._owns_ray = False
            self._ray.shutdown()


def _needs_shipping(step: Step[..., Any]) -> bool:
    return "<locals>" in step.func.__qualname__ or step.func.__module__ == "__main__"


def _run_on_ray(task: StepTask, step: Step[..., Any] | None, paths: list[str]) -> StepOutcome:
    """The Ray task: run the step the driver sent, or import it like a process-pool worker.

    ``paths`` is the driver's ``sys.path``: the entries that exist on this node are added,
    so that on one machine the worker imports what the driver imports (as ``forkserver``
    workers do); on other nodes the project must be installed or in ``runtime_env``.
    """
    for entry in paths:
        if entry not in sys.path and os.path.isdir(entry):
            sys.path.append(entry)
    return execute_step(task, step)


def ray_options(step: Step[..., Any]) -> dict[str, Any]:
    """The ``ray.remote(...).options()`` that ask for ``step``'s resources."""
    options: dict[str, Any] = {"name": f"loopline:{step.name}"}
    custom: dict[str, float] = {}
    for key, amount in step.options.resources:
        if key in _RAY_OPTION:
            options[_RAY_OPTION[key]] = int(amount) if key == "memory" else amount
        else:
            custom[key] = amount
    if custom:
        options["resources"] = custom
    return options


def describe_ray_failure(exc: BaseException, step: str) -> str:
    """A one-line account of why Ray could not run ``step``, with what to do."""
    kind = type(exc).__name__
    if kind in ("WorkerCrashedError", "NodeDiedError", "OutOfMemoryError", "RayActorError"):
        return (
            f"The Ray worker running step {step!r} died (killed, out of memory or its node "
            f"left): {kind}."
        )
    if kind == "TaskCancelledError":
        return f"The Ray task of step {step!r} was cancelled."
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return (
        f"Ray could not run step {step!r}: {kind}: {first} (Ray workers must be able to "
        "import the step's module: install the project on every node, or give the executor "
        "runtime_env={'working_dir': ...}.)"
    )


def _check_reachable(address: str | None) -> None:
    """Fail fast when nothing listens at ``HOST:PORT`` (ray.init would retry for minutes)."""
    if address is None or address in ("auto", "local"):
        return
    parts = urlsplit(address if "://" in address else f"gcs://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise ConfigError(
            f"Cannot use the Ray address {address!r}: {exc}.",
            hint="Give 'auto', 'HOST:PORT' or 'ray://HOST:10001'.",
            value=address,
        ) from exc
    if not host or port is None:
        raise ConfigError(
            f"The Ray address {address!r} has no host and port.",
            hint="Give 'auto', 'HOST:PORT' (e.g. 127.0.0.1:6379) or 'ray://HOST:10001'.",
            value=address,
        )
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as exc:
        raise _unreachable(address, exc) from exc


def _unreachable(address: str | None, exc: BaseException) -> BackendUnavailableError:
    return BackendUnavailableError(
        f"Cannot reach the Ray cluster at {address or 'auto'}: {exc}",
        hint="Start one with 'ray start --head' and pass its address (or 'auto' on its "
        "head node), or leave out --address to start a private Ray on this machine.",
        value=address,
    )
