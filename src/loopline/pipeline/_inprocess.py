"""The in-process executor: runs each step in the calling thread, one at a time."""

from __future__ import annotations

from concurrent.futures import Future

from ._executor import BaseExecutor
from ._worker import StepOutcome, StepTask, execute_step


class InProcessExecutor(BaseExecutor):
    """Run steps in this process: the fastest for small steps, and easy to debug."""

    name = "inprocess"
    max_parallel = 1

    def submit(self, task: StepTask) -> Future[StepOutcome]:
        future: Future[StepOutcome] = Future()
        future.set_result(execute_step(task))
        return future
