"""``loopline serve --workers N``: N uvicorn processes on one port, connections spread evenly.

uvicorn's own ``--workers`` has every process accept on one shared socket. When a client
opens its connections in a burst (32 at once), the first process to wake accepts them all
and keeps them: on a 2-core machine one worker then ran at 100 % CPU and the other idle
for the whole run (1 run of 6 at concurrency 32, 2 of 4 at concurrency 4). Here each
worker listens on a socket of its own, bound with ``SO_REUSEPORT``, and the kernel hashes
each new connection to one of them.
(Where ``SO_REUSEPORT`` does not spread connections — only Linux's does — the workers share
one socket, as uvicorn's do.)

This process (the supervisor) binds the sockets and keeps them, starts the workers
(``spawn``), starts a new worker in place of one that dies (its socket's waiting
connections wait for it), and stops them all on SIGINT or SIGTERM; each worker finishes
its requests and flushes its request log. A worker that cannot start (uvicorn's exit code
3) stops them all with that code, as do repeated deaths. A worker whose supervisor is
killed (``kill -9``) stops by itself rather than hold the port.

The workers write their Prometheus values to one temporary folder
(``PROMETHEUS_MULTIPROC_DIR``, removed at the end), so ``/metrics`` from any worker shows
the sums over all of them, including workers that have died.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import multiprocessing
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import wait
from typing import Any

from ..errors import InvalidInputError

logger = logging.getLogger("loopline.serve")

#: uvicorn's exit code for a server that could not start.
STARTUP_FAILURE = 3
#: More deaths than this within ``_DEATH_WINDOW`` seconds stop the server.
_MAX_DEATHS = 5
_DEATH_WINDOW = 60.0
#: How long stopping workers may take before they are killed (seconds).
_STOP_TIMEOUT = 30.0


def run_workers(sockets: list[socket.socket], uvicorn_options: dict[str, Any]) -> int:
    """Serve with one process per socket (``listening_sockets``) until a signal.

    Args:
        sockets: The listening sockets, one per worker; closed on return.
        uvicorn_options: Keyword arguments of ``uvicorn.Config`` for each worker (the app,
            host, port, logging).

    Returns:
        The exit code: 0 after a signal, 3 if a worker could not start, 1 if workers
        kept dying.
    """
    options = dict(uvicorn_options)
    context = multiprocessing.get_context("spawn")
    supervisor = os.getpid()
    metrics = tempfile.TemporaryDirectory(prefix="loopline-metrics-")
    # Always a new folder: values left by an earlier server would be added to this one's.
    outer = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics.name  # inherited by each worker

    def start(index: int) -> Any:
        process = context.Process(
            target=_worker, args=(sockets[index], options, supervisor), name=f"worker-{index}"
        )
        process.start()
        return process

    stopping = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    processes = [start(i) for i in range(len(sockets))]
    deaths: list[float] = []
    code = 0
    try:
        while not stopping.is_set():
            wait([p.sentinel for p in processes], timeout=0.5)
            for index, process in enumerate(processes):
                if process.exitcode is None or stopping.is_set():
                    continue
                if process.exitcode == STARTUP_FAILURE:
                    logger.error("Worker %d could not start (see above); stopping.", index)
                    code = STARTUP_FAILURE
                    stopping.set()
                    break
                deaths = [t for t in deaths if t > time.monotonic() - _DEATH_WINDOW]
                deaths.append(time.monotonic())
                if len(deaths) > _MAX_DEATHS:
                    logger.error(
                        "Workers died %d times in %.0f s (last: worker %d, exit code %s); "
                        "stopping.",
                        len(deaths), _DEATH_WINDOW, index, process.exitcode,
                    )  # fmt: skip
                    code = 1
                    stopping.set()
                    break
                logger.warning(
                    "Worker %d (pid %s) exited with code %s; starting a new one.",
                    index, process.pid, process.exitcode,
                )  # fmt: skip
                _forget_gauges(process.pid, metrics.name)
                processes[index] = start(index)
    finally:
        _stop(processes)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sock in set(sockets):
            sock.close()
        if outer is None:
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        else:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = outer
        metrics.cleanup()
    return code


def _forget_gauges(pid: int | None, folder: str) -> None:
    """Drop a dead worker's gauges (its counters and histograms stay in the sums)."""
    if pid is not None:
        from prometheus_client.multiprocess import mark_process_dead

        mark_process_dead(pid, folder)  # type: ignore[no-untyped-call]


def listening_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` sockets listening on ``host:port``: one each with ``SO_REUSEPORT`` on
    Linux, else the same shared socket ``count`` times.

    The port is first bound without ``SO_REUSEPORT`` (``check_port``), so that a port
    another program listens on is refused rather than shared with it.

    Raises:
        InvalidInputError: The port is in use, or the address cannot be bound.
    """
    family = check_port(host, port)
    spread = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")
    sockets: list[socket.socket] = []
    try:
        for _ in range(count if spread else 1):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if spread:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            sock.listen(2048)  # uvicorn's default backlog
            sock.set_inheritable(True)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise _bind_error(host, port, exc) from exc
    return sockets if spread else sockets * count


def check_port(host: str, port: int) -> socket.AddressFamily:
    """Check that ``host:port`` can be listened on; returns the address family.

    Raises:
        InvalidInputError: The port is in use, or the address cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise _bind_error(host, port, exc) from exc
    return family


def _bind_error(host: str, port: int, exc: OSError) -> InvalidInputError:
    if exc.errno == errno.EADDRINUSE:
        return InvalidInputError(
            f"Port {port} on {host} is already in use.",
            hint="Stop the program listening there, or choose another --port.",
            value=port,
        )
    return InvalidInputError(
        f"Cannot listen on {host}:{port}: {exc.strerror or exc}.",
        hint="Use an address of this machine for --host (0.0.0.0 for all of them) and a "
        "port from 1024 to 65535.",
        value=f"{host}:{port}",
    )


def _stop(processes: list[Any]) -> None:
    """SIGTERM each live worker (a graceful stop), wait, then kill what is left."""
    for process in processes:
        if process.exitcode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + _STOP_TIMEOUT
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.exitcode is None:
            logger.warning(
                "Worker pid %s did not stop in %.0f s; killed.", process.pid, _STOP_TIMEOUT
            )
            process.kill()
            process.join(5)


def _worker(sock: socket.socket, options: dict[str, Any], supervisor: int) -> None:
    """One worker process: uvicorn on ``sock`` until a signal or the supervisor's end."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(**options))
    _watch_supervisor(supervisor, lambda: setattr(server, "should_exit", True))
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def _watch_supervisor(supervisor: int, stop: Callable[[], None]) -> None:
    """Call ``stop`` once this process's parent is no longer ``supervisor``."""

    def watch() -> None:
        while os.getppid() == supervisor:
            time.sleep(0.5)
        stop()

    threading.Thread(target=watch, name="loopline-supervisor-watch", daemon=True).start()
