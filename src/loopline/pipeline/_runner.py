"""The runner: executes a traced pipeline step by step, with caching, lineage and resume."""

from __future__ import annotations

import difflib
import logging
import time
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import (
    ArtifactIntegrityError,
    ArtifactNotFoundError,
    ConfigError,
    NotFoundError,
    PipelineDefinitionError,
    StepFailedError,
)
from ._executor import BaseExecutor, get_executor
from ._hashing import cache_key, canonical_json
from ._pipeline import Invocation, Pipeline, PipelineGraph
from ._worker import BlobRef, StepOutcome, StepTask, share_resources, share_step

if TYPE_CHECKING:
    from ..artifacts import ArtifactStore
    from ..config import Settings
    from ..store import Artifact, Run, StepRun, Store

log = logging.getLogger("loopline.pipeline")


class RunListener:
    """Receives progress of a run; override the methods you need (all do nothing)."""

    def on_run_start(self, run: Run, graph: PipelineGraph) -> None:
        """The run started (or resumed) with this graph."""

    def on_step_start(self, name: str) -> None:
        """A step was handed to the executor."""

    def on_step_end(
        self, name: str, status: str, duration: float | None, error: str | None
    ) -> None:
        """A step ended: ``succeeded``, ``cached``, ``reused``, ``failed`` or ``interrupted``."""

    def on_step_warning(self, name: str, message: str) -> None:
        """Something about a step deserves the user's eye (e.g. an altered cached output)."""

    def on_run_end(self, result: RunResult) -> None:
        """The run ended."""


@dataclass
class RunResult:
    """The outcome of a run: its record, the final step run of each step, their outputs."""

    run: Run
    steps: dict[str, StepRun]
    outputs: dict[str, dict[str, Artifact]]
    artifacts: ArtifactStore = field(repr=False)

    @property
    def status(self) -> str:
        """The run's final status."""
        return self.run.status

    @property
    def cached(self) -> list[str]:
        """Names of the steps served from cache."""
        return [name for name, sr in self.steps.items() if sr.cache_hit]

    def load(self, step: str, output: str = "output") -> Any:
        """Load an output of a step of this run.

        Raises:
            NotFoundError: The step or output does not exist in this run.
        """
        try:
            artifact = self.outputs[step][output]
        except KeyError:
            raise NotFoundError(
                f"Run {self.run.id} has no output {output!r} of step {step!r}.",
                hint=f"Outputs: { ({s: list(o) for s, o in self.outputs.items()}) }.",
                run_id=self.run.id,
            ) from None
        return self.artifacts.load(artifact.uri, artifact.sha256, artifact.materializer)


@dataclass
class _Running:
    invocation: Invocation
    step_run_id: int
    cache_key: str
    started: float


