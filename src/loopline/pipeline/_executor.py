"""The executor interface, and how executors are found by name."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from concurrent.futures import Future
from typing import Any, ClassVar

from ..errors import ConfigError
from ._worker import StepOutcome, StepTask

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "loopline.executors"


class BaseExecutor(ABC):
    """Runs :class:`StepTask` objects and hands back futures of :class:`StepOutcome`.

    Tasks and outcomes are plain serialisable values, so an executor may run them in
    this process, in other processes or on other machines.
    """

    name: ClassVar[str]
    #: How many tasks the runner should keep in flight at once.
    max_parallel: int = 1

    @abstractmethod
    def submit(self, task: StepTask) -> Future[StepOutcome]:
        """Start a task; the future resolves to its outcome."""

    def shutdown(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release workers. The executor is not used afterwards."""

    def __enter__(self) -> BaseExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def get_executor(name: str, **options: Any) -> BaseExecutor:
    """The executor registered under ``name``: ``inprocess``, ``process``, ``ray`` or a plugin's.

    Raises:
        ConfigError: No executor has that name.
    """
    from ._inprocess import InProcessExecutor
    from ._process_pool import ProcessPoolExecutor
    from ._ray import RayExecutor

    known: dict[str, Any] = {
        InProcessExecutor.name: InProcessExecutor,
        ProcessPoolExecutor.name: ProcessPoolExecutor,
        RayExecutor.name: RayExecutor,
    }
    if name not in known:
        from importlib.metadata import entry_points

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name == name:
                try:
                    known[name] = ep.load()
                except Exception:  # noqa: BLE001 - a broken plugin is reported, not fatal to others
                    log.warning("Executor plugin %r failed to load.", name, exc_info=True)
    if name not in known:
        import difflib

        close = difflib.get_close_matches(name, list(known), n=1)
        raise ConfigError(
            f"Unknown executor {name!r}."
            + (f" Did you mean {close[0]!r}?" if close else "")
            + f" Known executors: {', '.join(sorted(known))}.",
            hint="Set the executor with --executor, LOOPLINE_EXECUTOR or [run] executor.",
            value=name,
        )
    executor: BaseExecutor = known[name](**options)
    return executor
