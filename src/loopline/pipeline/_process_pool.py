"""The process-pool executor: independent steps run in parallel worker processes."""

from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import Future
from concurrent.futures import ProcessPoolExecutor as _Pool

from ._executor import BaseExecutor
from ._worker import StepOutcome, StepTask, execute_step


class ProcessPoolExecutor(BaseExecutor):
    """Run steps in a pool of worker processes.

    Workers start through ``forkserver`` on Linux (``spawn`` elsewhere): they never
    inherit the runner's threads or open database connections.

    Args:
        max_workers: Worker processes; the number of CPUs by default.
    """

    name = "process"

    def __init__(self, max_workers: int | None = None) -> None:
        self.max_workers = max_workers or os.cpu_count() or 1
        self.max_parallel = self.max_workers
        method = "forkserver" if sys.platform.startswith("linux") else "spawn"
        self._pool = _Pool(
            max_workers=self.max_workers, mp_context=multiprocessing.get_context(method)
        )

    def submit(self, task: StepTask) -> Future[StepOutcome]:
        return self._pool.submit(execute_step, task)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