class Runner:
    """Runs pipelines against a store, an artifact store and an executor.

    Args:
        store: The metadata & lineage store.
        artifacts: The artifact store.
        executor: What runs the steps; in-process by default.
        listeners: Receivers of progress (the CLI's live display is one).

    Example:
        >>> import tempfile
        >>> from loopline import step, pipeline
        >>> from loopline.store import Store
        >>> from loopline.artifacts import ArtifactStore
        >>> @step
        ... def double(x: int) -> int:
        ...     return 2 * x
        >>> @pipeline
        ... def twice(x: int = 2):
        ...     double.with_options(name="second")(double(x))
        >>> folder = tempfile.mkdtemp()
        >>> runner = Runner(Store(f"sqlite:///{folder}/l.db"), ArtifactStore(folder))
        >>> runner.run(twice).load("second")
        8
        >>> runner.run(twice).cached
        ['double', 'second']
    """

    def __init__(
        self,
        store: Store,
        artifacts: ArtifactStore,
        executor: BaseExecutor | None = None,
        listeners: Sequence[RunListener] = (),
    ) -> None:
        from ._inprocess import InProcessExecutor

        self.store = store
        self.artifacts = artifacts
        self.executor = executor or InProcessExecutor()
        self.listeners = list(listeners)
        share_resources(store, artifacts)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        executor: str | None = None,
        address: str | None = None,
        listeners: Sequence[RunListener] = (),
    ) -> Runner:
        """A runner on a project's store, artifact store and executor.

        Args:
            settings: The project's settings.
            executor: An executor name overriding the settings'.
            address: A Ray cluster address overriding the settings' (``ray`` executor only).
            listeners: Receivers of progress.

        Raises:
            ConfigError: Unknown executor, or an address for an executor other than Ray.
        """
        from ..artifacts import ArtifactStore
        from ..store import Store

        name = executor or settings.executor
        if address is not None and name != "ray":
            raise ConfigError(
                f"--address names a Ray cluster, but the executor is {name!r}.",
                hint="Add --executor ray, or leave out --address.",
                value=address,
            )
        options: dict[str, Any] = {}
        if name == "process":
            options = {"max_workers": settings.max_workers}
        elif name == "ray":
            options = {"address": address or settings.ray_address, "num_cpus": settings.max_workers}
        return cls(
            Store(settings.store_url),
            ArtifactStore(settings.artifacts_url),
            get_executor(name, **options),
            listeners,
        )

    def close(self) -> None:
        """Shut the executor down and release the store."""
        self.executor.shutdown()
        self.store.close()

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- running -----------------------------------------------------------------------

    def run(
        self,
        pipeline: Pipeline,
        params: Mapping[str, Any] | None = None,
        *,
        pipeline_ref: str | None = None,
        resume: str | None = None,
        rerun: Collection[str] = (),
        cache: bool = True,
    ) -> RunResult:
        """Run ``pipeline`` with ``params``, or resume the unfinished run ``resume``.

        On resume, steps that finished in that run are reused when their code,
        parameters and inputs are unchanged; the others run again. A reused or cached
        output is used only if its bytes still match the recorded size and sha256; if
        not, the step runs again (listeners get ``on_step_warning``).

        Args:
            pipeline: The pipeline to run.
            params: Its parameters (those of the resumed run by default).
            pipeline_ref: How the pipeline was named, recorded to resume it later.
            resume: Id of a failed or interrupted run to resume.
            rerun: Names of steps to run again even if they could be reused or cached.
            cache: False runs every step again (nothing is reused or taken from cache).

        Raises:
            PipelineDefinitionError: The pipeline's graph is invalid, or ``rerun`` names
                a step it does not have (nothing ran).
            StepFailedError: A step failed; the run is recorded as failed.
            NotFoundError: The run to resume does not exist.
        """
        previous: dict[str, StepRun] = {}
        if resume is not None:
            old = self.store.runs.get(resume)
            params = old.params if params is None else params
        graph = pipeline.trace(params)
        rerun = _check_rerun(rerun, graph)
        version = self.store.runs.register_pipeline_version(
            graph.name, graph.definition_hash, canonical_json(graph.definition())
        )
        if resume is not None:
            run = self.store.runs.reopen(resume)
            for sr in self.store.runs.steps(run.id):
                if sr.status in ("succeeded", "cached"):
                    previous[sr.name] = sr
            self.store.events.append("run.resumed", "run", run.id)
        else:
            run = self.store.runs.create(
                graph.name,
                pipeline_ref=pipeline_ref,
                params=graph.params,
                executor=self.executor.name,
                pipeline_version_id=version,
            )
            self.store.events.append("run.started", "run", run.id, payload={"pipeline": graph.name})
        for listener in self.listeners:
            listener.on_run_start(run, graph)
        forced = set(graph.order) if not cache else set(rerun)
        return _Execution(self, graph, run, previous, forced).execute()


def _check_rerun(rerun: Collection[str], graph: PipelineGraph) -> list[str]:
    """The names of steps to rerun, each checked to be a step of the graph."""
    names = [rerun] if isinstance(rerun, str) else list(rerun)
    for name in names:
        if name not in graph.invocations:
            close = difflib.get_close_matches(str(name), list(graph.order), n=1)
            raise PipelineDefinitionError(
                f"Cannot rerun step {name!r}: pipeline {graph.name!r} has no such step."
                + (f" Did you mean {close[0]!r}?" if close else ""),
                hint=f"Its steps: {', '.join(graph.order)}.",
                value=name,
            )
    return names


class _Execution:
    """The state of one run while it executes."""

    def __init__(
        self,
        runner: Runner,
        graph: PipelineGraph,
        run: Run,
        previous: dict[str, StepRun],
        forced: set[str],
    ) -> None:
        self.runner = runner
        self.store = runner.store
        self.graph = graph
        self.run = run
        self.previous = previous
        self.forced = forced
        self.refused: set[int] = set()  # ids of artifacts whose bytes failed verification
        self.outputs: dict[str, dict[str, Artifact]] = {}
        self.step_run_ids: dict[str, int] = {}
        self.running: dict[Future[StepOutcome], _Running] = {}
        self.failure: StepFailedError | None = None

    def execute(self) -> RunResult:
        pending = list(self.graph.order)
        try:
            while pending or self.running:
                if self.failure is None:
                    self._start_ready(pending)
                if not self.running:
                    break
                done, _ = wait(list(self.running), return_when=FIRST_COMPLETED)
                for future in done:
                    self._finish(future, self.running.pop(future))
        except BaseException:
            self._interrupt()
            raise
        status = "failed" if self.failure else "succeeded"
        error = str(self.failure) if self.failure else None
        self.store.runs.finish(self.run.id, status, error=error)
        self.store.events.append(f"run.{status}", "run", self.run.id, reason=error)
        result = self._result()
        for listener in self.runner.listeners:
            listener.on_run_end(result)
        if self.failure:
            raise self.failure
        return result

    def _start_ready(self, pending: list[str]) -> None:
        """Start every step whose dependencies are done, as far as the executor allows."""
        progress = True
        while progress and len(self.running) < self.runner.executor.max_parallel:
            progress = False
            for name in list(pending):
                invocation = self.graph.invocations[name]
                if all(dep in self.outputs for dep in invocation.depends_on):
                    pending.remove(name)
                    self._start(invocation)
                    progress = True
                    break

    def _start(self, invocation: Invocation) -> None:
        step = invocation.step
        inputs = {
            arg: self.outputs[ref.invocation][ref.output] for arg, ref in invocation.inputs.items()
        }
        key = cache_key(
            step.code_hash,
            invocation.params,
            {arg: artifact.sha256 for arg, artifact in inputs.items()},
            step.options.outputs,
        )
        input_ids = {arg: artifact.id for arg, artifact in inputs.items()}
        if self._reuse(invocation, key, input_ids):
            return
        step_run_id = self.store.runs.start_step(
            self.run.id,
            invocation.name,
            code_hash=step.code_hash,
            cache_key=key,
            params=invocation.params,
            inputs=input_ids,
        )
        task = StepTask(
            step=share_step(step),
            invocation=invocation.name,
            run_id=self.run.id,
            step_run_id=step_run_id,
            inputs={
                arg: BlobRef(artifact.uri, artifact.sha256, artifact.materializer)
                for arg, artifact in inputs.items()
            },
            params=invocation.params,
            store_url=self.store.url,
            artifacts_url=self.runner.artifacts.url,
            executor=self.runner.executor.name,
        )
        for listener in self.runner.listeners:
            listener.on_step_start(invocation.name)
        started = time.perf_counter()
        future = self.runner.executor.submit(task)
        self.running[future] = _Running(invocation, step_run_id, key, started)

    def _reuse(self, invocation: Invocation, key: str, input_ids: dict[str, int]) -> bool:
        """Serve a step from this run's earlier attempt (resume) or from the cache."""
        name = invocation.name
        if name in self.forced:
            return False
        before = self.previous.get(name)
        if before is not None and before.cache_key == key:
            outputs = self.store.runs.step_outputs(before.id)
            if self._intact(name, outputs):
                self.outputs[name] = outputs
                self.step_run_ids[name] = before.id
                self._notify_end(name, "reused", 0.0, None)
                return True
        if not invocation.step.options.cache:
            return False
        cached = self.store.runs.find_cached(key, invocation.step.options.outputs)
        if cached is None or not self._intact(name, cached):
            return False
        self.step_run_ids[name] = self.store.runs.record_cached_step(
            self.run.id,
            name,
            code_hash=invocation.step.code_hash,
            cache_key=key,
            params=invocation.params,
            inputs=input_ids,
            outputs={out: artifact.id for out, artifact in cached.items()},
        )
        self.outputs[name] = cached
        self._notify_end(name, "cached", 0.0, None)
        return True

    def _intact(self, name: str, outputs: Mapping[str, Artifact]) -> bool:
        """Whether every output's bytes are the recorded ones; if not, say so and rerun.

        A blob altered on disk must not be served from cache: the step runs again and
        writes it anew (loopline issue 10, item 7).
        """
        for output, artifact in outputs.items():
            if artifact.id in self.refused:
                return False  # found bad already (the resumed run's and the cache's outputs)
            try:
                self.runner.artifacts.verify(artifact.uri, artifact.sha256, artifact.size)
            except (ArtifactIntegrityError, ArtifactNotFoundError) as exc:
                self.refused.add(artifact.id)
                message = (
                    f"Output {output!r} of step {name!r} (artifact #{artifact.id}) cannot be "
                    f"reused: {exc} The step runs again."
                )
                if not self.runner.listeners:
                    log.warning(message)  # listeners (the CLI's live view) show it instead
                self.store.events.append(
                    "step.cache_refused",
                    "run",
                    self.run.id,
                    reason=message,
                    payload={"step": name, "artifact_id": artifact.id},
                )
                for listener in self.runner.listeners:
                    listener.on_step_warning(name, message)
                return False
        return True

    def _finish(self, future: Future[StepOutcome], running: _Running) -> None:
        name = running.invocation.name
        duration = time.perf_counter() - running.started
        try:
            outcome = future.result()
        except BrokenProcessPool:
            outcome = StepOutcome(
                None, error="The worker process running this step died (killed or out of memory)."
            )
        if outcome.ok and outcome.outputs is not None:
            ids = {}
            for output, blob in outcome.outputs.items():
                record = self.store.artifacts.add(
                    uri=blob.uri,
                    sha256=blob.sha256,
                    type=blob.type,
                    materializer=blob.materializer,
                    size=blob.size,
                    metadata=blob.metadata,
                )
                ids[output] = record.id
            self.store.runs.finish_step(running.step_run_id, "succeeded", outputs=ids)
            self.outputs[name] = self.store.runs.step_outputs(running.step_run_id)
            self.step_run_ids[name] = running.step_run_id
            self._notify_end(name, "succeeded", duration, None)
            return
        self.store.runs.finish_step(
            running.step_run_id, "failed", error=outcome.error, traceback=outcome.traceback
        )
        self.step_run_ids[name] = running.step_run_id
        self._notify_end(name, "failed", duration, outcome.error)
        if self.failure is None:
            self.failure = StepFailedError(
                f"Step {name!r} of run {self.run.id[:8]} failed: {outcome.error}",
                hint=f"See the traceback with 'loopline runs show {self.run.id[:8]}', fix the "
                f"step, then resume with 'loopline run --resume {self.run.id[:8]}'.",
                run_id=self.run.id,
                step=name,
                traceback=outcome.traceback,
            )

    def _interrupt(self) -> None:
        """Record an interrupted run (Ctrl-C or a crash of the runner itself)."""
        for future, running in self.running.items():
            future.cancel()
            self.store.runs.finish_step(running.step_run_id, "interrupted", error="Interrupted.")
        self.store.runs.finish(self.run.id, "interrupted", error="Interrupted.")
        self.store.events.append("run.interrupted", "run", self.run.id)
        result = self._result()
        for listener in self.runner.listeners:
            listener.on_run_end(result)

    def _notify_end(self, name: str, status: str, duration: float, error: str | None) -> None:
        for listener in self.runner.listeners:
            listener.on_step_end(name, status, duration, error)

    def _result(self) -> RunResult:
        steps = {sr.name: sr for sr in self.store.runs.steps(self.run.id)}
        return RunResult(
            run=self.store.runs.get(self.run.id),
            steps=steps,
            outputs=dict(self.outputs),
            artifacts=self.runner.artifacts,
        )
